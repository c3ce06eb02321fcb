//! The key-value store on tokio: a bucket with history, put, get, optimistic concurrency
//! (create only if absent, update at a revision), delete and purge, keys, history, and a
//! watch.
//!
//! ```sh
//! nats-server -js &
//! NATS_URL=nats://127.0.0.1:4222 cargo run -p nats-tokio --example kv
//! ```

use std::error::Error;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use nats_jetstream::proto::StorageType;
use nats_stores::kv::proto::Config;
use nats_stores::kv::{BucketError, PutError};
use nats_stores::KeyValueExt;
use tokio::time::timeout;

/// The longest the example waits for anything, so it never hangs.
const WAIT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
    let client = nats_tokio::connect(&url).await?;
    let js = nats_jetstream::new(client.clone());

    match js.delete_key_value("example_config").await {
        Ok(()) | Err(BucketError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    let kv =
        js.create_key_value(Config::new("example_config").history(5).storage(StorageType::Memory)).await?;

    // Watch everything from now on, in the background.
    let mut watch = kv.watch_all().await?;

    let first = kv.put("service.port", "4222".into()).await?;
    let second = kv.update("service.port", "4223".into(), first).await?;
    match kv.update("service.port", "9999".into(), first).await {
        Err(PutError::WrongLastRevision) => println!("stale update refused"),
        other => println!("unexpected: {other:?}"),
    }
    match kv.create("service.port", "1".into()).await {
        Err(PutError::AlreadyExists { revision }) => println!("create refused: exists at {revision}"),
        other => println!("unexpected: {other:?}"),
    }
    kv.put("service.host", "localhost".into()).await?;
    kv.delete("service.host").await?;
    kv.put("tmp", "x".into()).await?;
    kv.purge("tmp").await?;

    println!("service.port = {:?} (revision {second})", kv.get("service.port").await?);
    let keys: Vec<String> = kv.keys().await?.try_collect().await?;
    println!("keys: {keys:?}");
    let mut history = kv.history("service.port").await?;
    while let Some(entry) = history.next().await {
        let entry = entry?;
        println!("history: {:?} at {}", entry.value, entry.revision);
    }
    // Five changes: the purge removed tmp's put from the bucket before the watch's
    // consumer (created when the watch is first read) could see it.
    for _ in 0..5 {
        let entry = timeout(WAIT, watch.next()).await?.ok_or("watch ended")??;
        println!(
            "watch: {} {:?} {:?} (revision {})",
            entry.key, entry.operation, entry.value, entry.revision
        );
    }
    println!("status: {} values", kv.status().await?.values);
    js.delete_key_value("example_config").await?;
    client.close().await;
    Ok(())
}
