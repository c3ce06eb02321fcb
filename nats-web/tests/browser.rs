//! The browser adapter in a real headless Chromium against a real nats-server with a
//! WebSocket listener: `scripts/browser-test.sh` starts the server and passes its URL at
//! compile time (`NATS_WS_URL`), then runs these with wasm-bindgen's test runner.
//! Only for wasm32 (empty elsewhere).

#![cfg(target_arch = "wasm32")]

use std::time::Duration;

use futures_util::StreamExt;
use nats_web::{ClientEvent, ConnectOptions, State, WebConnectError};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// The server's WebSocket URL, e.g. `ws://127.0.0.1:PORT`.
const URL: &str =
    env!("NATS_WS_URL", "set NATS_WS_URL (scripts/browser-test.sh starts a server and sets it)");

async fn connect() -> nats_web::Client {
    nats_web::connect(URL).await.expect("connected over WebSocket")
}

/// The next event of the stream, skipping none.
async fn next_event(events: &mut nats_web::Events) -> ClientEvent {
    events.next().await.expect("the event stream goes on")
}

#[wasm_bindgen_test]
async fn connects_and_reports_connected_in_the_events_stream() {
    let client = nats_web::connect_with_options(URL, ConnectOptions::new().retry_on_initial_connect())
        .await
        .expect("a client");
    let mut events = client.events();
    let ClientEvent::Connected(server) = next_event(&mut events).await else { panic!("expected Connected") };
    assert!(server.is_websocket(), "{server}");
    assert_eq!(client.connection_state(), State::Connected);
    let info = client.server_info().expect("the server's INFO");
    assert!(info.version.starts_with("2."), "{}", info.version);
    client.close().await;
    assert!(matches!(next_event(&mut events).await, ClientEvent::Closed(None)));
}

#[wasm_bindgen_test]
async fn publishes_and_subscribes_in_order() {
    let client = connect().await;
    let mut subscriber = client.subscribe("web.pubsub.*").await.expect("subscribed");
    for i in 0..50 {
        client.publish(format!("web.pubsub.{i}"), format!("message {i}").into()).await.expect("published");
    }
    for i in 0..50 {
        let message = subscriber.next().await.expect("a message");
        assert_eq!(message.subject.as_str(), format!("web.pubsub.{i}"));
        assert_eq!(&message.payload[..], format!("message {i}").as_bytes());
    }
    client.close().await;
}

#[wasm_bindgen_test]
async fn requests_are_answered_by_a_responder_in_the_same_page() {
    let responder = connect().await;
    let mut requests = responder.subscribe("web.echo").await.expect("subscribed");
    responder.flush().await.expect("the subscription reached the server");
    let r = responder.clone();
    wasm_bindgen_futures::spawn_local(async move {
        while let Some(request) = requests.next().await {
            let reply_to = request.reply.expect("a request has a reply subject");
            let mut answer = b"echo: ".to_vec();
            answer.extend_from_slice(&request.payload);
            r.publish(reply_to.as_str(), answer.into()).await.expect("replied");
        }
    });

    let client = connect().await;
    assert_ne!(client.new_inbox(), responder.new_inbox(), "seeded apart by the browser's crypto");
    for i in 0..5 {
        let reply = client
            .request_with("web.echo", None, format!("ping {i}").into(), Duration::from_secs(5))
            .await
            .expect("a reply");
        assert_eq!(&reply.payload[..], format!("echo: ping {i}").as_bytes());
    }
    let no_one = client.request_with("web.nobody", None, "hello?".into(), Duration::from_secs(5)).await;
    assert!(matches!(no_one, Err(nats_web::RequestError::NoResponders)), "{no_one:?}");
    client.close().await;
    responder.close().await;
}

#[wasm_bindgen_test]
async fn a_payload_larger_than_one_websocket_message_arrives_whole() {
    let client = connect().await;
    let receiver = connect().await;
    let mut subscriber = receiver.subscribe("web.big").await.expect("subscribed");
    receiver.flush().await.expect("flushed");
    // 256 KiB of a pattern that shifts, so a misplaced or lost chunk shows.
    let payload: Vec<u8> = (0..256 * 1024u32).map(|i| (i % 251) as u8 ^ (i >> 10).to_le_bytes()[0]).collect();
    for _ in 0..3 {
        client.publish("web.big", payload.clone().into()).await.expect("published");
    }
    client.flush().await.expect("flushed");
    for _ in 0..3 {
        let message = subscriber.next().await.expect("a message");
        assert_eq!(message.payload.len(), payload.len());
        assert!(message.payload[..] == payload[..], "the payload arrived intact");
    }
    client.close().await;
    receiver.close().await;
}

#[wasm_bindgen_test]
async fn flush_confirms_publishes_reached_the_server() {
    let client = connect().await;
    let observer = connect().await;
    let mut subscriber = observer.subscribe("web.flush").await.expect("subscribed");
    observer.flush().await.expect("flushed");
    client.publish("web.flush", "one".into()).await.expect("published");
    client.flush().await.expect("the server answered the flush's PING");
    assert_eq!(client.statistics().out_msgs, 1);
    let message = subscriber.next().await.expect("a message");
    assert_eq!(&message.payload[..], b"one");
    client.close().await;
    observer.close().await;
}

#[wasm_bindgen_test]
async fn drain_delivers_what_was_sent_then_closes() {
    let client = connect().await;
    let mut subscriber = client.subscribe("web.drain").await.expect("subscribed");
    for i in 0..20 {
        client.publish("web.drain", format!("{i}").into()).await.expect("published");
    }
    client.flush().await.expect("flushed");
    let mut events = client.events();
    client.drain().await.expect("drained");
    assert_eq!(client.connection_state(), State::Closed);
    let mut received = Vec::new();
    while let Some(message) = subscriber.next().await {
        received.push(String::from_utf8(message.payload.to_vec()).expect("text"));
    }
    assert_eq!(received, (0..20).map(|i| i.to_string()).collect::<Vec<_>>());
    let mut closed = false;
    while let Some(event) = events.next().await {
        closed |= matches!(event, ClientEvent::Closed(_));
    }
    assert!(closed, "the events stream saw Closed");
}

#[wasm_bindgen_test]
async fn reconnects_after_losing_the_websocket_and_resubscribes() {
    let client = connect().await;
    let mut subscriber = client.subscribe("web.reconnect").await.expect("subscribed");
    let mut events = client.events();
    client.force_reconnect().await.expect("connected, so it reconnects");
    loop {
        match next_event(&mut events).await {
            ClientEvent::Reconnected(server) => {
                assert!(server.is_websocket());
                break;
            }
            ClientEvent::Disconnected(_) => {}
            other => panic!("unexpected event {other:?}"),
        }
    }
    client.publish("web.reconnect", "after".into()).await.expect("published");
    let message = subscriber.next().await.expect("the subscription survived the reconnect");
    assert_eq!(&message.payload[..], b"after");
    assert_eq!(client.statistics().reconnects, 1);
    client.close().await;
}

#[wasm_bindgen_test]
async fn nats_urls_are_refused_with_a_typed_error() {
    let error = nats_web::connect("nats://127.0.0.1:4222").await.expect_err("refused");
    assert!(matches!(error, WebConnectError::NotWebSocket { .. }), "{error}");
    assert!(error.to_string().contains("WebSocket"), "{error}");
    let error = nats_web::connect("tls://127.0.0.1:4222").await.expect_err("refused");
    assert!(matches!(error, WebConnectError::NotWebSocket { .. }), "{error}");
}

#[wasm_bindgen_test]
async fn an_unreachable_server_fails_the_connect_with_a_transport_error() {
    // Port 9 (discard) on loopback: nothing listens there in the test machine.
    let options = ConnectOptions::new().connection_timeout(Duration::from_secs(2));
    let error = nats_web::connect_with_options("ws://127.0.0.1:9", options).await.expect_err("no server");
    let WebConnectError::Connect(nats_web::ConnectError::NoServers { last: Some(last) }) = &error else {
        panic!("expected NoServers, got {error:?}");
    };
    assert!(!last.to_string().is_empty());
}

// The layers above the client, in the page: JetStream, key-value, object store, services.
// The server has JetStream; `scripts/browser-server.py` restarts it and calls services on
// the page's request (subjects `browser.control.*`).

/// Retries `attempt` every 50 ms (on the browser's timers) until it succeeds, for up to
/// 20 s: JetStream answers again a moment after the server restarts.
async fn retried<T, E: std::fmt::Debug, F: std::future::Future<Output = Result<T, E>>>(
    client: &nats_web::Client,
    what: &str,
    mut attempt: impl FnMut() -> F,
) -> T {
    let deadline = client.now() + Duration::from_secs(20);
    loop {
        match attempt().await {
            Ok(value) => return value,
            Err(error) if client.now() < deadline => {
                let _ = error;
                client.sleep_until(client.now() + Duration::from_millis(50)).await;
            }
            Err(error) => panic!("{what}: {error:?}"),
        }
    }
}

#[wasm_bindgen_test]
async fn jetstream_publishes_and_fetches_in_the_page() {
    use nats_jetstream::proto::{ConsumerConfig, StorageType, StreamConfig};

    let js = nats_jetstream::new(connect().await);
    let stream = js
        .create_stream(StreamConfig::new("WEB_JS").subjects(["web.js.>"]).storage(StorageType::Memory))
        .await
        .expect("stream created");
    for i in 0..5 {
        let ack = js
            .publish(format!("web.js.{i}"), format!("m{i}").into())
            .await
            .expect("sent")
            .await
            .expect("acked");
        assert_eq!((ack.stream.as_str(), ack.sequence), ("WEB_JS", i + 1));
    }
    let consumer = stream.create_consumer(ConsumerConfig::durable("web")).await.expect("consumer");
    let mut batch = consumer.fetch_messages(5, Duration::from_secs(5)).await.expect("fetch");
    let mut got = Vec::new();
    while let Some(message) = batch.next().await {
        let message = message.expect("a message");
        got.push(String::from_utf8(message.payload.to_vec()).expect("text"));
        message.double_ack().await.expect("acknowledged");
    }
    assert_eq!(got, ["m0", "m1", "m2", "m3", "m4"]);
    // A stored message by its sequence (from the stream leader: no allow_direct here).
    let stored = stream.get_raw_message(3).await.expect("message 3");
    assert_eq!(&stored.payload[..], b"m2");
    js.delete_stream("WEB_JS").await.expect("deleted");
    js.client().close().await;
}

#[wasm_bindgen_test]
async fn a_key_value_watch_survives_a_server_restart() {
    use nats_stores::{Config, KeyValueExt, Operation};

    let options = ConnectOptions::new()
        .reconnect_time_wait(Duration::from_millis(50))
        .reconnect_backoff_max(Duration::from_millis(200));
    let client = nats_web::connect_with_options(URL, options).await.expect("connected");
    let mut events = client.events();
    let js = nats_jetstream::new(client.clone());
    let kv = js.create_key_value(Config::new("web_live").history(5)).await.expect("bucket");
    kv.put("counter", "1".into()).await.expect("put");
    let mut watch = kv.watch_all().await.expect("watch");
    let first = watch.next().await.expect("an entry").expect("no error");
    assert_eq!((first.key.as_str(), &first.value[..], first.revision), ("counter", &b"1"[..], 1));

    let answer = client
        .request_with("browser.control.restart", None, "".into(), Duration::from_secs(10))
        .await
        .expect("the helper restarts the server");
    assert_eq!(&answer.payload[..], b"restarting");
    loop {
        if let ClientEvent::Reconnected(_) = next_event(&mut events).await {
            break;
        }
    }
    for i in 2..=4u64 {
        let revision =
            retried(&client, "put after the restart", || kv.put("counter", i.to_string().into())).await;
        assert_eq!(revision, i, "the bucket survived the restart");
    }
    kv.delete("counter").await.expect("delete");
    for i in 2..=4u64 {
        let entry = watch.next().await.expect("the watch goes on").expect("no error");
        assert_eq!((&entry.value[..], entry.revision), (i.to_string().as_bytes(), i), "once, in order");
    }
    let deleted = watch.next().await.expect("the watch goes on").expect("no error");
    assert_eq!((deleted.operation, deleted.revision), (Operation::Delete, 5));
    js.delete_key_value("web_live").await.expect("bucket deleted");
    client.close().await;
}

#[wasm_bindgen_test]
async fn an_object_is_put_and_read_back_with_its_digest() {
    use nats_stores::{ObjectStoreConfig, ObjectStoreExt};
    use sha2::Digest;

    let js = nats_jetstream::new(connect().await);
    let store = js.create_object_store(ObjectStoreConfig::new("web_files")).await.expect("store");
    // 300 KiB: three chunks of 128 KiB, the last partial.
    let data: Vec<u8> = (0..300 * 1024u32).map(|i| (i % 253) as u8 ^ (i >> 9).to_le_bytes()[0]).collect();
    let info = store.put("page/data.bin", &mut &data[..]).await.expect("put");
    assert_eq!((info.size, info.chunks), (data.len() as u64, 3));
    let expected = format!("SHA-256={}", data_encoding::BASE64URL.encode(&sha2::Sha256::digest(&data)));
    assert_eq!(info.digest.as_deref(), Some(expected.as_str()), "the digest of SHA-256 in the page");
    assert!(info.modified().is_some(), "the modification time from the browser's clock");
    let read = store.get("page/data.bin").await.expect("get").read_all().await.expect("read and verified");
    assert!(read == data, "the object came back whole");
    store.delete("page/data.bin").await.expect("deleted");
    js.delete_object_store("web_files").await.expect("store deleted");
    js.client().close().await;
}

#[wasm_bindgen_test]
async fn a_service_in_the_page_is_discovered_and_called_by_a_native_client() {
    use nats_service::ServiceExt;

    let client = connect().await;
    let service =
        client.service_builder().description("in a page").start("webcalc", "1.0.0").await.expect("started");
    service.group("webcalc").add_endpoint("echo").await.expect("endpoint").serve(|request| async move {
        let mut answer = b"page got: ".to_vec();
        answer.extend_from_slice(request.payload());
        let _ = request.respond(answer.into()).await;
    });
    client.flush().await.expect("flushed");
    let answer = client
        .request_with("browser.control.call-service", None, "webcalc".into(), Duration::from_secs(15))
        .await
        .expect("nats-py called the service");
    let answer: serde_json::Value = serde_json::from_slice(&answer.payload).expect("JSON");
    assert_eq!(answer["id"], service.id(), "{answer}");
    assert_eq!(answer["reply"], "page got: hello from nats-py", "{answer}");
    let stats = service.stats();
    assert_eq!(stats.endpoints[0].num_requests, 1);
    let started = stats.started_time().expect("started on the browser's wall clock");
    assert!(started <= client.system_time() && started > nats_web::UNIX_EPOCH);
    service.stop().await.expect("stopped");
    client.close().await;
}
