//! Keepalive on the virtual clock: the client's PING timer, stale detection after
//! `max_pings_outstanding` unanswered PINGs, inbound traffic resetting the count, and
//! server PINGs answered with PONG.

use crate::harness;

use std::time::Duration;

use harness::{info, msg, options, Harness};
use nats_proto::{Action, ClientOp, ConnectionError, Event, ServerOp, Sid, State};

const INTERVAL: Duration = Duration::from_secs(10);

fn keepalive_harness() -> Harness {
    let options = options("nats://127.0.0.1:4222").with_ping_interval(INTERVAL).with_max_pings_outstanding(2);
    let mut h = Harness::new(options);
    h.connect(info());
    h
}

/// Advances to the next deadline and expects it to be a keepalive PING `INTERVAL` later.
fn expect_ping(h: &mut Harness) {
    assert_eq!(h.advance(), INTERVAL);
    assert_eq!(h.client_ops(), [ClientOp::Ping]);
    assert_eq!(h.conn.state(), State::Connected);
    assert!(h.events().is_empty());
}

#[test]
fn ping_after_ping_interval() {
    let mut h = keepalive_harness();
    assert_eq!(h.conn.poll_timeout(), Some(h.now + INTERVAL));
    h.sleep(INTERVAL - Duration::from_millis(1));
    assert!(h.client_ops().is_empty(), "no PING before the interval");
    h.sleep(Duration::from_millis(1));
    assert_eq!(h.client_ops(), [ClientOp::Ping]);
    assert_eq!(h.conn.poll_timeout(), Some(h.now + INTERVAL), "the next PING is scheduled");
}

#[test]
fn answered_pings_keep_the_connection() {
    let mut h = keepalive_harness();
    for _ in 0..10 {
        expect_ping(&mut h);
        h.send(&[ServerOp::Pong]);
    }
    assert!(h.events().is_empty());
    assert!(h.actions().is_empty());
}

#[test]
fn unanswered_pings_make_the_connection_stale() {
    let mut h = keepalive_harness();
    expect_ping(&mut h);
    expect_ping(&mut h);
    // Two PINGs are outstanding: at the next tick the connection is declared stale.
    assert_eq!(h.advance(), INTERVAL);
    assert_eq!(h.events(), [Event::Disconnected { error: ConnectionError::StaleConnection }]);
    assert_eq!(h.conn.last_error(), Some(&ConnectionError::StaleConnection));
    assert_eq!(h.conn.state(), State::Reconnecting);
    // The server was connected to 30 s ago: it is retried at once.
    match h.actions().as_slice() {
        [Action::CloseTransport(_), Action::Connect(_, server)] => assert_eq!(server.port(), 4222),
        other => panic!("{other:?}"),
    }
}

#[test]
fn max_pings_outstanding_is_respected() {
    let options = options("127.0.0.1").with_ping_interval(INTERVAL).with_max_pings_outstanding(4);
    let mut h = Harness::new(options);
    h.connect(info());
    for _ in 0..4 {
        expect_ping(&mut h);
    }
    h.advance();
    assert_eq!(h.events(), [Event::Disconnected { error: ConnectionError::StaleConnection }]);
}

#[test]
fn any_inbound_traffic_resets_the_outstanding_count() {
    let mut h = keepalive_harness();
    let sid = h.conn.subscribe(harness::subject("tick"), None).unwrap();
    h.client_ops();
    expect_ping(&mut h);
    expect_ping(&mut h);
    // Not a PONG, but proof that the server is alive.
    h.send(&[msg("tick", sid, None, b"alive")]);
    assert!(matches!(h.events().as_slice(), [Event::Message(_)]));
    expect_ping(&mut h);
    expect_ping(&mut h);
    h.send(&[ServerOp::Ping]);
    assert_eq!(h.client_ops(), [ClientOp::Pong]);
    expect_ping(&mut h);
    expect_ping(&mut h);
    h.send(&[msg("unknown", Sid(77), None, b"dropped")]);
    assert!(h.events().is_empty());
    expect_ping(&mut h);
    expect_ping(&mut h);
    h.advance();
    assert_eq!(h.events(), [Event::Disconnected { error: ConnectionError::StaleConnection }]);
}

#[test]
fn pong_for_a_keepalive_ping_is_not_a_flush() {
    let mut h = keepalive_harness();
    expect_ping(&mut h);
    let flush = h.conn.flush(h.now, Duration::from_secs(60));
    assert_eq!(h.client_ops(), [ClientOp::Ping]);
    h.send(&[ServerOp::Pong]);
    assert!(h.events().is_empty(), "the first PONG answers the keepalive PING");
    h.send(&[ServerOp::Pong]);
    assert_eq!(h.events(), [Event::Flushed { flush, result: Ok(()) }]);
}

#[test]
fn server_pings_are_answered_with_pong() {
    let mut h = keepalive_harness();
    h.send(&[ServerOp::Ping, ServerOp::Ping]);
    assert_eq!(h.client_ops(), [ClientOp::Pong, ClientOp::Pong]);
    assert!(h.events().is_empty());
    assert_eq!(h.conn.state(), State::Connected);
}

#[test]
fn server_ping_during_the_handshake_is_answered() {
    let mut h = Harness::new(options("127.0.0.1"));
    let server = h.expect_connect();
    h.accept(server);
    h.send(&[harness::info_op(info())]);
    h.expect_connect_ping();
    h.send(&[ServerOp::Ping]);
    assert_eq!(h.client_ops(), [ClientOp::Pong]);
    assert_eq!(h.conn.state(), State::Connecting);
    h.send(&[ServerOp::Pong]);
    assert_eq!(h.conn.state(), State::Connected);
}

#[test]
fn ping_before_info_fails_the_attempt() {
    // A TLS-first server (or something else entirely) does not start with INFO.
    let mut h = Harness::new(options("127.0.0.1:4222,127.0.0.1:4223"));
    let server = h.expect_connect();
    h.accept(server);
    h.send(&[ServerOp::Ping]);
    assert_eq!(h.conn.last_error(), Some(&ConnectionError::ExpectedInfo));
    assert!(
        matches!(h.actions().as_slice(), [Action::CloseTransport(_), Action::Connect(_, s)] if s.port() == 4223)
    );
}

#[test]
fn silent_server_times_the_attempt_out() {
    let options = options("127.0.0.1:4222,127.0.0.1:4223").with_connect_timeout(Duration::from_secs(3));
    let mut h = Harness::new(options);
    let server = h.expect_connect();
    h.accept(server);
    assert_eq!(h.advance(), Duration::from_secs(3));
    assert_eq!(h.conn.last_error(), Some(&ConnectionError::Timeout));
    assert!(
        matches!(h.actions().as_slice(), [Action::CloseTransport(_), Action::Connect(_, s)] if s.port() == 4223)
    );
}
