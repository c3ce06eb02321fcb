//! JetStream benchmark: this project's `nats-jetstream` and the official `async-nats`, both on
//! tokio, in one run against one local `nats-server -js` started on a free port. Prints a
//! table with ratios.
//!
//! ```text
//! cargo bench -p nats-bench --features compare --bench jetstream
//! ```
//!
//! Measurements: asynchronous publish with acknowledgements (100,000 x 16 B and
//! 100,000 x 1 KiB into a memory stream, at most 256 acks outstanding, every ack checked),
//! an ordered-consumer replay of 1,000,000 x 16 B messages, a push consumer's delivery of
//! the same (flow control on, no acks), and 10,000 message gets by sequence one after the
//! other, by direct get and from the stream leader. `BENCH_SCALE=0.1` shrinks every count.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use nats_bench::{scale, NatsServer};

const WINDOW: usize = 256;

#[allow(clippy::cast_precision_loss)]
fn rate(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

async fn ours_publish(url: &str, stream: &str, count: usize, size: usize) -> Duration {
    use nats_jetstream::proto::{StorageType, StreamConfig};
    let client = nats_tokio::connect(url).await.expect("connect");
    let js = nats_jetstream::new(client.clone());
    let _ = js.delete_stream(stream).await;
    js.create_stream(
        StreamConfig::new(stream).subjects([format!("{stream}.>")]).storage(StorageType::Memory),
    )
    .await
    .expect("create stream");
    let subject = format!("{stream}.x");
    let payload = Bytes::from(vec![b'x'; size]);
    let start = Instant::now();
    let mut publisher = js.publisher(WINDOW);
    for _ in 0..count {
        publisher.publish(&subject, payload.clone()).await.expect("publish");
    }
    let report = publisher.finish().await;
    let elapsed = start.elapsed();
    assert!(report.failures.is_empty(), "{:?}", report.failures.first());
    assert_eq!(report.acked, count as u64);
    js.delete_stream(stream).await.expect("delete");
    client.close().await;
    elapsed
}

async fn theirs_publish(url: &str, stream: &str, count: usize, size: usize) -> Duration {
    use async_nats::jetstream::stream::{Config, StorageType};
    let client = async_nats::connect(url).await.expect("connect");
    let js = async_nats::jetstream::new(client);
    let _ = js.delete_stream(stream).await;
    js.create_stream(Config {
        name: stream.to_owned(),
        subjects: vec![format!("{stream}.>")],
        storage: StorageType::Memory,
        ..Config::default()
    })
    .await
    .expect("create stream");
    let subject = format!("{stream}.x");
    let payload = Bytes::from(vec![b'x'; size]);
    let start = Instant::now();
    let mut in_flight = VecDeque::with_capacity(WINDOW);
    for _ in 0..count {
        if in_flight.len() >= WINDOW {
            let ack: async_nats::jetstream::context::PublishAckFuture = in_flight.pop_front().expect("full");
            ack.await.expect("ack");
        }
        in_flight.push_back(js.publish(subject.clone(), payload.clone()).await.expect("publish"));
    }
    for ack in in_flight {
        ack.await.expect("ack");
    }
    let elapsed = start.elapsed();
    js.delete_stream(stream).await.expect("delete");
    elapsed
}

async fn fill_replay_stream(url: &str, count: usize) {
    use nats_jetstream::proto::{StorageType, StreamConfig};
    let client = nats_tokio::connect(url).await.expect("connect");
    let js = nats_jetstream::new(client.clone());
    let _ = js.delete_stream("REPLAY").await;
    js.create_stream(StreamConfig::new("REPLAY").subjects(["replay"]).storage(StorageType::Memory))
        .await
        .expect("create stream");
    let mut publisher = js.publisher(1024);
    for _ in 0..count {
        publisher.publish("replay", Bytes::from_static(b"0123456789abcdef")).await.expect("publish");
    }
    let report = publisher.finish().await;
    assert_eq!(report.acked, count as u64);
    client.close().await;
}

async fn ours_replay(url: &str, count: usize) -> Duration {
    let client = nats_tokio::connect(url).await.expect("connect");
    let js = nats_jetstream::new(client.clone());
    let stream = js.get_stream("REPLAY").await.expect("stream");
    let start = Instant::now();
    let mut messages = stream.ordered_consumer(nats_jetstream::OrderedConfig::default()).messages();
    let mut last = 0;
    for _ in 0..count {
        let m = messages.next().await.expect("a message").expect("no error");
        last = m.info().expect("metadata").stream_sequence;
    }
    let elapsed = start.elapsed();
    assert_eq!(last, count as u64);
    drop(messages);
    client.close().await;
    elapsed
}

async fn theirs_replay(url: &str, count: usize) -> Duration {
    use async_nats::jetstream::consumer::pull::OrderedConfig;
    let client = async_nats::connect(url).await.expect("connect");
    let js = async_nats::jetstream::new(client);
    let stream = js.get_stream("REPLAY").await.expect("stream");
    let start = Instant::now();
    let consumer = stream.create_consumer(OrderedConfig::default()).await.expect("consumer");
    let mut messages = consumer.messages().await.expect("messages");
    let mut last = 0;
    for _ in 0..count {
        let m = messages.next().await.expect("a message").expect("no error");
        last = m.info().expect("metadata").stream_sequence;
    }
    let elapsed = start.elapsed();
    assert_eq!(last, count as u64);
    elapsed
}

async fn ours_push(url: &str, count: usize) -> Duration {
    use nats_jetstream::proto::ConsumerConfig;
    let client = nats_tokio::connect(url).await.expect("connect");
    let js = nats_jetstream::new(client.clone());
    let stream = js.get_stream("REPLAY").await.expect("stream");
    let start = Instant::now();
    let config = ConsumerConfig {
        ack_policy: nats_jetstream::AckPolicy::None,
        flow_control: true,
        idle_heartbeat: Duration::from_secs(5),
        ..ConsumerConfig::ephemeral()
    };
    let consumer = stream.create_push_consumer(config).await.expect("consumer");
    let mut messages = consumer.messages().await.expect("messages");
    let mut last = 0;
    for _ in 0..count {
        let m = messages.next().await.expect("a message").expect("no error");
        last = m.info().expect("metadata").stream_sequence;
    }
    let elapsed = start.elapsed();
    assert_eq!(last, count as u64);
    drop(messages);
    client.close().await;
    elapsed
}

async fn theirs_push(url: &str, count: usize) -> Duration {
    use async_nats::jetstream::consumer::{push, AckPolicy};
    let client = async_nats::connect(url).await.expect("connect");
    let js = async_nats::jetstream::new(client.clone());
    let stream = js.get_stream("REPLAY").await.expect("stream");
    let start = Instant::now();
    let consumer = stream
        .create_consumer(push::Config {
            deliver_subject: client.new_inbox(),
            ack_policy: AckPolicy::None,
            flow_control: true,
            idle_heartbeat: Duration::from_secs(5),
            ..push::Config::default()
        })
        .await
        .expect("consumer");
    let mut messages = consumer.messages().await.expect("messages");
    let mut last = 0;
    for _ in 0..count {
        let m = messages.next().await.expect("a message").expect("no error");
        last = m.info().expect("metadata").stream_sequence;
    }
    let elapsed = start.elapsed();
    assert_eq!(last, count as u64);
    elapsed
}

async fn fill_get_stream(url: &str, count: usize) {
    use nats_jetstream::proto::{StorageType, StreamConfig};
    let client = nats_tokio::connect(url).await.expect("connect");
    let js = nats_jetstream::new(client.clone());
    let _ = js.delete_stream("GETS").await;
    let mut config = StreamConfig::new("GETS").subjects(["gets"]).storage(StorageType::Memory);
    config.allow_direct = true;
    js.create_stream(config).await.expect("create stream");
    let mut publisher = js.publisher(1024);
    for _ in 0..count {
        publisher.publish("gets", Bytes::from_static(b"0123456789abcdef")).await.expect("publish");
    }
    assert_eq!(publisher.finish().await.acked, count as u64);
    client.close().await;
}

/// `count` gets by sequence, one after the other: by direct get, or from the leader.
async fn ours_gets(url: &str, count: usize, direct: bool) -> Duration {
    use nats_jetstream::proto::DirectGetRequest;
    let client = nats_tokio::connect(url).await.expect("connect");
    let js = nats_jetstream::new(client.clone());
    // A handle without the stream's information reads from the leader.
    let stream = if direct {
        js.get_stream("GETS").await.expect("stream")
    } else {
        nats_jetstream::Stream::unchecked(js.clone(), "GETS")
    };
    assert_eq!(stream.reads_direct(), direct);
    let start = Instant::now();
    for seq in 1..=count as u64 {
        let m = if direct {
            stream.direct_get(DirectGetRequest::sequence(seq)).await.expect("get").sequence
        } else {
            stream.get_raw_message(seq).await.expect("get").sequence
        };
        assert_eq!(m, seq);
    }
    let elapsed = start.elapsed();
    client.close().await;
    elapsed
}

async fn theirs_gets(url: &str, count: usize, direct: bool) -> Duration {
    let client = async_nats::connect(url).await.expect("connect");
    let js = async_nats::jetstream::new(client);
    let stream = js.get_stream("GETS").await.expect("stream");
    let start = Instant::now();
    for seq in 1..=count as u64 {
        let m = if direct {
            stream.direct_get(seq).await.expect("get").sequence
        } else {
            stream.get_raw_message(seq).await.expect("get").sequence
        };
        assert_eq!(m, seq);
    }
    start.elapsed()
}

fn row(name: &str, count: usize, ours: Duration, theirs: Duration) {
    let (a, b) = (rate(count, ours), rate(count, theirs));
    println!("| {name:<38} | {count:>9} | {a:>14.0} | {b:>14.0} | {:>6.2} |", a / b);
}

fn main() {
    let server = NatsServer::jetstream();
    let url = server.url();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    println!(
        "| {:<38} | {:>9} | {:>14} | {:>14} | {:>6} |",
        "JetStream (tokio)", "messages", "ours msg/s", "async-nats msg/s", "ratio"
    );
    println!(
        "|{}|{}|{}|{}|{}|",
        "-".repeat(40),
        "-".repeat(11),
        "-".repeat(16),
        "-".repeat(18),
        "-".repeat(8)
    );
    runtime.block_on(async {
        for (size, label) in [(16, "16 B"), (1024, "1 KiB")] {
            let count = scale(100_000);
            // Best of three for each, alternating.
            let mut ours = Duration::MAX;
            let mut theirs = Duration::MAX;
            for _ in 0..3 {
                ours = ours.min(ours_publish(&url, "PUBO", count, size).await);
                theirs = theirs.min(theirs_publish(&url, "PUBT", count, size).await);
            }
            row(&format!("publish with acks, {label}, window {WINDOW}"), count, ours, theirs);
        }
        let count = scale(1_000_000);
        fill_replay_stream(&url, count).await;
        let ours = ours_replay(&url, count).await;
        let theirs = theirs_replay(&url, count).await;
        row("ordered consumer replay, 16 B", count, ours, theirs);
        let ours = ours_push(&url, count).await;
        let theirs = theirs_push(&url, count).await;
        row("push consumer delivery, 16 B", count, ours, theirs);

        let count = scale(10_000);
        fill_get_stream(&url, count).await;
        let mut results = Vec::new();
        for (direct, label) in [(true, "direct get by sequence"), (false, "leader get by sequence")] {
            let (mut ours, mut theirs) = (Duration::MAX, Duration::MAX);
            for _ in 0..3 {
                ours = ours.min(ours_gets(&url, count, direct).await);
                theirs = theirs.min(theirs_gets(&url, count, direct).await);
            }
            row(label, count, ours, theirs);
            results.push(ours);
        }
        println!(
            "direct get against leader get (ours): {:.2}x the rate",
            results[1].as_secs_f64() / results[0].as_secs_f64()
        );
    });
}
