//! Basic usage on async-std: the same program as `nats-tokio/examples/basic.rs` (the "Basic
//! Usage" section of nats.py's README), showing only what differs for this runtime: how `main` runs the client,
//! how tasks are spawned and how a wait is bounded. The client API is the same on every
//! runtime, so the other examples live once, in `nats-tokio/examples/`.
//!
//! Connects, subscribes to `foo` with an auto-unsubscribe after 2 messages and publishes 3
//! (only 2 arrive), answers requests on `help` from the queue group `workers`, sends a timed
//! request with a 50 ms timeout (handling the timeout), then closes.
//!
//! Run it against a server (`nats-server -a 127.0.0.1 -p 4222` in another terminal):
//!
//! ```sh
//! NATS_URL=nats://127.0.0.1:4222 cargo run -p nats-async-std --example basic_async_std
//! ```
//!
//! `NATS_URL` defaults to `nats://127.0.0.1:4222`.
//!
//! async-std is discontinued upstream (smol is its successor: see `nats-smol`'s examples);
//! `nats-async-std` is for code bases still on it.

use std::borrow::Cow;
use std::error::Error;
use std::time::Duration;

use async_std::future::timeout;
use futures_util::StreamExt;
use nats_async_std::{Message, RequestError};

/// The longest the example waits for anything, so it never hangs.
const WAIT: Duration = Duration::from_secs(5);

#[async_std::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
    let client = nats_async_std::connect(&url).await?;
    if let Some(server) = client.connected_url() {
        println!("Connected to {server}");
    }

    // Simple publisher and async subscriber: a task plays nats.py's `message_handler`.
    let mut subscriber = client.subscribe("foo").await?;
    // Stop receiving after 2 messages (nats.py's `auto_unsubscribe(sid, 2)`).
    subscriber.unsubscribe_after(2).await?;
    let message_handler = async_std::task::spawn(async move {
        let mut received = 0;
        // The stream ends once the 2 messages have arrived.
        while let Some(message) = subscriber.next().await {
            println!("Received a message on {}", describe(&message));
            received += 1;
        }
        received
    });
    client.publish("foo", "Hello".into()).await?;
    client.publish("foo", "World".into()).await?;
    client.publish("foo", "!!!!!".into()).await?;
    let received = timeout(WAIT, message_handler).await?;
    if received != 2 {
        return Err(format!("expected the subscription to end after 2 messages, got {received}").into());
    }
    println!("The subscription ended after 2 messages: '!!!!!' was not delivered");

    // Use the queue group 'workers' for distributing requests among subscribers.
    let mut helpers = client.queue_subscribe("help", "workers").await?;
    let responder = client.clone();
    let help_request = async_std::task::spawn(async move {
        // Ends when the connection closes.
        while let Some(request) = helpers.next().await {
            println!("Received a message on {}", describe(&request));
            if let Some(reply) = &request.reply {
                if let Err(error) = responder.publish(reply, "I can help".into()).await {
                    eprintln!("Could not reply: {error}");
                }
            }
        }
    });

    // Send a request and expect a single response; time out if it takes over 50 ms.
    match client.request_with("help", None, "help me".into(), Duration::from_millis(50)).await {
        Ok(response) => println!("Received response: {}", text(&response)),
        Err(RequestError::Timeout) => println!("Request timed out"),
        Err(error) => return Err(error.into()),
    }

    client.close().await;
    timeout(WAIT, help_request).await?;
    println!("Connection closed");
    Ok(())
}

/// `'subject reply': payload`, as nats.py's example prints messages.
fn describe(message: &Message) -> String {
    let reply = message.reply.as_ref().map_or("", |reply| reply.as_str());
    format!("'{} {}': {}", message.subject, reply, text(message))
}

fn text(message: &Message) -> Cow<'_, str> {
    String::from_utf8_lossy(&message.payload)
}
