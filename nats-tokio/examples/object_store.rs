//! The object store on tokio: put an object in chunks, read it back with its digest
//! checked, list, link, watch, delete and seal.
//!
//! ```sh
//! nats-server -js &
//! NATS_URL=nats://127.0.0.1:4222 cargo run -p nats-tokio --example object_store
//! ```

use std::error::Error;
use std::time::Duration;

use futures_util::StreamExt;
use nats_jetstream::proto::StorageType;
use nats_stores::object_store::proto::{ObjectMeta, ObjectStoreConfig};
use nats_stores::object_store::StoreError;
use nats_stores::ObjectStoreExt;
use tokio::time::timeout;

/// The longest the example waits for anything, so it never hangs.
const WAIT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
    let client = nats_tokio::connect(&url).await?;
    let js = nats_jetstream::new(client.clone());

    match js.delete_object_store("example_files").await {
        Ok(()) | Err(StoreError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    let store =
        js.create_object_store(ObjectStoreConfig::new("example_files").storage(StorageType::Memory)).await?;
    let mut watch = store.watch().await?;

    // One MiB in 64 KiB chunks, read from any futures-io reader (here a byte slice).
    let data: Vec<u8> = (0..1024 * 1024u32).map(|i| i.to_le_bytes()[0]).collect();
    let meta = ObjectMeta::from("data.bin").description("a MiB of bytes").chunk_size(64 * 1024);
    let info = store.put(meta, &mut &data[..]).await?;
    println!(
        "put {}: {} bytes, {} chunks, {}",
        info.name,
        info.size,
        info.chunks,
        info.digest.clone().unwrap_or_default()
    );

    // Read it back as a stream of chunks; the digest is checked before the last one.
    let mut object = store.get("data.bin").await?;
    let mut total = 0;
    while let Some(chunk) = object.next().await {
        total += chunk?.len();
    }
    println!("read {total} bytes, digest checked");

    store.add_link("latest", &info).await?;
    println!("via link: {} bytes", store.get("latest").await?.read_all().await?.len());
    let mut listing = store.list().await?;
    while let Some(info) = listing.next().await {
        let info = info?;
        println!("listed: {} ({} bytes)", info.name, info.size);
    }
    for _ in 0..2 {
        let change = timeout(WAIT, watch.next()).await?.ok_or("watch ended")??;
        println!("watch: {} (deleted: {})", change.name, change.deleted);
    }
    store.delete("data.bin").await?;
    store.seal().await?;
    println!("sealed: {}", store.status().await?.sealed);
    js.delete_object_store("example_files").await?;
    client.close().await;
    Ok(())
}
