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
