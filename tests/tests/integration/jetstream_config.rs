//! JetStream configurations across clients, field by field, on tokio, smol and async-std
//! against the pinned server: a stream and a consumer made by the official Python client
//! (`nats-py`) with every field it has, updated here, keep every field; ones made here with
//! every field read the same there and survive its updates; sealing an object store that
//! nats-py made (with settings another client added) changes nothing but `sealed`. Also the
//! consumer calls of current servers: create-only and update-only, pause and resume.

use std::time::Duration;

use nats_client::{Client, Runtime};
use nats_integration_tests::{connect, run_python, runtime_tests, within, NatsServer};
use nats_jetstream::proto::{
    AckPolicy, Compression, ConsumerConfig, ConsumerLimits, DeliverPolicy, PersistMode, Placement,
    PriorityPolicy, ReplayPolicy, Republish, Source, StorageType, StreamConfig, SubjectTransform,
};
use nats_jetstream::{ConsumerError, StreamInfoRequest};
use nats_stores::ObjectStoreExt;
use serde_json::Value;

runtime_tests!(
    python_configurations_survive_an_update_here,
    configurations_made_here_read_the_same_in_python,
    sealing_a_python_object_store_keeps_its_settings,
    create_only_update_only_pause_and_resume,
);

/// The server's own JSON for an API request: what it stores, independent of any client's
/// model.
async fn raw_api<R: Runtime>(rt: &R, client: &Client, subject: &str) -> Value {
    let reply = within(rt, subject, client.request(format!("$JS.API.{subject}"), "{}".into())).await.unwrap();
    let value: Value = serde_json::from_slice(&reply.payload).unwrap();
    assert!(value.get("error").is_none(), "{subject}: {value}");
    value
}

const PY_CREATE: &str = r#"
import asyncio, sys, nats
from nats.js.api import *

async def main():
    nc = await asyncio.wait_for(nats.connect(sys.argv[1]), 5)
    js = nc.jetstream()
    await js.add_stream(name="PYSRC", subjects=["pysrc.>"])
    await js.add_stream(StreamConfig(
        name="PYS", description="made by nats-py", subjects=["pys.>"],
        retention=RetentionPolicy.LIMITS, max_consumers=10, max_msgs=1000, max_bytes=1 << 20,
        discard=DiscardPolicy.OLD, max_age=3600.0, max_msgs_per_subject=5, max_msg_size=4096,
        storage=StorageType.FILE, num_replicas=1, duplicate_window=60.0,
        placement=Placement(tags=["a"]),
        sources=[StreamSource(name="PYSRC", opt_start_seq=2,
                              subject_transforms=[SubjectTransform(src="pysrc.>", dest="pys.from.>")])],
        deny_delete=True, allow_rollup_hdrs=True, first_seq=42,
        republish=RePublish(src="pys.>", dest="copy.>", headers_only=True),
        subject_transform=SubjectTransform(src="pys.>", dest="pys.>"),
        allow_direct=True, compression=StoreCompression.S2, allow_msg_ttl=True,
        subject_delete_marker_ttl=5.0, persist_mode=PersistMode.ASYNC, allow_batched=True,
        metadata={"owner": "team-a"},
        consumer_limits=StreamConsumerLimits(inactive_threshold=60.0, max_ack_pending=100)))
    await js.add_consumer("PYS", ConsumerConfig(
        durable_name="PYC", description="made by nats-py", deliver_policy=DeliverPolicy.BY_START_TIME,
        opt_start_time="2026-01-02T03:04:05.123456789Z", ack_policy=AckPolicy.EXPLICIT,
        max_deliver=5, backoff=[1.0, 2.0], filter_subjects=["pys.a", "pys.b"],
        replay_policy=ReplayPolicy.ORIGINAL, sample_freq="50%", max_waiting=10, max_ack_pending=20,
        headers_only=True, inactive_threshold=30.0, num_replicas=1, mem_storage=True,
        metadata={"k": "v"}, pause_until="2099-01-01T00:00:00Z"))
    await nc.close()

asyncio.run(main())
"#;

async fn python_configurations_survive_an_update_here<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let client = connect(&rt, &server.url()).await;
    let js = nats_jetstream::new(client.clone());
    run_python(PY_CREATE, &[&server.url()]);
    let stream_before = raw_api(&rt, &client, "STREAM.INFO.PYS").await["config"].clone();
    let consumer_before = raw_api(&rt, &client, "CONSUMER.INFO.PYS.PYC").await["config"].clone();

    // Read here, change one field, write back.
    let mut config = within(&rt, "info", js.stream_info("PYS")).await.unwrap().config;
    assert!(config.other_fields.is_empty(), "every field named: {:?}", config.other_fields);
    config.max_messages = 2000;
    within(&rt, "update", js.update_stream(config)).await.unwrap();
    let stream = within(&rt, "stream", js.get_stream("PYS")).await.unwrap();
    let mut consumer = within(&rt, "consumer", stream.consumer_info("PYC")).await.unwrap().config;
    assert!(consumer.other_fields.is_empty(), "every field named: {:?}", consumer.other_fields);
    consumer.max_ack_pending = 40;
    within(&rt, "update consumer", stream.update_consumer(consumer)).await.unwrap();

    // The server holds every field as nats-py wrote it, but for the one changed.
    let mut expected = stream_before;
    expected["max_msgs"] = 2000.into();
    assert_eq!(raw_api(&rt, &client, "STREAM.INFO.PYS").await["config"], expected);
    let mut expected = consumer_before;
    expected["max_ack_pending"] = 40.into();
    assert_eq!(raw_api(&rt, &client, "CONSUMER.INFO.PYS.PYC").await["config"], expected);
}

/// Reads the stream and consumer with nats-py and prints its view of them (`as_dict`: the
/// wire form), then updates the stream as a nats-py user would: read, change, write.
const PY_READ_AND_UPDATE: &str = r#"
import asyncio, json, sys, nats

async def main():
    nc = await asyncio.wait_for(nats.connect(sys.argv[1]), 5)
    js = nc.jetstream()
    info = await js.stream_info("RS")
    print(json.dumps(info.config.as_dict()))
    consumer = await js.consumer_info("RS", "RC")
    print(json.dumps(consumer.config.as_dict()))
    config = info.config
    config.max_msgs = 3000
    await js.update_stream(config)
    await nc.close()

asyncio.run(main())
"#;

/// A stream configuration with every field the pinned server accepts together set.
fn every_stream_field() -> StreamConfig {
    StreamConfig {
        name: "RS".into(),
        description: Some("made here".into()),
        subjects: vec!["rs.>".into()],
        max_consumers: 10,
        max_messages: 1000,
        max_bytes: 1 << 20,
        max_age: Duration::from_secs(3600),
        max_messages_per_subject: 5,
        max_message_size: 4096,
        storage: StorageType::File,
        num_replicas: 1,
        duplicate_window: Duration::from_secs(60),
        placement: Some(Placement { tags: vec!["a".into()], ..Placement::default() }),
        sources: vec![Source {
            start_sequence: 2,
            subject_transforms: vec![SubjectTransform {
                source: "rssrc.>".into(),
                destination: "rs.from.>".into(),
            }],
            ..Source::new("RSSRC")
        }],
        compression: Compression::S2,
        first_sequence: 42,
        subject_transform: Some(SubjectTransform { source: "rs.>".into(), destination: "rs.>".into() }),
        republish: Some(Republish {
            source: "rs.>".into(),
            destination: "copy.>".into(),
            headers_only: true,
        }),
        allow_direct: true,
        deny_delete: true,
        allow_rollup: true,
        consumer_limits: Some(ConsumerLimits {
            inactive_threshold: Duration::from_secs(60),
            max_ack_pending: 100,
        }),
        allow_message_ttl: true,
        subject_delete_marker_ttl: Duration::from_secs(5),
        persist_mode: PersistMode::Async,
        allow_batch_publish: true,
        ..StreamConfig::new("RS")
    }
    .metadata("owner", "team-b")
}

/// A pull consumer configuration with every field the pinned server accepts together set
/// (its start time in microseconds: nats-py reads times as Python datetimes).
fn every_consumer_field() -> ConsumerConfig {
    ConsumerConfig {
        durable_name: Some("RC".into()),
        description: Some("made here".into()),
        deliver_policy: DeliverPolicy::ByStartTime { start_time: "2026-01-02T03:04:05.123456Z".into() },
        ack_policy: AckPolicy::Explicit,
        max_deliver: 5,
        backoff: vec![Duration::from_secs(1), Duration::from_secs(2)],
        filter_subjects: vec!["rs.a".into(), "rs.b".into()],
        replay_policy: ReplayPolicy::Original,
        sample_frequency: Some("50%".into()),
        max_waiting: 10,
        max_ack_pending: 20,
        headers_only: true,
        max_batch: 100,
        max_expires: Duration::from_secs(60),
        max_bytes: 1024,
        inactive_threshold: Duration::from_secs(30),
        num_replicas: 1,
        memory_storage: true,
        metadata: [("k".to_owned(), "v".to_owned())].into(),
        pause_until: Some("2099-01-01T00:00:00Z".into()),
        priority_groups: vec!["g".into()],
        priority_policy: PriorityPolicy::PinnedClient,
        priority_timeout: Duration::from_secs(90),
        ..ConsumerConfig::default()
    }
}

/// `config` without the `_nats.*` metadata the server adds.
fn user_metadata(mut config: StreamConfig) -> StreamConfig {
    config.metadata.retain(|k, _| !k.starts_with("_nats."));
    config
}

async fn configurations_made_here_read_the_same_in_python<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    within(&rt, "source", js.create_stream(StreamConfig::new("RSSRC").subjects(["rssrc.>"]))).await.unwrap();
    let stream = within(&rt, "create", js.create_stream(every_stream_field())).await.unwrap();
    let made = user_metadata(stream.cached_info().config.clone());
    assert_eq!(made, every_stream_field(), "the server kept every field as sent");
    let consumer = within(&rt, "consumer", stream.create_consumer(every_consumer_field())).await.unwrap();
    let mut made_consumer = consumer.cached_info().config.clone();
    made_consumer.metadata.retain(|k, _| !k.starts_with("_nats."));
    made_consumer.name = None;
    // The server takes the first back-off as the ack wait.
    assert_eq!(made_consumer.ack_wait, Duration::from_secs(1));
    made_consumer.ack_wait = Duration::ZERO;
    assert_eq!(made_consumer, every_consumer_field());

    let out = run_python(PY_READ_AND_UPDATE, &[&server.url()]);
    let mut lines = out.stdout.lines();
    let python_stream: StreamConfig = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(user_metadata(python_stream), every_stream_field(), "nats-py reads every field as written");
    let python_consumer: ConsumerConfig = serde_json::from_str(lines.next().unwrap()).unwrap();
    // nats-py 2.16 has no pull limits or priority groups: the rest reads as written.
    let known_to_python = ConsumerConfig {
        max_batch: 0,
        max_expires: Duration::ZERO,
        max_bytes: 0,
        priority_groups: Vec::new(),
        priority_policy: PriorityPolicy::None,
        priority_timeout: Duration::ZERO,
        ack_wait: Duration::from_secs(1),
        name: Some("RC".into()),
        ..every_consumer_field()
    };
    let mut python_consumer = python_consumer;
    python_consumer.metadata.retain(|k, _| !k.starts_with("_nats."));
    assert_eq!(python_consumer, known_to_python);

    // After nats-py's read-modify-write, everything made here is still there.
    let after = within(&rt, "info", js.stream_info("RS")).await.unwrap().config;
    let mut expected = every_stream_field();
    expected.max_messages = 3000;
    assert_eq!(user_metadata(after), expected);
}

const PY_OBJECT_STORE: &str = r#"
import asyncio, sys, nats
from nats.js.api import ObjectStoreConfig, Placement, StoreCompression

async def main():
    nc = await asyncio.wait_for(nats.connect(sys.argv[1]), 5)
    js = nc.jetstream()
    await js.create_object_store("pyfiles", config=ObjectStoreConfig(
        description="made by nats-py", ttl=3600.0, max_bytes=1 << 24, placement=Placement(tags=["a"])))
    # Another client adds settings nats-py's object store has no option for.
    info = await js.stream_info("OBJ_pyfiles")
    config = info.config
    config.metadata = {"owner": "team-c"}
    config.compression = StoreCompression.S2
    await js.update_stream(config)
    store = await js.object_store("pyfiles")
    await store.put("a", b"hello")
    await nc.close()

asyncio.run(main())
"#;

async fn sealing_a_python_object_store_keeps_its_settings<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let client = connect(&rt, &server.url()).await;
    let js = nats_jetstream::new(client.clone());
    run_python(PY_OBJECT_STORE, &[&server.url()]);
    let before = raw_api(&rt, &client, "STREAM.INFO.OBJ_pyfiles").await["config"].clone();
    assert_eq!(before["compression"], "s2", "{before}");

    let store = within(&rt, "store", js.get_object_store("pyfiles")).await.unwrap();
    within(&rt, "seal", store.seal()).await.unwrap();
    // What the server itself changes when it seals a stream (`stream.go`): no age limit,
    // discard new, no deletes, purges or roll-ups.
    let mut expected = before;
    expected["sealed"] = true.into();
    expected["max_age"] = 0.into();
    expected["discard"] = "new".into();
    expected["deny_delete"] = true.into();
    expected["deny_purge"] = true.into();
    expected["allow_rollup_hdrs"] = false.into();
    assert_eq!(raw_api(&rt, &client, "STREAM.INFO.OBJ_pyfiles").await["config"], expected);
}

async fn create_only_update_only_pause_and_resume<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let stream =
        within(&rt, "create", js.create_stream(StreamConfig::new("CU").subjects(["cu.>"]))).await.unwrap();

    // Update-only finds nothing; create-only creates, then refuses another configuration
    // and accepts the same one.
    let err = within(&rt, "update missing", stream.update_consumer(ConsumerConfig::durable("c")))
        .await
        .unwrap_err();
    assert!(matches!(err, ConsumerError::NotFound(_)), "{err:?}");
    within(&rt, "create", stream.create_consumer_strict(ConsumerConfig::durable("c"))).await.unwrap();
    within(&rt, "create same", stream.create_consumer_strict(ConsumerConfig::durable("c"))).await.unwrap();
    let other = ConsumerConfig { max_ack_pending: 7, ..ConsumerConfig::durable("c") };
    let err = within(&rt, "create other", stream.create_consumer_strict(other.clone())).await.unwrap_err();
    assert!(matches!(err, ConsumerError::AlreadyExists(_)), "{err:?}");
    let updated = within(&rt, "update", stream.update_consumer(other)).await.unwrap();
    assert_eq!(updated.cached_info().config.max_ack_pending, 7);

    // Pause until far away, then resume.
    let paused = within(&rt, "pause", stream.pause_consumer("c", "2099-01-01T00:00:00Z")).await.unwrap();
    assert!(paused.paused && paused.pause_remaining > Duration::from_secs(3600), "{paused:?}");
    let info = within(&rt, "info", stream.consumer_info("c")).await.unwrap();
    assert!(info.paused);
    assert_eq!(info.config.pause_until.as_deref(), Some("2099-01-01T00:00:00Z"));
    let resumed = within(&rt, "resume", stream.resume_consumer("c")).await.unwrap();
    assert!(!resumed.paused, "{resumed:?}");
    assert!(!within(&rt, "info", stream.consumer_info("c")).await.unwrap().paused);

    // Stream info with details: deleted sequences, per-subject counts.
    for subject in ["cu.a", "cu.b", "cu.a", "cu.c"] {
        within(&rt, "publish", async { js.publish(subject, "x".into()).await.unwrap().await.unwrap() }).await;
    }
    assert!(within(&rt, "delete", stream.delete_message(2)).await.unwrap());
    assert!(within(&rt, "erase", stream.erase_message(3)).await.unwrap());
    let info = within(
        &rt,
        "info with details",
        stream.info_with(StreamInfoRequest {
            deleted_details: true,
            subjects_filter: Some("cu.>".into()),
            ..StreamInfoRequest::default()
        }),
    )
    .await
    .unwrap();
    assert_eq!(info.state.deleted, [2, 3]);
    assert_eq!(info.state.subjects, [("cu.a".to_owned(), 1), ("cu.c".to_owned(), 1)].into());
}
