//! Delivery details: verbose mode's `+OK` acknowledgements, and slow consumers under
//! pending limits (one event per episode).

use crate::harness;

use bytes::Bytes;
use harness::{info, info_op, msg, options, subject, Harness};
use nats_proto::{ClientOp, Event, PendingLimits, ServerOp, Sid, State};

#[test]
fn verbose_connect_and_ok_acks_are_ignored() {
    let mut h = Harness::new(options("127.0.0.1:4222").with_verbose(true));
    let server = h.expect_connect();
    h.accept(server);
    h.send(&[info_op(info())]);
    match h.client_ops().as_slice() {
        [ClientOp::Connect(connect), ClientOp::Ping] => assert!(connect.verbose && !connect.pedantic),
        other => panic!("{other:?}"),
    }
    // The server acknowledges CONNECT with +OK, then answers the PING.
    h.send(&[ServerOp::Ok]);
    assert_eq!(h.conn.state(), State::Connecting, "+OK is not the PONG");
    assert!(h.events().is_empty());
    h.send(&[ServerOp::Pong]);
    assert_eq!(h.conn.state(), State::Connected);
    assert!(matches!(h.events().as_slice(), [Event::Connected { .. }]));

    let sid = h.conn.subscribe(subject("v"), None).unwrap();
    h.conn.publish(&subject("v"), None, None, &Bytes::from_static(b"hi")).unwrap();
    let flush = h.conn.flush(h.now, std::time::Duration::from_secs(1));
    assert_eq!(h.client_ops().len(), 3);
    // One +OK per op, interleaved with the traffic; the PONG still answers the flush.
    h.send(&[ServerOp::Ok, ServerOp::Ok, msg("v", sid, None, b"hi"), ServerOp::Pong]);
    let events = h.events();
    assert!(
        matches!(&events[..], [Event::Message(m), Event::Flushed { flush: f, result: Ok(()) }] if m.sid == sid && *f == flush),
        "{events:?}"
    );
    assert!(h.client_ops().is_empty(), "nothing is answered to +OK");
    assert!(h.actions().is_empty());
}

#[test]
fn ok_is_ignored_in_non_verbose_mode_too() {
    let mut h = Harness::new(options("127.0.0.1:4222"));
    let connect = h.handshake(info());
    assert!(!connect.verbose);
    h.events();
    h.send(&[ServerOp::Ok]);
    assert!(h.events().is_empty());
    assert_eq!(h.conn.state(), State::Connected);
}

fn slow_harness(limit: u64) -> (Harness, Sid) {
    let mut h = Harness::new(options("127.0.0.1:4222"));
    h.connect(info());
    let sid = h.conn.subscribe(subject("firehose"), None).unwrap();
    assert!(h.conn.set_pending_limits(sid, Some(PendingLimits::new(limit, 1 << 20))));
    h.client_ops();
    (h, sid)
}

fn flood(h: &mut Harness, sid: Sid, n: usize) -> (usize, Vec<u64>) {
    let ops: Vec<ServerOp> = (0..n).map(|_| msg("firehose", sid, None, b"0123456789")).collect();
    h.send(&ops);
    let mut delivered = 0;
    let mut episodes = Vec::new();
    for event in h.events() {
        match event {
            Event::Message(m) => {
                assert_eq!(m.sid, sid);
                delivered += 1;
            }
            Event::SlowConsumer { sid: s, dropped } => {
                assert_eq!(s, sid);
                episodes.push(dropped);
            }
            other => panic!("{other:?}"),
        }
    }
    (delivered, episodes)
}

#[test]
fn slow_consumer_is_reported_once_per_episode() {
    let (mut h, sid) = slow_harness(4);
    let (delivered, episodes) = flood(&mut h, sid, 10);
    assert_eq!(delivered, 4, "up to the limit");
    assert_eq!(episodes, [1], "exactly one event for the episode, at its first drop");
    let (delivered, episodes) = flood(&mut h, sid, 10);
    assert_eq!((delivered, episodes.len()), (0, 0), "still slow: dropped silently");

    // The reader catches up: the episode ends.
    h.conn.handle_consumed(sid, 4, 40);
    let (delivered, episodes) = flood(&mut h, sid, 10);
    assert_eq!(delivered, 4);
    assert_eq!(episodes, [17], "a new episode, with the total dropped so far (6 + 10 + 1)");
    assert_eq!(h.conn.state(), State::Connected, "a slow consumer does not end the connection");
    assert!(h.conn.is_subscribed(sid));
}

#[test]
fn consuming_too_little_does_not_end_the_episode() {
    let (mut h, sid) = slow_harness(4);
    flood(&mut h, sid, 5);
    h.conn.handle_consumed(sid, 1, 10);
    let (delivered, episodes) = flood(&mut h, sid, 3);
    assert_eq!(delivered, 1, "room for one");
    assert!(episodes.is_empty(), "the episode goes on until half the limit is free");
}

#[test]
fn byte_limits_count_too() {
    let mut h = Harness::new(options("127.0.0.1:4222"));
    h.connect(info());
    let sid = h.conn.subscribe(subject("firehose"), None).unwrap();
    h.conn.set_pending_limits(sid, Some(PendingLimits::new(1000, 25)));
    let (delivered, episodes) = flood(&mut h, sid, 5);
    assert_eq!((delivered, episodes), (2, vec![1]));
}

#[test]
fn removing_the_limits_delivers_everything() {
    let (mut h, sid) = slow_harness(2);
    assert!(h.conn.set_pending_limits(sid, None));
    let (delivered, episodes) = flood(&mut h, sid, 50);
    assert_eq!((delivered, episodes.len()), (50, 0));
    assert!(!h.conn.set_pending_limits(Sid(999), None), "unknown sid");
}

#[test]
fn a_message_with_a_subject_that_is_not_utf8_is_dropped_counted_and_reported() {
    let mut h = Harness::new(options("127.0.0.1:4222"));
    h.connect(info());
    let sid = h.conn.subscribe(subject(">"), None).unwrap();
    h.conn.unsubscribe(sid, Some(3));
    h.client_ops();
    h.send_raw(b"MSG ok.1 1 1\r\na\r\nMSG bad.\xff 1 1\r\nb\r\nMSG ok.2 1 1\r\nc\r\n");
    let events = h.events();
    match events.as_slice() {
        [Event::Message(first), Event::Undeliverable(dropped), Event::Message(last), Event::SubscriptionEnded { sid: ended }] =>
        {
            assert_eq!((first.subject.as_str(), &first.payload[..]), ("ok.1", &b"a"[..]));
            assert_eq!((dropped.sid, &dropped.subject[..], dropped.size), (sid, &b"bad.\xff"[..], 1));
            assert_eq!((last.subject.as_str(), &last.payload[..]), ("ok.2", &b"c"[..]));
            // The dropped message counted towards the auto-unsubscribe limit of 3, as on
            // the server.
            assert_eq!(*ended, sid);
        }
        other => panic!("{other:?}"),
    }
    let stats = h.conn.statistics();
    assert_eq!((stats.in_msgs, stats.undeliverable_msgs), (2, 1));
    assert_eq!(h.conn.state(), State::Connected);
    assert!(h.actions().is_empty(), "the transport stays");
    assert!(h.conn.last_error().is_none());
}
