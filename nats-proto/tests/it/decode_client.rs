//! Byte-literal tests of the client-op decoder (the side test servers use). Every fixture
//! is decoded whole, byte by byte and split at every offset.

use crate::common;

use common::{client_error, client_ops, one_client_op, show};
use nats_proto::{ClientOp, DecodeError, HeaderError, Pub, QueueGroupError, Sid};

fn publish(op: ClientOp) -> Pub {
    match op {
        ClientOp::Pub(p) => p,
        other => panic!("expected a publish, got {other:?}"),
    }
}

#[test]
fn connect() {
    let input = br#"CONNECT {"verbose":false,"pedantic":false,"tls_required":false,"name":"svc","lang":"go","version":"1.2.2","protocol":1,"user":"u","pass":"p","headers":true,"no_responders":true}"#;
    let ClientOp::Connect(info) = one_client_op(&[&input[..], b"\r\n"].concat()) else { panic!() };
    assert_eq!(info.name.as_deref(), Some("svc"));
    assert_eq!(info.pass.as_ref().unwrap().expose(), "p");
    assert!(info.headers && info.no_responders && !info.verbose);
}

#[test]
fn connect_with_invalid_json() {
    for input in [&b"CONNECT {\r\n"[..], b"CONNECT\r\n", b"CONNECT []\r\n", b"CONNECT {\"verbose\":3}\r\n"] {
        assert!(matches!(client_error(input), DecodeError::InvalidConnect(_)), "{:?}", show(input));
    }
}

#[test]
fn pub_with_and_without_reply_leading_zeros_and_lf_only() {
    let (ops, error) = client_ops(b"PUB foo 5\r\nhello\r\npub foo\tINBOX.1   005\nworld\r\nPUB e 0\r\n\r\n");
    assert_eq!(error, None);
    let pubs: Vec<_> = ops.into_iter().map(publish).collect();
    assert_eq!(pubs[0].subject, "foo");
    assert_eq!(pubs[0].reply, None);
    assert_eq!(&pubs[0].payload[..], b"hello");
    assert_eq!(pubs[1].reply.as_ref().unwrap(), "INBOX.1");
    assert_eq!(&pubs[1].payload[..], b"world");
    assert!(pubs[2].payload.is_empty());
}

#[test]
fn hpub() {
    let p = publish(one_client_op(b"HPUB foo r 24 29\r\nNATS/1.0\r\nA: b\r\nA: c\r\n\r\nhello\r\n"));
    let headers = p.headers.unwrap();
    assert_eq!(headers.get_all("A").map(|v| v.as_str()).collect::<Vec<_>>(), ["b", "c"]);
    assert_eq!(&p.payload[..], b"hello");
}

#[test]
fn hpub_with_malformed_headers_is_an_error_on_this_side() {
    assert_eq!(
        client_error(b"HPUB foo 15 15\r\nNATS/1.0\r\nA\r\n\r\n\r\n"),
        DecodeError::InvalidHeaders(HeaderError::MissingColon)
    );
}

#[test]
fn sub_and_unsub() {
    let (ops, error) = client_ops(b"SUB foo.* 1\r\nSUB foo.> workers 2\r\nUNSUB 1\r\nunsub 2 10\r\n");
    assert_eq!(error, None);
    assert!(
        matches!(&ops[0], ClientOp::Sub { sid: Sid(1), subject, queue_group: None } if subject == "foo.*")
    );
    assert!(
        matches!(&ops[1], ClientOp::Sub { sid: Sid(2), queue_group: Some(q), .. } if q.as_str() == "workers")
    );
    assert_eq!(ops[2], ClientOp::Unsub { sid: Sid(1), max: None });
    assert_eq!(ops[3], ClientOp::Unsub { sid: Sid(2), max: Some(10) });
}

#[test]
fn ping_and_pong() {
    assert_eq!(client_ops(b"PING\r\nPONG\r\n"), (vec![ClientOp::Ping, ClientOp::Pong], None));
}

#[test]
fn malformed_client_ops() {
    let cases: &[(&[u8], DecodeError)] = &[
        (b"PUB foo\r\n", DecodeError::MissingArguments { op: "PUB" }),
        (b"PUB foo a b 5\r\n", DecodeError::TooManyArguments { op: "PUB" }),
        (b"PUB foo -5\r\n", DecodeError::InvalidSize { op: "PUB" }),
        (b"PUB foo 2\r\nabc\r\n", DecodeError::MissingPayloadTerminator),
        (b"HPUB foo 5\r\n", DecodeError::MissingArguments { op: "HPUB" }),
        (b"HPUB foo 9 5\r\n", DecodeError::HeaderLenExceedsTotal { header_len: 9, total_len: 5 }),
        (b"SUB foo\r\n", DecodeError::MissingArguments { op: "SUB" }),
        (b"SUB foo q 1 2\r\n", DecodeError::TooManyArguments { op: "SUB" }),
        (b"SUB foo x\r\n", DecodeError::InvalidNumber { op: "SUB" }),
        (b"SUB foo q\x01 1\r\n", DecodeError::InvalidQueueGroup(QueueGroupError::InvalidCharacter(1))),
        (b"UNSUB\r\n", DecodeError::MissingArguments { op: "UNSUB" }),
        (b"UNSUB 1 2 3\r\n", DecodeError::TooManyArguments { op: "UNSUB" }),
        (b"UNSUB 1 -2\r\n", DecodeError::InvalidNumber { op: "UNSUB" }),
    ];
    for (input, expected) in cases {
        assert_eq!(&client_error(input), expected, "{:?}", show(input));
    }
    for input in [&b"MSG a 1 0\r\n"[..], b"INFO {}\r\n", b"+OK\r\n", b"-ERR 'x'\r\n", b"SUBX a 1\r\n"] {
        assert!(matches!(client_error(input), DecodeError::UnknownOperation { .. }), "{:?}", show(input));
    }
}
