//! The NATS protocol over WebSocket (`ws://`, `wss://`) against nats-server's WebSocket
//! listener (a `websocket` block: `no_tls` for ws, a certificate generated at test time
//! for wss), each on tokio, smol and async-std: publish and subscribe, requests answered
//! by a client on the NATS port, a payload larger than a WebSocket frame, a server restart
//! with reconnect, and the failures (a server list mixing WebSocket and NATS URLs, an
//! upgrade refused with an HTTP status, a NATS port given as a WebSocket one).

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join;
use futures_util::StreamExt;
use nats_client::{
    Client, ClientEvent, ConnectError, ConnectOptions, ConnectionError, HeaderMap, HeaderName, HeaderValue,
    OptionsError, Runtime, Scheme, ServerAddrError, TransportErrorKind,
};
use nats_integration_tests::{
    connect, connect_with, fast_reconnect, next_message, runtime_tests, try_connect, wait_for_event, within,
    NatsServer, ServerConfig, TlsFiles,
};

runtime_tests!(
    ws_publish_subscribe,
    ws_request_answered_over_tcp,
    ws_payload_larger_than_a_frame,
    ws_reconnect_after_restart,
    wss_with_generated_certificate,
    ws_mixed_server_list,
    ws_upgrade_refused,
    ws_nats_port_is_not_a_websocket,
);

/// The last attempt's error of a failed connect.
fn last_error(error: &ConnectError) -> &ConnectionError {
    match error {
        ConnectError::NoServers { last: Some(last) } => last,
        other => panic!("expected NoServers with a cause, got {other:?}"),
    }
}

/// Subscribes, publishes and receives on `client`, then closes it.
async fn assert_usable<R: Runtime>(rt: &R, client: &Client, subject: &str) {
    let mut sub = client.subscribe(subject).await.unwrap();
    within(rt, "flush", client.flush()).await.unwrap();
    client.publish(subject, "over a websocket".into()).await.unwrap();
    assert_eq!(&next_message(rt, &mut sub).await.payload[..], b"over a websocket");
    within(rt, "close", client.close()).await;
    assert_eq!(within(rt, "end", sub.next()).await, None);
}

async fn ws_publish_subscribe<R: Runtime>(rt: R) {
    let server = NatsServer::websocket();
    let url = server.websocket_url();
    let client = connect(&rt, &url).await;
    let connected = client.connected_url().expect("connected");
    assert_eq!((connected.scheme(), connected.port()), (Scheme::Ws, server.websocket_port().unwrap()));
    assert!(!connected.tls());
    assert!(client.server_info().is_some_and(|info| info.headers), "INFO arrived over the WebSocket");

    // Several messages, with headers, and a wildcard subscription.
    let mut sub = client.subscribe("ws.>").await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();
    for i in 0..100 {
        client.publish(format!("ws.{i}"), format!("message {i}").into()).await.unwrap();
    }
    for i in 0..100 {
        let message = next_message(&rt, &mut sub).await;
        assert_eq!(message.subject.as_str(), format!("ws.{i}"));
        assert_eq!(message.payload, format!("message {i}").into_bytes());
    }
    let mut headers = HeaderMap::new();
    headers.insert(HeaderName::new("X-Transport").unwrap(), HeaderValue::new("websocket").unwrap());
    client.publish_with_headers("ws.h", &headers, "with headers".into()).await.unwrap();
    let message = next_message(&rt, &mut sub).await;
    let got = message.headers.expect("an HMSG");
    assert_eq!(got.get("X-Transport").map(HeaderValue::as_str), Some("websocket"));
    within(&rt, "close", client.close()).await;

    // A path in the URL (nats-server serves every path).
    let client = connect(&rt, &format!("{url}/nats")).await;
    assert_eq!(client.connected_url().unwrap().path(), "/nats");
    assert_usable(&rt, &client, "ws.path").await;
}

async fn ws_request_answered_over_tcp<R: Runtime>(rt: R) {
    let server = NatsServer::websocket();
    let requester = connect(&rt, &server.websocket_url()).await;
    // The responder is on the NATS port: both transports meet in the same server.
    let responder = connect(&rt, &server.url()).await;
    let mut service = responder.subscribe("svc.echo").await.unwrap();
    within(&rt, "flush", responder.flush()).await.unwrap();
    let serve = async {
        for _ in 0..3 {
            let request = next_message(&rt, &mut service).await;
            let mut answer = b"echo: ".to_vec();
            answer.extend_from_slice(&request.payload);
            responder.publish(request.reply.unwrap().as_str(), answer.into()).await.unwrap();
        }
    };
    let ask = async {
        for i in 0..3 {
            let reply = requester.request("svc.echo", format!("ping {i}").into()).await.expect("a reply");
            assert_eq!(reply.payload, format!("echo: ping {i}").into_bytes());
        }
    };
    within(&rt, "requests", join(serve, ask)).await;
    // Nobody listens: the server's 503 comes back over the WebSocket too.
    let error = within(&rt, "no responders", requester.request("svc.nobody", "x".into())).await.unwrap_err();
    assert_eq!(error, nats_client::RequestError::NoResponders);
    within(&rt, "close", requester.close()).await;
    within(&rt, "close", responder.close()).await;
}

async fn ws_payload_larger_than_a_frame<R: Runtime>(rt: R) {
    let server = NatsServer::websocket();
    let client = connect(&rt, &server.websocket_url()).await;
    let mut sub = client.subscribe("big").await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();
    // 512 KiB: more than one message the client sends (256 KiB) and than its read buffer
    // (64 KiB); several of them, so the server frames more than one at once.
    let payloads: Vec<Vec<u8>> = (0..4u8)
        .map(|n| (0..512 * 1024).map(|i: usize| u8::try_from(i % 251).unwrap() ^ n).collect())
        .collect();
    for payload in &payloads {
        client.publish("big", payload.clone().into()).await.unwrap();
    }
    for payload in &payloads {
        let message = next_message(&rt, &mut sub).await;
        assert_eq!(message.payload.len(), payload.len());
        assert!(message.payload[..] == payload[..], "the payload arrived intact");
    }
    // Small messages still flow after the big ones.
    client.publish("big", "small".into()).await.unwrap();
    assert_eq!(&next_message(&rt, &mut sub).await.payload[..], b"small");
    within(&rt, "close", client.close()).await;
}

async fn ws_reconnect_after_restart<R: Runtime>(rt: R) {
    let mut server = NatsServer::websocket();
    let client = connect_with(&rt, &server.websocket_url(), fast_reconnect()).await;
    let mut events = client.events();
    let mut sub = client.subscribe("after.restart").await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();

    server.restart();
    wait_for_event(&rt, &mut events, "Disconnected", |e| matches!(e, ClientEvent::Disconnected(_))).await;
    let (event, _) =
        wait_for_event(&rt, &mut events, "Reconnected", |e| matches!(e, ClientEvent::Reconnected(_))).await;
    let ClientEvent::Reconnected(to) = event else { unreachable!() };
    assert_eq!((to.scheme(), to.port()), (Scheme::Ws, server.websocket_port().unwrap()));
    within(&rt, "flush after reconnect", client.flush()).await.unwrap();

    // The subscription was made again on the new server: a client on the NATS port that
    // connected after the restart reaches it.
    let other = connect(&rt, &server.url()).await;
    other.publish("after.restart", "from tcp".into()).await.unwrap();
    within(&rt, "flush", other.flush()).await.unwrap();
    assert_eq!(&next_message(&rt, &mut sub).await.payload[..], b"from tcp");
    // And a publish over the new WebSocket arrives.
    client.publish("after.restart", "from ws".into()).await.unwrap();
    assert_eq!(&next_message(&rt, &mut sub).await.payload[..], b"from ws");
    assert_eq!(client.statistics().reconnects, 1);
    within(&rt, "close", client.close()).await;
    within(&rt, "close", other.close()).await;
}

async fn wss_with_generated_certificate<R: Runtime>(rt: R) {
    let files = Arc::new(TlsFiles::generate());
    let server = NatsServer::start(ServerConfig::new().websocket_tls(&files));
    let url = server.websocket_url();
    assert!(url.starts_with("wss://"), "{url}");
    let options = || ConnectOptions::new().add_root_certificates(&files.ca);

    let client = connect_with(&rt, &url, options()).await;
    let connected = client.connected_url().expect("connected");
    assert_eq!(connected.scheme(), Scheme::Wss);
    assert!(connected.tls());
    assert_usable(&rt, &client, "wss.check").await;

    // A host name, verified against the certificate's DNS name; TLS is required and the
    // wss:// URL satisfies it.
    let port = server.websocket_port().unwrap();
    let client = connect_with(&rt, &format!("wss://localhost:{port}/"), options().require_tls(true)).await;
    assert_usable(&rt, &client, "wss.localhost").await;

    // Without the CA the certificate is not trusted: a TLS error, before any upgrade.
    let error = try_connect(&rt, &url, ConnectOptions::new()).await.unwrap_err();
    assert!(
        matches!(last_error(&error), ConnectionError::Transport(e) if e.kind() == TransportErrorKind::Tls),
        "{error:?}"
    );
    // A plain WebSocket to the TLS listener is no upgrade either.
    let error = try_connect(
        &rt,
        &format!("ws://127.0.0.1:{port}"),
        ConnectOptions::new().connection_timeout(Duration::from_secs(2)),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(last_error(&error), ConnectionError::Transport(_) | ConnectionError::Timeout),
        "{error:?}"
    );
}

async fn ws_mixed_server_list<R: Runtime>(rt: R) {
    let server = NatsServer::websocket();
    let urls = format!("{},{}", server.websocket_url(), server.url());
    let error = try_connect(&rt, &urls, ConnectOptions::new()).await.unwrap_err();
    assert!(
        matches!(error, ConnectError::Options(OptionsError::Server(ServerAddrError::MixedSchemes))),
        "{error:?}"
    );
    assert!(error.to_string().contains("mixes WebSocket"), "{error}");
    // ws:// with TLS required is a contradiction, refused up front.
    let error =
        try_connect(&rt, &server.websocket_url(), ConnectOptions::new().require_tls(true)).await.unwrap_err();
    assert!(
        matches!(error, ConnectError::Options(OptionsError::Invalid { name: "tls_required", .. })),
        "{error:?}"
    );
}

async fn ws_upgrade_refused<R: Runtime>(rt: R) {
    // nats-server's WebSocket listener serves every path; its monitoring port answers a
    // path it does not know with 404, as a proxy would for a wrong path.
    let config =
        ServerConfig { extra: "http: \"127.0.0.1:-1\"".to_owned(), ..ServerConfig::new().websocket() };
    let server = NatsServer::start(config);
    let line = server.wait_for_log("Starting http monitor on", Duration::from_secs(5));
    let port = line.rsplit(':').next().unwrap().trim();
    let url = format!("ws://127.0.0.1:{port}/no/such/path");
    let error = try_connect(&rt, &url, ConnectOptions::new()).await.unwrap_err();
    match last_error(&error) {
        ConnectionError::Transport(e) => {
            assert_eq!(e.kind(), TransportErrorKind::WebSocket, "{e}");
            assert!(e.message().contains("refused: HTTP 404"), "{e}");
            assert!(e.message().contains("/no/such/path"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    // While retrying, the refusal stays the reported cause when the client gives up.
    let options = fast_reconnect().retry_on_initial_connect().max_reconnect_attempts(Some(2));
    let client = connect_with(&rt, &url, options).await;
    let mut events = client.events();
    wait_for_event(&rt, &mut events, "Closed", |e| matches!(e, ClientEvent::Closed(_))).await;
    assert!(
        matches!(client.last_error(), Some(ConnectionError::Transport(e)) if e.message().contains("HTTP 404")),
        "{:?}",
        client.last_error()
    );
}

async fn ws_nats_port_is_not_a_websocket<R: Runtime>(rt: R) {
    let server = NatsServer::websocket();
    let url = format!("ws://127.0.0.1:{}", server.port());
    let error = try_connect(&rt, &url, ConnectOptions::new()).await.unwrap_err();
    match last_error(&error) {
        ConnectionError::Transport(e) => {
            assert_eq!(e.kind(), TransportErrorKind::WebSocket, "{e}");
            assert!(e.message().contains("WebSocket port"), "{e}");
        }
        other => panic!("{other:?}"),
    }
}
