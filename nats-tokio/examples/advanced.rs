//! Advanced usage: mirrors the "Advanced Usage" section of the README of nats.py
//! (asyncio-nats), the official Python client.
//!
//! Handles a failed connect (`ConnectError::NoServers`), runs a responder on `help.>` that
//! answers every request with 20 replies, sends a request that stops after 10 of them
//! (`request_many` with `Expected::Count(10)`, nats.py's `expected=10`), then flushes with a
//! 1 s timeout, handling the timeout error.
//!
//! ```sh
//! NATS_URL=nats://127.0.0.1:4222 cargo run -p nats-tokio --example advanced
//! ```
//!
//! `NATS_URL` defaults to `nats://127.0.0.1:4222`. Point it at a port nobody listens on to
//! see the `NoServers` handling.

use std::error::Error;
use std::time::Duration;

use futures_util::StreamExt;
use nats_tokio::{ConnectError, Expected, FlushError};
use tokio::time::timeout;

/// The longest the example waits for anything, so it never hangs.
const WAIT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
    let client = match nats_tokio::connect(&url).await {
        Ok(client) => client,
        // Every server in the list failed; `last` says why the last attempt did.
        Err(error @ ConnectError::NoServers { .. }) => {
            println!("{error}");
            println!("Is a server running at {url}? Start one with `nats-server -p 4222`.");
            return Err(error.into());
        }
        Err(error) => return Err(error.into()),
    };

    // The responder: 20 replies to every request on `help.>`.
    let mut requests = client.subscribe("help.>").await?;
    let responder = client.clone();
    let message_handler = tokio::spawn(async move {
        // Ends when the connection closes.
        while let Some(request) = requests.next().await {
            let Some(reply) = request.reply else { continue };
            for i in 0..20 {
                if let Err(error) = responder.publish(&reply, format!("i={i}").into()).await {
                    eprintln!("Could not reply: {error}");
                    return;
                }
            }
        }
    });

    // One request, many replies: the stream ends after 10 (or at the 1 s timeout); the
    // other 10 replies are dropped.
    let mut replies =
        client.request_many("help.please", "help".into(), Expected::Count(10), Duration::from_secs(1))?;
    while let Some(reply) = replies.next().await {
        let inbox = reply.reply.as_ref().map_or("", |subject| subject.as_str());
        println!(
            "Received a message on '{} {}': {}",
            reply.subject,
            inbox,
            String::from_utf8_lossy(&reply.payload)
        );
    }
    match replies.error() {
        None => println!("Request ended: {:?}", replies.outcome()),
        Some(error) => println!("Request failed: {error}"),
    }

    // Flush the connection to the server: returns once the server has processed everything
    // published so far, or fails if the round trip takes longer than 1 second.
    match client.flush_timeout(Duration::from_secs(1)).await {
        Ok(()) => println!("Flushed"),
        Err(FlushError::Timeout) => println!("Flush timeout"),
        Err(error) => return Err(error.into()),
    }

    client.close().await;
    timeout(WAIT, message_handler).await??;
    println!("Connection closed");
    Ok(())
}
