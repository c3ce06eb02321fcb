//! Interop with the official Python client (`nats-py`, pinned): JetStream messages it
//! publishes (headers, `Nats-Msg-Id` de-duplication) are consumed here, and messages
//! published here are consumed, read (metadata) and acknowledged by it. Each scenario runs on
//! tokio, smol and async-std.

use std::collections::BTreeMap;

use futures_util::StreamExt;
use nats_client::{HeaderMap, HeaderName, HeaderValue, Runtime};
use nats_integration_tests::{connect, run_python, runtime_tests, within, NatsServer};
use nats_jetstream::proto::{ConsumerConfig, PullOptions, StreamConfig};
use nats_jetstream::Publish;

runtime_tests!(python_publishes_we_consume, we_publish_python_consumes);

const PY_PUBLISH: &str = r#"
import asyncio, sys, nats

async def main():
    nc = await asyncio.wait_for(nats.connect(sys.argv[1]), 5)
    js = nc.jetstream()
    for i, msg_id in enumerate(["a", "b", "a", "c"]):
        ack = await js.publish("py.in", f"py-{i}".encode(),
                               headers={"Nats-Msg-Id": msg_id, "X-From": "python", "X-Index": str(i)},
                               timeout=5)
        print(ack.stream, ack.seq, bool(ack.duplicate))
    await nc.close()

asyncio.run(main())
"#;

async fn python_publishes_we_consume<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let stream =
        within(&rt, "create", js.create_stream(StreamConfig::new("PYIN").subjects(["py.in"]))).await.unwrap();

    let out = run_python(PY_PUBLISH, &[&server.url()]);
    let acks: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(acks, ["PYIN 1 False", "PYIN 2 False", "PYIN 1 True", "PYIN 3 False"], "{out:?}");

    let consumer =
        within(&rt, "consumer", stream.create_consumer(ConsumerConfig::durable("rust"))).await.unwrap();
    let batch = within(
        &rt,
        "fetch",
        // Everything stored (the publishes were acknowledged), then the end: no expiry to race.
        consumer.fetch(PullOptions::default().batch(10).no_wait(true)),
    )
    .await
    .unwrap();
    let messages: Vec<_> = within(&rt, "batch", batch.map(Result::unwrap).collect::<Vec<_>>()).await;
    let seen: Vec<(String, String, String, u64)> = messages
        .iter()
        .map(|m| {
            let headers = m.headers.as_deref().expect("headers from nats-py");
            (
                String::from_utf8(m.payload.to_vec()).unwrap(),
                headers.get("Nats-Msg-Id").unwrap().as_str().to_owned(),
                headers.get("X-From").unwrap().as_str().to_owned(),
                m.info().unwrap().stream_sequence,
            )
        })
        .collect();
    let expected: Vec<(String, String, String, u64)> = [("py-0", "a", 1), ("py-1", "b", 2), ("py-3", "c", 3)]
        .into_iter()
        .map(|(p, id, seq)| (p.to_owned(), id.to_owned(), "python".to_owned(), seq))
        .collect();
    assert_eq!(seen, expected, "the duplicate was not stored");
    for m in &messages {
        within(&rt, "ack", m.double_ack()).await.unwrap();
    }
    let info = within(&rt, "info", stream.consumer_info("rust")).await.unwrap();
    assert_eq!((info.ack_floor.stream_seq, info.num_ack_pending), (3, 0));
}

const PY_CONSUME: &str = r#"
import asyncio, sys, nats

async def main():
    nc = await asyncio.wait_for(nats.connect(sys.argv[1]), 5)
    js = nc.jetstream()
    sub = await js.pull_subscribe("rs.out", durable="py", stream="RSOUT")
    msgs = await sub.fetch(10, timeout=5)
    while len(msgs) < 3:
        msgs += await sub.fetch(10, timeout=5)
    for m in msgs:
        md = m.metadata
        print(m.data.decode(), m.headers.get("Nats-Msg-Id"), m.headers.get("X-From"),
              md.stream, md.sequence.stream, md.num_delivered)
        await m.ack_sync(timeout=5)
    await nc.close()

asyncio.run(main())
"#;

async fn we_publish_python_consumes<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let stream = within(&rt, "create", js.create_stream(StreamConfig::new("RSOUT").subjects(["rs.out"])))
        .await
        .unwrap();
    let mut acks = BTreeMap::new();
    for (i, id) in ["x", "y", "x", "z"].into_iter().enumerate() {
        let mut headers = HeaderMap::new();
        headers.insert(HeaderName::new("X-From").unwrap(), HeaderValue::new("rust").unwrap());
        let publish = Publish::new()
            .payload(format!("rs-{i}").into())
            .headers(headers)
            .message_id(id)
            .expected_stream("RSOUT");
        let ack = within(&rt, "publish", async {
            js.send_publish("rs.out", publish).await.unwrap().await.unwrap()
        })
        .await;
        acks.insert(i, (ack.sequence, ack.duplicate));
    }
    assert_eq!(acks[&2], (1, true), "de-duplicated by Nats-Msg-Id");

    let out = run_python(PY_CONSUME, &[&server.url()]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        ["rs-0 x rust RSOUT 1 1", "rs-1 y rust RSOUT 2 1", "rs-3 z rust RSOUT 3 1"],
        "what nats-py read: {out:?}"
    );
    let info = within(&rt, "info", stream.consumer_info("py")).await.unwrap();
    assert_eq!((info.ack_floor.stream_seq, info.num_ack_pending), (3, 0), "nats-py acknowledged everything");
}
