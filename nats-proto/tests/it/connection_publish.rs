//! Publish checks made before anything is queued: the server's `max_payload` (headers
//! counted), wildcard subjects, header support.

use crate::harness;

use bytes::Bytes;
use harness::{info, info_op, info_with, options, Harness};
use nats_proto::{
    ClientOp, Event, Expected, HeaderMap, HeaderName, HeaderValue, Pub, PublishError, SubjectError,
};

fn subject(s: &str) -> nats_proto::Subject {
    harness::subject(s)
}

fn headers(value_len: usize) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(HeaderName::new("Trace").unwrap(), HeaderValue::new("v".repeat(value_len)).unwrap());
    headers
}

fn connected_with_max_payload(max_payload: u64) -> Harness {
    let mut h = Harness::new(options("127.0.0.1:4222"));
    h.connect(info_with(|i| i.max_payload = max_payload));
    h
}

#[test]
fn max_payload_from_info_is_enforced_before_queueing() {
    let mut h = connected_with_max_payload(100);
    assert_eq!(h.conn.max_payload(), Some(100));
    h.conn.publish(&subject("a"), None, None, &Bytes::from(vec![b'x'; 100])).expect("exactly max_payload");
    assert_eq!(h.client_ops().len(), 1);
    let stats = h.conn.statistics();
    assert_eq!(
        h.conn.publish(&subject("a"), None, None, &Bytes::from(vec![b'x'; 101])),
        Err(PublishError::MaxPayloadExceeded { size: 101, max_payload: 100 })
    );
    assert!(h.conn.outbound().is_empty(), "nothing queued");
    assert_eq!(h.conn.statistics(), stats, "nothing counted");
}

#[test]
fn max_payload_counts_the_headers() {
    let mut h = connected_with_max_payload(100);
    let headers = headers(20);
    let header_len = headers.encoded_len();
    assert!(header_len > 20);
    let fits = Bytes::from(vec![b'x'; 100 - header_len]);
    h.conn.publish(&subject("a"), None, Some(&headers), &fits).expect("headers + payload == max_payload");
    match h.client_ops().as_slice() {
        [ClientOp::Pub(Pub { headers: Some(sent), payload, .. })] => {
            assert_eq!(**sent, headers);
            assert_eq!(payload, &fits);
        }
        other => panic!("{other:?}"),
    }
    let too_big = Bytes::from(vec![b'x'; 101 - header_len]);
    assert_eq!(
        h.conn.publish(&subject("a"), None, Some(&headers), &too_big),
        Err(PublishError::MaxPayloadExceeded { size: 101, max_payload: 100 }),
        "the payload alone would fit"
    );
    assert!(h.conn.outbound().is_empty());
}

#[test]
fn max_payload_applies_to_requests_and_leaves_no_request_behind() {
    let mut h = connected_with_max_payload(10);
    let result = h.conn.request(
        h.now,
        &subject("svc"),
        None,
        &Bytes::from_static(b"eleven byte"),
        std::time::Duration::from_secs(1),
        Expected::Count(1),
    );
    assert_eq!(result, Err(PublishError::MaxPayloadExceeded { size: 11, max_payload: 10 }));
    assert_eq!(h.conn.pending_requests(), 0);
    assert!(h.client_ops().iter().all(|op| !matches!(op, ClientOp::Pub(_))), "no PUB");
}

#[test]
fn a_new_info_changes_max_payload() {
    let mut h = connected_with_max_payload(100);
    h.send(&[info_op(info_with(|i| i.max_payload = 50))]);
    assert!(matches!(h.events().as_slice(), [Event::ServerInfo(i)] if i.max_payload == 50));
    assert_eq!(h.conn.max_payload(), Some(50));
    assert_eq!(
        h.conn.publish(&subject("a"), None, None, &Bytes::from(vec![0; 51])),
        Err(PublishError::MaxPayloadExceeded { size: 51, max_payload: 50 })
    );
    h.conn.publish(&subject("a"), None, None, &Bytes::from(vec![0; 50])).unwrap();
}

#[test]
fn max_payload_still_applies_while_disconnected() {
    let mut h = connected_with_max_payload(100);
    h.drop_transport();
    assert_eq!(
        h.conn.publish(&subject("a"), None, None, &Bytes::from(vec![0; 101])),
        Err(PublishError::MaxPayloadExceeded { size: 101, max_payload: 100 })
    );
    assert_eq!(h.conn.reconnect_buffer_len(), 0);
}

#[test]
fn publish_to_a_wildcard_subject_is_refused() {
    let mut h = Harness::new(options("127.0.0.1:4222"));
    h.connect(info());
    for filter in ["foo.*", "foo.>", "*", ">", "a.*.c"] {
        assert_eq!(
            h.conn.publish(&subject(filter), None, None, &Bytes::from_static(b"x")),
            Err(PublishError::InvalidSubject(SubjectError::WildcardInPublish)),
            "{filter}"
        );
        let request = h.conn.request(
            h.now,
            &subject(filter),
            None,
            &Bytes::new(),
            std::time::Duration::from_secs(1),
            Expected::Count(1),
        );
        assert_eq!(request, Err(PublishError::InvalidSubject(SubjectError::WildcardInPublish)), "{filter}");
    }
    assert!(h.conn.outbound().is_empty());
    assert_eq!(h.conn.statistics().out_msgs, 0);
    assert_eq!(h.conn.pending_requests(), 0);
    // Inside a token `*` and `>` are ordinary characters.
    h.conn.publish(&subject("foo*.b>r"), None, None, &Bytes::from_static(b"x")).unwrap();
    assert_eq!(h.client_ops(), [harness::pub_op("foo*.b>r", b"x")]);
}

#[test]
fn headers_are_refused_when_the_server_has_none() {
    let mut h = Harness::new(options("127.0.0.1:4222"));
    let connect = h.handshake(info_with(|i| i.headers = false));
    assert!(!connect.headers && !connect.no_responders, "no_responders needs headers");
    h.client_ops();
    assert_eq!(
        h.conn.publish(&subject("a"), None, Some(&headers(1)), &Bytes::new()),
        Err(PublishError::HeadersNotSupported)
    );
    assert!(h.conn.outbound().is_empty());
}

#[test]
fn headers_and_reply_while_disconnected_are_buffered_exactly() {
    let mut h = Harness::new(options("127.0.0.1:4222"));
    h.connect(info());
    h.drop_transport();
    let headers = headers(5);
    let reply = subject("reply.to");
    let payload = Bytes::from_static(b"with headers");
    h.conn.publish(&subject("h.pub"), Some(&reply), Some(&headers), &payload).unwrap();
    let header_len = headers.encoded_len();
    let total = header_len + payload.len();
    let frame = format!("HPUB h.pub reply.to {header_len} {total}\r\n").len() + total + 2;
    assert_eq!(h.conn.reconnect_buffer_len(), frame);
    h.reconnect(info());
    assert_eq!(
        h.client_ops(),
        [ClientOp::Pub(Pub {
            subject: subject("h.pub"),
            reply: Some(reply),
            headers: Some(Box::new(headers)),
            payload
        })]
    );
}
