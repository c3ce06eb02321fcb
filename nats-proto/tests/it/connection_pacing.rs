//! Publish pacing: a PING after each window of publishes, at most four unanswered windows
//! writable, the rest held until the server answers; PONGs still answer PINGs in order;
//! what was held is carried over a reconnect like any unwritten publish.

use crate::harness;

use std::time::Duration;

use bytes::Bytes;
use harness::{info, options, subject, Harness};
use nats_proto::{ClientOp, Event, ServerOp};

/// A 64 KiB budget starts with the smallest window (1 KiB): each 1 KiB publish is a window.
const BUDGET: usize = 64 * 1024;

/// Connected, and subscribed to what it publishes (a connection without subscriptions
/// gets nothing back and is never paced).
fn paced(budget: Option<usize>, echo: bool) -> Harness {
    let mut h = unsubscribed(budget, echo);
    h.conn.subscribe(subject("p"), None).unwrap();
    h.client_ops();
    h
}

fn unsubscribed(budget: Option<usize>, echo: bool) -> Harness {
    let mut h = Harness::new(options("127.0.0.1:4222").with_publish_pacing(budget).with_echo(echo));
    h.connect(info());
    h
}

fn publish(h: &mut Harness, n: u8) {
    h.conn.publish(&subject("p"), None, None, &Bytes::from(vec![n; 1024])).unwrap();
}

fn pubs(ops: &[ClientOp]) -> Vec<u8> {
    ops.iter()
        .filter_map(|op| match op {
            ClientOp::Pub(p) => Some(p.payload[0]),
            _ => None,
        })
        .collect()
}

/// Windows written ahead of the server's answers (`IN_FLIGHT` in the pacing module).
const IN_FLIGHT: u8 = 4;

fn pings(ops: &[ClientOp]) -> usize {
    ops.iter().filter(|op| **op == ClientOp::Ping).count()
}

#[test]
fn four_windows_are_written_and_each_answer_lets_one_more_go() {
    let mut h = paced(Some(BUDGET), true);
    for n in 0..IN_FLIGHT + 3 {
        publish(&mut h, n);
    }
    let ops = h.client_ops();
    assert_eq!(pubs(&ops), (0..IN_FLIGHT).collect::<Vec<_>>());
    assert_eq!(pings(&ops), usize::from(IN_FLIGHT));
    assert_eq!(h.conn.writable_len(), 0);
    assert!(!h.conn.outbound().is_empty(), "the rest is held, not dropped");
    assert_eq!(h.conn.take_outbound(usize::MAX), None, "take_outbound stops at the limit too");
    h.send(&[ServerOp::Pong]);
    assert_eq!(pubs(&h.client_ops()), [IN_FLIGHT]);
    h.send(&[ServerOp::Pong, ServerOp::Pong]);
    assert_eq!(pubs(&h.client_ops()), [IN_FLIGHT + 1, IN_FLIGHT + 2]);
    assert!(h.conn.outbound().is_empty());
    assert!(h.events().is_empty(), "pacing PINGs answer nothing the caller waits for");
}

#[test]
fn flushes_behind_held_publishes_are_answered_in_order() {
    let mut h = paced(Some(BUDGET), true);
    for n in 0..=IN_FLIGHT {
        publish(&mut h, n);
    }
    let flush = h.conn.flush(h.now, Duration::from_secs(5));
    let ops = h.client_ops();
    assert_eq!((pubs(&ops).len(), pings(&ops)), (usize::from(IN_FLIGHT), usize::from(IN_FLIGHT)));
    // An answer lets the last publish and its PING go; the flush's PING is held behind it.
    h.send(&[ServerOp::Pong]);
    let ops = h.client_ops();
    assert_eq!((pubs(&ops), ops.len()), (vec![IN_FLIGHT], 2));
    h.send(&[ServerOp::Pong]);
    assert_eq!(h.client_ops(), [ClientOp::Ping], "the flush's PING");
    // The next PONGs answer the pacing PINGs still unanswered, the one after them the flush.
    for _ in 2..=IN_FLIGHT {
        h.send(&[ServerOp::Pong]);
        assert!(h.events().is_empty());
    }
    h.send(&[ServerOp::Pong]);
    assert_eq!(h.events(), [Event::Flushed { flush, result: Ok(()) }]);
}

#[test]
fn held_publishes_are_carried_over_a_reconnect_and_pacing_starts_afresh() {
    let mut h = paced(Some(BUDGET), true);
    for n in 0..IN_FLIGHT + 3 {
        publish(&mut h, n);
    }
    assert_eq!(pubs(&h.client_ops()).len(), usize::from(IN_FLIGHT));
    h.drop_transport();
    h.events();
    h.advance();
    h.handshake(info());
    // The publishes never written follow the handshake, each a window again.
    let ops = h.client_ops();
    assert_eq!(pubs(&ops), [IN_FLIGHT, IN_FLIGHT + 1, IN_FLIGHT + 2]);
    assert_eq!(pings(&ops), 3);
    // Each is a window of its own: with more of them, the fifth would wait.
    for n in 0..IN_FLIGHT {
        publish(&mut h, n);
    }
    assert_eq!(pubs(&h.client_ops()).len(), 1, "three windows in flight, one more may go");
    h.send(&[ServerOp::Pong]);
    assert_eq!(pubs(&h.client_ops()).len(), 1);
}

#[test]
fn without_a_budget_without_echo_or_without_subscriptions_nothing_is_held() {
    for mut h in [paced(None, true), paced(Some(BUDGET), false), unsubscribed(Some(BUDGET), true)] {
        for n in 0..50 {
            publish(&mut h, n);
        }
        assert_eq!(h.conn.writable_len(), h.conn.outbound().len());
        let ops = h.client_ops();
        assert_eq!((pubs(&ops).len(), pings(&ops)), (50, 0), "no pacing PINGs");
    }
}

#[test]
fn a_zero_budget_is_refused() {
    let error = nats_proto::Connection::<std::time::Instant>::new(
        options("127.0.0.1:4222").with_publish_pacing(Some(0)),
        std::time::Instant::now(),
    )
    .unwrap_err();
    assert!(error.to_string().contains("publish_pacing"), "{error}");
}

#[test]
fn the_window_grows_while_little_comes_back() {
    let mut h = paced(Some(BUDGET), true);
    // 64 publishes of 1 KiB, each answered at once: windows double from 1 KiB to 32 KiB,
    // so PINGs get rarer.
    let mut counts = Vec::new();
    for n in 0..64 {
        publish(&mut h, n);
        let count = pings(&h.client_ops());
        for _ in 0..count {
            h.send(&[ServerOp::Pong]);
        }
        counts.push(count);
    }
    let first: usize = counts[..8].iter().sum();
    let last: usize = counts[32..].iter().sum();
    assert!(first >= 3 && last <= 1, "PINGs per publish: {counts:?}");
}

#[test]
fn the_window_shrinks_when_much_comes_back() {
    let mut h = unsubscribed(Some(BUDGET), true);
    let sid = h.conn.subscribe(subject("p"), None).unwrap();
    h.client_ops();
    // Each publish comes back 100 times (100 KiB): the window stays at its smallest and
    // each publish is followed by a PING.
    static COPY: [u8; 1024] = [0; 1024];
    for n in 0..20 {
        publish(&mut h, n);
        let ops = h.client_ops();
        assert_eq!(pings(&ops), 1, "publish {n}");
        for _ in 0..100 {
            h.send(&[harness::msg("p", sid, None, &COPY)]);
        }
        h.send(&[ServerOp::Pong]);
        h.events();
    }
}
