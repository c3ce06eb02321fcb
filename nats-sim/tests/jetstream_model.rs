//! The JetStream model under the real client: `nats-jetstream`'s context, stream and
//! consumer API, as an application uses it, against simulated servers on the virtual
//! clock. Each test runs on a fixed seed.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use nats_jetstream::proto::{ConsumerConfig, PublishRetry, PullOptions, StreamConfig};
use nats_jetstream::{Context, FetchError, Message, Publish, PublishError, StreamError};
use nats_sim::server::jetstream::spawn_ticker;
use nats_sim::{Cluster, Host, Net, NetConfig, ServerConfig, Sim};

/// What a scenario gets: the run, the cluster and a host for its client.
struct Env {
    sim: Sim,
    cluster: Cluster,
    host: Host,
    urls: String,
}

impl Env {
    /// A JetStream context on a new connection of the host.
    async fn connect(&self) -> Context {
        let options = nats_client::ConnectOptions::new();
        let client = nats_client::connect_with_runtime(self.host.clone(), &self.urls, options)
            .await
            .expect("connects to the simulated cluster");
        nats_jetstream::new(client)
    }

    /// Waits on the virtual clock.
    async fn sleep(&self, by: Duration) {
        self.sim.sleep(by).await;
    }
}

/// Runs `scenario` on a one-server JetStream cluster with `seed`; its result and the
/// run's trace hash.
fn simulate<T, F, Fut>(seed: u64, scenario: F) -> (T, u64)
where
    T: Send + 'static,
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let sim = Sim::new(seed);
    let net = Net::new(sim.clone(), NetConfig::default());
    let cluster = Cluster::new(&net, ServerConfig { jetstream: true, ..ServerConfig::default() });
    spawn_ticker(&cluster);
    let host = Host::new(&net, 1);
    let env = Env { sim: sim.clone(), cluster: cluster.clone(), host, urls: cluster.urls() };
    let result = sim.block_on(scenario(env), Duration::from_secs(300)).expect("the run ends");
    (result, sim.trace_hash())
}

fn orders() -> StreamConfig {
    StreamConfig::new("ORDERS").subjects(["orders.>"])
}

/// Publishes `payload` to `subject` and waits for the ack's sequence.
async fn publish(js: &Context, subject: &str, payload: &'static str) -> u64 {
    js.publish(subject, Bytes::from_static(payload.as_bytes())).await.unwrap().await.unwrap().sequence
}

/// Every message of a batch, failing on an error item.
async fn drain(mut batch: nats_jetstream::Batch) -> Vec<Message> {
    let mut messages = Vec::new();
    while let Some(message) = batch.next().await {
        messages.push(message.expect("no error in the batch"));
    }
    messages
}

#[test]
fn publish_dedupe_and_get() {
    let ((), _) = simulate(11, |env| async move {
        let js = env.connect().await;
        let stream = js.create_stream(orders()).await.unwrap();
        assert_eq!(stream.cached_info().config.duplicate_window, Duration::from_secs(120));
        assert_eq!(publish(&js, "orders.new", "one").await, 1);
        let with_id = || Publish::new().payload("two".into()).message_id("order-2");
        let first = js.send_publish("orders.paid", with_id()).await.unwrap().await.unwrap();
        assert_eq!((first.sequence, first.duplicate), (2, false));
        let again = js.send_publish("orders.paid", with_id()).await.unwrap().await.unwrap();
        assert_eq!((again.stream.as_str(), again.sequence, again.duplicate), ("ORDERS", 2, true));
        assert_eq!(publish(&js, "orders.new", "three").await, 3);

        let one = stream.get_raw_message(1).await.unwrap();
        assert_eq!((one.subject.as_str(), one.sequence, &one.payload[..]), ("orders.new", 1, &b"one"[..]));
        assert!(one.time.starts_with("2026-01-01T00:00:00"), "{}", one.time);
        let two = stream.get_raw_message(2).await.unwrap();
        let id = two.headers.as_ref().and_then(|h| h.get("Nats-Msg-Id")).map(|v| v.as_str().to_owned());
        assert_eq!(id.as_deref(), Some("order-2"), "the stored headers come back");
        let last = stream.get_last_raw_message_by_subject("orders.new").await.unwrap();
        assert_eq!((last.sequence, &last.payload[..]), (3, &b"three"[..]));
        assert!(matches!(stream.get_raw_message(9).await, Err(StreamError::MessageNotFound(_))));

        // Expectations the stream checks.
        let stale = Publish::new().payload("x".into()).expected_last_sequence(2);
        match js.send_publish("orders.new", stale).await.unwrap().await {
            Err(PublishError::WrongLastSequence(e)) => assert_eq!(e.description, "wrong last sequence: 3"),
            other => panic!("{other:?}"),
        }
        let fresh = Publish::new().payload("x".into()).expected_last_sequence(3).expected_stream("ORDERS");
        assert_eq!(js.send_publish("orders.new", fresh).await.unwrap().await.unwrap().sequence, 4);

        let mut stream = stream;
        let info = stream.info().await.unwrap();
        assert_eq!((info.state.messages, info.state.first_seq, info.state.last_seq), (4, 1, 4));
        assert!(matches!(js.get_stream("MISSING").await, Err(StreamError::NotFound(_))));
        let names: Vec<String> =
            js.stream_names_by_subject("orders.x").map(|n| n.unwrap()).collect::<Vec<_>>().await;
        assert_eq!(names, ["ORDERS"]);
        // Direct get, on a stream allowing it.
        let mut config = StreamConfig::new("DIRECT").subjects(["direct.*"]);
        config.allow_direct = true;
        let direct = js.create_stream(config).await.unwrap();
        publish(&js, "direct.a", "a1").await;
        publish(&js, "direct.a", "a2").await;
        let got = direct.get_last_raw_message_by_subject("direct.a").await.unwrap();
        assert_eq!((got.sequence, &got.payload[..]), (2, &b"a2"[..]));
        assert!(matches!(direct.get_raw_message(7).await, Err(StreamError::MessageNotFound(_))));
        assert!(js.delete_stream("DIRECT").await.unwrap());
    });
}

#[test]
fn fetch_a_batch_and_ack_it() {
    let ((), _) = simulate(12, |env| async move {
        let js = env.connect().await;
        let stream = js.create_stream(orders()).await.unwrap();
        for (i, subject) in ["orders.a", "orders.b", "orders.a", "orders.b", "orders.a"].iter().enumerate() {
            assert_eq!(publish(&js, subject, "x").await, i as u64 + 1);
        }
        let consumer = stream.create_consumer(ConsumerConfig::durable("worker")).await.unwrap();
        let batch = drain(consumer.fetch_messages(3, Duration::from_secs(1)).await.unwrap()).await;
        assert_eq!(batch.len(), 3);
        for ((i, message), subject) in (1u64..).zip(&batch).zip(["orders.a", "orders.b", "orders.a"]) {
            let meta = message.info().unwrap();
            assert_eq!((meta.stream.as_str(), meta.consumer.as_str()), ("ORDERS", "worker"));
            assert_eq!((meta.stream_sequence, meta.consumer_sequence, meta.delivered), (i, i, 1));
            assert_eq!(meta.pending, 5 - i);
            assert_eq!(message.subject.as_str(), subject);
            message.ack().await.unwrap();
        }
        batch[2].double_ack().await.unwrap();
        let mut consumer = consumer;
        let info = consumer.info().await.unwrap();
        assert_eq!((info.num_ack_pending, info.num_pending, info.delivered.stream_seq), (0, 2, 3));
        assert_eq!(info.ack_floor.stream_seq, 3);

        // A filtered consumer sees its subject only.
        let mut filtered = ConsumerConfig::durable("b-only");
        filtered.filter_subject = Some("orders.b".into());
        let only_b = stream.create_consumer(filtered).await.unwrap();
        let batch = drain(only_b.fetch_messages(10, Duration::from_millis(500)).await.unwrap()).await;
        let seqs: Vec<u64> = batch.iter().map(|m| m.info().unwrap().stream_sequence).collect();
        assert_eq!(seqs, [2, 4]);
    });
}

#[test]
fn a_no_wait_fetch_on_an_empty_consumer_ends_at_once() {
    let ((), _) = simulate(13, |env| async move {
        let js = env.connect().await;
        let stream = js.create_stream(orders()).await.unwrap();
        let consumer = stream.create_consumer(ConsumerConfig::durable("idle")).await.unwrap();
        let start = env.sim.elapsed();
        let batch = consumer.fetch(PullOptions::default().batch(5).no_wait(true)).await.unwrap();
        assert!(drain(batch).await.is_empty());
        assert!(env.sim.elapsed() - start < Duration::from_millis(100), "404 No Messages, not an expiry");
        // With messages, a no-wait fetch takes what there is and ends.
        publish(&js, "orders.a", "1").await;
        publish(&js, "orders.a", "2").await;
        let batch = consumer.fetch(PullOptions::default().batch(5).no_wait(true)).await.unwrap();
        assert_eq!(drain(batch).await.len(), 2);
        assert!(env.sim.elapsed() - start < Duration::from_millis(200));
    });
}

#[test]
fn an_expiring_fetch_ends_at_its_expiry() {
    let ((), _) = simulate(14, |env| async move {
        let js = env.connect().await;
        let stream = js.create_stream(orders()).await.unwrap();
        let consumer = stream.create_consumer(ConsumerConfig::durable("slow")).await.unwrap();
        let start = env.sim.elapsed();
        let batch = consumer.fetch_messages(5, Duration::from_secs(2)).await.unwrap();
        assert!(drain(batch).await.is_empty());
        let took = env.sim.elapsed() - start;
        assert!(
            took >= Duration::from_secs(2) && took < Duration::from_millis(2100),
            "{took:?}: 408 at expiry"
        );
        let info = consumer.clone().info().await.unwrap().clone();
        assert_eq!(info.num_waiting, 0, "the expired request is gone");
    });
}

#[test]
fn a_long_fetch_lives_on_heartbeats_and_gets_a_late_message() {
    let ((), _) = simulate(15, |env| async move {
        let js = env.connect().await;
        let stream = js.create_stream(orders()).await.unwrap();
        let consumer = stream.create_consumer(ConsumerConfig::durable("patient")).await.unwrap();
        let options = PullOptions::default()
            .batch(2)
            .expires(Duration::from_secs(20))
            .heartbeat(Duration::from_secs(1));
        let start = env.sim.elapsed();
        let batch = consumer.fetch(options).await.unwrap();
        // Without the server's heartbeats the fetch would fail after two seconds.
        let publisher = js.clone();
        let sim = env.sim.clone();
        env.sim.spawn(async move {
            sim.sleep(Duration::from_secs(8)).await;
            publish(&publisher, "orders.late", "late").await;
        });
        let messages = drain(batch).await;
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].subject.as_str(), "orders.late");
        let took = env.sim.elapsed() - start;
        assert!(took >= Duration::from_secs(20) && took < Duration::from_millis(20_100), "{took:?}");
    });
}

#[test]
fn a_consumer_deleted_under_a_waiting_fetch_ends_it() {
    let ((), _) = simulate(16, |env| async move {
        let js = env.connect().await;
        let stream = js.create_stream(orders()).await.unwrap();
        let consumer = stream.create_consumer(ConsumerConfig::durable("doomed")).await.unwrap();
        let mut batch = consumer.fetch_messages(5, Duration::from_secs(30)).await.unwrap();
        let deleter = stream.clone();
        let sim = env.sim.clone();
        env.sim.spawn(async move {
            sim.sleep(Duration::from_secs(1)).await;
            assert!(deleter.delete_consumer("doomed").await.unwrap());
        });
        match batch.next().await {
            Some(Err(FetchError::ConsumerDeleted)) => {}
            other => panic!("{other:?}"),
        }
        assert!(env.sim.elapsed() < Duration::from_secs(2));
        assert!(stream.get_consumer("doomed").await.is_err());
    });
}

#[test]
fn unacknowledged_messages_come_back_after_ack_wait() {
    let ((), _) = simulate(17, |env| async move {
        let js = env.connect().await;
        let stream = js.create_stream(orders()).await.unwrap();
        let mut config = ConsumerConfig::durable("forgetful");
        config.ack_wait = Duration::from_secs(2);
        let consumer = stream.create_consumer(config).await.unwrap();
        publish(&js, "orders.a", "x").await;
        let first = drain(consumer.fetch_messages(1, Duration::from_secs(1)).await.unwrap()).await;
        assert_eq!(first[0].info().unwrap().delivered, 1);
        let start = env.sim.elapsed();
        let again = drain(consumer.fetch_messages(1, Duration::from_secs(5)).await.unwrap()).await;
        let meta = again[0].info().unwrap();
        assert_eq!((meta.stream_sequence, meta.delivered, meta.consumer_sequence), (1, 2, 2));
        assert!(env.sim.elapsed() - start < Duration::from_secs(2));
        // A nak brings it back at once; a term never.
        again[0].nak().await.unwrap();
        let third = drain(consumer.fetch_messages(1, Duration::from_secs(1)).await.unwrap()).await;
        assert_eq!(third[0].info().unwrap().delivered, 3);
        third[0].term().await.unwrap();
        let none = drain(consumer.fetch_messages(1, Duration::from_secs(3)).await.unwrap()).await;
        assert!(none.is_empty());
    });
}

#[test]
fn an_election_answers_503_and_the_publish_retry_gets_through_after_it() {
    let ((), _) = simulate(18, |env| async move {
        let js = env.connect().await;
        js.create_stream(orders()).await.unwrap();
        publish(&js, "orders.a", "before").await;
        let until = env.sim.elapsed() + Duration::from_secs(1);
        env.cluster.with_jetstream(|model| model.elect(until)).expect("JetStream is on");
        let ack = js.publish("orders.a", "lost".into()).await.unwrap().await;
        assert!(matches!(ack, Err(PublishError::NoResponders)), "{ack:?}");
        assert!(matches!(js.stream_info("ORDERS").await, Err(StreamError::JetStreamNotEnabled)));
        let retried = Publish::new().payload("after".into()).message_id("m-1");
        let ack = js
            .send_publish_with_retry("orders.a", retried, PublishRetry::default(), Duration::from_secs(5))
            .await
            .unwrap();
        assert!(env.sim.elapsed() >= until);
        assert_eq!((ack.sequence, ack.duplicate), (2, false), "nothing was stored during the election");
        let info = js.stream_info("ORDERS").await.unwrap();
        assert_eq!(info.state.messages, 2);
    });
}

#[test]
fn the_model_survives_a_server_restart() {
    let ((), _) = simulate(19, |env| async move {
        let js = env.connect().await;
        let stream = js.create_stream(orders()).await.unwrap();
        publish(&js, "orders.a", "kept").await;
        env.cluster.stop(0);
        env.sleep(Duration::from_millis(100)).await;
        env.cluster.start(0);
        let message = stream.get_raw_message(1).await.unwrap();
        assert_eq!(&message.payload[..], b"kept");
        assert_eq!(publish(&js, "orders.a", "next").await, 2);
    });
}

/// A scenario touching every path: the same seed must replay it exactly.
async fn busy(env: Env) -> Vec<u64> {
    let js = env.connect().await;
    let stream = js.create_stream(orders()).await.unwrap();
    let consumer = stream.create_consumer(ConsumerConfig::durable("replay")).await.unwrap();
    let publisher = js.clone();
    env.sim.spawn(async move {
        for i in 0..20u64 {
            let subject = if i % 2 == 0 { "orders.even" } else { "orders.odd" };
            let ack = publisher.publish(subject, Bytes::from(i.to_string())).await.unwrap();
            drop(ack);
        }
    });
    let mut seen = Vec::new();
    while seen.len() < 20 {
        let batch = consumer.fetch_messages(7, Duration::from_millis(300)).await.unwrap();
        for message in drain(batch).await {
            message.ack().await.unwrap();
            seen.push(message.info().unwrap().stream_sequence);
        }
    }
    seen
}

#[test]
fn one_seed_one_run() {
    let (first, hash) = simulate(20, busy);
    let (second, again) = simulate(20, busy);
    assert_eq!(first, (1..=20).collect::<Vec<u64>>());
    assert_eq!((first, hash), (second, again), "the same seed replays the same run");
    let (_, other) = simulate(21, busy);
    assert_ne!(hash, other, "another seed interleaves differently");
}
