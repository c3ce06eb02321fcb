//! Publish/subscribe scenarios against a real server, each on tokio, smol and async-std:
//! plain subjects, wildcards, queue groups, auto-unsubscribe, headers, flush, drain, and the
//! connection getters.

use std::collections::BTreeSet;

use futures_util::StreamExt;
use nats_client::{
    ClientEvent, ConnectOptions, HeaderMap, HeaderName, HeaderValue, PublishError, Runtime, State,
    SubscribeError, UnsubscribeError,
};
use nats_integration_tests::{
    collect_now, connect, connect_with, next_message, runtime_tests, wait_for_event, within, NatsServer,
};

runtime_tests!(
    publish_subscribe,
    wildcards,
    queue_groups,
    auto_unsubscribe,
    subscriber_drain,
    headers_round_trip,
    flush,
    drain_delivers_in_flight_messages,
    drain_flushes_publishes,
    connection_getters,
    large_payloads_with_backpressure,
    many_small_messages,
    dropping_the_last_handle_closes,
    verbose_and_pedantic,
);

fn text(payload: &[u8]) -> &str {
    std::str::from_utf8(payload).expect("UTF-8 payload")
}

async fn publish_subscribe<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    let subscriber = connect(&rt, &server.url()).await;
    let publisher = connect(&rt, &server.url()).await;
    let mut sub = subscriber.subscribe("greet.joe").await.unwrap();
    assert_eq!(sub.subject().as_str(), "greet.joe");
    // The server has the subscription once the subscriber's flush returns.
    within(&rt, "flush", subscriber.flush()).await.unwrap();

    for i in 0..20 {
        publisher.publish("greet.joe", format!("hello {i}").into()).await.unwrap();
    }
    publisher.publish("greet.ann", "not for joe".into()).await.unwrap();
    publisher.publish_with_reply("greet.joe", "answer.here", "with reply".into()).await.unwrap();
    publisher.publish("greet.joe", "".into()).await.unwrap();
    for i in 0..20 {
        let msg = next_message(&rt, &mut sub).await;
        assert_eq!(msg.subject.as_str(), "greet.joe");
        assert_eq!(text(&msg.payload), format!("hello {i}"), "publish order is kept");
        assert_eq!(msg.reply, None);
        assert_eq!(msg.headers, None);
        assert_eq!(msg.sid, sub.sid());
    }
    let msg = next_message(&rt, &mut sub).await;
    assert_eq!(text(&msg.payload), "with reply");
    assert_eq!(msg.reply.as_ref().map(|r| r.as_str()), Some("answer.here"));
    let msg = next_message(&rt, &mut sub).await;
    assert!(msg.payload.is_empty(), "an empty payload arrives empty");

    // A connection receives its own publishes (echo is on by default)...
    subscriber.publish("greet.joe", "echo".into()).await.unwrap();
    assert_eq!(text(&next_message(&rt, &mut sub).await.payload), "echo");
    // ...and not with no_echo.
    let quiet = connect_with(&rt, &server.url(), ConnectOptions::new().no_echo()).await;
    let mut quiet_sub = quiet.subscribe("greet.joe").await.unwrap();
    within(&rt, "flush", quiet.flush()).await.unwrap();
    quiet.publish("greet.joe", "own".into()).await.unwrap();
    // Publishes of two connections have no order between them: flush the first.
    within(&rt, "flush", quiet.flush()).await.unwrap();
    publisher.publish("greet.joe", "other".into()).await.unwrap();
    within(&rt, "flush", publisher.flush()).await.unwrap();
    assert_eq!(text(&next_message(&rt, &mut quiet_sub).await.payload), "other");
    assert_eq!(text(&next_message(&rt, &mut sub).await.payload), "own");
    assert_eq!(text(&next_message(&rt, &mut sub).await.payload), "other");

    // Invalid subjects are refused locally.
    assert!(matches!(
        publisher.publish("bad subject", "x".into()).await,
        Err(PublishError::InvalidSubject(_))
    ));
    assert!(matches!(publisher.publish("wild.*", "x".into()).await, Err(PublishError::InvalidSubject(_))));
    assert!(matches!(subscriber.subscribe("a..b").await, Err(SubscribeError::InvalidSubject(_))));

    // Unsubscribing ends the stream.
    sub.unsubscribe().await.unwrap();
    within(&rt, "flush", subscriber.flush()).await.unwrap();
    publisher.publish("greet.joe", "too late".into()).await.unwrap();
    within(&rt, "flush", publisher.flush()).await.unwrap();
    within(&rt, "flush", subscriber.flush()).await.unwrap();
    assert_eq!(within(&rt, "end of stream", sub.next()).await, None);

    for client in [subscriber, publisher, quiet] {
        within(&rt, "close", client.close()).await;
    }
}

async fn wildcards<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    let client = connect(&rt, &server.url()).await;
    let mut star = client.subscribe("w.*").await.unwrap();
    let mut tail = client.subscribe("w.>").await.unwrap();
    let mut middle = client.subscribe("w.*.end").await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();
    for subject in ["w.a", "w.a.b", "w.b", "w", "x.a", "w.a.end", "w.a.b.end", "wa.b"] {
        client.publish(subject, subject.to_owned().into()).await.unwrap();
    }
    // A flush on the same connection returns after the server has delivered everything
    // published before it back to this connection.
    within(&rt, "flush", client.flush()).await.unwrap();
    let subjects = |msgs: Vec<nats_client::Message>| -> Vec<String> {
        msgs.iter()
            .map(|m| {
                assert_eq!(m.subject.as_str(), text(&m.payload));
                m.subject.to_string()
            })
            .collect()
    };
    let (got, ended) = collect_now(&mut star);
    assert!(!ended);
    assert_eq!(subjects(got), ["w.a", "w.b"], "`*` matches exactly one token");
    let (got, _) = collect_now(&mut tail);
    assert_eq!(subjects(got), ["w.a", "w.a.b", "w.b", "w.a.end", "w.a.b.end"], "`>` matches one or more");
    let (got, _) = collect_now(&mut middle);
    assert_eq!(subjects(got), ["w.a.end"]);
    within(&rt, "close", client.close()).await;
}

async fn queue_groups<R: Runtime>(rt: R) {
    const N: usize = 300;
    let server = NatsServer::plain();
    let mut members = Vec::new();
    for _ in 0..3 {
        let client = connect(&rt, &server.url()).await;
        let sub = client.queue_subscribe("jobs", "workers").await.unwrap();
        within(&rt, "flush", client.flush()).await.unwrap();
        members.push((client, sub));
    }
    // A plain subscriber beside the group gets every message.
    let watcher = connect(&rt, &server.url()).await;
    let mut all = watcher.subscribe("jobs").await.unwrap();
    within(&rt, "flush", watcher.flush()).await.unwrap();
    // A second group gets its own copy of each.
    let mut other_group = watcher.queue_subscribe("jobs", "auditors").await.unwrap();
    within(&rt, "flush", watcher.flush()).await.unwrap();

    let publisher = connect(&rt, &server.url()).await;
    for i in 0..N {
        publisher.publish("jobs", i.to_string().into()).await.unwrap();
    }
    within(&rt, "flush", publisher.flush()).await.unwrap();

    let mut seen = BTreeSet::new();
    let mut counts = Vec::new();
    for (client, sub) in &mut members {
        // After this flush, everything the server routed to this member has been read.
        within(&rt, "flush", client.flush()).await.unwrap();
        let (msgs, ended) = collect_now(sub);
        assert!(!ended);
        counts.push(msgs.len());
        for msg in msgs {
            let i: usize = text(&msg.payload).parse().unwrap();
            assert!(seen.insert(i), "message {i} went to two members");
        }
    }
    assert_eq!(seen.len(), N, "every message reached one member (per member: {counts:?})");
    assert!(counts.iter().all(|&c| c > 0), "the server spreads the work: {counts:?}");
    within(&rt, "flush", watcher.flush()).await.unwrap();
    assert_eq!(collect_now(&mut all).0.len(), N);
    assert_eq!(collect_now(&mut other_group).0.len(), N);

    for (client, _) in &members {
        within(&rt, "close", client.close()).await;
    }
    within(&rt, "close", watcher.close()).await;
    within(&rt, "close", publisher.close()).await;
}

async fn auto_unsubscribe<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    let client = connect(&rt, &server.url()).await;
    let mut sub = client.subscribe("auto").await.unwrap();
    sub.unsubscribe_after(5).await.unwrap();
    // A count already reached ends the subscription at once.
    let mut early = client.subscribe("early").await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();
    for i in 0..3 {
        client.publish("early", i.to_string().into()).await.unwrap();
    }
    for i in 0..10 {
        client.publish("auto", i.to_string().into()).await.unwrap();
    }
    within(&rt, "flush", client.flush()).await.unwrap();

    let received: Vec<String> =
        within(&rt, "auto-unsubscribed stream", sub.by_ref().map(|m| text(&m.payload).to_owned()).collect())
            .await;
    assert_eq!(received, ["0", "1", "2", "3", "4"], "exactly the count, then the stream ends");

    for i in 0..3 {
        assert_eq!(text(&next_message(&rt, &mut early).await.payload), i.to_string());
    }
    early.unsubscribe_after(3).await.unwrap();
    client.publish("early", "after".into()).await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();
    assert_eq!(within(&rt, "end", early.next()).await, None, "the count was reached already");
    assert_eq!(early.unsubscribe().await, Err(UnsubscribeError::Ended), "an ended subscription says so");
    assert!(client.is_connected());
    let mut live = client.subscribe("still.live").await.unwrap();
    within(&rt, "close", client.close()).await;
    assert_eq!(live.unsubscribe().await, Err(UnsubscribeError::Closed), "a closed client says so");
    assert_eq!(live.unsubscribe_after(1).await, Err(UnsubscribeError::Closed));
}

async fn headers_round_trip<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    let client = connect(&rt, &server.url()).await;
    assert_eq!(client.server_info().map(|i| i.headers), Some(true));
    let mut sub = client.subscribe("hdr").await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();

    let name = |n: &str| HeaderName::new(n).unwrap();
    let value = |v: &str| HeaderValue::new(v).unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(name("X-Single"), value("one"));
    headers.append(name("X-Multi"), value("first"));
    headers.append(name("X-Multi"), value("second"));
    headers.append(name("x-lower-Case"), value("kept as written"));
    headers.append(name("X-Empty"), value(""));
    headers.append(name("X-Multi"), value("third"));
    client.publish_with_headers("hdr", &headers, "body".into()).await.unwrap();
    client.publish_message("hdr", Some("hdr.reply"), Some(&headers), bytes::Bytes::new()).await.unwrap();
    client.publish_with_headers("hdr", &HeaderMap::new(), "no headers at all".into()).await.unwrap();

    let msg = next_message(&rt, &mut sub).await;
    assert_eq!(text(&msg.payload), "body");
    assert_eq!(msg.header_error, None);
    let got = msg.headers.expect("an HMSG");
    assert_eq!(*got, headers, "the header map survives the round trip");
    assert_eq!(got.get("X-Single").map(HeaderValue::as_str), Some("one"));
    let multi: Vec<&str> = got.get_all("X-Multi").map(HeaderValue::as_str).collect();
    assert_eq!(multi, ["first", "second", "third"], "repeated names keep every value, in order");
    assert_eq!(got.get("x-lower-Case").map(HeaderValue::as_str), Some("kept as written"));
    assert_eq!(got.get("X-Empty").map(HeaderValue::as_str), Some(""));
    assert_eq!(got.status(), None);

    let msg = next_message(&rt, &mut sub).await;
    assert!(msg.payload.is_empty());
    assert_eq!(msg.reply.as_ref().map(|r| r.as_str()), Some("hdr.reply"));
    assert_eq!(msg.headers.as_deref(), Some(&headers));

    let msg = next_message(&rt, &mut sub).await;
    assert_eq!(text(&msg.payload), "no headers at all");
    assert!(msg.headers.as_deref().is_none_or(HeaderMap::is_empty));
    within(&rt, "close", client.close()).await;
}

async fn flush<R: Runtime>(rt: R) {
    const N: usize = 2000;
    let server = NatsServer::plain();
    let subscriber = connect(&rt, &server.url()).await;
    let publisher = connect(&rt, &server.url()).await;
    let mut sub = subscriber.subscribe("flushed").await.unwrap();
    within(&rt, "flush", subscriber.flush()).await.unwrap();
    let payload = bytes::Bytes::from(vec![b'p'; 512]);
    for _ in 0..N {
        publisher.publish("flushed", payload.clone()).await.unwrap();
    }
    // Once the publisher's flush returns the server has routed every message; once the
    // subscriber's returns, the subscriber has read them all.
    within(&rt, "publisher flush", publisher.flush()).await.unwrap();
    within(&rt, "subscriber flush", subscriber.flush_timeout(std::time::Duration::from_secs(5)))
        .await
        .unwrap();
    let (msgs, ended) = collect_now(&mut sub);
    assert!(!ended);
    assert_eq!(msgs.len(), N, "every message is there after both flushes");
    assert!(msgs.iter().all(|m| m.payload == payload));
    let stats = publisher.statistics();
    assert_eq!(stats.out_msgs, N as u64);
    assert_eq!(stats.out_bytes, (N * 512) as u64);

    // Flushes on a closed connection fail at once.
    within(&rt, "close", publisher.close()).await;
    assert_eq!(
        within(&rt, "flush after close", publisher.flush()).await,
        Err(nats_client::FlushError::Closed)
    );
    within(&rt, "close", subscriber.close()).await;
}

async fn drain_delivers_in_flight_messages<R: Runtime>(rt: R) {
    const N: usize = 500;
    let server = NatsServer::plain();
    let subscriber = connect(&rt, &server.url()).await;
    let publisher = connect(&rt, &server.url()).await;
    let mut events = subscriber.events();
    let mut sub = subscriber.subscribe("drained").await.unwrap();
    let mut other = subscriber.subscribe("drained.other").await.unwrap();
    within(&rt, "flush", subscriber.flush()).await.unwrap();
    for i in 0..N {
        publisher.publish("drained", i.to_string().into()).await.unwrap();
    }
    // The server has sent every message towards the subscriber; it has not necessarily
    // read them yet when the drain starts.
    within(&rt, "flush", publisher.flush()).await.unwrap();
    within(&rt, "drain", subscriber.drain()).await.unwrap();

    let received: Vec<String> =
        within(&rt, "drained stream", sub.by_ref().map(|m| text(&m.payload).to_owned()).collect()).await;
    let expected: Vec<String> = (0..N).map(|i| i.to_string()).collect();
    assert_eq!(received, expected, "in-flight messages are delivered, then the stream ends");
    assert_eq!(within(&rt, "other stream", other.next()).await, None);

    let (closed, skipped) =
        wait_for_event(&rt, &mut events, "Closed", |e| matches!(e, ClientEvent::Closed(_))).await;
    assert_eq!(closed, ClientEvent::Closed(None), "a drain closes without error");
    assert!(skipped.iter().all(|e| !matches!(e, ClientEvent::Disconnected(_))), "{skipped:?}");
    assert_eq!(within(&rt, "events end", events.next()).await, None);
    assert_eq!(subscriber.connection_state(), State::Closed);
    assert!(!subscriber.is_connected());
    assert_eq!(subscriber.publish("drained", "x".into()).await, Err(PublishError::Closed));
    assert!(matches!(subscriber.subscribe("drained").await, Err(SubscribeError::Closed)));
    assert_eq!(subscriber.last_error(), None);
    within(&rt, "close", publisher.close()).await;
}

async fn drain_flushes_publishes<R: Runtime>(rt: R) {
    const N: usize = 1000;
    let server = NatsServer::plain();
    let subscriber = connect(&rt, &server.url()).await;
    let mut sub = subscriber.subscribe("outgoing").await.unwrap();
    within(&rt, "flush", subscriber.flush()).await.unwrap();
    let publisher = connect(&rt, &server.url()).await;
    for i in 0..N {
        publisher.publish("outgoing", i.to_string().into()).await.unwrap();
    }
    // No flush: the drain itself confirms the publishes made before it.
    within(&rt, "drain", publisher.drain()).await.unwrap();
    assert_eq!(publisher.connection_state(), State::Closed);
    within(&rt, "flush", subscriber.flush()).await.unwrap();
    let (msgs, _) = collect_now(&mut sub);
    assert_eq!(msgs.len(), N, "every publish made before the drain reached the server");
    within(&rt, "close", subscriber.close()).await;
}

async fn connection_getters<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    let client = connect_with(&rt, &server.url(), ConnectOptions::new().name("getters")).await;
    assert!(client.is_connected());
    assert_eq!(client.connection_state(), State::Connected);
    let url = client.connected_url().expect("connected");
    assert_eq!((url.host(), url.port(), url.tls()), ("127.0.0.1", server.port(), false));
    assert_eq!(client.last_error(), None);
    assert_eq!(client.statistics(), nats_client::Statistics::default());
    assert!(client.discovered_servers().is_empty());
    assert_eq!(client.servers().len(), 1);
    let info = client.server_info().expect("INFO received");
    assert_eq!(info.port, server.port());
    assert_eq!(client.max_payload(), Some(1024 * 1024), "the server default");

    let mut sub = client.subscribe("stats").await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();
    for payload in ["one", "two", "three"] {
        client.publish("stats", payload.into()).await.unwrap();
    }
    for _ in 0..3 {
        next_message(&rt, &mut sub).await;
    }
    let stats = client.statistics();
    assert_eq!((stats.out_msgs, stats.out_bytes), (3, 11));
    assert_eq!((stats.in_msgs, stats.in_bytes), (3, 11));
    assert_eq!(stats.reconnects, 0);
    assert!(format!("{client:?}").contains("Connected"));

    within(&rt, "close", client.close()).await;
    assert!(!client.is_connected());
    assert_eq!(client.connection_state(), State::Closed);
    assert_eq!(client.connected_url(), None);
    assert_eq!(client.last_error(), None, "closing by the application is no error");
    assert_eq!(within(&rt, "end", sub.next()).await, None, "closing ends the subscriptions");
}

async fn large_payloads_with_backpressure<R: Runtime>(rt: R) {
    // 24 MiB in all: more than the client's 8 MiB outbound high-water mark.
    const COUNT: usize = 24;
    const SIZE: usize = 1024 * 1024 - 64;
    let server = NatsServer::plain();
    let subscriber = connect(&rt, &server.url()).await;
    let publisher = connect(&rt, &server.url()).await;
    let mut sub = subscriber.subscribe("big").await.unwrap();
    within(&rt, "flush", subscriber.flush()).await.unwrap();
    // A different byte pattern per message (251 is prime, so the patterns do not repeat).
    let payload = |i: usize| {
        bytes::Bytes::from((0..SIZE).map(|b| u8::try_from((b + i) % 251).unwrap()).collect::<Vec<u8>>())
    };
    let payloads: Vec<bytes::Bytes> = (0..COUNT).map(payload).collect();
    let publish = async {
        for p in &payloads {
            publisher.publish("big", p.clone()).await.unwrap();
        }
        publisher.flush().await.unwrap();
    };
    // Each message within the wait's bound (progress, not the speed of the whole).
    let receive = async {
        for (i, expected) in payloads.iter().enumerate() {
            let msg = next_message(&rt, &mut sub).await;
            assert!(msg.payload == *expected, "message {i} arrived intact");
        }
    };
    futures_util::future::join(publish, receive).await;
    within(&rt, "close", subscriber.close()).await;
    within(&rt, "close", publisher.close()).await;
}

async fn many_small_messages<R: Runtime>(rt: R) {
    const N: usize = 50_000;
    let server = NatsServer::plain();
    let subscriber = connect(&rt, &server.url()).await;
    let publisher = connect(&rt, &server.url()).await;
    let mut sub = subscriber.subscribe("small").await.unwrap();
    within(&rt, "flush", subscriber.flush()).await.unwrap();
    let publish = async {
        for i in 0..N {
            publisher.publish("small", i.to_string().into()).await.unwrap();
        }
        publisher.flush().await.unwrap();
    };
    // Each message within the wait's bound (progress, not the speed of the whole).
    let receive = async {
        for i in 0..N {
            let msg = next_message(&rt, &mut sub).await;
            assert_eq!(text(&msg.payload), i.to_string(), "in order, none lost");
        }
    };
    futures_util::future::join(publish, receive).await;
    assert_eq!(subscriber.statistics().in_msgs, N as u64);
    within(&rt, "close", subscriber.close()).await;
    within(&rt, "close", publisher.close()).await;
}

async fn dropping_the_last_handle_closes<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    let client = connect(&rt, &server.url()).await;
    let mut events = client.events();
    let mut sub = client.subscribe("kept").await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();
    let clone = client.clone();
    drop(client);
    // A clone and a subscriber keep the connection open.
    clone.publish("kept", "still here".into()).await.unwrap();
    assert_eq!(text(&next_message(&rt, &mut sub).await.payload), "still here");
    drop(clone);
    clone_free_publish_check(&rt, &mut sub, &server).await;
    drop(sub);
    let (event, _) =
        wait_for_event(&rt, &mut events, "Closed", |e| matches!(e, ClientEvent::Closed(_))).await;
    assert_eq!(event, ClientEvent::Closed(None));
    assert_eq!(within(&rt, "events end", events.next()).await, None);
}

/// With only the subscriber left, messages from elsewhere still arrive.
async fn clone_free_publish_check<R: Runtime>(
    rt: &R,
    sub: &mut nats_client::Subscriber,
    server: &NatsServer,
) {
    let other = connect(rt, &server.url()).await;
    other.publish("kept", "from elsewhere".into()).await.unwrap();
    within(rt, "flush", other.flush()).await.unwrap();
    assert_eq!(text(&next_message(rt, sub).await.payload), "from elsewhere");
    within(rt, "close", other.close()).await;
}

async fn verbose_and_pedantic<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    // The server acknowledges every op with +OK and checks subjects strictly.
    let options = ConnectOptions::new().verbose(true).pedantic(true);
    let client = connect_with(&rt, &server.url(), options).await;
    let mut events = client.events();
    let mut sub = client.subscribe("v.*").await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();
    for i in 0..100 {
        client.publish("v.x", i.to_string().into()).await.unwrap();
    }
    within(&rt, "flush", client.flush()).await.unwrap();
    assert_eq!(collect_now(&mut sub).0.len(), 100);
    let reply = within(&rt, "request", client.request("v.nobody.here", "x".into())).await;
    assert_eq!(reply.unwrap_err(), nats_client::RequestError::NoResponders);
    assert!(client.is_connected());
    assert!(collect_now(&mut events).0.is_empty(), "no error events");
    within(&rt, "close", client.close()).await;
}

/// `Subscriber::drain`: everything the server sent before the UNSUB is delivered, then the
/// stream ends; nothing after it arrives; the connection stays up.
async fn subscriber_drain<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    let subscriber = connect(&rt, &server.url()).await;
    let publisher = connect(&rt, &server.url()).await;
    let mut sub = subscriber.subscribe("drained").await.unwrap();
    let mut other = subscriber.subscribe("other").await.unwrap();
    within(&rt, "flush", subscriber.flush()).await.unwrap();

    for i in 0..500 {
        publisher.publish("drained", format!("{i}").into()).await.unwrap();
    }
    within(&rt, "flush", publisher.flush()).await.unwrap();
    // The server has sent all 500 (or is sending them); most are unread on our side.
    sub.drain().await.unwrap();
    let received: Vec<String> =
        within(&rt, "drained stream", sub.by_ref().map(|m| text(&m.payload).to_owned()).collect()).await;
    let expected: Vec<String> = (0..500).map(|i| i.to_string()).collect();
    assert_eq!(received, expected, "every message sent before the drain, in order, then the end");
    assert_eq!(sub.drain().await, Err(UnsubscribeError::Ended));

    publisher.publish("drained", "late".into()).await.unwrap();
    publisher.publish("other", "still here".into()).await.unwrap();
    assert_eq!(text(&next_message(&rt, &mut other).await.payload), "still here");
    assert!(subscriber.is_connected(), "the connection stays up");
    within(&rt, "close", subscriber.close()).await;
    assert_eq!(other.drain().await, Err(UnsubscribeError::Closed));
}
