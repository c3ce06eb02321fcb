//! JetStream scenarios against a real server (`-js -sd <temp dir>`), each on tokio, smol and
//! async-std: streams, publish acks and expectations, pull consumers and acks, restarts in
//! the middle of a fetch and of a continuous pull, the ordered consumer, the async
//! publisher, and typed errors (JetStream disabled, no stream, limits, missing consumer).

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::StreamExt;
use nats_client::{ClientEvent, ConnectOptions, HeaderMap, HeaderName, HeaderValue, Runtime};
use nats_integration_tests::{
    connect, connect_with, fast_reconnect, runtime_tests, wait_for_event, with_timeout, within, NatsServer,
    ServerConfig,
};
use nats_jetstream::proto::{
    AckPolicy, ConsumerConfig, DiscardPolicy, PullOptions, PurgeRequest, StorageType, StreamConfig,
};
use nats_jetstream::{
    ConsumerError, Context, FetchError, Message, OrderedConfig, Publish, PublishError, StreamError,
};

runtime_tests!(
    streams,
    publish_acks_and_expectations,
    jetstream_disabled,
    domain_and_api_prefix,
    pull_fetch_next_and_acks,
    consumers_and_their_errors,
    restart_in_the_middle_of_a_fetch,
    messages_survive_a_restart,
    ordered_consumer_survives_deletion_and_restart,
    ordered_consumer_survives_gaps,
    async_publisher_reports_every_failure,
    a_retry_after_a_timeout_reports_an_unknown_outcome,
);

fn text(m: &Message) -> String {
    String::from_utf8(m.payload.to_vec()).expect("UTF-8 payload")
}

async fn publish_n<R: Runtime>(rt: &R, js: &Context, subject: &str, range: std::ops::Range<u64>) {
    for i in range {
        within(rt, "publish ack", async {
            js.publish(subject, format!("m{i}").into()).await.unwrap().await.unwrap()
        })
        .await;
    }
}

async fn streams<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);

    let mut stream =
        within(&rt, "create", js.create_stream(StreamConfig::new("S1").subjects(["s1.>"]))).await.unwrap();
    assert_eq!(stream.name(), "S1");
    assert_eq!(stream.cached_info().config.subjects, ["s1.>"]);
    // get_or_create finds it; create with another configuration is refused.
    let again =
        within(&rt, "get_or_create", js.get_or_create_stream(StreamConfig::new("S1").subjects(["s1.>"])))
            .await
            .unwrap();
    assert_eq!(again.cached_info().created, stream.cached_info().created);
    let err = within(&rt, "create", js.create_stream(StreamConfig::new("S1").subjects(["other"])))
        .await
        .unwrap_err();
    assert!(matches!(err, StreamError::AlreadyExists(_)), "{err:?}");
    // update
    let info =
        within(&rt, "update", js.update_stream(StreamConfig::new("S1").subjects(["s1.>"]).max_messages(100)))
            .await
            .unwrap();
    assert_eq!(info.config.max_messages, 100);

    for (i, subject) in ["s1.a", "s1.b", "s1.a", "s1.c", "s1.a"].into_iter().enumerate() {
        let mut headers = HeaderMap::new();
        headers.insert(HeaderName::new("X-Index").unwrap(), HeaderValue::new(i.to_string()).unwrap());
        let ack = within(&rt, "publish", async {
            js.publish_with_headers(subject, headers, format!("p{i}").into()).await.unwrap().await.unwrap()
        })
        .await;
        assert_eq!((ack.stream.as_str(), ack.sequence), ("S1", i as u64 + 1));
    }
    assert_eq!(within(&rt, "info", stream.info()).await.unwrap().state.messages, 5);

    // Direct message access.
    let m = within(&rt, "get", stream.get_raw_message(2)).await.unwrap();
    assert_eq!((m.subject.as_str(), m.sequence, &m.payload[..]), ("s1.b", 2, &b"p1"[..]));
    assert_eq!(m.headers.as_ref().and_then(|h| h.get("X-Index")).map(|v| v.as_str()), Some("1"));
    let m = within(&rt, "last", stream.get_last_raw_message_by_subject("s1.a")).await.unwrap();
    assert_eq!(m.sequence, 5);
    assert!(within(&rt, "delete message", stream.delete_message(4)).await.unwrap());
    let err = within(&rt, "get deleted", stream.get_raw_message(4)).await.unwrap_err();
    assert!(matches!(err, StreamError::MessageNotFound(_)), "{err:?}");

    // Purge s1.a keeping the newest one, then everything.
    assert_eq!(within(&rt, "purge filter", stream.purge_subject("s1.a", Some(1))).await.unwrap(), 2);
    assert_eq!(within(&rt, "info", stream.info()).await.unwrap().state.messages, 2);
    assert_eq!(within(&rt, "purge", stream.purge_with(PurgeRequest::default())).await.unwrap(), 2);

    // Listing: more streams than one page? The server's page is 1024 names; list what we made.
    for name in ["S2", "S3"] {
        within(&rt, "create", js.create_stream(StreamConfig::new(name).storage(StorageType::Memory)))
            .await
            .unwrap();
    }
    let names: BTreeSet<String> =
        within(&rt, "names", js.stream_names().map(Result::unwrap).collect::<BTreeSet<_>>()).await;
    assert_eq!(names, ["S1", "S2", "S3"].map(String::from).into());
    let infos: Vec<_> = within(&rt, "list", js.streams().map(Result::unwrap).collect::<Vec<_>>()).await;
    assert_eq!(infos.len(), 3);
    let by_subject: Vec<String> = within(
        &rt,
        "names by subject",
        js.stream_names_by_subject("s1.x").map(Result::unwrap).collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(by_subject, ["S1"]);

    // Delete, and the typed errors of a missing or invalid stream.
    assert!(within(&rt, "delete", js.delete_stream("S2")).await.unwrap());
    let err = within(&rt, "info", js.stream_info("S2")).await.unwrap_err();
    assert!(matches!(err, StreamError::NotFound(_)), "{err:?}");
    let err = within(&rt, "delete", js.delete_stream("S2")).await.unwrap_err();
    assert!(matches!(err, StreamError::NotFound(_)), "{err:?}");
    let err = within(&rt, "bad name", js.stream_info("a.b")).await.unwrap_err();
    assert!(matches!(err, StreamError::InvalidName(_)), "{err:?}");
    let account = within(&rt, "account", js.query_account()).await.unwrap();
    assert_eq!(account.streams, 2);
}

async fn publish_acks_and_expectations<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    within(
        &rt,
        "create",
        js.create_stream(
            StreamConfig::new("P").subjects(["p.>"]).storage(StorageType::Memory).max_message_size(64),
        ),
    )
    .await
    .unwrap();
    let send = |subject: &'static str, publish: Publish| {
        let js = js.clone();
        async move { js.send_publish(subject, publish).await?.await }
    };

    let ack =
        within(&rt, "id", send("p.a", Publish::new().payload("1".into()).message_id("id-1"))).await.unwrap();
    assert_eq!((ack.sequence, ack.duplicate), (1, false));
    let ack = within(&rt, "dup", send("p.a", Publish::new().payload("1 again".into()).message_id("id-1")))
        .await
        .unwrap();
    assert_eq!((ack.sequence, ack.duplicate), (1, true), "de-duplicated");

    let ack =
        within(&rt, "last seq", send("p.b", Publish::new().payload("2".into()).expected_last_sequence(1)))
            .await
            .unwrap();
    assert_eq!(ack.sequence, 2);
    let err = within(&rt, "wrong last seq", send("p.b", Publish::new().expected_last_sequence(1)))
        .await
        .unwrap_err();
    assert!(matches!(err, PublishError::WrongLastSequence(_)), "{err:?}");

    let ack = within(&rt, "subject seq", send("p.c", Publish::new().expected_last_subject_sequence(0)))
        .await
        .unwrap();
    assert_eq!(ack.sequence, 3);
    let err = within(&rt, "wrong subject seq", send("p.c", Publish::new().expected_last_subject_sequence(0)))
        .await
        .unwrap_err();
    assert!(matches!(err, PublishError::WrongLastSequence(_)), "{err:?}");
    let ack = within(&rt, "subject seq", send("p.c", Publish::new().expected_last_subject_sequence(3)))
        .await
        .unwrap();
    assert_eq!(ack.sequence, 4);

    let ack = within(&rt, "stream", send("p.d", Publish::new().expected_stream("P"))).await.unwrap();
    assert_eq!(ack.stream, "P");
    let err =
        within(&rt, "wrong stream", send("p.d", Publish::new().expected_stream("Q"))).await.unwrap_err();
    assert!(matches!(err, PublishError::WrongStream(_)), "{err:?}");
    let err = within(&rt, "last msg id", send("p.d", Publish::new().expected_last_message_id("nope")))
        .await
        .unwrap_err();
    assert!(matches!(err, PublishError::WrongLastSequence(_)), "{err:?}");

    // Limits: a message over max_msg_size; then a full stream with discard new.
    let err = within(&rt, "too big", send("p.e", Publish::new().payload(vec![b'x'; 100].into())))
        .await
        .unwrap_err();
    assert!(matches!(err, PublishError::Limits(_)), "{err:?}");
    within(
        &rt,
        "create full",
        js.create_stream(
            StreamConfig::new("FULL")
                .subjects(["full"])
                .storage(StorageType::Memory)
                .max_messages(1)
                .discard(DiscardPolicy::New),
        ),
    )
    .await
    .unwrap();
    within(&rt, "first", send("full", Publish::new())).await.unwrap();
    let err = within(&rt, "second", send("full", Publish::new())).await.unwrap_err();
    assert!(matches!(err, PublishError::Limits(_)), "{err:?}");

    // No stream for the subject.
    let err = within(&rt, "no stream", send("nowhere", Publish::new())).await.unwrap_err();
    assert_eq!(err, PublishError::NoResponders);
    let info = within(&rt, "info", js.stream_info("P")).await.unwrap();
    assert_eq!(info.state.messages, 5, "refused publishes stored nothing");
}

async fn jetstream_disabled<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let err = within(&rt, "create", js.create_stream(StreamConfig::new("S"))).await.unwrap_err();
    assert_eq!(err, StreamError::JetStreamNotEnabled);
    let err = within(&rt, "account", js.query_account()).await.unwrap_err();
    assert_eq!(err, StreamError::JetStreamNotEnabled);
    let err = within(&rt, "publish", async { js.publish("x", "y".into()).await?.await }).await.unwrap_err();
    assert_eq!(err, PublishError::NoResponders);
    // An ordered consumer gives up after its bounded retries instead of spinning forever.
    let stream = nats_jetstream::Stream::unchecked(js.clone(), "S");
    let mut ordered = stream.ordered_consumer(OrderedConfig::default()).messages();
    // Bounded by its window of "not enabled" answers, plus the wait's bound for the rest.
    let bound = nats_jetstream::proto::NOT_ENABLED_WINDOW + 2 * nats_integration_tests::TIMEOUT;
    let item = with_timeout(&rt, bound, ordered.next()).await.expect("bounded");
    assert!(matches!(item, Some(Err(FetchError::Consumer(ConsumerError::JetStreamNotEnabled)))), "{item:?}");
}

async fn domain_and_api_prefix<R: Runtime>(rt: R) {
    let config =
        ServerConfig { extra: "jetstream { domain: hub }".to_owned(), ..ServerConfig::new().jetstream() };
    let server = NatsServer::start(config);
    let client = connect(&rt, &server.url()).await;
    let hub = nats_jetstream::with_domain(client.clone(), "hub");
    assert_eq!(hub.prefix().as_str(), "$JS.hub.API");
    let stream = within(&rt, "create in domain", hub.create_stream(StreamConfig::new("D").subjects(["d"])))
        .await
        .unwrap();
    let ack =
        within(&rt, "publish", async { hub.publish("d", "x".into()).await.unwrap().await.unwrap() }).await;
    assert_eq!(ack.domain.as_deref(), Some("hub"));
    let consumer =
        within(&rt, "consumer", stream.create_consumer(ConsumerConfig::durable("c"))).await.unwrap();
    let m = within(&rt, "next", consumer.next()).await.unwrap().expect("a message");
    // 2.15.1 still sends v1 ack subjects (no domain token); the v2 layout is unit-tested.
    assert_eq!(m.info().unwrap().stream, "D");
    within(&rt, "ack", m.double_ack()).await.unwrap();

    let prefixed = nats_jetstream::with_prefix(client.clone(), "$JS.hub.API.");
    assert_eq!(within(&rt, "info by prefix", prefixed.stream_info("D")).await.unwrap().state.messages, 1);
    let mut elsewhere = nats_jetstream::with_domain(client.clone(), "nowhere");
    elsewhere.set_timeout(Duration::from_secs(2));
    let err = within(&rt, "other domain", elsewhere.stream_info("D")).await.unwrap_err();
    assert_eq!(err, StreamError::JetStreamNotEnabled, "nobody answers another domain's API");
}

async fn pull_fetch_next_and_acks<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let stream = within(
        &rt,
        "create",
        js.create_stream(StreamConfig::new("W").subjects(["w.*"]).storage(StorageType::Memory)),
    )
    .await
    .unwrap();
    publish_n(&rt, &js, "w.a", 0..10).await;

    let config = ConsumerConfig { ack_wait: Duration::from_secs(30), ..ConsumerConfig::durable("worker") };
    let consumer = within(&rt, "create consumer", stream.create_consumer(config)).await.unwrap();
    assert_eq!(consumer.name(), "worker");

    // A batch of 4 of the 10.
    let batch =
        within(&rt, "fetch", consumer.fetch(PullOptions::default().batch(4).expires(Duration::from_secs(5))))
            .await
            .unwrap();
    let got: Vec<Message> = within(&rt, "batch", batch.map(Result::unwrap).collect::<Vec<_>>()).await;
    assert_eq!(got.iter().map(text).collect::<Vec<_>>(), ["m0", "m1", "m2", "m3"]);
    let meta = got[3].info().unwrap();
    assert_eq!((meta.stream.as_str(), meta.consumer.as_str()), ("W", "worker"));
    assert_eq!((meta.stream_sequence, meta.consumer_sequence, meta.delivered, meta.pending), (4, 4, 1, 6));
    assert!(meta.timestamp() > std::time::UNIX_EPOCH);
    for m in &got[..3] {
        within(&rt, "ack", m.ack()).await.unwrap();
    }
    within(&rt, "double ack", got[3].double_ack()).await.unwrap();

    // nak: redelivered at once (delivered = 2); term: never again; in_progress: fine.
    let m = within(&rt, "next", consumer.next()).await.unwrap().expect("m4");
    assert_eq!(text(&m), "m4");
    within(&rt, "nak", m.nak()).await.unwrap();
    // Acks are processed asynchronously by the server: m5 may come before the redelivery.
    let m = within(&rt, "redelivery", async {
        loop {
            let m = consumer.next().await.unwrap().expect("a message");
            if text(&m) == "m4" {
                return m;
            }
            m.double_ack().await.unwrap();
        }
    })
    .await;
    assert_eq!(m.info().unwrap().delivered, 2);
    within(&rt, "in progress", m.in_progress()).await.unwrap();
    within(&rt, "term", m.term()).await.unwrap();

    // max_bytes: small enough for one message only. The fetch ends with its bytes: its
    // expiry is far past the wait's bound.
    let batch = within(
        &rt,
        "fetch bytes",
        consumer.fetch(PullOptions::default().batch(10).max_bytes(60).expires(Duration::from_secs(600))),
    )
    .await
    .unwrap();
    let got: Vec<_> = within(&rt, "batch ends with its bytes", batch.collect::<Vec<_>>()).await;
    assert!(!got.is_empty() && got.len() < 5, "max bytes limits the batch: {}", got.len());
    for m in got {
        within(&rt, "ack", m.unwrap().double_ack()).await.unwrap();
    }

    // The rest with no_wait, then no_wait on an empty consumer returns at once.
    let rest = within(&rt, "no wait", async {
        consumer
            .fetch(PullOptions::default().batch(100).no_wait(true))
            .await
            .unwrap()
            .collect::<Vec<_>>()
            .await
    })
    .await;
    assert!(!rest.is_empty());
    for m in rest {
        within(&rt, "ack", m.unwrap().double_ack()).await.unwrap();
    }
    // At once: a fetch that waited would wait for the default expiry, past the wait's bound.
    assert!(nats_jetstream::proto::DEFAULT_EXPIRES > nats_integration_tests::TIMEOUT);
    let empty = within(&rt, "no wait empty", async {
        consumer
            .fetch(PullOptions::default().batch(10).no_wait(true))
            .await
            .unwrap()
            .collect::<Vec<_>>()
            .await
    })
    .await;
    assert!(empty.is_empty());
    // expires with nothing: ends empty after the expiry.
    let empty = within(&rt, "expires", async {
        consumer.fetch_messages(10, Duration::from_millis(300)).await.unwrap().collect::<Vec<_>>().await
    })
    .await;
    assert!(empty.is_empty(), "{empty:?}");
    // next() with nothing: None, after the context's timeout (which also bounds the API
    // calls before it: long enough for them on a loaded machine).
    let mut quick = js.clone();
    quick.set_timeout(Duration::from_secs(2));
    let quick_stream = within(&rt, "stream", quick.get_stream("W")).await.unwrap();
    let quick_consumer = within(&rt, "consumer", quick_stream.get_consumer("worker")).await.unwrap();
    assert!(within(&rt, "next empty", quick_consumer.next()).await.unwrap().is_none());

    let mut consumer = consumer;
    let info = within(&rt, "consumer info", consumer.info()).await.unwrap();
    assert_eq!((info.num_ack_pending, info.num_pending), (0, 0));
    assert_eq!(info.delivered.stream_seq, 10);
}

async fn consumers_and_their_errors<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let stream = within(
        &rt,
        "create",
        js.create_stream(StreamConfig::new("W").subjects(["w.*"]).storage(StorageType::Memory)),
    )
    .await
    .unwrap();
    let consumer = within(
        &rt,
        "get or create",
        stream.get_or_create_consumer("worker", ConsumerConfig::durable("worker")),
    )
    .await
    .unwrap();
    let again = within(
        &rt,
        "get or create",
        stream.get_or_create_consumer("worker", ConsumerConfig::durable("worker")),
    )
    .await
    .unwrap();
    assert_eq!(again.cached_info().created, consumer.cached_info().created);
    assert_eq!(consumer.cached_info().config.durable_name.as_deref(), Some("worker"));

    // An ephemeral consumer, then listing and deleting.
    let ephemeral =
        within(&rt, "ephemeral", stream.create_consumer(ConsumerConfig::ephemeral())).await.unwrap();
    assert!(!ephemeral.name().is_empty());
    let names: BTreeSet<String> =
        within(&rt, "names", stream.consumer_names().map(Result::unwrap).collect::<BTreeSet<_>>()).await;
    assert_eq!(names, [ephemeral.name().to_owned(), "worker".to_owned()].into());
    let infos: Vec<_> = within(&rt, "list", stream.consumers().map(Result::unwrap).collect::<Vec<_>>()).await;
    assert_eq!(infos.len(), 2);
    assert!(within(&rt, "delete", stream.delete_consumer("worker")).await.unwrap());
    let err = within(&rt, "info", stream.consumer_info("worker")).await.unwrap_err();
    assert!(matches!(err, ConsumerError::NotFound(_)), "{err:?}");
    let err = within(&rt, "get", stream.get_consumer("worker")).await.unwrap_err();
    assert!(matches!(err, ConsumerError::NotFound(_)), "{err:?}");
    // Pulling from the deleted consumer fails with a typed error, not a hang.
    let result = within(&rt, "fetch deleted", async {
        consumer
            .fetch(PullOptions::default().batch(1).expires(Duration::from_secs(5)))
            .await
            .unwrap()
            .next()
            .await
    })
    .await;
    assert!(
        matches!(result, Some(Err(FetchError::NoResponders | FetchError::ConsumerDeleted))),
        "{result:?}"
    );
    let err = within(&rt, "no stream", js.get_stream("NOPE")).await.unwrap_err();
    assert!(matches!(err, StreamError::NotFound(_)), "{err:?}");
    let err = within(&rt, "consumer on missing stream", async {
        nats_jetstream::new(js.client().clone())
            .get_or_create_stream(StreamConfig::new("W"))
            .await
            .unwrap()
            .create_consumer(ConsumerConfig::durable("x.y"))
            .await
    })
    .await
    .unwrap_err();
    assert!(matches!(err, ConsumerError::InvalidName(_)), "{err:?}");
}

/// A fetch is waiting when the server is killed; the client reconnects to the restarted
/// server (same store) and keeps fetching: every message is delivered and acknowledged.
async fn restart_in_the_middle_of_a_fetch<R: Runtime>(rt: R) {
    let mut server = NatsServer::jetstream();
    let client = connect_with(&rt, &server.url(), fast_reconnect()).await;
    let mut events = client.events();
    let js = nats_jetstream::new(client.clone());
    let stream =
        within(&rt, "create", js.create_stream(StreamConfig::new("R").subjects(["r"]))).await.unwrap();
    publish_n(&rt, &js, "r", 0..20).await;
    let config = ConsumerConfig { ack_wait: Duration::from_secs(2), ..ConsumerConfig::durable("d") };
    let consumer = within(&rt, "consumer", stream.create_consumer(config)).await.unwrap();

    let mut acked = BTreeSet::new();
    let mut batch = within(
        &rt,
        "fetch",
        consumer.fetch(
            PullOptions::default()
                .batch(50)
                .expires(Duration::from_secs(20))
                .heartbeat(Duration::from_millis(500)),
        ),
    )
    .await
    .unwrap();
    // Take 10 and ack them; the fetch then waits for 30 more.
    for _ in 0..10 {
        let m = within(&rt, "message", batch.next()).await.unwrap().unwrap();
        within(&rt, "ack", m.double_ack()).await.unwrap();
        acked.insert(m.info().unwrap().stream_sequence);
    }
    server.restart();
    // The fetch ends: its messages up to the restart, then missed heartbeats (or nothing).
    let rest = within(&rt, "the interrupted fetch ends", batch.collect::<Vec<_>>()).await;
    wait_for_event(&rt, &mut events, "reconnected", |e| matches!(e, ClientEvent::Reconnected(_))).await;
    // What it delivered before the restart is not acknowledged here: the server redelivers
    // it after ack_wait (acks to a restarted server for deliveries it may not remember are
    // not guaranteed an answer).
    for item in rest {
        if let Err(e) = item {
            assert!(matches!(e, FetchError::MissedHeartbeats), "{e:?}");
        }
    }
    publish_n(&rt, &js, "r", 20..25).await;
    // Keep fetching until every sequence is acknowledged (unacked ones are redelivered).
    within(&rt, "all acknowledged", async {
        while acked.len() < 25 {
            let batch = consumer.fetch_messages(25, Duration::from_secs(1)).await.unwrap();
            for m in batch.collect::<Vec<_>>().await {
                let m = m.unwrap();
                if m.double_ack().await.is_ok() {
                    acked.insert(m.info().unwrap().stream_sequence);
                }
            }
        }
    })
    .await;
    assert_eq!(acked, (1..=25).collect::<BTreeSet<u64>>(), "no message lost");
}

/// A continuous pull across a server restart: missed heartbeats make it pull again.
async fn messages_survive_a_restart<R: Runtime>(rt: R) {
    let mut server = NatsServer::jetstream();
    let client = connect_with(&rt, &server.url(), fast_reconnect()).await;
    let mut events = client.events();
    let js = nats_jetstream::new(client.clone());
    let stream =
        within(&rt, "create", js.create_stream(StreamConfig::new("M").subjects(["m"]))).await.unwrap();
    publish_n(&rt, &js, "m", 0..10).await;
    let config = ConsumerConfig { ack_wait: Duration::from_secs(2), ..ConsumerConfig::durable("c") };
    let consumer = within(&rt, "consumer", stream.create_consumer(config)).await.unwrap();
    let mut messages = within(
        &rt,
        "messages",
        consumer.messages_with(PullOptions::default().batch(4).heartbeat(Duration::from_millis(300))),
    )
    .await
    .unwrap();
    let mut seen = BTreeSet::new();
    while seen.len() < 10 {
        let m = within(&rt, "message", messages.next()).await.unwrap().unwrap();
        within(&rt, "ack", m.double_ack()).await.unwrap();
        seen.insert(m.info().unwrap().stream_sequence);
    }
    server.restart();
    wait_for_event(&rt, &mut events, "reconnected", |e| matches!(e, ClientEvent::Reconnected(_))).await;
    publish_n(&rt, &js, "m", 10..20).await;
    while seen.len() < 20 {
        let m = within(&rt, "message after restart", messages.next()).await.unwrap().unwrap();
        if m.double_ack().await.is_ok() {
            seen.insert(m.info().unwrap().stream_sequence);
        }
    }
    assert_eq!(seen, (1..=20).collect::<BTreeSet<u64>>());
}

async fn ordered_consumer_survives_deletion_and_restart<R: Runtime>(rt: R) {
    let mut server = NatsServer::jetstream();
    let client = connect_with(&rt, &server.url(), fast_reconnect()).await;
    let mut events = client.events();
    let js = nats_jetstream::new(client.clone());
    let stream =
        within(&rt, "create", js.create_stream(StreamConfig::new("O").subjects(["o.*"]))).await.unwrap();
    publish_n(&rt, &js, "o.a", 0..30).await;
    publish_n(&rt, &js, "o.b", 30..40).await;

    let ordered = stream.ordered_consumer(
        OrderedConfig::default().filter_subject("o.a").batch(5).heartbeat(Duration::from_millis(300)),
    );
    let mut messages = ordered.messages();
    let mut next = 0u64;
    let mut expect = async |messages: &mut nats_jetstream::Ordered, count: u64| {
        for _ in 0..count {
            let m = within(&rt, "ordered message", messages.next()).await.unwrap().unwrap();
            assert_eq!(text(&m), format!("m{next}"), "in order, once");
            // m0..m29 are stream sequences 1..30; m30 comes after the ten o.b and one more.
            let expected_sequence = if next < 30 { next + 1 } else { 42 };
            assert_eq!(m.info().unwrap().stream_sequence, expected_sequence);
            next += 1;
        }
    };
    expect(&mut messages, 10).await;

    // Delete its consumer under it.
    let names: Vec<String> =
        within(&rt, "names", stream.consumer_names().map(Result::unwrap).collect::<Vec<_>>()).await;
    assert_eq!(names.len(), 1);
    within(&rt, "delete", stream.delete_consumer(&names[0])).await.unwrap();
    expect(&mut messages, 10).await;

    // Restart the server (memory consumer gone, file stream kept).
    server.restart();
    wait_for_event(&rt, &mut events, "reconnected", |e| matches!(e, ClientEvent::Reconnected(_))).await;
    expect(&mut messages, 10).await;
    // New messages keep coming in order, filtered.
    publish_n(&rt, &js, "o.b", 40..41).await;
    within(&rt, "publish", async { js.publish("o.a", "m30".into()).await.unwrap().await.unwrap() }).await;
    expect(&mut messages, 1).await;
    assert_eq!(next, 31);
}

/// Messages dropped on the client (a slow consumer: pending limit of 10, batches of 100)
/// leave a gap that the next idle heartbeat reveals (`Nats-Last-Consumer` ahead of what
/// arrived): the ordered consumer starts over after the last delivered message, each time.
async fn ordered_consumer_survives_gaps<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let client =
        connect_with(&rt, &server.url(), ConnectOptions::new().subscription_capacity(10, 1 << 20)).await;
    let mut events = client.events();
    let js = nats_jetstream::new(client.clone());
    let stream =
        within(&rt, "create", js.create_stream(StreamConfig::new("G").subjects(["g"]))).await.unwrap();
    let mut publisher = js.publisher(64);
    for i in 0..40 {
        publisher.publish("g", format!("m{i}").into()).await.unwrap();
    }
    assert_eq!(within(&rt, "acks", publisher.finish()).await.acked, 40);

    let mut messages = stream
        .ordered_consumer(OrderedConfig::default().batch(100).heartbeat(Duration::from_millis(500)))
        .messages();
    let first = within(&rt, "first", messages.next()).await.unwrap().unwrap();
    assert_eq!(text(&first), "m0");
    // The rest of the first batch overflows the pending limit while we do not read.
    wait_for_event(&rt, &mut events, "slow consumer", |e| matches!(e, ClientEvent::SlowConsumer { .. }))
        .await;
    for i in 1..40 {
        let m = within(&rt, "ordered message", messages.next()).await.unwrap().unwrap();
        assert_eq!(text(&m), format!("m{i}"), "in order, once, despite the dropped messages");
    }
    assert!(messages.resets() >= 1, "the gap reset the consumer");
}

async fn async_publisher_reports_every_failure<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    within(
        &rt,
        "create",
        js.create_stream(StreamConfig::new("A").subjects(["a.*"]).storage(StorageType::Memory)),
    )
    .await
    .unwrap();
    let mut publisher = js.publisher(16);
    let mut failing = Vec::new();
    within(&rt, "publish 500", async {
        for i in 0..500u64 {
            let id = if i % 100 == 7 {
                // No stream captures it: its ack fails.
                publisher.publish("nowhere", "x".into()).await.unwrap()
            } else if i % 100 == 9 {
                publisher.send("a.x", Publish::new().payload("x".into()).expected_stream("B")).await.unwrap()
            } else {
                publisher.publish("a.x", format!("{i}").into()).await.unwrap()
            };
            if i % 100 == 7 || i % 100 == 9 {
                failing.push(id);
            }
            assert!(publisher.in_flight() <= 16);
        }
    })
    .await;
    let mut failures = publisher.take_failures();
    let report = within(&rt, "finish", publisher.finish()).await;
    failures.extend(report.failures);
    assert_eq!(report.acked, 490);
    let ids: Vec<u64> = failures.iter().map(|f| f.id).collect();
    assert_eq!(ids, failing, "every failure, each once, with its id");
    for f in &failures {
        let expected_ok = match f.subject.as_str() {
            "nowhere" => matches!(f.error, PublishError::NoResponders),
            _ => matches!(f.error, PublishError::WrongStream(_)),
        };
        assert!(expected_ok, "{f:?}");
    }
    let info = within(&rt, "info", js.stream_info("A")).await.unwrap();
    assert_eq!(info.state.messages, 490);
    // Unused config kept honest: an ack policy of none is accepted too.
    let _ = AckPolicy::None;
}

/// A retried publish whose first attempt went unanswered (as a stream leader that stored
/// the message and died before acknowledging) reports an unknown outcome, not the "no
/// responders" of the later attempts, which alone would mean "not stored".
async fn a_retry_after_a_timeout_reports_an_unknown_outcome<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let client = connect(&rt, &server.url()).await;
    let mut js = nats_jetstream::new(client.clone());
    js.set_timeout(Duration::from_millis(300));
    let mut swallower = client.subscribe("swallow.x").await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();
    let retry =
        nats_jetstream::proto::PublishRetry::new(1000, Duration::from_millis(50), Duration::from_millis(50));
    let publish = js.send_publish_with_retry(
        "swallow.x",
        Publish::new().payload("x".into()).message_id("x-1"),
        retry,
        Duration::from_secs(2),
    );
    let swallow = async {
        // Take the first attempt, never answer, go away: later attempts find nobody.
        swallower.next().await.expect("the first attempt");
        swallower.unsubscribe().await.unwrap();
    };
    let (result, ()) = within(&rt, "publish with retry", futures_util::future::join(publish, swallow)).await;
    match result.unwrap_err() {
        PublishError::OutcomeUnknown { attempts, last } => {
            assert!(attempts >= 2, "{attempts}");
            assert_eq!(*last, PublishError::NoResponders);
        }
        other => panic!("expected an unknown outcome, got {other:?}"),
    }
}
