//! Reconnect scenarios on the virtual clock: backoff with jitter, attempt limits, the
//! reconnect policy options, subscriptions rebuilt from the table, and publishes kept
//! across a loss (the reconnect buffer and the unwritten tail of the outbound buffer).

use crate::harness;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use harness::{info, msg, options, pub_frame_len, pub_op, published, subject, Harness};
use nats_proto::{
    Action, ClientOp, ConnectionError, Event, Expected, FlushError, Options, PublishError, QueueGroup,
    RequestOutcome, ServerAddr, ServerError, ServerOp, State, SubscribeError, TransportError,
};

const WAIT: Duration = Duration::from_secs(1);
const CAP: Duration = Duration::from_secs(4);
const JITTER: Duration = Duration::from_millis(100);

fn reconnect_options(urls: &str) -> Options {
    options(urls)
        .with_reconnect_wait(WAIT)
        .with_reconnect_backoff_max(CAP)
        .with_reconnect_jitter(JITTER)
        .with_max_reconnect_attempts(None)
}

/// The documented backoff: `reconnect_wait` after a loss or a first failure, doubled for
/// each further consecutive failure, capped.
fn backoff(failures: u32) -> Duration {
    (WAIT * 2u32.pow(failures.saturating_sub(1).min(10))).min(CAP)
}

#[test]
fn backoff_doubles_up_to_the_cap_with_jitter_below_the_bound() {
    let mut h = Harness::new(reconnect_options("nats://127.0.0.1:4222"));
    h.connect(info());
    h.drop_transport();
    assert_eq!(
        h.events(),
        [Event::Disconnected { error: ConnectionError::Transport(TransportError::closed()) }]
    );
    assert!(h.actions().is_empty(), "the server was tried at this very instant: wait");
    let mut jitters = Vec::new();
    for failures in 0..8 {
        let (server, waited) = h.advance_to_connect();
        assert_eq!(server.port(), 4222);
        let expected = backoff(failures);
        assert!(
            waited >= expected && waited < expected + JITTER,
            "attempt after {failures} failures waited {waited:?}, expected {expected:?} + jitter below {JITTER:?}"
        );
        jitters.push(waited - expected);
        h.refuse_current();
        assert!(h.events().is_empty(), "failed attempts are not events");
        assert_eq!(h.conn.state(), State::Reconnecting);
    }
    assert!(jitters.iter().any(|j| !j.is_zero()), "jitter is applied: {jitters:?}");
    jitters.dedup();
    assert!(jitters.len() > 1, "jitter varies: {jitters:?}");
}

#[test]
fn tls_servers_use_the_tls_jitter() {
    let options = reconnect_options("tls://127.0.0.1:4222")
        .with_reconnect_jitter(Duration::ZERO)
        .with_reconnect_jitter_tls(Duration::from_millis(500))
        .with_retry_on_initial_connect(true);
    let mut h = Harness::new(options);
    h.refuse();
    let mut jitters = Vec::new();
    for failures in 1..6 {
        let (_, waited) = h.advance_to_connect();
        let expected = backoff(failures);
        assert!(waited >= expected && waited < expected + Duration::from_millis(500), "{waited:?}");
        jitters.push(waited - expected);
        h.refuse_current();
    }
    assert!(jitters.iter().any(|j| !j.is_zero()), "{jitters:?}");
}

#[test]
fn several_servers_round_robin_each_with_its_own_backoff() {
    let mut h = Harness::new(reconnect_options("127.0.0.1:4222,127.0.0.1:4223,127.0.0.1:4224"));
    let first = h.expect_connect();
    assert_eq!(first.port(), 4222);
    h.handshake_with(first, info());
    h.events();
    // port -> (last attempt, consecutive failures)
    let mut model: HashMap<u16, (Instant, u32)> = HashMap::from([(4222, (h.now, 0))]);
    h.drop_transport();
    h.events();
    let mut previous_connect = h.now;
    let mut scheduled = 0;
    for attempt in 0..18u16 {
        let failed_at = h.now;
        let (server, _) = h.advance_to_connect();
        let at = h.now;
        let port = server.port();
        assert_eq!(port, [4223, 4224, 4222][usize::from(attempt % 3)], "round robin");
        match model.get(&port) {
            None => assert_eq!(at, failed_at, "a server never tried is tried at once"),
            Some(&(last, failures)) => {
                let due = last + backoff(failures);
                assert!(at >= due, "{port} after {failures} failures: {:?} early", due - at);
                assert!(
                    at == failed_at || at < due + JITTER,
                    "{port} after {failures} failures: {:?} past the due time",
                    at - due
                );
                if at > failed_at {
                    scheduled += 1;
                }
            }
        }
        assert!(at - previous_connect <= CAP + JITTER, "no gap longer than the cap");
        previous_connect = at;
        let entry = model.entry(port).or_insert((at, 0));
        *entry = (at, entry.1 + 1);
        h.refuse_current();
    }
    assert!(scheduled >= 6, "most attempts had to wait: {scheduled}");
    assert!(model.values().all(|&(_, failures)| backoff(failures) == CAP), "the cap was reached");
}

#[test]
fn max_reconnect_attempts_then_closed_with_no_servers() {
    let options = reconnect_options("127.0.0.1:4222").with_max_reconnect_attempts(Some(3));
    let mut h = Harness::new(options);
    h.connect(info());
    h.drop_transport();
    h.events();
    for _ in 0..3 {
        h.advance_to_connect();
        h.refuse_current();
    }
    assert_eq!(h.events(), [Event::Closed { error: Some(ConnectionError::NoServers) }]);
    assert!(
        matches!(h.conn.last_error(), Some(ConnectionError::Transport(_))),
        "the last attempt's error is kept: {:?}",
        h.conn.last_error()
    );
    assert_eq!(h.conn.state(), State::Closed);
    assert!(h.actions().is_empty());
    assert_eq!(h.conn.poll_timeout(), None, "no more attempts");
    assert_eq!(
        h.conn.publish(&subject("late"), None, None, &Bytes::new()),
        Err(PublishError::Closed),
        "closed for good"
    );
}

#[test]
fn max_reconnect_attempts_count_per_server() {
    let options = reconnect_options("127.0.0.1:4222,127.0.0.1:4223").with_max_reconnect_attempts(Some(2));
    let mut h = Harness::new(options);
    h.connect(info());
    h.drop_transport();
    h.events();
    let mut tried = Vec::new();
    while !h.conn.is_closed() {
        let (server, _) = h.advance_to_connect();
        tried.push(server.port());
        h.refuse_current();
        assert!(tried.len() <= 4, "{tried:?}");
    }
    assert_eq!(tried, [4223, 4222, 4223, 4222]);
    assert_eq!(h.events(), [Event::Closed { error: Some(ConnectionError::NoServers) }]);
}

#[test]
fn allow_reconnect_false_closes_on_the_first_loss() {
    let options = options("127.0.0.1:4222,127.0.0.1:4223").with_allow_reconnect(false);
    let mut h = Harness::new(options);
    h.connect(info());
    let flush = h.conn.flush(h.now, Duration::from_secs(10));
    let request = h
        .conn
        .request(h.now, &subject("svc"), None, &Bytes::new(), Duration::from_secs(10), Expected::Count(1))
        .unwrap();
    h.drop_transport();
    let error = ConnectionError::Transport(TransportError::closed());
    assert_eq!(
        h.events(),
        [
            Event::Disconnected { error: error.clone() },
            Event::Flushed { flush, result: Err(FlushError::Disconnected) },
            Event::RequestEnded { request, outcome: RequestOutcome::Closed, replies: 0 },
            Event::Closed { error: Some(error.clone()) },
        ]
    );
    assert!(h.actions().is_empty(), "no Connect, and the transport is already gone");
    assert_eq!(h.conn.state(), State::Closed);
    assert_eq!(h.conn.last_error(), Some(&error));
    assert_eq!(h.conn.poll_timeout(), None);
    assert_eq!(h.conn.pending_requests(), 0);
    assert_eq!(h.conn.subscribe(subject("x"), None), Err(SubscribeError::Closed));
}

#[test]
fn initial_connect_fails_after_one_pass_without_retry_on_initial_connect() {
    let mut h = Harness::new(reconnect_options("127.0.0.1:4222,127.0.0.1:4223"));
    assert_eq!(h.refuse().port(), 4222);
    assert!(h.events().is_empty());
    assert_eq!(h.refuse().port(), 4223, "the next server at once");
    assert_eq!(h.events(), [Event::Closed { error: Some(ConnectionError::NoServers) }]);
    assert_eq!(h.conn.poll_timeout(), None);
}

#[test]
fn retry_on_initial_connect_keeps_trying_with_backoff() {
    let options = reconnect_options("127.0.0.1:4222").with_retry_on_initial_connect(true);
    let mut h = Harness::new(options);
    h.refuse();
    assert!(h.events().is_empty(), "not closed");
    assert_eq!(h.conn.state(), State::Connecting);
    for failures in 1..4 {
        let (_, waited) = h.advance_to_connect();
        let expected = backoff(failures);
        assert!(waited >= expected && waited < expected + JITTER, "{waited:?}");
        h.refuse_current();
        assert_eq!(h.conn.state(), State::Connecting);
    }
    let server = h.reconnect(info());
    assert_eq!(h.events(), [Event::Connected { server }], "the first connection, not a reconnection");
    assert_eq!(h.conn.statistics().reconnects, 0);
}

#[test]
fn retry_on_initial_connect_respects_max_reconnect_attempts() {
    let options = reconnect_options("127.0.0.1:4222")
        .with_retry_on_initial_connect(true)
        .with_max_reconnect_attempts(Some(3));
    let mut h = Harness::new(options);
    h.refuse();
    h.advance_to_connect();
    h.refuse_current();
    h.advance_to_connect();
    h.refuse_current();
    assert_eq!(h.events(), [Event::Closed { error: Some(ConnectionError::NoServers) }]);
}

#[test]
fn resubscribes_with_remaining_counts_and_buffers_no_sub_or_unsub_while_down() {
    let mut h = Harness::new(reconnect_options("127.0.0.1:4222"));
    h.connect(info());
    let plain = h.conn.subscribe(subject("a"), None).unwrap();
    let limited = h.conn.subscribe(subject("b"), Some(QueueGroup::new("workers").unwrap())).unwrap();
    h.conn.unsubscribe(limited, Some(3));
    let exact = h.conn.subscribe(subject("c"), None).unwrap();
    h.conn.unsubscribe(exact, Some(2));
    let dropped_while_down = h.conn.subscribe(subject("d"), None).unwrap();
    let limited_while_down = h.conn.subscribe(subject("f"), None).unwrap();
    assert_eq!(h.client_ops().len(), 7, "5 SUBs and 2 UNSUBs");
    h.send(&[msg("b", limited, None, b"b1"), msg("c", exact, None, b"c1"), msg("c", exact, None, b"c2")]);
    h.send(&[msg("f", limited_while_down, None, b"f1")]);
    let events = h.events();
    assert_eq!(events.len(), 5, "{events:?}");
    assert_eq!(events[3], Event::SubscriptionEnded { sid: exact }, "the count of c is reached exactly");
    assert!(!h.conn.is_subscribed(exact));

    h.drop_transport();
    h.events();
    // While down, subscribing and unsubscribing only change the table.
    let added_while_down = h.conn.subscribe(subject("e"), None).unwrap();
    assert!(h.conn.unsubscribe(dropped_while_down, None));
    assert!(h.conn.unsubscribe(limited_while_down, Some(5)));
    assert!(!h.conn.unsubscribe(exact, None), "already gone");
    assert!(h.conn.outbound().is_empty(), "nothing buffered for the wire");
    assert_eq!(h.conn.reconnect_buffer_len(), 0, "SUB/UNSUB do not go to the reconnect buffer");
    assert!(!h.conn.is_subscribed(dropped_while_down));

    h.reconnect(info());
    assert!(matches!(h.events().as_slice(), [Event::Reconnected { .. }]));
    assert_eq!(
        h.client_ops(),
        [
            ClientOp::Sub { sid: plain, subject: subject("a"), queue_group: None },
            ClientOp::Sub {
                sid: limited,
                subject: subject("b"),
                queue_group: Some(QueueGroup::new("workers").unwrap())
            },
            ClientOp::Unsub { sid: limited, max: Some(2) },
            ClientOp::Sub { sid: limited_while_down, subject: subject("f"), queue_group: None },
            ClientOp::Unsub { sid: limited_while_down, max: Some(4) },
            ClientOp::Sub { sid: added_while_down, subject: subject("e"), queue_group: None },
        ],
        "no re-SUB for c (count reached) or d (unsubscribed while down), no stray UNSUB"
    );
    // The remaining counts go on from where they were.
    h.send(&[msg("b", limited, None, b"b2"), msg("b", limited, None, b"b3"), msg("c", exact, None, b"late")]);
    let events = h.events();
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(events[2], Event::SubscriptionEnded { sid: limited });
}

#[test]
fn publishes_during_the_reconnect_handshake_follow_the_subscriptions() {
    let mut h = Harness::new(reconnect_options("127.0.0.1:4222"));
    h.connect(info());
    let sid = h.conn.subscribe(subject("s"), None).unwrap();
    h.client_ops();
    h.drop_transport();
    h.conn.publish(&subject("p"), None, None, &Bytes::from_static(b"down")).unwrap();
    let (server, _) = h.advance_to_connect();
    h.accept(server);
    h.send(&[harness::info_op(info())]);
    h.expect_connect_ping();
    h.conn.publish(&subject("p"), None, None, &Bytes::from_static(b"handshaking")).unwrap();
    assert_eq!(
        h.client_ops(),
        [ClientOp::Sub { sid, subject: subject("s"), queue_group: None }],
        "the subscription went with CONNECT; no publish before the handshake completes"
    );
    h.send(&[ServerOp::Pong]);
    assert_eq!(h.client_ops(), [pub_op("p", b"down"), pub_op("p", b"handshaking")]);
}

/// The subscriptions go between CONNECT and the handshake's PING, so the server has
/// them when it answers: once `Reconnected` is reported, a message published anywhere
/// reaches them. Until the PONG, their messages are delivered, a refused SUB is reported
/// without failing the attempt, and SUB and UNSUB go out as they happen.
#[test]
fn subscriptions_are_live_at_the_server_when_reconnected_is_reported() {
    let mut h = Harness::new(reconnect_options("127.0.0.1:4222"));
    h.connect(info());
    let kept = h.conn.subscribe(subject("kept"), None).unwrap();
    let denied = h.conn.subscribe(subject("denied"), None).unwrap();
    h.client_ops();
    h.drop_transport();
    h.events();
    let (server, _) = h.advance_to_connect();
    h.accept(server);
    h.send(&[harness::info_op(info())]);
    let ops = h.client_ops();
    assert!(matches!(ops.first(), Some(ClientOp::Connect(_))), "{ops:?}");
    assert_eq!(
        ops[1..],
        [
            ClientOp::Sub { sid: kept, subject: subject("kept"), queue_group: None },
            ClientOp::Sub { sid: denied, subject: subject("denied"), queue_group: None },
            ClientOp::Ping,
        ]
    );
    h.send(&[msg("kept", kept, None, b"early")]);
    let error = ServerError::new("Permissions Violation for Subscription to \"denied\"");
    h.send(&[ServerOp::Err(error.clone())]);
    assert_eq!(h.conn.state(), State::Reconnecting, "still handshaking");
    let late = h.conn.subscribe(subject("late"), None).unwrap();
    assert!(h.conn.unsubscribe(denied, None));
    assert_eq!(
        h.client_ops(),
        [
            ClientOp::Sub { sid: late, subject: subject("late"), queue_group: None },
            ClientOp::Unsub { sid: denied, max: None }
        ]
    );
    h.send(&[ServerOp::Pong]);
    let events = h.events();
    assert!(
        matches!(events.as_slice(), [Event::Message(m), Event::ServerError(e), Event::Reconnected { .. }] if m.payload == "early" && *e == error),
        "{events:?}"
    );
    assert!(h.client_ops().is_empty(), "nothing sent twice");
}

#[test]
fn reconnect_buffer_accepts_up_to_its_size_then_refuses() {
    let frame = pub_frame_len("buf.0", 10);
    let limit = 5 * frame;
    let options = reconnect_options("127.0.0.1:4222").with_reconnect_buffer_size(limit);
    let mut h = Harness::new(options);
    h.connect(info());
    h.drop_transport();
    let payloads: Vec<Bytes> = (0..5).map(|i| Bytes::from(format!("payload-{i}."))).collect();
    for (i, payload) in payloads.iter().enumerate() {
        assert_eq!(payload.len(), 10);
        h.conn.publish(&subject(&format!("buf.{i}")), None, None, payload).unwrap_or_else(|e| {
            panic!("publish {i} of {} bytes into {limit}: {e}", (i + 1) * frame);
        });
    }
    assert_eq!(h.conn.reconnect_buffer_len(), limit, "exactly full");
    assert_eq!(
        h.conn.publish(&subject("buf.5"), None, None, &Bytes::from_static(b"payload-5.")),
        Err(PublishError::ReconnectBufferFull { limit })
    );
    assert_eq!(
        h.conn.publish(&subject("x"), None, None, &Bytes::new()),
        Err(PublishError::ReconnectBufferFull { limit }),
        "even an empty message"
    );
    assert_eq!(h.conn.reconnect_buffer_len(), limit, "refused publishes leave no trace");
    assert_eq!(h.conn.statistics().out_msgs, 5);

    h.reconnect(info());
    assert_eq!(published(&h.client_ops()), payloads, "every accepted publish, in order");
    assert_eq!(h.conn.reconnect_buffer_len(), 0);

    // The buffer is free again for the next loss.
    h.drop_transport();
    h.conn.publish(&subject("buf.6"), None, None, &Bytes::from_static(b"payload-6.")).unwrap();
    assert_eq!(h.conn.reconnect_buffer_len(), frame);
}

#[test]
fn unwritten_publishes_are_carried_and_a_partly_written_one_is_not_duplicated() {
    let mut h = Harness::new(reconnect_options("127.0.0.1:4222"));
    h.connect(info());
    let payloads: [&'static [u8]; 4] = [b"message-1", b"message-2", b"message-3", b"message-4"];
    for payload in payloads {
        h.conn.publish(&subject("carry"), None, None, &Bytes::from_static(payload)).unwrap();
    }
    let frame = pub_frame_len("carry", 9);
    assert_eq!(h.conn.outbound().len(), 4 * frame);
    h.write_partially(frame + 4);
    assert_eq!(h.received_ops(), [pub_op("carry", b"message-1")], "the old server got the first");
    h.drop_transport();
    assert!(matches!(h.events().as_slice(), [Event::Disconnected { .. }]));
    assert_eq!(h.conn.reconnect_buffer_len(), 2 * frame, "the two untouched publishes are kept");
    h.conn.publish(&subject("carry"), None, None, &Bytes::from_static(b"message-5")).unwrap();

    h.reconnect(info());
    assert_eq!(
        h.client_ops(),
        [pub_op("carry", b"message-3"), pub_op("carry", b"message-4"), pub_op("carry", b"message-5")],
        "message-2 went partly to the old server and is not sent again"
    );
}

#[test]
fn publishes_written_up_to_a_frame_boundary_are_carried_whole() {
    let mut h = Harness::new(reconnect_options("127.0.0.1:4222"));
    h.connect(info());
    for payload in [&b"one"[..], b"two", b"six"] {
        h.conn.publish(&subject("edge"), None, None, &Bytes::from_static(payload)).unwrap();
    }
    h.write_partially(pub_frame_len("edge", 3));
    h.drop_transport();
    h.reconnect(info());
    assert_eq!(h.client_ops(), [pub_op("edge", b"two"), pub_op("edge", b"six")]);
}

#[test]
fn carried_publishes_survive_a_failed_reconnect_attempt() {
    let mut h = Harness::new(reconnect_options("127.0.0.1:4222"));
    h.connect(info());
    h.conn.publish(&subject("keep"), None, None, &Bytes::from_static(b"kept")).unwrap();
    h.drop_transport();
    assert!(matches!(h.events().as_slice(), [Event::Disconnected { .. }]));
    // One attempt dies mid-handshake.
    let (server, _) = h.advance_to_connect();
    h.accept(server);
    h.send(&[harness::info_op(info())]);
    h.client_ops();
    h.drop_transport();
    assert!(h.events().is_empty());
    h.reconnect(info());
    assert_eq!(h.client_ops(), [pub_op("keep", b"kept")]);
    assert_eq!(h.conn.statistics().reconnects, 1);
    assert!(h.actions().is_empty());
}

#[test]
fn a_long_lived_connection_is_retried_at_once() {
    let mut h = Harness::new(reconnect_options("127.0.0.1:4222"));
    h.connect(info());
    h.sleep(Duration::from_secs(60));
    h.drop_transport();
    h.events();
    match h.actions().as_slice() {
        [Action::Connect(_, server)] => assert_eq!(server.port(), 4222),
        other => panic!("the last attempt was a minute ago: no wait, got {other:?}"),
    }
}

#[test]
fn reports_about_a_transport_that_is_no_longer_current_change_nothing() {
    let mut h = Harness::new(options("127.0.0.1:4222,127.0.0.1:4223"));
    h.connect(info());
    let old = h.transport();
    let sid = h.conn.subscribe(subject("a"), None).unwrap();
    h.client_ops();
    // The server goes stale for us: the connection gives the transport up and moves on.
    h.send(&[harness::err("Stale Connection")]);
    h.events();
    let actions = h.actions();
    let [Action::CloseTransport(closed), Action::Connect(new, _)] = actions.as_slice() else {
        panic!("{actions:?}")
    };
    assert_eq!(*closed, old);
    assert_ne!(*new, old);
    let state = h.conn.state();
    let timeout = h.conn.poll_timeout();

    // Everything the caller might still say about the old transport: bytes, its end, a
    // late connect or TLS report.
    h.conn.handle_input(h.now, old, b"MSG a 1 2\r\nhi\r\nPING\r\n");
    h.conn.receive_buffer().extend_from_slice(b"MSG a 1 2\r\nhi\r\n");
    h.conn.handle_received(h.now, old);
    h.conn.handle_tls_established(h.now, old);
    h.conn.handle_disconnected(h.now, old, TransportError::closed());
    assert!(h.events().is_empty(), "no message, no disconnect");
    assert!(h.actions().is_empty());
    assert!(h.conn.outbound().is_empty(), "no PONG for the old transport's PING");
    assert_eq!((h.conn.state(), h.conn.poll_timeout()), (state, timeout));
    // A late `connected` for it is answered with a close, and nothing else.
    h.conn.handle_connected(h.now, old);
    assert_eq!(h.actions(), [Action::CloseTransport(old)]);
    assert_eq!((h.conn.state(), h.conn.poll_timeout()), (state, timeout));

    // The new transport carries on: the attempt was not failed by the old one's end.
    h.accept(ServerAddr::new("127.0.0.1", 4223, false));
    h.send(&[harness::info_op(info())]);
    h.expect_connect_ping();
    h.send(&[ServerOp::Pong]);
    assert!(matches!(h.events().as_slice(), [Event::Reconnected { .. }]));
    assert!(h.conn.is_subscribed(sid));
}

#[test]
fn giving_up_a_transport_still_connecting_asks_to_close_it() {
    let mut h = Harness::new(options("127.0.0.1:4222,127.0.0.1:4223"));
    h.expect_connect();
    let first = h.transport();
    // The connect takes longer than connect_timeout: the attempt moves on, and the caller
    // is told to abandon the connect in flight.
    h.advance();
    let actions = h.actions();
    assert!(
        matches!(actions.as_slice(), [Action::CloseTransport(t), Action::Connect(_, s)] if *t == first && s.port() == 4223),
        "{actions:?}"
    );
    h.conn.close();
    let second = h.transport();
    assert_eq!(h.actions(), [Action::CloseTransport(second)], "closing abandons the connect in flight");
}

#[test]
fn force_reconnect_closes_the_transport_and_reconnects_at_once_keeping_everything() {
    let mut h = Harness::new(reconnect_options("127.0.0.1:4222"));
    h.connect(info());
    let sid = h.conn.subscribe(subject("orders.>"), None).unwrap();
    h.client_ops();
    h.conn.publish(&subject("carry"), None, None, &Bytes::from_static(b"unwritten")).unwrap();
    let old = h.transport();
    // Connected a moment ago: a lost connection would wait `reconnect_wait`; a forced
    // reconnect does not.
    assert!(h.conn.force_reconnect(h.now));
    assert_eq!(h.events(), [Event::Disconnected { error: ConnectionError::ForcedReconnect }]);
    assert_eq!(h.conn.reconnect_buffer_len(), pub_frame_len("carry", 9), "the unwritten publish is kept");
    let server = match h.actions().as_slice() {
        [Action::CloseTransport(closed), Action::Connect(new, server)] => {
            assert_eq!(*closed, old);
            assert_ne!(*new, old);
            server.clone()
        }
        other => panic!("close the old transport, then connect at once: {other:?}"),
    };
    assert_eq!(server.port(), 4222);
    h.handshake_with(server.clone(), info());
    assert_eq!(h.events(), [Event::Reconnected { server }]);
    assert_eq!(
        h.client_ops(),
        [
            ClientOp::Sub { sid, subject: subject("orders.>"), queue_group: None },
            pub_op("carry", b"unwritten")
        ]
    );
    assert_eq!(h.conn.statistics().reconnects, 1);
    assert_eq!(h.conn.state(), State::Connected);
}

#[test]
fn force_reconnect_moves_to_the_next_server_of_the_pool() {
    let mut h = Harness::new(reconnect_options("127.0.0.1:4222,127.0.0.1:4223"));
    h.connect(info());
    assert!(h.conn.force_reconnect(h.now));
    h.events();
    match h.actions().as_slice() {
        [Action::CloseTransport(_), Action::Connect(_, server)] => assert_eq!(server.port(), 4223),
        other => panic!("{other:?}"),
    }
}

#[test]
fn force_reconnect_when_not_connected_does_nothing() {
    let mut h = Harness::new(reconnect_options("127.0.0.1:4222"));
    // Still connecting.
    h.expect_connect();
    assert!(!h.conn.force_reconnect(h.now));
    assert!(h.events().is_empty() && h.actions().is_empty());
    // Reconnects disabled.
    let mut h = Harness::new(reconnect_options("127.0.0.1:4222").with_allow_reconnect(false));
    h.connect(info());
    assert!(!h.conn.force_reconnect(h.now));
    assert!(h.events().is_empty() && h.actions().is_empty());
    assert_eq!(h.conn.state(), State::Connected);
    // Closed.
    h.conn.close();
    h.events();
    h.actions();
    assert!(!h.conn.force_reconnect(h.now));
    assert!(h.events().is_empty() && h.actions().is_empty());
}

#[test]
fn reconnect_delay_callback_replaces_the_backoff_and_jitter() {
    use std::sync::{Arc, Mutex};
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    // The built-in policy would wait 10 s and more, with up to 5 s of jitter.
    let mut h = Harness::new(
        reconnect_options("127.0.0.1:4222")
            .with_reconnect_wait(Duration::from_secs(10))
            .with_reconnect_backoff_max(Duration::from_secs(20))
            .with_reconnect_jitter(Duration::from_secs(5))
            .with_reconnect_delay_callback(Some(nats_proto::ReconnectDelay::new(move |failures| {
                record.lock().unwrap().push(failures);
                Duration::from_millis(500 + 1000 * u64::from(failures))
            }))),
    );
    h.connect(info());
    h.drop_transport();
    h.events();
    let mut waits = Vec::new();
    for _ in 0..3 {
        let (_, waited) = h.advance_to_connect();
        waits.push(waited);
        h.refuse_current();
    }
    assert_eq!(
        waits,
        [Duration::from_millis(500), Duration::from_millis(1500), Duration::from_millis(2500)],
        "exactly the callback's delays, no jitter"
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(&seen[..3], [0, 1, 2], "consecutive failures of the server: {seen:?}");
}

/// A writer that takes bytes (`take_outbound`) and then finds its transport broken gives
/// back what it could not write (`handle_unwritten`): the publishes that had not started
/// on the wire go out after the reconnect; one partly written is lost, as bytes in the
/// kernel's buffer are.
#[test]
fn publishes_taken_but_not_written_are_carried_over_a_reconnect() {
    for accepted in [0, 3] {
        let mut h = Harness::new(reconnect_options("127.0.0.1:4222"));
        h.connect(info());
        h.client_ops();
        for (name, payload) in [("a", &b"first"[..]), ("b", &b"second"[..]), ("c", &b"third"[..])] {
            h.conn.publish(&subject(name), None, None, &Bytes::from_static(payload)).unwrap();
        }
        // One batch in small chunks, frames split across them.
        let mut taken = Vec::new();
        while let Some(chunk) = h.conn.take_outbound(7) {
            taken.push(chunk);
        }
        // The transport took `accepted` bytes, then failed.
        let mut unwritten: Vec<Bytes> = taken;
        unwritten[0] = unwritten[0].slice(accepted..);
        h.conn.handle_unwritten(h.transport(), unwritten);
        h.drop_transport();
        h.conn.publish(&subject("d"), None, None, &Bytes::from_static(b"down")).unwrap();
        h.reconnect(info());
        let expected: &[ClientOp] = if accepted == 0 {
            &[pub_op("a", b"first"), pub_op("b", b"second"), pub_op("c", b"third"), pub_op("d", b"down")]
        } else {
            &[pub_op("b", b"second"), pub_op("c", b"third"), pub_op("d", b"down")]
        };
        assert_eq!(h.client_ops(), expected, "{accepted} bytes accepted");
    }
}

/// What was given back must have been taken from the current transport: more than that,
/// or for another transport, changes nothing.
#[test]
fn unwritten_bytes_that_were_not_taken_are_ignored() {
    let mut h = Harness::new(reconnect_options("127.0.0.1:4222"));
    h.connect(info());
    h.client_ops();
    h.conn.publish(&subject("a"), None, None, &Bytes::from_static(b"x")).unwrap();
    let taken = h.conn.take_outbound(usize::MAX).expect("the publish");
    let too_much = vec![Bytes::from_static(&[b'z'; 4096])];
    h.conn.handle_unwritten(h.transport(), too_much);
    assert!(h.conn.outbound().is_empty(), "nothing restored");
    drop(taken);
    h.drop_transport();
    h.reconnect(info());
    assert!(h.client_ops().is_empty(), "the publish counted as written is not sent again");
}
