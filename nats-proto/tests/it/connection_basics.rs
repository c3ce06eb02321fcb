//! Connection scenarios on the virtual clock: the handshake, publish and subscribe,
//! requests, and a reconnect that restores subscriptions and buffered publishes.

use crate::harness;

use std::time::Duration;

use bytes::Bytes;
use harness::{info, msg, options, published, subject, Harness};
use nats_proto::{ClientOp, Event, Expected, RequestOutcome, ServerOp, Sid, State};

#[test]
fn handshake_sends_connect_and_reports_connected() {
    let mut h = Harness::new(options("nats://127.0.0.1:4222"));
    assert_eq!(h.conn.state(), State::Connecting);
    let connect = h.handshake(info());
    assert!(!connect.verbose && !connect.pedantic && connect.headers && connect.no_responders);
    assert_eq!(connect.protocol, 1);
    assert_eq!(h.conn.state(), State::Connected);
    let events = h.events();
    assert!(matches!(&events[..], [Event::Connected { server }] if server.port() == 4222), "{events:?}");
    assert_eq!(h.conn.connected_server().unwrap().to_string(), "nats://127.0.0.1:4222");
}

#[test]
fn publish_subscribe_and_deliver() {
    let mut h = Harness::new(options("nats://127.0.0.1:4222"));
    h.handshake(info());
    h.events();
    let sid = h.conn.subscribe(subject("greet.*"), None).unwrap();
    h.conn.publish(&subject("greet.joe"), None, None, &Bytes::from_static(b"hello")).unwrap();
    let ops = h.client_ops();
    assert!(
        matches!(&ops[0], ClientOp::Sub { sid: s, subject, queue_group: None } if *s == sid && subject == "greet.*")
    );
    assert_eq!(published(&ops), [Bytes::from_static(b"hello")]);
    h.send(&[msg("greet.joe", sid, None, b"hello"), msg("other", Sid(99), None, b"dropped")]);
    let events = h.events();
    assert_eq!(events.len(), 1, "{events:?}");
    let Event::Message(m) = &events[0] else { panic!("{events:?}") };
    assert_eq!((m.subject.as_str(), &m.payload[..]), ("greet.joe", &b"hello"[..]));
    let stats = h.conn.statistics();
    assert_eq!((stats.in_msgs, stats.out_msgs, stats.out_bytes), (2, 1, 5));
}

#[test]
fn request_gets_one_reply_and_leaves_the_table() {
    let mut h = Harness::new(options("nats://127.0.0.1:4222"));
    h.handshake(info());
    h.events();
    let id = h
        .conn
        .request(
            h.now,
            &subject("svc"),
            None,
            &Bytes::from_static(b"q"),
            Duration::from_secs(1),
            Expected::Count(1),
        )
        .unwrap();
    let ops = h.client_ops();
    let (inbox_sid, reply) = match ops.as_slice() {
        [ClientOp::Sub { sid, subject: inbox, .. }, ClientOp::Pub(p)] => {
            assert!(inbox.as_str().starts_with("_INBOX.") && inbox.as_str().ends_with(".*"));
            (*sid, p.reply.clone().unwrap())
        }
        other => panic!("{other:?}"),
    };
    h.send(&[msg(reply.as_str(), inbox_sid, None, b"answer")]);
    let events = h.events();
    assert!(
        matches!(&events[0], Event::Reply { request, msg } if *request == id && &msg.payload[..] == b"answer")
    );
    assert!(
        matches!(events[1], Event::RequestEnded { request, outcome: RequestOutcome::Completed, replies: 1 } if request == id)
    );
    assert_eq!(h.conn.pending_requests(), 0);
}

#[test]
fn reconnect_resubscribes_with_remaining_counts_then_sends_buffered_publishes() {
    let mut h = Harness::new(options("nats://127.0.0.1:4222"));
    h.handshake(info());
    let plain = h.conn.subscribe(subject("a"), None).unwrap();
    let limited = h.conn.subscribe(subject("b"), Some(nats_proto::QueueGroup::new("q").unwrap())).unwrap();
    h.conn.unsubscribe(limited, Some(3));
    h.client_ops();
    h.send(&[msg("b", limited, None, b"1")]);
    h.events();

    h.drop_transport();
    assert_eq!(h.conn.state(), State::Reconnecting);
    assert!(matches!(h.events().as_slice(), [Event::Disconnected { .. }]));
    h.conn.publish(&subject("x"), None, None, &Bytes::from_static(b"while down")).unwrap();
    assert!(h.conn.reconnect_buffer_len() > 0);

    // The only server was connected long ago: it is retried after reconnect_wait at most.
    let waited = h.advance();
    assert!(waited <= Duration::from_millis(2100), "{waited:?}");
    h.handshake(info());
    let ops = h.client_ops();
    assert_eq!(
        ops,
        [
            ClientOp::Sub { sid: plain, subject: subject("a"), queue_group: None },
            ClientOp::Sub {
                sid: limited,
                subject: subject("b"),
                queue_group: Some(nats_proto::QueueGroup::new("q").unwrap())
            },
            ClientOp::Unsub { sid: limited, max: Some(2) },
            ClientOp::Pub(nats_proto::Pub {
                subject: subject("x"),
                reply: None,
                headers: None,
                payload: Bytes::from_static(b"while down")
            }),
        ]
    );
    assert!(matches!(h.events().as_slice(), [Event::Reconnected { .. }]));
    assert_eq!(h.conn.statistics().reconnects, 1);
    assert_eq!(h.conn.reconnect_buffer_len(), 0);
}

#[test]
fn server_ping_is_answered() {
    let mut h = Harness::new(options("nats://127.0.0.1:4222"));
    h.handshake(info());
    h.client_ops();
    h.send(&[ServerOp::Ping]);
    assert_eq!(h.client_ops(), [ClientOp::Pong]);
}
