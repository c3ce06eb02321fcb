//! Byte-literal tests of the encoders, in both directions.

use bytes::{Buf, Bytes};
use nats_proto::{
    ClientOp, ConnectInfo, HeaderMap, HeaderName, HeaderValue, Msg, OutBuffer, Pub, QueueGroup, ServerError,
    ServerOp, Sid, StatusCode, Subject,
};

fn subject(s: &str) -> Subject {
    Subject::new(s).unwrap()
}

fn client(op: ClientOp) -> String {
    let mut out = OutBuffer::new();
    out.write_client_op(&op);
    String::from_utf8(out.to_vec()).unwrap()
}

fn server(op: ServerOp) -> String {
    let mut out = OutBuffer::new();
    out.write_server_op(&op);
    String::from_utf8(out.to_vec()).unwrap()
}

fn headers() -> HeaderMap {
    let mut map = HeaderMap::new();
    map.append(HeaderName::new("A").unwrap(), HeaderValue::new("b").unwrap());
    map
}

#[test]
fn client_ops() {
    let publish = |reply: Option<&str>, headers: Option<HeaderMap>, payload: &'static [u8]| {
        ClientOp::Pub(Pub {
            subject: subject("foo.bar"),
            reply: reply.map(subject),
            headers: headers.map(Box::new),
            payload: Bytes::from_static(payload),
        })
    };
    assert_eq!(client(publish(None, None, b"hello")), "PUB foo.bar 5\r\nhello\r\n");
    assert_eq!(client(publish(Some("INBOX.1"), None, b"")), "PUB foo.bar INBOX.1 0\r\n\r\n");
    assert_eq!(
        client(publish(None, Some(headers()), b"hi")),
        "HPUB foo.bar 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\n"
    );
    assert_eq!(
        client(publish(Some("r"), Some(HeaderMap::new()), b"x")),
        "HPUB foo.bar r 12 13\r\nNATS/1.0\r\n\r\nx\r\n"
    );
    assert_eq!(
        client(ClientOp::Sub { sid: Sid(7), subject: subject("foo.*"), queue_group: None }),
        "SUB foo.* 7\r\n"
    );
    assert_eq!(
        client(ClientOp::Sub {
            sid: Sid(u64::MAX),
            subject: subject("a.>"),
            queue_group: Some(QueueGroup::new("q").unwrap())
        }),
        "SUB a.> q 18446744073709551615\r\n"
    );
    assert_eq!(client(ClientOp::Unsub { sid: Sid(7), max: None }), "UNSUB 7\r\n");
    assert_eq!(client(ClientOp::Unsub { sid: Sid(7), max: Some(0) }), "UNSUB 7 0\r\n");
    assert_eq!(client(ClientOp::Ping), "PING\r\n");
    assert_eq!(client(ClientOp::Pong), "PONG\r\n");
}

#[test]
fn connect_is_one_json_line() {
    let line = client(ClientOp::Connect(Box::default()));
    assert!(line.starts_with("CONNECT {\"verbose\":false,\"pedantic\":false,"), "{line}");
    assert!(line.ends_with("}\r\n") && line.matches('\n').count() == 1, "{line}");
    let json: serde_json::Value = serde_json::from_str(&line["CONNECT ".len()..]).unwrap();
    assert_eq!(json["protocol"], 1);
    assert_eq!(json["lang"], "rust");
    assert_eq!(json["headers"], true);
    assert_eq!(ConnectInfo::default().protocol, 1);
}

#[test]
fn server_ops() {
    let msg = |reply: Option<&str>, headers: Option<HeaderMap>| {
        ServerOp::Msg({
            let mut value = Msg::new(subject("a.b"), Sid(3), Bytes::from_static(b"data"));
            value.reply = reply.map(subject);
            value.headers = headers.map(Box::new);
            value
        })
    };
    assert_eq!(server(msg(None, None)), "MSG a.b 3 4\r\ndata\r\n");
    assert_eq!(server(msg(Some("r.1"), None)), "MSG a.b 3 r.1 4\r\ndata\r\n");
    let mut status = HeaderMap::new();
    status.set_status(Some((StatusCode::NO_RESPONDERS, None)));
    assert_eq!(server(msg(None, Some(status))), "HMSG a.b 3 16 20\r\nNATS/1.0 503\r\n\r\ndata\r\n");
    assert_eq!(server(ServerOp::Ping), "PING\r\n");
    assert_eq!(server(ServerOp::Pong), "PONG\r\n");
    assert_eq!(server(ServerOp::Ok), "+OK\r\n");
    assert_eq!(server(ServerOp::Err(ServerError::new("Stale Connection"))), "-ERR 'Stale Connection'\r\n");
    assert_eq!(
        server(ServerOp::Err(ServerError::new("a\r\nb"))),
        "-ERR 'a  b'\r\n",
        "line breaks are neutralised"
    );
    let info = server(ServerOp::Info(Box::default()));
    assert!(info.starts_with("INFO {") && info.ends_with("} \r\n"), "{info}");
}

#[test]
fn large_payloads_become_their_own_chunk() {
    let payload = Bytes::from(vec![b'x'; 64 * 1024]);
    let mut out = OutBuffer::new();
    out.write_pub(&subject("big"), None, None, &payload);
    out.write_ping();
    assert_eq!(out.chunk_count(), 3, "control line, payload, trailer");
    let mut slices = [std::io::IoSlice::new(&[]); 4];
    assert_eq!(out.chunks_vectored(&mut slices), 3);
    assert_eq!(slices[1].as_ptr(), payload.as_ptr(), "the payload was copied");
    assert_eq!(&*slices[0], b"PUB big 65536\r\n");
    assert_eq!(&*slices[2], b"\r\nPING\r\n");
}
