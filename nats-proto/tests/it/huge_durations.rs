//! Durations as long as `Duration::MAX`, wherever the connection takes one (every option,
//! request and flush timeouts): each means "never". Nothing panics when a deadline is
//! computed from one (`Instant + Duration` would overflow), and every such deadline is
//! `time::NEVER` (about 136 years) away, on `std::time::Instant` as on a `Duration` since
//! the caller's epoch.

use crate::harness;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use harness::{connect_at_epoch, info, options, subject, Harness};
use nats_proto::time::NEVER;
use nats_proto::{
    ClientDecoder, ClientOp, Connection, ConnectionError, Event, Expected, Options, RequestOutcome, ServerOp,
    State, TransportError,
};

/// A long time that is not never.
const DECADE: Duration = Duration::from_secs(10 * 365 * 86_400);

/// Every duration option at `Duration::MAX`.
fn huge_options() -> Options {
    options("127.0.0.1:4222")
        .with_connect_timeout(Duration::MAX)
        .with_ping_interval(Duration::MAX)
        .with_reconnect_wait(Duration::MAX)
        .with_reconnect_backoff_max(Duration::MAX)
        .with_reconnect_jitter(Duration::MAX)
        .with_reconnect_jitter_tls(Duration::MAX)
        .with_drain_timeout(Duration::MAX)
        .with_max_reconnect_attempts(None)
}

/// How far the connection's next deadline is.
fn next_deadline_in(h: &Harness) -> Duration {
    h.conn.poll_timeout().expect("a deadline is armed").saturating_duration_since(h.now)
}

#[test]
fn every_duration_of_duration_max_means_never() {
    let mut h = Harness::new(huge_options());
    let t0 = h.now;

    // The attempt: its timeout never passes.
    let server = h.expect_connect();
    assert_eq!(h.conn.poll_timeout(), Some(t0 + NEVER), "the attempt's deadline");
    h.sleep(DECADE);
    assert!(h.actions().is_empty() && h.events().is_empty(), "the attempt has not timed out");

    // The handshake; the keepalive PING is never due.
    h.handshake_with(server, info());
    assert!(matches!(h.events().as_slice(), [Event::Connected { .. }]));
    let t1 = h.now;
    assert_eq!(h.conn.poll_timeout(), Some(t1 + NEVER), "the first keepalive PING");

    // A request and a flush that never time out.
    let request = h
        .conn
        .request(t1, &subject("svc"), None, &Bytes::from_static(b"q"), Duration::MAX, Expected::Count(1))
        .expect("a request with a timeout of Duration::MAX");
    let flush = h.conn.flush(t1, Duration::MAX);
    assert!(matches!(h.client_ops().as_slice(), [ClientOp::Sub { .. }, ClientOp::Pub(_), ClientOp::Ping]));
    assert_eq!(h.conn.poll_timeout(), Some(t1 + NEVER));
    h.sleep(DECADE);
    assert!(h.events().is_empty(), "nothing timed out");
    assert!(h.client_ops().is_empty(), "no keepalive PING");
    assert_eq!(h.conn.pending_requests(), 1);
    h.send(&[ServerOp::Pong]);
    assert_eq!(h.events(), [Event::Flushed { flush, result: Ok(()) }]);

    // A loss: the reconnect wait is never over (from the last attempt, at t0).
    h.drop_transport();
    assert_eq!(
        h.events(),
        [Event::Disconnected { error: ConnectionError::Transport(TransportError::closed()) }]
    );
    assert!(h.actions().is_empty(), "no attempt before the reconnect wait is over");
    assert_eq!(h.conn.state(), State::Reconnecting);
    assert_eq!(h.conn.poll_timeout(), Some(t0 + NEVER), "the reconnect wait");
    assert!(next_deadline_in(&h) > NEVER - 3 * DECADE);

    // Past never (the clock can get there), the reconnect happens and nothing overflows.
    let (server, waited) = h.advance_to_connect();
    assert_eq!(waited, NEVER - 2 * DECADE);
    h.handshake_with(server, info());
    assert!(matches!(h.events().as_slice(), [Event::Reconnected { .. }]));
    assert_eq!(h.conn.poll_timeout(), Some(t1 + NEVER), "the request's deadline is next");
    assert_eq!(h.advance(), DECADE);
    assert!(matches!(
        h.events().as_slice(),
        [Event::RequestEnded { request: ended, outcome: RequestOutcome::TimedOut, .. }] if *ended == request
    ));
    assert_eq!(next_deadline_in(&h), NEVER - DECADE, "the keepalive PING, armed at the reconnect");

    // A drain that never times out.
    h.client_ops();
    h.conn.drain(h.now);
    assert_eq!(h.conn.state(), State::Draining);
    assert_eq!(h.client_ops().last(), Some(&ClientOp::Ping));
    h.sleep(DECADE / 2);
    assert_eq!(h.conn.state(), State::Draining, "the drain has not timed out");
    h.send(&[ServerOp::Pong]);
    assert_eq!(h.client_ops(), [ClientOp::Ping]);
    h.send(&[ServerOp::Pong]);
    assert_eq!(h.conn.state(), State::Closed);
    assert!(matches!(h.events().last(), Some(Event::Closed { error: None })));
}

#[test]
fn a_failed_attempt_waits_never_for_the_next() {
    let mut h = Harness::new(huge_options().with_retry_on_initial_connect(true));
    let t0 = h.now;
    h.refuse();
    assert!(h.actions().is_empty());
    assert_eq!(h.conn.poll_timeout(), Some(t0 + NEVER), "reconnect wait, backoff and jitter capped");
    h.sleep(DECADE);
    assert!(h.actions().is_empty(), "still waiting");
    let (_, waited) = h.advance_to_connect();
    assert_eq!(waited, NEVER - DECADE);
}

#[test]
fn a_connection_on_a_duration_since_an_epoch_takes_duration_max() {
    fn wire(conn: &mut Connection<Duration>, server: &mut ClientDecoder) -> Vec<ClientOp> {
        let mut wire = BytesMut::from(&conn.outbound().to_vec()[..]);
        conn.advance_outbound(wire.len());
        std::iter::from_fn(|| server.decode(&mut wire).unwrap()).collect()
    }
    let epoch = Duration::from_secs(1000);
    let (mut conn, transport, attempt_deadline) = connect_at_epoch(huge_options(), epoch);
    assert_eq!(attempt_deadline, Some(epoch + NEVER), "the attempt's deadline");
    let mut server = ClientDecoder::new();
    wire(&mut conn, &mut server);

    let request = conn
        .request(epoch, &subject("svc"), None, &Bytes::new(), Duration::MAX, Expected::UntilTimeout)
        .unwrap();
    conn.flush(epoch, Duration::MAX);
    wire(&mut conn, &mut server);
    assert_eq!(conn.poll_timeout(), Some(epoch + NEVER));

    // Never comes: the keepalive PING is written and re-armed another NEVER later.
    let never = epoch + NEVER;
    conn.handle_timeout(never);
    assert_eq!(wire(&mut conn, &mut server), [ClientOp::Ping]);
    let events: Vec<Event> = std::iter::from_fn(|| conn.poll_event()).collect();
    assert!(events.iter().any(|e| matches!(
        e,
        Event::RequestEnded { request: ended, outcome: RequestOutcome::TimedOut, .. } if *ended == request
    )));
    assert_eq!(conn.poll_timeout(), Some(never + NEVER));

    // A drain from there.
    conn.drain(never);
    assert_eq!(conn.poll_timeout(), Some(never + NEVER));
    conn.handle_disconnected(never, transport, TransportError::closed());
    assert_eq!(conn.state(), State::Closed);
}
