//! Requests on the shared inbox: timeouts, several replies, scatter-gather until the
//! deadline, no responders, cancellation, and a request table that empties itself.

use crate::harness;

use std::time::Duration;

use bytes::Bytes;
use harness::{info, msg, no_responders, options, subject, Harness};
use nats_proto::{ClientOp, Event, Expected, RequestId, RequestOutcome, Sid, Subject};

const TIMEOUT: Duration = Duration::from_secs(2);

fn connected() -> Harness {
    let mut h = Harness::new(options("127.0.0.1:4222"));
    h.connect(info());
    h
}

/// A connection and the sid of its request inbox, learned from the first request.
struct Requester {
    h: Harness,
    inbox: Option<Sid>,
}

impl Requester {
    fn new() -> Self {
        Self { h: connected(), inbox: None }
    }

    /// Makes a request; returns its id, the inbox sid and the reply subject the server saw.
    fn request(&mut self, expected: Expected) -> (RequestId, Sid, Subject) {
        let h = &mut self.h;
        let id = h
            .conn
            .request(h.now, &subject("svc"), None, &Bytes::from_static(b"q"), TIMEOUT, expected)
            .unwrap();
        let ops = h.client_ops();
        let reply = match ops.last() {
            Some(ClientOp::Pub(p)) => p.reply.clone().expect("a request has a reply subject"),
            other => panic!("{other:?}"),
        };
        let first = self.inbox.is_none();
        let inbox = *self.inbox.get_or_insert_with(|| match ops.first() {
            Some(ClientOp::Sub { sid, .. }) => *sid,
            other => panic!("the first request subscribes to the inbox: {other:?}"),
        });
        assert_eq!(ops.len(), if first { 2 } else { 1 }, "one inbox SUB for all requests: {ops:?}");
        (id, inbox, reply)
    }
}

#[test]
fn request_times_out() {
    let mut r = Requester::new();
    let (id, inbox, reply) = r.request(Expected::Count(1));
    let h = &mut r.h;
    assert_eq!(h.conn.pending_requests(), 1);
    assert_eq!(h.advance(), TIMEOUT);
    assert_eq!(
        h.events(),
        [Event::RequestEnded { request: id, outcome: RequestOutcome::TimedOut, replies: 0 }]
    );
    assert_eq!(h.conn.pending_requests(), 0);
    h.send(&[msg(reply.as_str(), inbox, None, b"late")]);
    assert!(h.events().is_empty(), "a late reply is dropped");
    assert_eq!(h.conn.state(), nats_proto::State::Connected);
}

#[test]
fn request_with_three_expected_replies() {
    let mut r = Requester::new();
    let (id, inbox, reply) = r.request(Expected::Count(3));
    let h = &mut r.h;
    for payload in [&b"r1"[..], b"r2"] {
        h.send(&[msg(reply.as_str(), inbox, None, payload)]);
        let events = h.events();
        assert!(
            matches!(&events[..], [Event::Reply { request, msg }] if *request == id && msg.payload == payload)
        );
    }
    h.send(&[msg(reply.as_str(), inbox, None, b"r3"), msg(reply.as_str(), inbox, None, b"r4")]);
    let events = h.events();
    match events.as_slice() {
        [Event::Reply { request, msg }, Event::RequestEnded { request: ended, outcome: RequestOutcome::Completed, replies: 3 }] =>
        {
            assert_eq!((*request, *ended), (id, id));
            assert_eq!(&msg.payload[..], b"r3");
        }
        other => panic!("the fourth reply is dropped: {other:?}"),
    }
    assert_eq!(h.conn.pending_requests(), 0);
    assert_eq!(h.conn.poll_timeout(), Some(h.now + Duration::from_secs(120)), "only the PING timer");
}

#[test]
fn until_timeout_collects_replies_until_the_deadline() {
    let mut r = Requester::new();
    let (id, inbox, reply) = r.request(Expected::UntilTimeout);
    let h = &mut r.h;
    h.sleep(Duration::from_millis(500));
    for payload in [&b"a"[..], b"b", b"c", b"d", b"e"] {
        h.send(&[msg(reply.as_str(), inbox, None, payload)]);
    }
    let events = h.events();
    assert_eq!(events.len(), 5);
    assert!(events.iter().all(|e| matches!(e, Event::Reply { request, .. } if *request == id)));
    assert_eq!(h.advance(), TIMEOUT - Duration::from_millis(500), "ends at the deadline, not earlier");
    assert_eq!(
        h.events(),
        [Event::RequestEnded { request: id, outcome: RequestOutcome::TimedOut, replies: 5 }]
    );
    h.send(&[msg(reply.as_str(), inbox, None, b"late")]);
    assert!(h.events().is_empty());
}

#[test]
fn no_responders_ends_the_request() {
    let mut r = Requester::new();
    let (id, inbox, reply) = r.request(Expected::Count(1));
    let (other, _, other_reply) = r.request(Expected::Count(1));
    let h = &mut r.h;
    h.send(&[no_responders(&reply, inbox)]);
    assert_eq!(
        h.events(),
        [Event::RequestEnded { request: id, outcome: RequestOutcome::NoResponders, replies: 0 }],
        "no Reply event for the 503 status"
    );
    assert_eq!(h.conn.pending_requests(), 1, "the other request is untouched");
    h.send(&[msg(other_reply.as_str(), inbox, None, b"ok")]);
    assert!(matches!(
        h.events().as_slice(),
        [Event::Reply { .. }, Event::RequestEnded { request, outcome: RequestOutcome::Completed, replies: 1 }]
            if *request == other
    ));
    assert_eq!(h.conn.pending_requests(), 0);
}

#[test]
fn no_responders_after_some_replies_reports_them() {
    let mut r = Requester::new();
    let (id, inbox, reply) = r.request(Expected::UntilTimeout);
    let h = &mut r.h;
    h.send(&[msg(reply.as_str(), inbox, None, b"one"), no_responders(&reply, inbox)]);
    let events = h.events();
    assert!(matches!(events[0], Event::Reply { .. }));
    assert_eq!(
        events[1],
        Event::RequestEnded { request: id, outcome: RequestOutcome::NoResponders, replies: 1 }
    );
}

#[test]
fn cancelled_request_ends_silently() {
    let mut r = Requester::new();
    let (id, inbox, reply) = r.request(Expected::Count(1));
    let h = &mut r.h;
    assert!(h.conn.cancel_request(id));
    assert!(!h.conn.cancel_request(id), "only once");
    assert_eq!(h.conn.pending_requests(), 0);
    h.send(&[msg(reply.as_str(), inbox, None, b"after cancel")]);
    assert!(h.events().is_empty());
    assert_eq!(h.conn.poll_timeout(), Some(h.now + Duration::from_secs(120)), "no request deadline left");
    h.sleep(TIMEOUT * 2);
    assert!(h.events().is_empty(), "no timeout event for a cancelled request");
}

#[test]
fn replies_with_unknown_tokens_are_dropped() {
    let mut r = Requester::new();
    let (_, inbox, reply) = r.request(Expected::Count(1));
    let h = &mut r.h;
    let prefix = reply.as_str().rsplit_once('.').unwrap().0;
    h.send(&[
        msg(&format!("{prefix}.999"), inbox, None, b"unknown token"),
        msg(&format!("{prefix}.notanumber"), inbox, None, b"bad token"),
        msg("elsewhere", inbox, None, b"other subject"),
    ]);
    assert!(h.events().is_empty());
    assert_eq!(h.conn.pending_requests(), 1);
}

#[test]
fn one_hundred_thousand_timed_out_requests_leave_an_empty_table() {
    let mut h = connected();
    let ping_deadline = h.conn.poll_timeout().unwrap();
    let payload = Bytes::from_static(b"q");
    let target = subject("svc");
    for i in 0..100_000u32 {
        h.conn.request(h.now, &target, None, &payload, TIMEOUT, Expected::Count(1)).unwrap();
        if i % 10_000 == 0 {
            // The transport writes everything now and then.
            let n = h.conn.outbound().len();
            h.conn.advance_outbound(n);
        }
    }
    assert_eq!(h.conn.pending_requests(), 100_000);
    assert_eq!(h.conn.poll_timeout(), Some(h.now + TIMEOUT));
    assert_eq!(h.advance(), TIMEOUT);
    let mut ended = 0;
    while let Some(event) = h.conn.poll_event() {
        assert!(matches!(event, Event::RequestEnded { outcome: RequestOutcome::TimedOut, replies: 0, .. }));
        ended += 1;
    }
    assert_eq!(ended, 100_000);
    assert_eq!(h.conn.pending_requests(), 0);
    assert_eq!(h.conn.poll_timeout(), Some(ping_deadline), "no request deadline is reported any more");
    assert_eq!(h.conn.subscription_count(), 1, "one shared inbox");
}

#[test]
fn request_while_disconnected_is_sent_after_reconnect() {
    let mut h = connected();
    h.drop_transport();
    h.events();
    let id = h
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
    assert!(h.conn.outbound().is_empty());
    h.reconnect(info());
    let ops = h.client_ops();
    let (inbox, reply) = match ops.as_slice() {
        [ClientOp::Sub { sid, subject: filter, .. }, ClientOp::Pub(p)] => {
            let reply = p.reply.clone().unwrap();
            assert!(reply.as_str().starts_with(filter.as_str().trim_end_matches('*')));
            (*sid, reply)
        }
        other => panic!("inbox SUB then the request: {other:?}"),
    };
    h.send(&[msg(reply.as_str(), inbox, None, b"answer")]);
    let events = h.events();
    assert!(
        matches!(events.last(), Some(Event::RequestEnded { request, outcome: RequestOutcome::Completed, .. }) if *request == id),
        "{events:?}"
    );
}

#[test]
fn requests_end_when_the_connection_closes() {
    let mut h = Harness::new(options("127.0.0.1").with_allow_reconnect(false));
    h.connect(info());
    let mut r = Requester { h, inbox: None };
    let (a, _, _) = r.request(Expected::Count(1));
    let (b, _, _) = r.request(Expected::UntilTimeout);
    let h = &mut r.h;
    h.conn.close();
    assert_eq!(
        h.events(),
        [
            Event::RequestEnded { request: a, outcome: RequestOutcome::Closed, replies: 0 },
            Event::RequestEnded { request: b, outcome: RequestOutcome::Closed, replies: 0 },
            Event::Closed { error: None },
        ]
    );
    assert_eq!(h.conn.pending_requests(), 0);
    assert_eq!(h.conn.poll_timeout(), None);
}
