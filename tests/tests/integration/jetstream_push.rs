//! Push consumers on tokio, smol and async-std against the pinned server: a durable one
//! with acknowledgements, a deliver group sharing the messages, flow control over a
//! transfer larger than the server's pending limit, missed heartbeats once the consumer is
//! gone, the ordered push consumer through a deleted consumer, and a push consumer made by
//! nats-py consumed here.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::StreamExt;
use nats_client::Runtime;
use nats_integration_tests::{connect, run_python, runtime_tests, within, NatsServer};
use nats_jetstream::proto::{ConsumerConfig, StorageType, StreamConfig};
use nats_jetstream::{AckPolicy, Context, FetchError, OrderedConfig, PushMessages};

runtime_tests!(
    durable_push_consumer_with_acks,
    a_deliver_group_shares_the_messages,
    flow_control_keeps_a_large_transfer_moving,
    missed_heartbeats_once_the_consumer_is_gone,
    ordered_push_consumer_survives_deletion,
    a_push_consumer_made_by_python_is_consumed_here,
    a_push_consumer_made_here_is_consumed_by_python,
);

async fn stream<R: Runtime>(rt: &R, js: &Context, name: &str, subject: &str) -> nats_jetstream::Stream {
    let config = StreamConfig::new(name).subjects([subject]).storage(StorageType::Memory);
    within(rt, "create", js.create_stream(config)).await.unwrap()
}

async fn publish_n<R: Runtime>(rt: &R, js: &Context, subject: &str, n: usize, size: usize) {
    for i in 0..n {
        let mut payload = format!("m{i}").into_bytes();
        payload.resize(size.max(payload.len()), b'.');
        within(rt, "publish", async { js.publish(subject, payload.into()).await.unwrap().await.unwrap() })
            .await;
    }
}

/// The next `n` message payload prefixes (`m<i>`), acknowledging each (confirmed).
async fn take<R: Runtime>(rt: &R, messages: &mut PushMessages, n: usize) -> Vec<String> {
    let mut seen = Vec::new();
    while seen.len() < n {
        let message = within(rt, "message", messages.next()).await.expect("open").unwrap();
        let text = String::from_utf8_lossy(&message.payload).trim_end_matches('.').to_owned();
        // Confirmed, so that what the test asks the server next sees it.
        message.double_ack().await.unwrap();
        seen.push(text);
    }
    seen
}

fn expected(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("m{i}")).collect()
}

async fn durable_push_consumer_with_acks<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let stream = stream(&rt, &js, "PUSH", "push.>").await;
    publish_n(&rt, &js, "push.a", 20, 0).await;
    let config = ConsumerConfig {
        idle_heartbeat: Duration::from_secs(1),
        flow_control: true,
        ..ConsumerConfig::durable("p")
    };
    let consumer = within(&rt, "create", stream.create_push_consumer(config)).await.unwrap();
    assert!(consumer.cached_info().config.is_push());
    let mut messages = within(&rt, "subscribe", consumer.messages()).await.unwrap();
    assert_eq!(take(&rt, &mut messages, 20).await, expected(20));
    drop(messages);

    // The acknowledgements reached the server: nothing is redelivered to a new subscriber.
    let mut consumer = within(&rt, "get", stream.get_push_consumer("p")).await.unwrap();
    let info = within(&rt, "info", consumer.info()).await.unwrap();
    assert_eq!((info.num_ack_pending, info.ack_floor.stream_seq), (0, 20), "{info:?}");
    publish_n(&rt, &js, "push.b", 1, 0).await;
    let mut messages = within(&rt, "subscribe again", consumer.messages()).await.unwrap();
    assert_eq!(take(&rt, &mut messages, 1).await, ["m0"], "only the new message");
}

async fn a_deliver_group_shares_the_messages<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let stream = stream(&rt, &js, "GRP", "grp.>").await;
    let config = ConsumerConfig { deliver_group: Some("workers".into()), ..ConsumerConfig::durable("g") };
    let consumer = within(&rt, "create", stream.create_push_consumer(config)).await.unwrap();
    let mut first = within(&rt, "member 1", consumer.messages()).await.unwrap();
    let mut second = within(&rt, "member 2", consumer.messages()).await.unwrap();
    publish_n(&rt, &js, "grp.a", 40, 0).await;
    let mut seen = BTreeSet::new();
    let (mut from_first, mut from_second) = (0, 0);
    while seen.len() < 40 {
        let message = within(&rt, "either member", async {
            futures_util::future::select(first.next(), second.next()).await
        })
        .await;
        let message = match message {
            futures_util::future::Either::Left((m, _)) => {
                from_first += 1;
                m
            }
            futures_util::future::Either::Right((m, _)) => {
                from_second += 1;
                m
            }
        }
        .expect("open")
        .unwrap();
        message.double_ack().await.unwrap();
        assert!(seen.insert(message.info().unwrap().stream_sequence), "each message once");
    }
    assert_eq!(from_first + from_second, 40);
    let info = within(&rt, "info", stream.consumer_info("g")).await.unwrap();
    assert_eq!(info.num_pending + info.num_ack_pending, 0);
}

async fn flow_control_keeps_a_large_transfer_moving<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let stream = stream(&rt, &js, "FC", "fc.>").await;
    // 2000 × 16 KiB = 32 MiB, far past what the server sends before it asks for flow
    // control: without answers the delivery stalls.
    publish_n(&rt, &js, "fc.a", 2000, 16 * 1024).await;
    let config = ConsumerConfig {
        flow_control: true,
        idle_heartbeat: Duration::from_secs(2),
        ack_policy: AckPolicy::None,
        ..ConsumerConfig::ephemeral()
    };
    let consumer = within(&rt, "create", stream.create_push_consumer(config)).await.unwrap();
    let mut messages = within(&rt, "subscribe", consumer.messages()).await.unwrap();
    let mut count = 0;
    while count < 2000 {
        let message = within(&rt, "message", messages.next()).await.expect("open").unwrap();
        assert_eq!(message.info().unwrap().stream_sequence, count + 1, "in order");
        count += 1;
    }
}

async fn missed_heartbeats_once_the_consumer_is_gone<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let stream = stream(&rt, &js, "HB", "hb.>").await;
    let config =
        ConsumerConfig { idle_heartbeat: Duration::from_millis(300), ..ConsumerConfig::durable("h") };
    let consumer = within(&rt, "create", stream.create_push_consumer(config)).await.unwrap();
    let mut messages = within(&rt, "subscribe", consumer.messages()).await.unwrap();
    publish_n(&rt, &js, "hb.a", 1, 0).await;
    assert_eq!(take(&rt, &mut messages, 1).await, ["m0"]);
    assert!(within(&rt, "delete", stream.delete_consumer("h")).await.unwrap());
    let item = within(&rt, "missed heartbeats", messages.next()).await.expect("open");
    assert!(matches!(item, Err(FetchError::MissedHeartbeats)), "{item:?}");
}

async fn ordered_push_consumer_survives_deletion<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let stream = stream(&rt, &js, "OP", "op.>").await;
    publish_n(&rt, &js, "op.a", 10, 0).await;
    let mut ordered = stream
        .ordered_push_consumer(OrderedConfig::default().heartbeat(Duration::from_millis(500)))
        .messages();
    let mut sequences = Vec::new();
    for _ in 0..5 {
        let message = within(&rt, "ordered", ordered.next()).await.expect("open").unwrap();
        sequences.push(message.info().unwrap().stream_sequence);
    }
    // Delete the consumer under it: it starts over after the last delivered, by missed
    // heartbeats.
    let names: Vec<String> =
        within(&rt, "names", stream.consumer_names().map(Result::unwrap).collect::<Vec<_>>()).await;
    assert_eq!(names.len(), 1);
    let info = within(&rt, "consumer", stream.consumer_info(&names[0])).await.unwrap();
    assert!(info.config.is_push() && info.config.flow_control);
    within(&rt, "delete", stream.delete_consumer(&names[0])).await.unwrap();
    publish_n(&rt, &js, "op.b", 5, 0).await;
    for _ in 0..10 {
        let message = within(&rt, "ordered", ordered.next()).await.expect("open").unwrap();
        sequences.push(message.info().unwrap().stream_sequence);
    }
    assert_eq!(sequences, (1..=15).collect::<Vec<u64>>(), "each once, in order");
    assert!(ordered.resets() >= 1);
}

const PY_PUSH: &str = r#"
import asyncio, sys, nats

async def main():
    nc = await asyncio.wait_for(nats.connect(sys.argv[1]), 5)
    js = nc.jetstream()
    await js.add_stream(name="PYP", subjects=["pyp.>"], storage="memory")
    sub = await js.subscribe("pyp.>", durable="from-python", deliver_policy=nats.js.api.DeliverPolicy.ALL,
                             config=nats.js.api.ConsumerConfig(deliver_subject="deliver.pyp", ack_wait=1.0))
    for i in range(5):
        await js.publish("pyp.a", f"m{i}".encode(), timeout=5)
    # Python takes the first two and acknowledges them; Rust takes over the rest.
    for _ in range(2):
        msg = await sub.next_msg(timeout=5)
        await msg.ack_sync(timeout=5)
    await sub.unsubscribe()
    await nc.close()

asyncio.run(main())
"#;

async fn a_push_consumer_made_by_python_is_consumed_here<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    run_python(PY_PUSH, &[&server.url()]);
    let stream = within(&rt, "stream", js.get_stream("PYP")).await.unwrap();
    let consumer = within(&rt, "consumer", stream.get_push_consumer("from-python")).await.unwrap();
    assert_eq!(consumer.cached_info().config.deliver_subject.as_deref(), Some("deliver.pyp"));
    let mut messages = within(&rt, "subscribe", consumer.messages()).await.unwrap();
    // What Python left unacknowledged: the three it did not take (delivered to it, so
    // redelivered here after the consumer's 1 s ack wait), and nothing it acknowledged.
    let mut seen = take(&rt, &mut messages, 3).await;
    seen.sort();
    assert_eq!(seen, ["m2", "m3", "m4"]);
}

const PY_BIND: &str = r#"
import asyncio, sys, nats

async def main():
    nc = await asyncio.wait_for(nats.connect(sys.argv[1]), 5)
    js = nc.jetstream()
    sub = await js.subscribe("rp.>", durable="made-here", stream="RP", manual_ack=True)
    for _ in range(3):
        msg = await sub.next_msg(timeout=5)
        print(msg.data.decode(), msg.metadata.sequence.stream)
        await msg.ack_sync(timeout=5)
    await nc.close()

asyncio.run(main())
"#;

async fn a_push_consumer_made_here_is_consumed_by_python<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let stream = stream(&rt, &js, "RP", "rp.>").await;
    let config = ConsumerConfig {
        deliver_subject: Some("deliver.rp".into()),
        idle_heartbeat: Duration::from_secs(5),
        flow_control: true,
        ..ConsumerConfig::durable("made-here")
    };
    within(&rt, "create", stream.create_push_consumer(config)).await.unwrap();
    publish_n(&rt, &js, "rp.a", 3, 0).await;
    let out = run_python(PY_BIND, &[&server.url()]);
    assert_eq!(out.stdout.lines().collect::<Vec<_>>(), ["m0 1", "m1 2", "m2 3"], "{out:?}");
    let info = within(&rt, "info", stream.consumer_info("made-here")).await.unwrap();
    assert_eq!((info.num_ack_pending, info.ack_floor.stream_seq), (0, 3), "acknowledged there");
}
