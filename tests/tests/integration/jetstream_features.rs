//! What JetStream servers added since 2.10, each on tokio, smol and async-std against the
//! pinned server: direct get (one message, the last on a subject, batches, the last of
//! each subject), per-message TTLs with subject delete markers, TTLs written by nats-py
//! expiring here, and the typed error of a TTL on a stream that does not allow them.

use std::time::Duration;

use futures_util::StreamExt;
use nats_client::Runtime;
use nats_integration_tests::{connect, run_python, runtime_tests, within, NatsServer, ServerConfig};
use nats_jetstream::proto::{
    ConsumerConfig, DirectGetRequest, PriorityPolicy, PullOptions, StorageType, StreamConfig,
};
use nats_jetstream::proto::{Feature, Unsupported};
use nats_jetstream::{ConsumerError, Context, ErrorCode, Message, Publish, PublishError, StreamError};

runtime_tests!(
    direct_get,
    message_ttls_and_delete_markers,
    a_ttl_from_python_expires_here,
    an_older_server_refuses_what_it_predates_at_once,
    priority_groups_overflow_and_pinned_client,
    ack_next_term_with_reason_and_confirmed_acks_of_every_kind,
    a_leaf_stream_sourced_from_the_hub_is_reached_through_its_domain,
    every_deliver_policy_several_filters_and_back_off,
    atomic_batches_store_all_or_nothing,
    a_priority_group_shared_with_a_python_member,
    mirrors_republish_and_reads_from_a_mirror,
);

async fn publish<R: Runtime>(rt: &R, js: &Context, subject: &str, publish: Publish) -> u64 {
    within(rt, "publish", async { js.send_publish(subject, publish).await.unwrap().await.unwrap() })
        .await
        .sequence
}

async fn direct_get<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let mut config = StreamConfig::new("D").subjects(["d.>"]).storage(StorageType::Memory);
    config.allow_direct = true;
    let stream = within(&rt, "create", js.create_stream(config)).await.unwrap();
    assert!(stream.reads_direct());
    for (i, subject) in ["d.a", "d.b", "d.a", "d.c"].into_iter().enumerate() {
        let mut headers = nats_client::HeaderMap::new();
        headers.insert("X-Index", i.to_string().as_str());
        publish(&rt, &js, subject, Publish::new().payload(format!("m{i}").into()).headers(headers)).await;
    }

    // One message: by sequence (through get_raw_message too), the last on a subject.
    let m = within(&rt, "by sequence", stream.direct_get(DirectGetRequest::sequence(2))).await.unwrap();
    assert_eq!(
        (m.stream.as_str(), m.subject.as_str(), m.sequence, &m.payload[..]),
        ("D", "d.b", 2, &b"m1"[..])
    );
    assert_eq!(m.headers.as_ref().and_then(|h| h.get("X-Index")).map(|v| v.as_str()), Some("1"));
    assert!(!m.time.is_empty());
    let raw = within(&rt, "raw", stream.get_raw_message(3)).await.unwrap();
    assert_eq!((raw.subject.as_str(), &raw.payload[..]), ("d.a", &b"m2"[..]));
    let last = within(&rt, "last", stream.get_last_raw_message_by_subject("d.a")).await.unwrap();
    assert_eq!(last.sequence, 3);
    let next =
        within(&rt, "next", stream.direct_get(DirectGetRequest::next_by_subject("d.c", 1))).await.unwrap();
    assert_eq!(next.sequence, 4);

    // Not found is the same typed error as from the leader.
    let err = within(&rt, "missing", stream.get_raw_message(99)).await.unwrap_err();
    assert!(matches!(err, StreamError::MessageNotFound(_)), "{err:?}");
    let err =
        within(&rt, "missing subject", stream.get_last_raw_message_by_subject("d.z")).await.unwrap_err();
    assert!(matches!(err, StreamError::MessageNotFound(_)), "{err:?}");

    // A batch from a sequence on a filter, then the last of each subject.
    let batch = stream.direct_get_batch(DirectGetRequest::next_by_subject("d.>", 2).batch(2)).unwrap();
    let got: Vec<_> = within(&rt, "batch", batch.map(Result::unwrap).collect::<Vec<_>>()).await;
    assert_eq!(got.iter().map(|m| m.sequence).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(got[0].num_pending, Some(2), "d.a at 3 and d.c at 4 match after 2");
    let last_each = stream.direct_get_batch(DirectGetRequest::multi_last(["d.>"])).unwrap();
    let mut got: Vec<_> = within(
        &rt,
        "multi last",
        last_each.map(|m| m.map(|m| (m.subject, m.sequence)).unwrap()).collect::<Vec<_>>(),
    )
    .await;
    got.sort();
    assert_eq!(got, [("d.a".to_owned(), 3), ("d.b".to_owned(), 2), ("d.c".to_owned(), 4)]);
    let none = stream.direct_get_batch(DirectGetRequest::next_by_subject("d.z", 1).batch(5)).unwrap();
    let got: Vec<_> = within(&rt, "empty batch", none.collect::<Vec<_>>()).await;
    assert!(matches!(got.as_slice(), [Err(StreamError::MessageNotFound(_))]), "{got:?}");

    // A stream without direct get: nobody answers its direct subject.
    within(&rt, "plain", js.create_stream(StreamConfig::new("P").subjects(["p.>"]))).await.unwrap();
    let plain = nats_jetstream::Stream::unchecked(js.clone(), "P");
    let err = within(&rt, "no direct", plain.direct_get(DirectGetRequest::sequence(1))).await.unwrap_err();
    assert!(matches!(err, StreamError::NotFound(_)), "{err:?}");
}

/// The next message of a consumer with no acks, awaited.
async fn next<R: Runtime>(rt: &R, consumer: &nats_jetstream::Consumer) -> Message {
    let mut batch =
        within(rt, "fetch", consumer.fetch(PullOptions::default().batch(1).expires(Duration::from_secs(30))))
            .await
            .unwrap();
    within(rt, "message", batch.next()).await.expect("a message").unwrap()
}

/// The first subject delete marker the consumer delivers (the messages before it skipped).
async fn marker<R: Runtime>(rt: &R, consumer: &nats_jetstream::Consumer) -> Message {
    loop {
        let message = next(rt, consumer).await;
        let reason = message.headers.as_deref().and_then(|h| h.get("Nats-Marker-Reason")).map(|v| v.as_str());
        if let Some(reason) = reason {
            assert_eq!(reason, "MaxAge", "removed by age");
            return message;
        }
    }
}

async fn message_ttls_and_delete_markers<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let mut config = StreamConfig::new("T").subjects(["t.>"]).storage(StorageType::Memory);
    config.allow_message_ttl = true;
    config.subject_delete_marker_ttl = Duration::from_secs(60);
    // With markers, the server raises a shorter message TTL to theirs unless the stream
    // keeps one message per subject (as a key-value bucket does).
    config.max_messages_per_subject = 1;
    let stream = within(&rt, "create", js.create_stream(config)).await.unwrap();
    let consumer = within(
        &rt,
        "consumer",
        stream.create_consumer(ConsumerConfig {
            ack_policy: nats_jetstream::AckPolicy::None,
            ..ConsumerConfig::durable("watch")
        }),
    )
    .await
    .unwrap();

    let kept = publish(&rt, &js, "t.kept", Publish::new().payload("kept".into()).never_expires()).await;
    let gone =
        publish(&rt, &js, "t.gone", Publish::new().payload("gone".into()).ttl(Duration::from_secs(1))).await;
    // The stream has no age limit: only the message's own TTL removes it, and the server
    // leaves a marker on its subject, awaited as the consumer's message, not slept for.
    assert_eq!(marker(&rt, &consumer).await.subject.as_str(), "t.gone");
    let err = within(&rt, "expired", stream.get_raw_message(gone)).await.unwrap_err();
    assert!(matches!(err, StreamError::MessageNotFound(_)), "{err:?}");
    assert_eq!(within(&rt, "kept", stream.get_raw_message(kept)).await.unwrap().payload, "kept");

    // A stream that does not allow TTLs refuses them with a typed code.
    within(&rt, "no ttl", js.create_stream(StreamConfig::new("N").subjects(["n.>"]))).await.unwrap();
    let err = within(&rt, "publish", async {
        js.send_publish("n.x", Publish::new().ttl(Duration::from_secs(5))).await.unwrap().await
    })
    .await
    .unwrap_err();
    assert!(matches!(&err, PublishError::Api(e) if e.err_code == ErrorCode::MESSAGE_TTL_DISABLED), "{err:?}");
}

const PY_TTL: &str = r#"
import asyncio, sys, nats

async def main():
    nc = await asyncio.wait_for(nats.connect(sys.argv[1]), 5)
    js = nc.jetstream()
    ack = await js.publish("py.ttl", b"short-lived", msg_ttl=1.0, timeout=5)
    print(ack.seq)
    await nc.close()

asyncio.run(main())
"#;

async fn a_ttl_from_python_expires_here<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let mut config = StreamConfig::new("PYT").subjects(["py.>"]).storage(StorageType::Memory);
    config.allow_message_ttl = true;
    config.subject_delete_marker_ttl = Duration::from_secs(60);
    // With markers, the server raises a shorter message TTL to theirs unless the stream
    // keeps one message per subject (as a key-value bucket does).
    config.max_messages_per_subject = 1;
    let stream = within(&rt, "create", js.create_stream(config)).await.unwrap();
    let consumer = within(
        &rt,
        "consumer",
        stream.create_consumer(ConsumerConfig {
            ack_policy: nats_jetstream::AckPolicy::None,
            ..ConsumerConfig::durable("watch")
        }),
    )
    .await
    .unwrap();
    let out = run_python(PY_TTL, &[&server.url()]);
    let seq: u64 = out.stdout.trim().parse().expect("a sequence");
    assert_eq!(marker(&rt, &consumer).await.subject.as_str(), "py.ttl");
    let err = within(&rt, "expired", stream.get_raw_message(seq)).await.unwrap_err();
    assert!(matches!(err, StreamError::MessageNotFound(_)), "{err:?}");
}

/// On nats-server 2.9.10, what it predates fails at once with the feature and the version
/// it needs (2.9 would drop the fields silently, or not answer), and the rest works.
async fn an_older_server_refuses_what_it_predates_at_once<R: Runtime>(rt: R) {
    let server = NatsServer::start(ServerConfig::new().jetstream().compat());
    let client = connect(&rt, &server.url()).await;
    let old = client.server_version().expect("a version");
    assert!(old < nats_client::ServerVersion::new(2, 10, 0), "{old}");
    let js = nats_jetstream::new(client);
    let unsupported = |feature| Unsupported { feature, server: old };

    let mut config = StreamConfig::new("OLD").subjects(["old.>"]).storage(StorageType::Memory);
    config.allow_message_ttl = true;
    let err = within(&rt, "ttl stream", js.create_stream(config.clone())).await.unwrap_err();
    assert_eq!(err, StreamError::Unsupported(unsupported(Feature::MessageTtl)));
    assert!(err.to_string().contains("needs nats-server 2.11.0"), "{err}");
    config.allow_message_ttl = false;
    config.allow_direct = true;
    let stream = within(&rt, "plain stream", js.create_stream(config)).await.unwrap();

    let err = within(&rt, "ttl", async {
        js.send_publish("old.a", Publish::new().ttl(Duration::from_secs(5))).await
    })
    .await
    .unwrap_err();
    assert_eq!(err, PublishError::Unsupported(unsupported(Feature::MessageTtl)));
    publish(&rt, &js, "old.a", Publish::new().payload("x".into())).await;
    let m = within(&rt, "direct get", stream.direct_get(DirectGetRequest::sequence(1))).await.unwrap();
    assert_eq!(&m.payload[..], b"x");
    let err = stream.direct_get_batch(DirectGetRequest::multi_last(["old.>"])).unwrap_err();
    assert_eq!(err, StreamError::Unsupported(unsupported(Feature::DirectGetBatch)));

    let err =
        within(&rt, "strict", stream.create_consumer_strict(ConsumerConfig::durable("c"))).await.unwrap_err();
    assert_eq!(err, ConsumerError::Unsupported(unsupported(Feature::ConsumerActions)));
    within(&rt, "consumer", stream.create_consumer(ConsumerConfig::durable("c"))).await.unwrap();
    let err = within(&rt, "pause", stream.pause_consumer("c", "2099-01-01T00:00:00Z")).await.unwrap_err();
    assert_eq!(err, ConsumerError::Unsupported(unsupported(Feature::ConsumerPause)));
}

/// All a fetch returns within `expires` (an empty batch when the server served nothing).
async fn fetch_all<R: Runtime>(
    rt: &R,
    consumer: &nats_jetstream::Consumer,
    options: PullOptions,
) -> Vec<Message> {
    let batch = within(rt, "fetch", consumer.fetch(options)).await.unwrap();
    within(rt, "batch", batch.map(Result::unwrap).collect::<Vec<_>>()).await
}

async fn priority_groups_overflow_and_pinned_client<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let client = connect(&rt, &server.url()).await;
    let js = nats_jetstream::new(client.clone());
    let stream = within(
        &rt,
        "create",
        js.create_stream(StreamConfig::new("PG").subjects(["pg.>"]).storage(StorageType::Memory)),
    )
    .await
    .unwrap();
    for i in 0..6 {
        publish(&rt, &js, "pg.job", Publish::new().payload(format!("j{i}").into())).await;
    }
    let short = Duration::from_millis(500);

    // Overflow: a request naming a threshold above what is pending is not served; one
    // without is. A request naming no group is refused.
    let overflow = ConsumerConfig {
        priority_groups: vec!["jobs".into()],
        priority_policy: PriorityPolicy::Overflow,
        ack_policy: nats_jetstream::AckPolicy::None,
        ..ConsumerConfig::durable("overflow")
    };
    let consumer = within(&rt, "overflow consumer", stream.create_consumer(overflow)).await.unwrap();
    let idle = fetch_all(
        &rt,
        &consumer,
        PullOptions::default().batch(2).expires(short).group("jobs").overflow(100, 0),
    )
    .await;
    assert!(idle.is_empty(), "served below its threshold: {}", idle.len());
    let served = fetch_all(
        &rt,
        &consumer,
        PullOptions::default().batch(2).expires(short).group("jobs").overflow(3, 0),
    )
    .await;
    assert_eq!(served.len(), 2, "6 pending is above 3");
    let batch = within(&rt, "no group", consumer.fetch(PullOptions::default().batch(1).expires(short)))
        .await
        .unwrap();
    let refused: Vec<_> = within(&rt, "refused", batch.collect::<Vec<_>>()).await;
    assert!(matches!(refused.as_slice(), [Err(_)]), "a request without a group: {refused:?}");

    // Pinned client: the first puller is pinned; another handle is not served until the
    // pin is lifted, then it is pinned and the first one's stale pin is refused.
    let pinned = ConsumerConfig {
        priority_groups: vec!["jobs".into()],
        priority_policy: PriorityPolicy::PinnedClient,
        priority_timeout: Duration::from_secs(60),
        ack_policy: nats_jetstream::AckPolicy::None,
        ..ConsumerConfig::durable("pinned")
    };
    let a = within(&rt, "pinned consumer", stream.create_consumer(pinned)).await.unwrap();
    let b = within(&rt, "second handle", stream.get_consumer("pinned")).await.unwrap();
    let group = || PullOptions::default().batch(1).expires(short).group("jobs");
    assert_eq!(fetch_all(&rt, &a, group()).await.len(), 1);
    let pin_a = a.pin_id().expect("the first puller is pinned");
    assert!(fetch_all(&rt, &b, group()).await.is_empty(), "not served while another client is pinned");
    assert_eq!(fetch_all(&rt, &a, group()).await.len(), 1, "the pinned client goes on");

    within(&rt, "unpin", a.unpin("jobs")).await.unwrap();
    assert_eq!(fetch_all(&rt, &b, group()).await.len(), 1, "after the unpin, the next request is pinned");
    let pin_b = b.pin_id().expect("pinned now");
    assert_ne!(pin_a, pin_b);
    assert!(fetch_all(&rt, &a, group()).await.is_empty(), "the stale pin is refused (423)");
    assert_eq!(a.pin_id(), None, "and dropped");
    let info = within(&rt, "info", stream.consumer_info("pinned")).await.unwrap();
    assert_eq!(info.priority_groups[0].pinned_client_id.as_deref(), Some(pin_b.as_str()));
}

async fn ack_next_term_with_reason_and_confirmed_acks_of_every_kind<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let stream = within(
        &rt,
        "create",
        js.create_stream(StreamConfig::new("ACKS").subjects(["acks.>"]).storage(StorageType::Memory)),
    )
    .await
    .unwrap();
    for i in 0..3 {
        publish(&rt, &js, "acks.a", Publish::new().payload(format!("m{i}").into())).await;
    }
    let consumer =
        within(&rt, "consumer", stream.create_consumer(ConsumerConfig::durable("c"))).await.unwrap();
    let text = |m: &Message| String::from_utf8_lossy(&m.payload).into_owned();

    // Ack-next: the ack carries the next pull request.
    let first = next(&rt, &consumer).await;
    assert_eq!(text(&first), "m0");
    let second = within(&rt, "ack next", first.ack_next(Duration::from_secs(5))).await.unwrap().expect("m1");
    assert_eq!(text(&second), "m1");

    // A confirmed nak: redelivered at once, the second delivery.
    within(&rt, "nak", second.double_ack_with(nats_jetstream::AckKind::Nak(None))).await.unwrap();
    let again = next(&rt, &consumer).await;
    assert_eq!((text(&again), again.info().unwrap().delivered), ("m1".to_owned(), 2));
    within(&rt, "progress", again.double_ack_with(nats_jetstream::AckKind::Progress)).await.unwrap();
    // Terminated with a reason (confirmed): never again.
    within(&rt, "term", again.double_ack_with(nats_jetstream::AckKind::TermWithReason("bad input".into())))
        .await
        .unwrap();
    let third = next(&rt, &consumer).await;
    assert_eq!(text(&third), "m2");
    let none =
        within(&rt, "ack next, nothing left", third.ack_next(Duration::from_millis(300))).await.unwrap();
    assert!(none.is_none());
    let info = within(&rt, "info", stream.consumer_info("c")).await.unwrap();
    assert_eq!((info.num_ack_pending, info.num_pending, info.ack_floor.stream_seq), (0, 0, 3), "{info:?}");
}

/// A hub and a leaf node, each with its own JetStream domain: a stream in the leaf sources
/// a stream of the hub (an external source through the hub's domain), and a client of the
/// hub creates and reads it through the leaf's domain.
async fn a_leaf_stream_sourced_from_the_hub_is_reached_through_its_domain<R: Runtime>(rt: R) {
    let leaf_port = nats_integration_tests::free_port();
    let hub = NatsServer::start(ServerConfig {
        name: Some("hub".into()),
        extra: format!("jetstream {{ domain: hub }}\nleafnodes {{ listen: \"127.0.0.1:{leaf_port}\" }}\n"),
        ..ServerConfig::new().jetstream()
    });
    let _leaf = NatsServer::start(ServerConfig {
        name: Some("leaf".into()),
        extra: format!(
            "jetstream {{ domain: leaf }}\nleafnodes {{ remotes: [ {{ url: \"nats-leaf://127.0.0.1:{leaf_port}\" }} ] }}\n"
        ),
        ..ServerConfig::new().jetstream()
    });
    hub.wait_for_log("JetStream using domains", nats_integration_tests::TIMEOUT);

    let client = connect(&rt, &hub.url()).await;
    let hub_js = nats_jetstream::new(client.clone());
    within(&rt, "hub stream", hub_js.create_stream(StreamConfig::new("ORDERS").subjects(["orders.>"])))
        .await
        .unwrap();
    for i in 0..5 {
        publish(&rt, &hub_js, "orders.new", Publish::new().payload(format!("m{i}").into())).await;
    }

    let leaf_js = nats_jetstream::with_domain(client.clone(), "leaf");
    let config = StreamConfig::new("LOCAL_ORDERS").source(nats_jetstream::Source::in_domain("ORDERS", "hub"));
    let stream = within(&rt, "leaf stream", leaf_js.create_stream(config)).await.unwrap();
    let account = within(&rt, "leaf account", leaf_js.query_account()).await.unwrap();
    assert_eq!(account.domain.as_deref(), Some("leaf"), "answered by the leaf");
    let source = &stream.cached_info().config.sources[0];
    assert_eq!(source.external.as_ref().map(|e| e.api_prefix.as_str()), Some("$JS.hub.API"));
    // The copies arrive as the source catches up: read them, in order, through the domain.
    let mut ordered = stream.ordered_consumer(nats_jetstream::OrderedConfig::default()).messages();
    let mut seen = Vec::new();
    while seen.len() < 5 {
        let message = within(&rt, "sourced message", ordered.next()).await.expect("open").unwrap();
        seen.push(String::from_utf8_lossy(&message.payload).into_owned());
    }
    assert_eq!(seen, ["m0", "m1", "m2", "m3", "m4"]);
    let mut stream = stream;
    let info = within(&rt, "info", stream.info()).await.unwrap();
    assert_eq!(info.sources.len(), 1);
    assert_eq!(info.sources[0].name.as_str(), "ORDERS");
    assert!(info.sources[0].error.is_none(), "{:?}", info.sources[0]);
    assert!(hub_js.stream_info("LOCAL_ORDERS").await.is_err(), "not in the hub's domain");

    // A key-value bucket in the leaf mirroring one in the hub, across the domains: the
    // leaf's copy follows the hub's keys, and reads there (gets, keys, a watch) see them.
    use nats_stores::KeyValueExt;
    let origin = within(&rt, "hub bucket", hub_js.create_key_value(nats_stores::Config::new("settings")))
        .await
        .unwrap();
    within(&rt, "put", origin.put("theme", "dark".into())).await.unwrap();
    within(&rt, "put", origin.put("lang", "en".into())).await.unwrap();
    let config = nats_stores::Config {
        mirror: Some(nats_jetstream::Source::in_domain("settings", "hub")),
        ..nats_stores::Config::new("settings_copy")
    };
    let copy = within(&rt, "leaf mirror", leaf_js.create_key_value(config)).await.unwrap();
    let mut watch = within(&rt, "watch the copy", copy.watch_all()).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let entry = within(&rt, "mirrored entry", watch.next()).await.expect("open").unwrap();
        seen.push((entry.key, String::from_utf8_lossy(&entry.value).into_owned()));
    }
    seen.sort();
    assert_eq!(seen, [("lang".to_owned(), "en".to_owned()), ("theme".to_owned(), "dark".to_owned())]);
    assert_eq!(
        within(&rt, "get from the copy", copy.get("theme")).await.unwrap().as_deref(),
        Some(&b"dark"[..])
    );
    within(&rt, "later put", origin.put("theme", "light".into())).await.unwrap();
    let entry = within(&rt, "update through the mirror", watch.next()).await.expect("open").unwrap();
    assert_eq!((entry.key.as_str(), &entry.value[..]), ("theme", &b"light"[..]));
    let status = within(&rt, "copy status", copy.status()).await.unwrap();
    assert_eq!(status.mirror.and_then(|m| m.external).map(|e| e.api_prefix).as_deref(), Some("$JS.hub.API"));
}

async fn every_deliver_policy_several_filters_and_back_off<R: Runtime>(rt: R) {
    use nats_jetstream::DeliverPolicy;
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let stream = within(
        &rt,
        "create",
        js.create_stream(StreamConfig::new("DP").subjects(["dp.>"]).storage(StorageType::Memory)),
    )
    .await
    .unwrap();
    for subject in ["dp.a", "dp.b", "dp.a", "dp.c", "dp.b"] {
        publish(&rt, &js, subject, Publish::new().payload(subject.to_owned().into())).await;
    }
    let third_time = within(&rt, "third", stream.get_raw_message(3)).await.unwrap().time;
    let sequences = |policy: DeliverPolicy, filters: Vec<String>| {
        let stream = stream.clone();
        async move {
            let config = ConsumerConfig {
                deliver_policy: policy,
                filter_subjects: filters,
                ack_policy: nats_jetstream::AckPolicy::None,
                ..ConsumerConfig::ephemeral()
            };
            let consumer = stream.create_consumer(config).await.unwrap();
            let batch = consumer.fetch(PullOptions::default().batch(10).no_wait(true)).await.unwrap();
            batch.map(|m| m.unwrap().info().unwrap().stream_sequence).collect::<Vec<_>>().await
        }
    };
    let all = Vec::new;
    assert_eq!(within(&rt, "all", sequences(DeliverPolicy::All, all())).await, [1, 2, 3, 4, 5]);
    assert_eq!(within(&rt, "last", sequences(DeliverPolicy::Last, all())).await, [5]);
    assert_eq!(within(&rt, "new", sequences(DeliverPolicy::New, all())).await, Vec::<u64>::new());
    let from_4 = DeliverPolicy::ByStartSequence { start_sequence: 4 };
    assert_eq!(within(&rt, "by sequence", sequences(from_4, all())).await, [4, 5]);
    let from_time = DeliverPolicy::ByStartTime { start_time: third_time };
    assert_eq!(within(&rt, "by time", sequences(from_time, all())).await, [3, 4, 5]);
    assert_eq!(
        within(&rt, "last per subject", sequences(DeliverPolicy::LastPerSubject, vec!["dp.>".to_owned()]))
            .await,
        [3, 4, 5]
    );
    let two = vec!["dp.a".to_owned(), "dp.c".to_owned()];
    assert_eq!(within(&rt, "two filters", sequences(DeliverPolicy::All, two)).await, [1, 3, 4]);

    // Back-off: a nak'd message comes back after the first back-off, a second time after
    // the second; the server reports them in the consumer's configuration.
    let config = ConsumerConfig {
        backoff: vec![Duration::from_millis(200), Duration::from_millis(400)],
        max_deliver: 3,
        filter_subject: Some("dp.c".into()),
        ..ConsumerConfig::durable("backoff")
    };
    let consumer = within(&rt, "backoff consumer", stream.create_consumer(config)).await.unwrap();
    assert_eq!(
        consumer.cached_info().config.backoff,
        [Duration::from_millis(200), Duration::from_millis(400)]
    );
    for delivered in 1..=3 {
        let message = next(&rt, &consumer).await;
        assert_eq!(message.info().unwrap().delivered, delivered);
        // Not acknowledged: redelivered after the back-off of this delivery.
    }
}

async fn atomic_batches_store_all_or_nothing<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let mut config = StreamConfig::new("AB").subjects(["ab.>"]).storage(StorageType::Memory);
    config.allow_atomic_publish = true;
    let mut stream = within(&rt, "create", js.create_stream(config)).await.unwrap();

    let mut batch = js.atomic_batch();
    let id = batch.id().to_owned();
    for i in 0..4 {
        within(&rt, "add", batch.add("ab.line", Publish::new().payload(format!("l{i}").into())))
            .await
            .unwrap();
        // Staged, not stored, until the commit.
        assert_eq!(within(&rt, "info", stream.info()).await.unwrap().state.messages, 0);
    }
    assert_eq!(batch.len(), 4);
    let ack =
        within(&rt, "commit", batch.commit("ab.done", Publish::new().payload("done".into()))).await.unwrap();
    assert_eq!((ack.batch_id.as_deref(), ack.batch_size, ack.sequence), (Some(id.as_str()), 5, 5));
    let state = within(&rt, "info", stream.info()).await.unwrap().state.clone();
    assert_eq!((state.messages, state.last_seq), (5, 5));
    let last = within(&rt, "last", stream.get_raw_message(5)).await.unwrap();
    assert_eq!(&last.payload[..], b"done");

    // Abandoned (dropped without a commit): nothing of it is stored.
    let mut abandoned = js.atomic_batch();
    within(&rt, "add", abandoned.add("ab.line", Publish::new().payload("x".into()))).await.unwrap();
    drop(abandoned);
    let next =
        within(&rt, "commit", js.atomic_batch().commit("ab.one", Publish::new().payload("one".into())))
            .await
            .unwrap();
    assert_eq!((next.sequence, next.batch_size), (6, 1), "the abandoned message took no sequence");

    // A stream that does not allow atomic batches refuses the first message at once.
    within(&rt, "plain", js.create_stream(StreamConfig::new("NB").subjects(["nb.>"]))).await.unwrap();
    let mut refused = js.atomic_batch();
    let err = within(&rt, "refused", refused.add("nb.x", Publish::new())).await.unwrap_err();
    assert!(
        matches!(&err, PublishError::Api(e) if e.err_code == ErrorCode::ATOMIC_PUBLISH_DISABLED),
        "{err:?}"
    );
}

/// A member in nats-py (which has no priority-group API: it sends the pull requests
/// itself, as ADR-42 has them): with no pin, it pulls once and prints the pin and the
/// message; with a pin (`argv[2]`), it pulls with it and prints the status it gets.
const PY_PINNED_MEMBER: &str = r#"
import asyncio, json, sys, nats

async def main():
    nc = await asyncio.wait_for(nats.connect(sys.argv[1]), 5)
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    request = {"batch": 1, "expires": 2_000_000_000, "group": "jobs"}
    if len(sys.argv) > 2:
        request["id"] = sys.argv[2]
    await nc.publish("$JS.API.CONSUMER.MSG.NEXT.PYG.pinned", json.dumps(request).encode(), reply=inbox)
    msg = await sub.next_msg(timeout=5)
    headers = msg.headers or {}
    if len(sys.argv) > 2:
        print(headers.get("Status"))
    else:
        print(headers.get("Nats-Pin-Id"), msg.data.decode())
    await nc.close()

asyncio.run(main())
"#;

async fn a_priority_group_shared_with_a_python_member<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let stream = within(
        &rt,
        "create",
        js.create_stream(StreamConfig::new("PYG").subjects(["pyg.>"]).storage(StorageType::Memory)),
    )
    .await
    .unwrap();
    for i in 0..4 {
        publish(&rt, &js, "pyg.job", Publish::new().payload(format!("j{i}").into())).await;
    }
    let pinned = ConsumerConfig {
        priority_groups: vec!["jobs".into()],
        priority_policy: PriorityPolicy::PinnedClient,
        priority_timeout: Duration::from_secs(60),
        ack_policy: nats_jetstream::AckPolicy::None,
        ..ConsumerConfig::durable("pinned")
    };
    let consumer = within(&rt, "consumer", stream.create_consumer(pinned)).await.unwrap();
    let group = || PullOptions::default().batch(1).expires(Duration::from_millis(500)).group("jobs");

    let out = run_python(PY_PINNED_MEMBER, &[&server.url()]);
    let (python_pin, first) = out.stdout.trim().split_once(' ').expect("a pin and a message");
    assert_eq!(first, "j0");
    assert!(fetch_all(&rt, &consumer, group()).await.is_empty(), "the Python member holds the pin");

    within(&rt, "unpin", consumer.unpin("jobs")).await.unwrap();
    let served = fetch_all(&rt, &consumer, group()).await;
    assert_eq!(served.len(), 1);
    assert_ne!(consumer.pin_id().as_deref(), Some(python_pin), "pinned anew, here");
    let out = run_python(PY_PINNED_MEMBER, &[&server.url(), python_pin]);
    assert_eq!(out.stdout.trim(), "423", "the Python member's stale pin is refused");
}

/// A mirror follows its origin and answers direct gets; the origin republishes what it
/// stores.
async fn mirrors_republish_and_reads_from_a_mirror<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let client = connect(&rt, &server.url()).await;
    let js = nats_jetstream::new(client.clone());
    let mut origin = StreamConfig::new("ORIGIN").subjects(["origin.>"]).storage(StorageType::Memory);
    origin.republish = Some(nats_jetstream::Republish {
        source: "origin.>".into(),
        destination: "copy.>".into(),
        headers_only: false,
    });
    within(&rt, "origin", js.create_stream(origin)).await.unwrap();
    let mut mirror = StreamConfig::new("MIRROR")
        .storage(StorageType::Memory)
        .mirror(nats_jetstream::Source::new("ORIGIN"));
    mirror.allow_direct = true;
    let mirror = within(&rt, "mirror", js.create_stream(mirror)).await.unwrap();
    let mut copies = client.subscribe("copy.>").await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();

    publish(&rt, &js, "origin.a", Publish::new().payload("one".into())).await;
    let copy = within(&rt, "republished", copies.next()).await.expect("a copy");
    assert_eq!((copy.subject.as_str(), &copy.payload[..]), ("copy.a", &b"one"[..]));
    let stream_header = copy.headers.as_deref().and_then(|h| h.get("Nats-Stream")).map(|v| v.as_str());
    assert_eq!(stream_header, Some("ORIGIN"));

    // The mirror catches up: its ordered consumer sees the message, then a direct get on
    // the mirror returns it.
    let mut ordered = mirror.ordered_consumer(nats_jetstream::OrderedConfig::default()).messages();
    let mirrored = within(&rt, "mirrored", ordered.next()).await.expect("open").unwrap();
    assert_eq!(&mirrored.payload[..], b"one");
    let m =
        within(&rt, "mirror direct get", mirror.get_last_raw_message_by_subject("origin.a")).await.unwrap();
    assert_eq!(&m.payload[..], b"one");
    let mut mirror = mirror;
    let info = within(&rt, "mirror info", mirror.info()).await.unwrap();
    assert_eq!(info.mirror.as_ref().map(|m| m.name.as_str()), Some("ORIGIN"));
}
