//! WebSocket servers (`ws://`, `wss://`): the transport is the WebSocket (TLS for `wss://`
//! is below it, set up before `handle_connected`), so the connection never asks for a
//! NATS-level TLS upgrade, ignores the INFO's TLS flags (they describe the server's NATS
//! listener), reports `tls_required` in CONNECT as nats.go does (true for `wss://`), and
//! keeps the WebSocket scheme for discovered servers and reconnects.

use std::time::Duration;

use crate::harness;

use harness::{info, info_op, info_with, options, subject, Harness};
use nats_proto::{
    Action, ClientOp, Connection, ConnectionError, Event, OptionsError, Scheme, ServerOp, State,
    TransportError, TransportErrorKind,
};

/// Accepts the pending Connect (the WebSocket is open) and sends `info`; returns the
/// CONNECT the client answered with, after checking nothing else was asked.
fn open_and_expect_connect(h: &mut Harness, info: nats_proto::ServerInfo) -> nats_proto::ConnectInfo {
    let server = h.expect_connect();
    assert!(server.is_websocket(), "{server}");
    h.accept(server);
    assert!(h.actions().is_empty(), "nothing asked before INFO (no TLS-first over a WebSocket)");
    h.send(&[info_op(info)]);
    assert!(h.actions().is_empty(), "no StartTls over a WebSocket");
    let connect = match h.client_ops().as_slice() {
        [ClientOp::Connect(connect), ClientOp::Ping] => (**connect).clone(),
        other => panic!("expected CONNECT + PING right after INFO, got {other:?}"),
    };
    h.send(&[ServerOp::Pong]);
    assert_eq!(h.conn.state(), State::Connected);
    connect
}

#[test]
fn ws_ignores_the_tls_flags_of_the_info() {
    // nats-server sends WebSocket clients the INFO of its NATS listener: with TLS there,
    // `tls_required` is true although this WebSocket is plain.
    let mut h = Harness::new(options("ws://127.0.0.1:8080"));
    let connect = open_and_expect_connect(
        &mut h,
        info_with(|i| {
            i.tls_required = true;
            i.tls_available = true;
        }),
    );
    assert!(!connect.tls_required, "a ws:// connection is not TLS");
    assert!(matches!(h.events().as_slice(), [Event::Connected { server }] if server.scheme() == Scheme::Ws));
}

#[test]
fn wss_never_asks_for_tls_and_reports_it_in_connect() {
    let mut h = Harness::new(options("wss://nats.example.com/nats"));
    let connect = open_and_expect_connect(&mut h, info());
    assert!(connect.tls_required, "wss:// is TLS (below the WebSocket), as nats.go reports it");
    let server = h.conn.connected_server().expect("connected").clone();
    assert!(server.tls());
    assert_eq!((server.host(), server.port(), server.path()), ("nats.example.com", 443, "/nats"));
}

#[test]
fn wss_satisfies_tls_required_and_tls_first() {
    let options = options("wss://127.0.0.1:8443").with_tls_required(true).with_tls_first(true);
    let mut h = Harness::new(options);
    // No TLS-first upgrade after the WebSocket opens, and a server whose NATS listener
    // offers no TLS is not refused: the TLS is the WebSocket's.
    let connect = open_and_expect_connect(&mut h, info());
    assert!(connect.tls_required);
    assert_eq!(h.conn.last_error(), None);
}

#[test]
fn ws_with_tls_options_is_invalid() {
    for options in [
        options("ws://127.0.0.1:8080").with_tls_required(true),
        options("ws://127.0.0.1:8080,ws://127.0.0.1:8081").with_tls_first(true),
    ] {
        let error = Connection::<std::time::Instant>::new(options, std::time::Instant::now()).unwrap_err();
        assert!(matches!(error, OptionsError::Invalid { .. }), "{error:?}");
        assert!(error.to_string().contains("wss://"), "{error}");
    }
}

#[test]
fn mixed_lists_are_invalid() {
    let options = options("ws://127.0.0.1:8080")
        .with_servers(vec!["ws://127.0.0.1:8080".parse().unwrap(), "nats://127.0.0.1:4222".parse().unwrap()]);
    let error = Connection::<std::time::Instant>::new(options, std::time::Instant::now()).unwrap_err();
    assert_eq!(error, OptionsError::Server(nats_proto::ServerAddrError::MixedSchemes));
}

#[test]
fn discovered_servers_are_reached_over_the_websocket_too() {
    let mut h = Harness::new(options("wss://127.0.0.1:8443"));
    open_and_expect_connect(&mut h, info_with(|i| i.connect_urls = vec!["127.0.0.1:8444".into()]));
    let discovered = h.conn.discovered_servers();
    assert_eq!(discovered.iter().map(ToString::to_string).collect::<Vec<_>>(), ["wss://127.0.0.1:8444"]);
    // Announced later (an INFO while connected), with the event.
    h.send(&[info_op(info_with(|i| {
        i.connect_urls = vec!["127.0.0.1:8444".into(), "127.0.0.1:8445".into()]
    }))]);
    let events = h.events();
    let added = events
        .iter()
        .find_map(|e| match e {
            Event::DiscoveredServers { servers } => Some(servers.clone()),
            _ => None,
        })
        .expect("the new server is announced");
    assert_eq!(added.iter().map(ToString::to_string).collect::<Vec<_>>(), ["wss://127.0.0.1:8445"]);
    // Losing the server moves to the discovered one, still over wss and without StartTls.
    h.drop_transport();
    let (next, _) = h.advance_to_connect();
    assert_eq!(next.to_string(), "wss://127.0.0.1:8444");
    h.accept(next);
    h.send(&[info_op(info())]);
    assert!(h.actions().is_empty());
    assert!(matches!(h.client_ops().as_slice(), [ClientOp::Connect(c), ClientOp::Ping] if c.tls_required));
}

#[test]
fn reconnect_resubscribes_over_the_websocket() {
    let mut h = Harness::new(options("ws://127.0.0.1:8080"));
    open_and_expect_connect(&mut h, info());
    h.events();
    let sid = h.conn.subscribe(subject("updates.>"), None).unwrap();
    assert!(matches!(h.client_ops().as_slice(), [ClientOp::Sub { .. }]));
    h.drop_transport();
    let (server, _) = h.advance_to_connect();
    assert_eq!(server.scheme(), Scheme::Ws);
    h.accept(server);
    h.send(&[info_op(info_with(|i| i.tls_required = true))]);
    assert!(h.actions().is_empty(), "still no StartTls on the new WebSocket");
    match h.client_ops().as_slice() {
        [ClientOp::Connect(c), ClientOp::Sub { sid: resent, .. }, ClientOp::Ping] => {
            assert!(!c.tls_required);
            assert_eq!(*resent, sid, "the subscription again, with CONNECT");
        }
        other => panic!("{other:?}"),
    }
    h.send(&[ServerOp::Pong]);
    assert!(h.client_ops().is_empty());
    assert!(h.events().iter().any(|e| matches!(e, Event::Reconnected { .. })));
}

#[test]
fn the_attempt_deadline_covers_the_websocket_upgrade() {
    let options = options("ws://127.0.0.1:8080").with_connect_timeout(Duration::from_secs(2));
    let mut h = Harness::new(options);
    h.expect_connect();
    // The transport (TCP, TLS, HTTP upgrade) never reports being connected.
    let waited = h.advance();
    assert_eq!(waited, Duration::from_secs(2));
    assert_eq!(h.conn.last_error(), Some(&ConnectionError::Timeout));
    assert!(h.actions().contains(&Action::CloseTransport(h.transport())));
}

#[test]
fn a_refused_upgrade_fails_the_attempt_with_its_reason() {
    let mut h = Harness::new(options("ws://127.0.0.1:8080/wrong,ws://127.0.0.1:8081"));
    h.expect_connect();
    let error = TransportError::new(TransportErrorKind::WebSocket, "upgrade refused: HTTP 404 Not Found");
    h.conn.handle_disconnected(h.now, h.transport(), error.clone());
    assert_eq!(h.conn.last_error(), Some(&ConnectionError::Transport(error.clone())));
    assert_eq!(error.to_string(), "WebSocket: upgrade refused: HTTP 404 Not Found");
    match h.actions().as_slice() {
        [Action::Connect(_, next)] => assert_eq!(next.port(), 8081),
        other => panic!("{other:?}"),
    }
}
