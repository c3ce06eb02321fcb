//! TLS scenarios: every way TLS can be required leads to `Action::StartTls` before
//! CONNECT, a server without TLS is refused, and TLS-first upgrades before INFO.

use crate::harness;

use harness::{info, info_op, info_with, options, Harness};
use nats_proto::{
    Action, ClientOp, ConnectionError, Event, ServerAddr, ServerOp, State, TransportError, TransportErrorKind,
};

/// Accepts the pending Connect and sends `info`; returns the server.
fn accept_and_send_info(h: &mut Harness, info: nats_proto::ServerInfo) -> ServerAddr {
    let server = h.expect_connect();
    h.accept(server.clone());
    assert!(h.actions().is_empty(), "nothing before INFO");
    h.send(&[info_op(info)]);
    server
}

/// After INFO: StartTls for `host`, nothing written until TLS is up, then CONNECT + PING
/// with `tls_required`, and the handshake completes.
fn expect_upgrade_then_connect(h: &mut Harness, host: &str) {
    assert_eq!(h.actions(), [Action::StartTls { transport: h.transport(), server_name: host.to_owned() }]);
    assert!(h.client_ops().is_empty(), "nothing is written in plain text before TLS");
    assert!(h.conn.outbound().is_empty());
    // Bytes that arrive during the upgrade belong to TLS, not to the protocol.
    h.send(&[ServerOp::Ping]);
    assert!(h.client_ops().is_empty());
    h.tls_established();
    let ops = h.client_ops();
    match ops.as_slice() {
        [ClientOp::Connect(connect), ClientOp::Ping] => assert!(connect.tls_required, "{connect:?}"),
        other => panic!("expected CONNECT + PING after TLS, got {other:?}"),
    }
    h.send(&[ServerOp::Pong]);
    assert_eq!(h.conn.state(), State::Connected);
    assert!(matches!(h.events().as_slice(), [Event::Connected { .. }]));
}

#[test]
fn tls_url_upgrades_before_connect() {
    let mut h = Harness::new(options("tls://nats.example.com:4443"));
    let server = accept_and_send_info(&mut h, info_with(|i| i.tls_required = true));
    assert!(server.tls());
    expect_upgrade_then_connect(&mut h, "nats.example.com");
}

#[test]
fn tls_url_upgrades_when_the_server_only_offers_tls() {
    let mut h = Harness::new(options("tls://nats.example.com:4443"));
    accept_and_send_info(&mut h, info_with(|i| i.tls_available = true));
    expect_upgrade_then_connect(&mut h, "nats.example.com");
}

#[test]
fn tls_required_in_options_upgrades_before_connect() {
    let options = options("nats://secure.example.com:4222").with_tls_required(true);
    let mut h = Harness::new(options);
    accept_and_send_info(&mut h, info_with(|i| i.tls_available = true));
    expect_upgrade_then_connect(&mut h, "secure.example.com");
}

#[test]
fn tls_required_in_info_upgrades_before_connect() {
    let mut h = Harness::new(options("nats://10.0.0.7:4222"));
    accept_and_send_info(&mut h, info_with(|i| i.tls_required = true));
    expect_upgrade_then_connect(&mut h, "10.0.0.7");
}

#[test]
fn plain_connection_does_not_upgrade() {
    let mut h = Harness::new(options("nats://10.0.0.7:4222"));
    accept_and_send_info(&mut h, info_with(|i| i.tls_available = true));
    assert!(h.actions().is_empty(), "TLS is offered, not required");
    match h.client_ops().as_slice() {
        [ClientOp::Connect(connect), ClientOp::Ping] => assert!(!connect.tls_required),
        other => panic!("{other:?}"),
    }
}

#[test]
fn client_requires_tls_but_the_server_offers_none() {
    let options = options("nats://127.0.0.1:4222,nats://127.0.0.1:4223").with_tls_required(true);
    let mut h = Harness::new(options);
    accept_and_send_info(&mut h, info());
    assert!(h.client_ops().is_empty(), "no CONNECT in plain text");
    assert_eq!(h.conn.last_error(), Some(&ConnectionError::TlsNotAvailable));
    match h.actions().as_slice() {
        [Action::CloseTransport(_), Action::Connect(_, next)] => assert_eq!(next.port(), 4223),
        other => panic!("{other:?}"),
    }
}

#[test]
fn tls_url_but_the_server_offers_none_closes_with_one_server() {
    let mut h = Harness::new(options("tls://127.0.0.1:4222"));
    accept_and_send_info(&mut h, info());
    assert!(h.client_ops().is_empty());
    assert_eq!(h.actions(), [Action::CloseTransport(h.transport())]);
    assert_eq!(h.events(), [Event::Closed { error: Some(ConnectionError::NoServers) }]);
}

#[test]
fn tls_first_upgrades_before_info() {
    let options = options("nats://first.example.com:4222").with_tls_first(true);
    let mut h = Harness::new(options);
    let server = h.expect_connect();
    h.accept(server);
    assert_eq!(
        h.actions(),
        [Action::StartTls { transport: h.transport(), server_name: "first.example.com".to_owned() }],
        "TLS right after the transport connects"
    );
    assert!(h.client_ops().is_empty());
    h.tls_established();
    assert!(h.actions().is_empty());
    assert!(h.client_ops().is_empty(), "CONNECT waits for INFO");
    h.send(&[info_op(info_with(|i| i.tls_required = true))]);
    assert!(h.actions().is_empty(), "no second upgrade");
    h.expect_connect_ping();
    h.send(&[ServerOp::Pong]);
    assert_eq!(h.conn.state(), State::Connected);
}

#[test]
fn failed_tls_handshake_fails_the_attempt() {
    let mut h = Harness::new(options("tls://127.0.0.1:4222,tls://127.0.0.1:4223"));
    accept_and_send_info(&mut h, info_with(|i| i.tls_required = true));
    assert!(matches!(h.actions().as_slice(), [Action::StartTls { .. }]));
    let error = TransportError::new(TransportErrorKind::Tls, "certificate has expired");
    h.conn.handle_disconnected(h.now, h.transport(), error.clone());
    assert_eq!(h.conn.last_error(), Some(&ConnectionError::Transport(error)));
    match h.actions().as_slice() {
        [Action::Connect(_, next)] => assert_eq!(next.port(), 4223),
        other => panic!("{other:?}"),
    }
}
