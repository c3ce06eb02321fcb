//! Drain: UNSUB every subscription, deliver what was in flight before the server's PONG,
//! end each subscription, confirm the publishes with a last PING/PONG, then close.

use crate::harness;

use std::time::Duration;

use bytes::Bytes;
use harness::{info, msg, options, pub_op, subject, Harness};
use nats_proto::{
    Action, ClientOp, ConnectionError, Event, Expected, PublishError, RequestOutcome, ServerOp, State,
    SubscribeError,
};

fn connected() -> Harness {
    let mut h = Harness::new(options("127.0.0.1:4222").with_drain_timeout(Duration::from_secs(5)));
    h.connect(info());
    h
}

#[test]
fn drain_unsubscribes_delivers_in_flight_messages_then_closes() {
    let mut h = connected();
    let a = h.conn.subscribe(subject("a"), None).unwrap();
    let b = h.conn.subscribe(subject("b.*"), None).unwrap();
    h.client_ops();

    h.conn.drain(h.now);
    assert_eq!(h.conn.state(), State::Draining);
    assert_eq!(
        h.client_ops(),
        [ClientOp::Unsub { sid: a, max: None }, ClientOp::Unsub { sid: b, max: None }, ClientOp::Ping]
    );
    assert_eq!(
        h.conn.subscribe(subject("c"), None),
        Err(SubscribeError::Closed),
        "no subscribe during a drain"
    );
    // Publishing still works until the subscriptions are done.
    h.conn.publish(&subject("out"), None, None, &Bytes::from_static(b"last words")).unwrap();
    assert_eq!(h.client_ops(), [pub_op("out", b"last words")]);

    // Messages the server sent before it processed the UNSUBs are still delivered.
    h.send(&[msg("a", a, None, b"in flight 1"), msg("b.x", b, None, b"in flight 2")]);
    let events = h.events();
    assert!(
        matches!(&events[..], [Event::Message(m1), Event::Message(m2)] if m1.sid == a && m2.sid == b),
        "{events:?}"
    );

    // The PONG for the drain PING: the subscriptions are over.
    h.send(&[ServerOp::Pong]);
    assert_eq!(h.events(), [Event::SubscriptionEnded { sid: a }, Event::SubscriptionEnded { sid: b }]);
    assert!(!h.conn.is_subscribed(a) && !h.conn.is_subscribed(b));
    assert_eq!(h.client_ops(), [ClientOp::Ping], "a last PING confirms the publishes");
    assert_eq!(h.conn.state(), State::Draining);
    assert_eq!(
        h.conn.publish(&subject("out"), None, None, &Bytes::from_static(b"too late")),
        Err(PublishError::Closed)
    );
    h.send(&[msg("a", a, None, b"after the PONG")]);
    assert!(h.events().is_empty(), "nothing for an ended subscription");

    h.send(&[ServerOp::Pong]);
    assert_eq!(h.events(), [Event::Closed { error: None }]);
    assert_eq!(h.actions(), [Action::CloseTransport(h.transport())]);
    assert_eq!(h.conn.state(), State::Closed);
    assert_eq!(h.conn.poll_timeout(), None);
}

#[test]
fn drain_lets_pending_replies_arrive_and_ends_only_user_subscriptions() {
    let mut h = connected();
    let sub = h.conn.subscribe(subject("s"), None).unwrap();
    let request = h
        .conn
        .request(
            h.now,
            &subject("svc"),
            None,
            &Bytes::from_static(b"q"),
            Duration::from_secs(30),
            Expected::Count(1),
        )
        .unwrap();
    let ops = h.client_ops();
    let (inbox, reply) = match ops.as_slice() {
        [ClientOp::Sub { .. }, ClientOp::Sub { sid, .. }, ClientOp::Pub(p)] => {
            (*sid, p.reply.clone().unwrap())
        }
        other => panic!("{other:?}"),
    };
    h.conn.drain(h.now);
    assert_eq!(
        h.client_ops(),
        [ClientOp::Unsub { sid: sub, max: None }, ClientOp::Unsub { sid: inbox, max: None }, ClientOp::Ping]
    );
    h.send(&[msg(reply.as_str(), inbox, None, b"answer")]);
    let events = h.events();
    assert!(
        matches!(&events[..], [Event::Reply { .. }, Event::RequestEnded { request: r, outcome: RequestOutcome::Completed, .. }] if *r == request),
        "{events:?}"
    );
    h.send(&[ServerOp::Pong]);
    assert_eq!(
        h.events(),
        [Event::SubscriptionEnded { sid: sub }],
        "the internal request inbox is not a user subscription: no event for its sid"
    );
    h.send(&[ServerOp::Pong]);
    assert_eq!(h.events(), [Event::Closed { error: None }]);
}

#[test]
fn requests_are_refused_during_a_drain() {
    let mut h = connected();
    h.conn.drain(h.now);
    assert_eq!(
        h.conn.request(
            h.now,
            &subject("svc"),
            None,
            &Bytes::new(),
            Duration::from_secs(1),
            Expected::Count(1)
        ),
        Err(PublishError::Closed)
    );
}

#[test]
fn requests_still_pending_when_the_drain_ends_are_closed() {
    let mut h = connected();
    let request = h
        .conn
        .request(h.now, &subject("svc"), None, &Bytes::new(), Duration::from_secs(60), Expected::Count(1))
        .unwrap();
    h.client_ops();
    h.conn.drain(h.now);
    h.send(&[ServerOp::Pong, ServerOp::Pong]);
    assert_eq!(
        h.events(),
        [
            Event::RequestEnded { request, outcome: RequestOutcome::Closed, replies: 0 },
            Event::Closed { error: None },
        ]
    );
    assert_eq!(h.conn.closed_with(), None, "a drain that finished closes as asked");
    assert_eq!(h.conn.pending_requests(), 0);
}

#[test]
fn drain_timeout_closes_with_an_error() {
    let mut h = connected();
    let sid = h.conn.subscribe(subject("a"), None).unwrap();
    h.client_ops();
    h.conn.drain(h.now);
    h.client_ops();
    assert_eq!(h.advance(), Duration::from_secs(5), "the drain deadline comes first");
    assert_eq!(h.events(), [Event::Closed { error: Some(ConnectionError::DrainTimeout) }]);
    assert_eq!(h.conn.last_error(), Some(&ConnectionError::DrainTimeout));
    assert_eq!(h.conn.closed_with(), Some(&ConnectionError::DrainTimeout));
    assert_eq!(h.actions(), [Action::CloseTransport(h.transport())]);
    assert_eq!(h.conn.state(), State::Closed);
    assert_eq!(h.conn.poll_timeout(), None);
    h.send(&[msg("a", sid, None, b"x"), ServerOp::Pong]);
    assert!(h.events().is_empty(), "nothing after close");
}

#[test]
fn drain_timeout_in_the_publish_stage() {
    let mut h = connected();
    h.conn.drain(h.now);
    h.sleep(Duration::from_secs(1));
    h.send(&[ServerOp::Pong]);
    assert!(h.events().is_empty());
    assert_eq!(h.advance(), Duration::from_secs(4), "measured from the start of the drain");
    assert_eq!(h.events(), [Event::Closed { error: Some(ConnectionError::DrainTimeout) }]);
}

#[test]
fn connection_lost_during_a_drain_closes_without_reconnecting() {
    let mut h = connected();
    h.conn.subscribe(subject("a"), None).unwrap();
    h.conn.drain(h.now);
    h.drop_transport();
    let events = h.events();
    assert!(
        matches!(
            &events[..],
            [Event::Disconnected { .. }, Event::Closed { error: Some(ConnectionError::Transport(_)) }]
        ),
        "{events:?}"
    );
    assert!(h.actions().is_empty(), "no Connect");
    assert_eq!(h.conn.state(), State::Closed);
}

#[test]
fn drain_when_not_connected_closes_at_once() {
    let mut h = connected();
    h.drop_transport();
    h.events();
    h.conn.drain(h.now);
    assert_eq!(h.events(), [Event::Closed { error: None }]);
    assert_eq!(h.conn.state(), State::Closed);
    assert_eq!(h.conn.poll_timeout(), None);
}

#[test]
fn draining_one_subscription_delivers_in_flight_messages_then_ends_it() {
    let mut h = connected();
    let a = h.conn.subscribe(subject("a"), None).unwrap();
    let b = h.conn.subscribe(subject("b"), None).unwrap();
    h.client_ops();

    assert!(h.conn.drain_subscription(a));
    assert!(h.conn.drain_subscription(a), "a second call changes nothing");
    assert_eq!(h.client_ops(), [ClientOp::Unsub { sid: a, max: None }, ClientOp::Ping]);
    assert_eq!(h.conn.state(), State::Connected, "only the subscription drains");

    // Sent before the server processed the UNSUB: still delivered.
    h.send(&[msg("a", a, None, b"in flight"), msg("b", b, None, b"other")]);
    let events = h.events();
    assert!(
        matches!(&events[..], [Event::Message(m1), Event::Message(m2)] if m1.sid == a && m2.sid == b),
        "{events:?}"
    );
    h.send(&[ServerOp::Pong]);
    assert_eq!(h.events(), [Event::SubscriptionEnded { sid: a }]);
    assert!(!h.conn.is_subscribed(a) && h.conn.is_subscribed(b));
    h.send(&[msg("a", a, None, b"after the PONG")]);
    assert!(h.events().is_empty(), "nothing for an ended subscription");
    assert!(!h.conn.drain_subscription(a), "gone");
}

#[test]
fn a_subscription_drained_while_down_or_across_a_loss_ends_and_is_not_made_again() {
    let mut h = Harness::new(options("127.0.0.1:4222").with_reconnect_jitter(Duration::ZERO));
    h.connect(info());
    let across = h.conn.subscribe(subject("across"), None).unwrap();
    let down = h.conn.subscribe(subject("down"), None).unwrap();
    let kept = h.conn.subscribe(subject("kept"), None).unwrap();
    h.client_ops();

    assert!(h.conn.drain_subscription(across));
    h.client_ops();
    h.drop_transport();
    let events = h.events();
    assert!(events.contains(&Event::SubscriptionEnded { sid: across }), "{events:?}");

    assert!(h.conn.drain_subscription(down), "while down it ends at once");
    assert_eq!(h.events(), [Event::SubscriptionEnded { sid: down }]);

    h.reconnect(info());
    let subs: Vec<_> = h.client_ops().into_iter().filter(|op| matches!(op, ClientOp::Sub { .. })).collect();
    assert_eq!(subs, [ClientOp::Sub { sid: kept, subject: subject("kept"), queue_group: None }]);
}
