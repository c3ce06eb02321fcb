//! JetStream on tokio: a stream, publishing with acknowledgements (de-duplication and
//! expectations), the async publisher, a durable pull consumer (fetch, acks, metadata, a
//! continuous stream), an ordered consumer, and cleanup.
//!
//! ```sh
//! nats-server -js &
//! NATS_URL=nats://127.0.0.1:4222 cargo run -p nats-tokio --example jetstream
//! ```
//!
//! `NATS_URL` defaults to `nats://127.0.0.1:4222`; the server needs JetStream (`-js`).

use std::error::Error;
use std::time::Duration;

use futures_util::StreamExt;
use nats_jetstream::proto::{ConsumerConfig, PullOptions, StorageType, StreamConfig};
use nats_jetstream::{OrderedConfig, Publish, PublishError, StreamError};
use tokio::time::timeout;

/// The longest the example waits for anything, so it never hangs.
const WAIT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
    let client = nats_tokio::connect(&url).await?;
    let js = nats_jetstream::new(client.clone());

    // A stream capturing `orders.>`, in memory, recreated from scratch.
    match js.delete_stream("EXAMPLE_ORDERS").await {
        Ok(_) | Err(StreamError::NotFound(_)) => {}
        Err(StreamError::JetStreamNotEnabled) => {
            eprintln!("JetStream is not enabled on {url}: start nats-server with -js");
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    }
    let stream = js
        .create_stream(
            StreamConfig::new("EXAMPLE_ORDERS").subjects(["orders.>"]).storage(StorageType::Memory),
        )
        .await?;
    println!("created stream {}", stream.name());

    // Publish, then await the acknowledgement.
    let ack = js.publish("orders.new", "order 1".into()).await?.await?;
    println!("order 1 stored as sequence {} (duplicate: {})", ack.sequence, ack.duplicate);
    // The same Nats-Msg-Id twice: stored once.
    for _ in 0..2 {
        let ack = js
            .send_publish("orders.new", Publish::new().payload("order 2".into()).message_id("order-2"))
            .await?
            .await?;
        println!("order 2 with id order-2: sequence {}, duplicate {}", ack.sequence, ack.duplicate);
    }
    // Optimistic concurrency: refused unless the stream's last sequence is 1 (it is 2).
    match js
        .send_publish("orders.new", Publish::new().payload("late".into()).expected_last_sequence(1))
        .await?
        .await
    {
        Err(PublishError::WrongLastSequence(e)) => println!("refused as expected: {e}"),
        other => println!("unexpected: {other:?}"),
    }

    // The async publisher: 1,000 messages, at most 64 acknowledgements outstanding.
    let mut publisher = js.publisher(64);
    for i in 0..1000 {
        publisher.publish("orders.bulk", format!("bulk {i}").into()).await?;
    }
    let report = publisher.finish().await;
    println!("bulk: {} acknowledged, {} failures", report.acked, report.failures.len());

    // A durable pull consumer on `orders.new`: fetch a batch, read metadata, acknowledge.
    let consumer = stream
        .create_consumer(ConsumerConfig {
            filter_subject: Some("orders.new".into()),
            ..ConsumerConfig::durable("example-worker")
        })
        .await?;
    let mut batch = consumer.fetch(PullOptions::default().batch(10).expires(Duration::from_secs(1))).await?;
    while let Some(message) = batch.next().await {
        let message = message?;
        let info = message.info()?;
        println!(
            "fetched {:?}: stream sequence {}, delivered {} time(s), {} pending",
            message.payload, info.stream_sequence, info.delivered, info.pending
        );
        message.double_ack().await?;
    }

    // A continuous stream of messages (re-pulls as it goes, heartbeats detect a lost server).
    js.publish("orders.new", "order 3".into()).await?.await?;
    let mut messages = consumer.messages().await?;
    if let Ok(Some(message)) = timeout(WAIT, messages.next()).await {
        let message = message?;
        println!("from the stream: {:?}", message.payload);
        message.ack().await?;
    }

    // An ordered consumer replays the whole stream, in order, once.
    let mut ordered = stream.ordered_consumer(OrderedConfig::default()).messages();
    let mut replayed = 0;
    while replayed < 1003 {
        match timeout(WAIT, ordered.next()).await {
            Ok(Some(message)) => {
                message?;
                replayed += 1;
            }
            _ => break,
        }
    }
    println!("ordered replay: {replayed} messages");

    js.delete_stream("EXAMPLE_ORDERS").await?;
    client.drain().await?;
    Ok(())
}
