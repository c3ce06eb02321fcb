//! Flush: a PING whose PONG confirms everything written before it. PONGs answer PINGs in
//! order; flushes time out, fail at once when not connected, and fail when the connection
//! is lost before the answer.

use crate::harness;

use std::time::Duration;

use bytes::Bytes;
use harness::{info, options, subject, Harness};
use nats_proto::{ClientOp, ConnectionError, Event, FlushError, ServerOp, TransportError};

fn connected() -> Harness {
    let mut h = Harness::new(options("127.0.0.1:4222"));
    h.connect(info());
    h
}

#[test]
fn pongs_answer_pings_in_order() {
    let mut h = connected();
    h.conn.publish(&subject("a"), None, None, &Bytes::from_static(b"1")).unwrap();
    let first = h.conn.flush(h.now, Duration::from_secs(5));
    h.conn.publish(&subject("a"), None, None, &Bytes::from_static(b"2")).unwrap();
    let second = h.conn.flush(h.now, Duration::from_secs(5));
    assert_ne!(first, second);
    assert_eq!(
        h.client_ops(),
        [harness::pub_op("a", b"1"), ClientOp::Ping, harness::pub_op("a", b"2"), ClientOp::Ping]
    );
    h.send(&[ServerOp::Pong]);
    assert_eq!(h.events(), [Event::Flushed { flush: first, result: Ok(()) }], "only the first completes");
    h.send(&[ServerOp::Pong]);
    assert_eq!(h.events(), [Event::Flushed { flush: second, result: Ok(()) }]);
    h.send(&[ServerOp::Pong]);
    assert!(h.events().is_empty(), "an unexpected PONG is ignored");
}

#[test]
fn flush_times_out() {
    let mut h = connected();
    let flush = h.conn.flush(h.now, Duration::from_secs(3));
    assert_eq!(h.client_ops(), [ClientOp::Ping]);
    assert_eq!(h.conn.poll_timeout(), Some(h.now + Duration::from_secs(3)));
    assert_eq!(h.advance(), Duration::from_secs(3));
    assert_eq!(h.events(), [Event::Flushed { flush, result: Err(FlushError::Timeout) }]);
    assert_eq!(h.conn.poll_timeout(), Some(h.now + Duration::from_secs(117)), "only the PING timer left");
    // The late PONG still answers that PING, not the next one.
    let next = h.conn.flush(h.now, Duration::from_secs(3));
    h.send(&[ServerOp::Pong]);
    assert!(h.events().is_empty(), "the late PONG is for the timed-out flush");
    h.send(&[ServerOp::Pong]);
    assert_eq!(h.events(), [Event::Flushed { flush: next, result: Ok(()) }]);
}

#[test]
fn flush_while_disconnected_fails_at_once() {
    let mut h = connected();
    h.drop_transport();
    h.events();
    let flush = h.conn.flush(h.now, Duration::from_secs(3));
    assert_eq!(h.events(), [Event::Flushed { flush, result: Err(FlushError::Disconnected) }]);
    assert!(h.conn.outbound().is_empty());
    assert_eq!(h.conn.reconnect_buffer_len(), 0, "no PING buffered");
}

#[test]
fn flush_before_the_first_connection_fails_at_once() {
    let mut h = Harness::new(options("127.0.0.1:4222"));
    let flush = h.conn.flush(h.now, Duration::from_secs(3));
    assert_eq!(h.events(), [Event::Flushed { flush, result: Err(FlushError::Disconnected) }]);
}

#[test]
fn flush_after_close_fails_with_closed() {
    let mut h = connected();
    h.conn.close();
    h.events();
    let flush = h.conn.flush(h.now, Duration::from_secs(3));
    assert_eq!(h.events(), [Event::Flushed { flush, result: Err(FlushError::Closed) }]);
}

#[test]
fn pending_flushes_fail_at_a_disconnect() {
    let mut h = connected();
    let first = h.conn.flush(h.now, Duration::from_secs(5));
    let second = h.conn.flush(h.now, Duration::from_secs(5));
    h.client_ops();
    h.drop_transport();
    assert_eq!(
        h.events(),
        [
            Event::Disconnected { error: ConnectionError::Transport(TransportError::closed()) },
            Event::Flushed { flush: first, result: Err(FlushError::Disconnected) },
            Event::Flushed { flush: second, result: Err(FlushError::Disconnected) },
        ]
    );
    // Their deadlines are gone too: nothing fires later.
    h.reconnect(info());
    h.events();
    h.client_ops();
    h.sleep(Duration::from_secs(10));
    assert!(h.events().is_empty());
    // And the new connection's PONG answers only new PINGs.
    let third = h.conn.flush(h.now, Duration::from_secs(5));
    h.send(&[ServerOp::Pong]);
    assert_eq!(h.events(), [Event::Flushed { flush: third, result: Ok(()) }]);
}

#[test]
fn pending_flushes_fail_with_closed_on_close() {
    let mut h = connected();
    let flush = h.conn.flush(h.now, Duration::from_secs(5));
    h.conn.close();
    assert_eq!(
        h.events(),
        [Event::Flushed { flush, result: Err(FlushError::Closed) }, Event::Closed { error: None }]
    );
}
