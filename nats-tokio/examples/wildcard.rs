//! Wildcard subscriptions: mirrors the "Wildcard Subscriptions" section of the README of
//! nats.py (asyncio-nats), the official Python client.
//!
//! Subscribes to `foo.*.baz`, `foo.bar.*` and `foo.>`, publishes `foo.bar.baz` (which all
//! three match) and a few subjects only some of them match, then shows which subscription
//! got which message.
//!
//! ```sh
//! NATS_URL=nats://127.0.0.1:4222 cargo run -p nats-tokio --example wildcard
//! ```
//!
//! `NATS_URL` defaults to `nats://127.0.0.1:4222`.

use std::error::Error;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::time::timeout;

/// The longest the example waits for anything, so it never hangs.
const WAIT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
    let client = nats_tokio::connect(&url).await?;

    // "*" matches any one token, at any level of the subject.
    // ">" matches one or more tokens at the tail of a subject, and can only be the last
    // token: 'foo.>' matches 'foo.bar', 'foo.bar.baz', 'foo.foo.bar.bax.22'.
    let mut subscribers = Vec::new();
    for filter in ["foo.*.baz", "foo.bar.*", "foo.>"] {
        subscribers.push(client.subscribe(filter).await?);
    }

    // Matches all of the above.
    client.publish("foo.bar.baz", "Hello World".into()).await?;
    // Each of these matches only some of them.
    client.publish("foo.qux.baz", "only foo.*.baz and foo.>".into()).await?;
    client.publish("foo.bar.qux", "only foo.bar.* and foo.>".into()).await?;
    client.publish("foo.bar", "only foo.>".into()).await?;

    // Once the server has answered the flush, it has sent us every matching message.
    client.flush_timeout(WAIT).await?;
    for subscriber in &mut subscribers {
        // Stop the subscription: what already arrived can still be read, then it ends.
        subscriber.unsubscribe().await?;
        let messages = timeout(WAIT, subscriber.by_ref().collect::<Vec<_>>()).await?;
        println!("'{}' received {} messages:", subscriber.subject(), messages.len());
        for message in &messages {
            println!("    '{}': {}", message.subject, String::from_utf8_lossy(&message.payload));
        }
    }

    client.close().await;
    Ok(())
}
