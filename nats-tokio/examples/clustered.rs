//! Clustered usage: mirrors the "Clustered Usage" section of the README of nats.py
//! (asyncio-nats), the official Python client.
//!
//! Connects to a pool of servers tried in order (`dont_randomize`), with at most 5 reconnect
//! attempts per server 2 s apart, and nats.py's four callbacks: disconnected, reconnected
//! (printing the server now connected to), error and closed. Then publishes 1,000,000
//! messages to `help.<i>`, which its own `help.*` subscription receives, flushing every
//! 10,000 messages and at the end, and prints the rate. Finally it closes, shows that
//! publishing afterwards fails with `PublishError::Closed`, and prints `last_error()`.
//!
//! ```sh
//! NATS_URL=nats://127.0.0.1:4222,nats://127.0.0.1:4223 \
//!     cargo run -p nats-tokio --example clustered
//! ```
//!
//! `NATS_URL` is a comma-separated server list (credentials allowed:
//! `nats://user1:pass1@127.0.0.1:4222`) and defaults to `nats://127.0.0.1:4222`. Add
//! `--release` for a realistic rate; restart a server meanwhile to see the callbacks.

use std::error::Error;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use nats_tokio::{Client, ClientEvent, ConnectError, ConnectOptions, FlushError, PublishError};
use tokio::time::timeout;

const MAX_MESSAGES: u64 = 1_000_000;
const FLUSH_EVERY: u64 = 10_000;
/// The longest the example waits for anything but the publishing loop, so it never hangs.
const WAIT: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let servers = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());

    let options = ConnectOptions::new()
        // Try the servers in the order given; by default the pool is shuffled.
        .dont_randomize()
        // Up to 5 attempts per server, 2 s apart: about 10 s per server, as in nats.py. (The
        // wait doubles after each failure up to `reconnect_backoff_max`, 8 s by default;
        // capping it at 2 s keeps it fixed like nats.py's.)
        .max_reconnect_attempts(Some(5))
        .reconnect_time_wait(Duration::from_secs(2))
        .reconnect_backoff_max(Duration::from_secs(2))
        .disconnected_callback(|| async { println!("Got disconnected!") })
        .reconnected_callback(|url| async move { println!("Got reconnected to {url}") })
        .error_callback(|event| async move {
            match event {
                ClientEvent::Disconnected(error) => println!("There was an error: {error}"),
                ClientEvent::ServerError(error) => println!("There was an error: {error}"),
                ClientEvent::SlowConsumer { subject, dropped, .. } => {
                    let subject = subject.map(|subject| subject.to_string()).unwrap_or_default();
                    println!("There was an error: slow consumer on '{subject}', {dropped} messages dropped")
                }
                other => println!("There was an error: {other:?}"),
            }
        })
        .closed_callback(|| async { println!("Connection is closed") });

    let client = match nats_tokio::connect_with_options(&servers, options).await {
        Ok(client) => client,
        Err(error @ ConnectError::NoServers { .. }) => {
            // Could not connect to any server in the pool.
            println!("{error}");
            return Err(error.into());
        }
        Err(error) => return Err(error.into()),
    };
    println!("Connected to {}", client.connected_url().map(|url| url.to_string()).unwrap_or_default());

    if client.is_connected() {
        // nats.py's example prints every message; this handler counts them.
        let mut subscriber = client.subscribe("help.*").await?;
        let subscribe_handler = tokio::spawn(async move {
            let mut received = 0u64;
            while subscriber.next().await.is_some() {
                received += 1;
            }
            received
        });

        println!("Sending {MAX_MESSAGES} messages to NATS...");
        let start = Instant::now();
        let mut subject = String::new();
        let mut sent = 0u64;
        for i in 0..MAX_MESSAGES {
            subject.clear();
            write!(subject, "help.{i}")?;
            match client.publish(&subject, "A".into()).await {
                Ok(()) => sent += 1,
                Err(PublishError::Closed) => {
                    println!("Connection closed prematurely.");
                    break;
                }
                // Disconnected for long: publishes are kept for the reconnect up to the
                // reconnect buffer's size (8 MiB by default), then refused.
                Err(error @ PublishError::ReconnectBufferFull { .. }) => {
                    println!("Stopping at msg i={i}: {error}");
                    break;
                }
                Err(error) => return Err(error.into()),
            }
            // Flush in batches, not per message: one round trip per 10,000 messages.
            if (i + 1) % FLUSH_EVERY == 0 && !flush(&client, i).await {
                break;
            }
        }
        if sent == MAX_MESSAGES {
            flush(&client, MAX_MESSAGES).await;
        }
        let duration = start.elapsed();
        println!("Duration: {duration:?}");
        println!("{:.0} msgs/s", sent as f64 / duration.as_secs_f64());

        client.close().await;
        let received = timeout(WAIT, subscribe_handler).await??;
        println!("Received {received} of the {sent} messages on 'help.*'");

        match client.publish("help", "hello world".into()).await {
            Err(PublishError::Closed) => println!("Can't publish since no longer connected."),
            other => return Err(format!("expected PublishError::Closed, got {other:?}").into()),
        }
    }

    match client.last_error() {
        Some(error) => println!("Last Error: {error}"),
        None => println!("No error"),
    }
    Ok(())
}

/// Flushes with nats.py's 500 ms timeout. A timeout or a disconnect is reported and the
/// run goes on (publishes are kept for the reconnect); `false` once the connection is
/// closed.
async fn flush(client: &Client, i: u64) -> bool {
    match client.flush_timeout(Duration::from_millis(500)).await {
        Ok(()) => true,
        Err(error @ (FlushError::Timeout | FlushError::Disconnected)) => {
            println!("Flush failed at msg i={i}: {error}");
            true
        }
        Err(error) => {
            println!("Connection closed prematurely: {error}");
            false
        }
    }
}
