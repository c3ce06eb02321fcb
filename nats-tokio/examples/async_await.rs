//! Async/await: mirrors the "Async/Await example (Python +3.5 only)" section of the README
//! of nats.py (asyncio-nats), the official Python client.
//!
//! That section is nats.py's basic example written with `async`/`await`; here each part is a
//! task of its own, all sharing one connection: a subscriber task (`foo`, auto-unsubscribe
//! after 2 messages), two responder tasks in the queue group `workers` on `help`, and a
//! publisher task that publishes 3 messages to `foo`, then sends 5 timed requests at once
//! (50 ms each, like nats.py's `timed_request`). `main` awaits the subscriber and the
//! publisher, drains the connection (which ends the responders' subscriptions), then awaits
//! the responders.
//!
//! ```sh
//! NATS_URL=nats://127.0.0.1:4222 cargo run -p nats-tokio --example async_await
//! ```
//!
//! `NATS_URL` defaults to `nats://127.0.0.1:4222`.

use std::error::Error;
use std::time::Duration;

use futures_util::future::join_all;
use futures_util::StreamExt;
use nats_tokio::{PublishError, RequestError};
use tokio::time::timeout;

/// The longest the example waits for a task, so it never hangs.
const WAIT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
    let client = nats_tokio::connect(&url).await?;

    // Subscribe before spawning anything, so that the subscriptions are in place before the
    // first publish: the server sees this connection's operations in order.
    let mut messages = client.subscribe("foo").await?;
    messages.unsubscribe_after(2).await?;
    let subscriber = tokio::spawn(async move {
        let mut received = 0;
        while let Some(message) = messages.next().await {
            println!(
                "Received a message on '{}': {}",
                message.subject,
                String::from_utf8_lossy(&message.payload)
            );
            received += 1;
        }
        received
    });

    // Two members of the queue group 'workers': each request goes to one of them.
    let mut responders = Vec::new();
    for worker in 1..=2 {
        let mut requests = client.queue_subscribe("help", "workers").await?;
        let client = client.clone();
        responders.push(tokio::spawn(async move {
            let mut served = 0;
            // Ends when the drain below unsubscribes.
            while let Some(request) = requests.next().await {
                let Some(reply) = request.reply else { continue };
                client.publish(reply, format!("I can help (worker {worker})").into()).await?;
                served += 1;
            }
            Ok::<_, PublishError>(served)
        }));
    }

    let publisher = {
        let client = client.clone();
        tokio::spawn(async move {
            for payload in ["Hello", "World", "!!!!!"] {
                client.publish("foo", payload.into()).await?;
            }
            // Five requests in flight at once on the one connection, each timing out if
            // not answered within 50 ms.
            let requests = (1..=5).map(|i| {
                let client = &client;
                async move {
                    let request = format!("help me #{i}");
                    (i, client.request_with("help", None, request.into(), Duration::from_millis(50)).await)
                }
            });
            let mut answered = 0;
            for (i, result) in join_all(requests).await {
                match result {
                    Ok(response) => {
                        println!("Response to #{i}: {}", String::from_utf8_lossy(&response.payload));
                        answered += 1;
                    }
                    Err(RequestError::Timeout) => println!("Request #{i} timed out"),
                    Err(error) => return Err(error),
                }
            }
            Ok::<_, RequestError>(answered)
        })
    };

    // Wait for both tasks at once.
    let (received, answered) = timeout(WAIT, async { tokio::join!(subscriber, publisher) }).await?;
    let (received, answered) = (received?, answered??);
    println!("The subscriber got {received} messages (auto-unsubscribed after 2)");
    println!("{answered} of 5 requests were answered");

    // Drain: unsubscribe everything, deliver what is in flight, flush, close (bounded by
    // the drain timeout, 30 s by default).
    client.drain().await?;
    for (worker, responder) in (1..).zip(responders) {
        // The timeout, the task, then the task's own result.
        let served = timeout(WAIT, responder).await???;
        println!("Worker {worker} served {served} requests");
    }
    println!("Drained and closed");
    Ok(())
}
