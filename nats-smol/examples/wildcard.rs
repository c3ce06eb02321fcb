//! Wildcard subscriptions: mirrors the seed README's "Wildcard Subscriptions" section
//! (asyncio-nats).
//!
//! Subscribes to `foo.*.baz`, `foo.bar.*` and `foo.>`, publishes `foo.bar.baz` (which all
//! three match) and a few subjects only some of them match, then shows which subscription
//! got which message.
//!
//! ```sh
//! NATS_URL=nats://127.0.0.1:4222 cargo run -p nats-smol --example wildcard_smol
//! ```
//!
//! `NATS_URL` defaults to `nats://127.0.0.1:4222`.
//!
//! `main` runs the example with `smol::block_on`; tasks are spawned on smol's global executor.

use std::error::Error;
use std::future::Future;
use std::io;
use std::time::Duration;

use futures_util::StreamExt;
use smol::Timer;

/// The longest the example waits for anything, so it never hangs.
const WAIT: Duration = Duration::from_secs(5);

fn main() -> Result<(), Box<dyn Error>> {
    smol::block_on(run())
}

async fn run() -> Result<(), Box<dyn Error>> {
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
    let client = nats_smol::connect(&url).await?;

    // "*" matches any one token, at any level of the subject.
    // ">" matches one or more tokens at the tail of a subject, and can only be the last
    // token: 'foo.>' matches 'foo.bar', 'foo.bar.baz', 'foo.foo.bar.bax.22'.
    let mut subscribers = Vec::new();
    for filter in ["foo.*.baz", "foo.bar.*", "foo.>"] {
        subscribers.push(client.subscribe(filter).await?);
    }

    // Matches all of the above.
    client.publish("foo.bar.baz", "Hello World").await?;
    // Each of these matches only some of them.
    client.publish("foo.qux.baz", "only foo.*.baz and foo.>").await?;
    client.publish("foo.bar.qux", "only foo.bar.* and foo.>").await?;
    client.publish("foo.bar", "only foo.>").await?;

    // Once the server has answered the flush, it has sent us every matching message.
    client.flush_timeout(WAIT).await?;
    for subscriber in &mut subscribers {
        // Stop the subscription: what already arrived can still be read, then it ends.
        subscriber.unsubscribe();
        let messages = timeout(WAIT, subscriber.by_ref().collect::<Vec<_>>()).await?;
        println!("'{}' received {} messages:", subscriber.subject(), messages.len());
        for message in &messages {
            println!("    '{}': {}", message.subject, String::from_utf8_lossy(&message.payload));
        }
    }

    client.close().await;
    Ok(())
}

/// Runs `future` for at most `duration` (smol has no `timeout`: a `Timer` races the future).
async fn timeout<T>(duration: Duration, future: impl Future<Output = T>) -> io::Result<T> {
    smol::future::or(async { Ok(future.await) }, async {
        Timer::after(duration).await;
        Err(io::Error::new(io::ErrorKind::TimedOut, format!("gave up after {duration:?}")))
    })
    .await
}
