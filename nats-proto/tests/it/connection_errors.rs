//! Server `-ERR` of each class while connected: the ones that keep the connection are
//! reported as events; the ones after which the server closes cause a disconnect and a
//! reconnect; bytes that are not protocol end the connection with a protocol error.

use crate::harness;

use std::time::Duration;

use harness::{err, info, msg, options, Harness};
use nats_proto::{
    Action, ClientOp, ConnectionError, Event, PermissionOperation, ServerErrorKind, ServerOp, State,
};

fn connected() -> Harness {
    let mut h = Harness::new(options("nats://127.0.0.1:4222"));
    h.connect(info());
    h
}

fn keeps_the_connection(text: &str, kind: ServerErrorKind) {
    let mut h = connected();
    let sid = h.conn.subscribe(harness::subject("still"), None).unwrap();
    h.client_ops();
    h.send(&[err(text)]);
    let events = h.events();
    let [Event::ServerError(error)] = events.as_slice() else { panic!("{text}: {events:?}") };
    assert_eq!(error.kind(), &kind, "{text}");
    assert_eq!(error.message(), text);
    assert_eq!(h.conn.state(), State::Connected, "{text}");
    assert!(h.actions().is_empty(), "{text}: the transport stays");
    assert!(matches!(h.conn.last_error(), Some(ConnectionError::Server(e)) if e.message() == text));
    // Still usable.
    h.send(&[msg("still", sid, None, b"here")]);
    assert!(matches!(h.events().as_slice(), [Event::Message(_)]), "{text}");
    h.conn.publish(&harness::subject("x"), None, None, &bytes::Bytes::from_static(b"p")).unwrap();
    assert_eq!(h.client_ops().len(), 1);
}

#[test]
fn permissions_violation_for_publish_keeps_the_connection() {
    keeps_the_connection(
        r#"Permissions Violation for Publish to "x""#,
        ServerErrorKind::PermissionsViolation {
            operation: PermissionOperation::Publish,
            subject: "x".into(),
            queue: None,
        },
    );
}

#[test]
fn permissions_violation_for_subscription_keeps_the_connection() {
    keeps_the_connection(
        r#"Permissions Violation for Subscription to "secret.>" using queue "q""#,
        ServerErrorKind::PermissionsViolation {
            operation: PermissionOperation::Subscribe,
            subject: "secret.>".into(),
            queue: Some("q".into()),
        },
    );
}

#[test]
fn invalid_subject_keeps_the_connection() {
    keeps_the_connection("Invalid Subject", ServerErrorKind::InvalidSubject);
}

#[test]
fn maximum_subscriptions_exceeded_keeps_the_connection() {
    keeps_the_connection("maximum subscriptions exceeded", ServerErrorKind::MaxSubscriptionsExceeded);
}

fn closes_the_connection(text: &str, kind: ServerErrorKind) {
    let mut h = connected();
    let sid = h.conn.subscribe(harness::subject("resub"), None).unwrap();
    h.client_ops();
    // An op after the -ERR in the same read is not processed: the connection is gone.
    h.send(&[err(text), msg("resub", sid, None, b"too late")]);
    let events = h.events();
    let [Event::Disconnected { error: ConnectionError::Server(error) }] = events.as_slice() else {
        panic!("{text}: {events:?}")
    };
    assert_eq!(error.kind(), &kind, "{text}");
    assert_eq!(h.conn.state(), State::Reconnecting);
    assert_eq!(h.actions(), [Action::CloseTransport(h.transport())], "{text}");
    // The only server was tried (connected) at this same instant: it is retried after
    // reconnect_wait plus jitter.
    let (server, waited) = h.advance_to_connect();
    assert!(waited >= Duration::from_secs(2) && waited < Duration::from_millis(2100), "{waited:?}");
    h.accept(server);
    h.send(&[harness::info_op(info())]);
    h.expect_connect_ping();
    h.send(&[ServerOp::Pong]);
    assert!(matches!(h.events().as_slice(), [Event::Reconnected { .. }]), "{text}");
    assert_eq!(
        h.client_ops(),
        [ClientOp::Sub { sid, subject: harness::subject("resub"), queue_group: None }],
        "{text}: re-subscribed"
    );
}

#[test]
fn stale_connection_error_disconnects_and_reconnects() {
    closes_the_connection("Stale Connection", ServerErrorKind::StaleConnection);
}

#[test]
fn maximum_payload_violation_disconnects_and_reconnects() {
    closes_the_connection("Maximum Payload Violation", ServerErrorKind::MaxPayloadViolation);
}

#[test]
fn unknown_protocol_operation_disconnects_and_reconnects() {
    closes_the_connection("Unknown Protocol Operation", ServerErrorKind::UnknownProtocolOperation);
}

#[test]
fn authorization_violation_while_connected_disconnects() {
    // Sent when credentials expire or are revoked on a live connection.
    closes_the_connection("User Authentication Revoked", ServerErrorKind::UserAuthenticationRevoked);
}

#[test]
fn garbage_bytes_disconnect_with_a_protocol_error() {
    let mut h = connected();
    let sid = h.conn.subscribe(harness::subject("a"), None).unwrap();
    h.client_ops();
    h.send_raw(b"MSG a 1 1\r\nx\r\nHELLO WORLD\r\nMSG a 1 1\r\ny\r\n");
    let events = h.events();
    match events.as_slice() {
        [Event::Message(m), Event::Disconnected { error: ConnectionError::Protocol(_) }] => {
            assert_eq!((m.sid, &m.payload[..]), (sid, &b"x"[..]), "the op before the garbage is delivered");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(h.conn.last_error(), Some(ConnectionError::Protocol(_))));
    assert_eq!(h.actions().first(), Some(&Action::CloseTransport(h.transport())));
    assert_eq!(h.conn.state(), State::Reconnecting);
}

#[test]
fn payload_without_crlf_disconnects_with_a_protocol_error() {
    let mut h = connected();
    h.send_raw(b"MSG a 1 1\r\nxyz\r\n");
    assert!(matches!(h.events().as_slice(), [Event::Disconnected { error: ConnectionError::Protocol(_) }]));
}

#[test]
fn garbage_during_the_handshake_fails_the_attempt() {
    let mut h = Harness::new(options("127.0.0.1:4222,127.0.0.1:4223"));
    let server = h.expect_connect();
    h.accept(server);
    h.send_raw(b"SSH-2.0-OpenSSH_9.2\r\n");
    assert!(matches!(h.conn.last_error(), Some(ConnectionError::Protocol(_))));
    assert!(h.events().is_empty());
    assert!(
        matches!(h.actions().as_slice(), [Action::CloseTransport(_), Action::Connect(_, s)] if s.port() == 4223)
    );
    // The decoder was reset: the next server is understood.
    h.accept(nats_proto::ServerAddr::new("127.0.0.1", 4223, false));
    h.send(&[harness::info_op(info())]);
    h.expect_connect_ping();
    h.send(&[ServerOp::Pong]);
    assert_eq!(h.conn.state(), State::Connected);
}

#[test]
fn unknown_error_text_is_fatal_and_reconnects() {
    // The server may add texts; one this client does not know is not taken as harmless.
    closes_the_connection("Something Entirely New", ServerErrorKind::Other);
}

#[test]
fn bare_err_is_fatal_and_reconnects() {
    // A peer that sends a bare -ERR and keeps the socket open must not leave us half-alive.
    let mut h = connected();
    h.send_raw(b"-ERR\r\n");
    let events = h.events();
    let [Event::Disconnected { error: ConnectionError::Server(error) }] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!((error.kind(), error.message()), (&ServerErrorKind::Other, ""));
    assert!(matches!(h.conn.last_error(), Some(ConnectionError::Server(e)) if e.message().is_empty()));
    assert_eq!(h.actions(), [Action::CloseTransport(h.transport())]);
    assert_eq!(h.conn.state(), State::Reconnecting);
    let (server, _) = h.advance_to_connect();
    h.accept(server);
    h.send(&[harness::info_op(info())]);
    h.client_ops();
    h.send(&[ServerOp::Pong]);
    assert!(matches!(h.events().as_slice(), [Event::Reconnected { .. }]));
}

#[test]
fn fatal_error_closes_when_reconnecting_is_not_allowed() {
    let mut h = Harness::new(options("nats://127.0.0.1:4222").with_allow_reconnect(false));
    h.connect(info());
    h.send(&[err("who knows")]);
    let events = h.events();
    assert!(
        matches!(
            events.as_slice(),
            [Event::Disconnected { error: ConnectionError::Server(_) }, Event::Closed { error: Some(ConnectionError::Server(e)) }]
                if e.message() == "who knows"
        ),
        "{events:?}"
    );
    assert_eq!(h.actions(), [Action::CloseTransport(h.transport())]);
    assert!(h.conn.is_closed());
    assert!(matches!(h.conn.last_error(), Some(ConnectionError::Server(e)) if e.message() == "who knows"));
}

#[test]
fn fatal_error_during_the_handshake_fails_the_attempt() {
    let mut h = Harness::new(options("127.0.0.1:4222,127.0.0.1:4223"));
    let server = h.expect_connect();
    h.accept(server);
    h.send(&[harness::info_op(info())]);
    h.client_ops();
    h.send_raw(b"-ERR\r\n");
    assert!(matches!(h.conn.last_error(), Some(ConnectionError::Server(_))));
    assert!(
        matches!(h.actions().as_slice(), [Action::CloseTransport(_), Action::Connect(_, s)] if s.port() == 4223)
    );
}
