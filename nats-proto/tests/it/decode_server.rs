//! Byte-literal tests of the server-op decoder. Every fixture is decoded whole, byte by
//! byte and split at every offset (see `common`), and all ways must agree.

use crate::common;

use bytes::{Bytes, BytesMut};
use common::{one_server_op, server_error, server_ops, server_ops_with, show};
use nats_proto::{
    DecodeError, DecoderLimits, HeaderError, Msg, PermissionOperation, ServerDecoder, ServerErrorKind,
    ServerOp, Sid, StatusCode, Undeliverable,
};

fn msg(op: ServerOp) -> Msg {
    match op {
        ServerOp::Msg(msg) => msg,
        other => panic!("expected a message, got {other:?}"),
    }
}

#[test]
fn info_from_nats_server_2_9_10() {
    let line = br#"INFO {"server_id":"NCXM","server_name":"NCXM","version":"2.9.10","proto":1,"go":"go1.19.8","host":"127.0.0.1","port":4222,"headers":true,"max_payload":1048576,"client_id":3,"client_ip":"127.0.0.1"} "#;
    let input = [&line[..], b"\r\n"].concat();
    let ServerOp::Info(info) = one_server_op(&input) else { panic!("not INFO") };
    assert_eq!(info.version, "2.9.10");
    assert_eq!(info.max_payload, 1_048_576);
    assert_eq!(info.client_id, 3);
    assert!(info.headers);
}

#[test]
fn info_with_nulls_unknown_fields_and_cluster_urls() {
    let input = b"info {\"connect_urls\":[\"127.0.0.1:4223\",\"[::1]:4224\"],\"nonce\":null,\"ldm\":true,\"new\":{\"a\":[]}}\n";
    let ServerOp::Info(info) = one_server_op(input) else { panic!("not INFO") };
    assert_eq!(info.connect_urls, ["127.0.0.1:4223", "[::1]:4224"]);
    assert!(info.ldm);
    assert_eq!(info.nonce, None);
}

#[test]
fn info_with_invalid_json() {
    for input in [
        &b"INFO {\"port\":\r\n"[..],
        b"INFO [1]\r\n",
        b"INFO\r\n",
        b"INFO {\"port\":\"x\"}\r\n",
        b"INFO {} {}\r\n",
    ] {
        assert!(matches!(server_error(input), DecodeError::InvalidInfo(_)), "{:?}", show(input));
    }
}

#[test]
fn ping_pong_ok_in_any_case_with_trailing_bytes() {
    let input = b"PING\r\nping\r\nPiNg\nPONG\r\npong  \r\n+OK\r\n+ok\r\nPINGextra\r\n";
    let (ops, error) = server_ops(input);
    assert_eq!(error, None);
    use ServerOp::{Ok as Ack, Ping, Pong};
    assert_eq!(ops, [Ping, Ping, Ping, Pong, Pong, Ack, Ack, Ping]);
}

#[test]
fn msg_without_reply() {
    let m = msg(one_server_op(b"MSG foo.bar 9 11\r\nHello World\r\n"));
    assert_eq!(m.subject, "foo.bar");
    assert_eq!(m.sid, Sid(9));
    assert_eq!(m.reply, None);
    assert_eq!(m.headers, None);
    assert_eq!(&m.payload[..], b"Hello World");
}

#[test]
fn msg_with_reply_tabs_runs_of_spaces_and_lf_only() {
    let m = msg(one_server_op(b"msg\tfoo.bar \t 9\t\tINBOX.34   5\nhello\r\n"));
    assert_eq!(m.subject, "foo.bar");
    assert_eq!(m.reply.unwrap(), "INBOX.34");
    assert_eq!(&m.payload[..], b"hello");
}

#[test]
fn msg_with_empty_reply_written_as_two_spaces() {
    // The server writes `MSG subj 1  23` when the reply is present but empty.
    let m = msg(one_server_op(b"MSG subj 1  3\r\nabc\r\n"));
    assert_eq!(m.reply, None);
    assert_eq!(&m.payload[..], b"abc");
}

#[test]
fn msg_payloads_empty_binary_and_containing_crlf() {
    let (ops, error) =
        server_ops(b"MSG a 1 0\r\n\r\nMSG a 1 9\r\n\r\nMSG b\r\n\r\nMSG a 1 003\r\n\x00\xff\n\r\n");
    assert_eq!(error, None);
    let payloads: Vec<_> = ops.into_iter().map(|op| msg(op).payload).collect();
    assert_eq!(payloads, [&b""[..], b"\r\nMSG b\r\n", b"\x00\xff\n"]);
}

#[test]
fn msg_subjects_are_utf8_and_lenient() {
    // A server forwards `foo..bar` outside pedantic mode; it must not break the stream.
    let m = msg(one_server_op("MSG ünï..cöde 1 0\r\n\r\n".as_bytes()));
    assert_eq!(m.subject, "ünï..cöde");
}

#[test]
fn msg_with_a_subject_that_is_not_utf8_is_undeliverable_and_the_stream_stays_in_sync() {
    // The server relays whatever bytes a publisher used as a subject.
    let input = b"MSG \xff.a 1 2\r\nhi\r\nHMSG ok 1 r\xfe 12 14\r\nNATS/1.0\r\n\r\nhi\r\nMSG ok 2 1\r\nx\r\n";
    let (ops, error) = server_ops(input);
    assert_eq!(error, None);
    assert_eq!(
        ops[0],
        ServerOp::Undeliverable(Undeliverable::new(Sid(1), Bytes::from_static(b"\xff.a"), None, 2))
    );
    assert_eq!(
        ops[1],
        ServerOp::Undeliverable(Undeliverable::new(
            Sid(1),
            Bytes::from_static(b"ok"),
            Some(Bytes::from_static(b"r\xfe")),
            14
        ))
    );
    let last = msg(ops[2].clone());
    assert_eq!((last.subject.as_str(), last.sid, &last.payload[..]), ("ok", Sid(2), &b"x"[..]));
    assert_eq!(ops.len(), 3);
}

#[test]
fn hmsg_with_headers() {
    let input = b"HMSG foo.bar 9 INBOX.1 34 45\r\nNATS/1.0\r\nFoodGroup: vegetable\r\n\r\nHello World\r\n";
    let m = msg(one_server_op(input));
    assert_eq!(m.reply.unwrap(), "INBOX.1");
    let headers = m.headers.unwrap();
    assert_eq!(headers.get("FoodGroup").unwrap(), "vegetable");
    assert_eq!(headers.status(), None);
    assert_eq!(m.header_error, None);
    assert_eq!(&m.payload[..], b"Hello World");
}

#[test]
fn hmsg_no_responders_exactly_as_2_9_10_sends_it() {
    let m = msg(one_server_op(b"HMSG _INBOX.abc.1 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"));
    let headers = m.headers.unwrap();
    assert_eq!(headers.status(), Some(StatusCode::NO_RESPONDERS));
    assert!(m.payload.is_empty());
}

#[test]
fn hmsg_status_with_description_and_extra_spaces() {
    let block = b"NATS/1.0  404   No Messages\r\n\r\n";
    let input = [format!("HMSG a 1 {} {}\r\n", block.len(), block.len()).as_bytes(), block, b"\r\n"].concat();
    let headers = msg(one_server_op(&input)).headers.unwrap();
    assert_eq!(headers.status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(headers.description().unwrap(), "No Messages");
}

#[test]
fn hmsg_with_malformed_header_block_is_delivered_with_the_error() {
    let input = b"HMSG a 1 12 14\r\nHTTP/1.1\r\n\r\nok\r\nPING\r\n";
    let (ops, error) = server_ops(input);
    assert_eq!(error, None, "the stream goes on");
    let m = msg(ops[0].clone());
    assert_eq!(m.header_error, Some(HeaderError::MissingVersion));
    assert_eq!(&m.payload[..], b"ok");
    assert_eq!(ops[1], ServerOp::Ping);
}

#[test]
fn payload_is_a_slice_of_the_read_buffer() {
    let mut buf = BytesMut::from(&b"MSG a 1 5\r\nhello\r\n"[..]);
    let start = buf.as_ptr() as usize;
    let m = msg(ServerDecoder::new().decode(&mut buf).unwrap().unwrap());
    assert_eq!(m.payload.as_ptr() as usize, start + 11, "payload was copied");
}

#[test]
fn err_texts_are_unquoted_and_classified() {
    let (ops, error) = server_ops(
        b"-ERR 'Authorization Violation'\r\n-ERR\r\n-ERR 'no closing quote\r\n-ERR 'say \"hi\" 'or' not'\r\n-err  'Stale Connection'  \r\n-ERR 'Permissions Violation for Publish to \"a.b\"'\r\n",
    );
    assert_eq!(error, None);
    let errors: Vec<_> = ops
        .into_iter()
        .map(|op| match op {
            ServerOp::Err(e) => e,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(errors[0].kind(), &ServerErrorKind::AuthorizationViolation);
    assert!(errors[0].closes_connection());
    assert_eq!(errors[1].message(), "");
    assert_eq!(errors[1].kind(), &ServerErrorKind::Other);
    assert_eq!(errors[2].message(), "no closing quote");
    assert_eq!(errors[3].message(), "say \"hi\" 'or' not");
    assert_eq!(errors[4].kind(), &ServerErrorKind::StaleConnection);
    assert_eq!(
        errors[5].kind(),
        &ServerErrorKind::PermissionsViolation {
            operation: PermissionOperation::Publish,
            subject: "a.b".into(),
            queue: None
        }
    );
    assert!(!errors[5].closes_connection());
}

#[test]
fn incomplete_input_is_not_an_error() {
    for input in
        [&b""[..], b"PIN", b"MSG a 1 5\r\nhel", b"MSG a 1 5\r\nhello", b"MSG a 1 5\r\nhello\r", b"INFO {"]
    {
        assert_eq!(server_ops(input), (vec![], None), "{:?}", show(input));
    }
}

#[test]
fn sizes_with_sign_letters_too_many_digits_or_overflow() {
    for size in ["-1", "+1", "1a", "x", "1234567890", "99999999999999999999999", "0x10", "1.0"] {
        let input = format!("MSG a 1 {size}\r\n");
        assert_eq!(server_error(input.as_bytes()), DecodeError::InvalidSize { op: "MSG" }, "{size}");
        let input = format!("HMSG a 1 {size} 10\r\n");
        assert_eq!(server_error(input.as_bytes()), DecodeError::InvalidSize { op: "HMSG" }, "{size}");
    }
}

#[test]
fn bad_sids() {
    for sid in ["x", "-1", "18446744073709551616"] {
        let input = format!("MSG a {sid} 0\r\n\r\n");
        assert_eq!(server_error(input.as_bytes()), DecodeError::InvalidNumber { op: "MSG" }, "{sid}");
    }
}

#[test]
fn missing_and_extra_arguments() {
    let cases: &[(&[u8], DecodeError)] = &[
        (b"MSG\r\n", DecodeError::MissingArguments { op: "MSG" }),
        (b"MSG a 1\r\n", DecodeError::MissingArguments { op: "MSG" }),
        (b"MSG a 1 r s 5\r\n", DecodeError::TooManyArguments { op: "MSG" }),
        (b"MSG a 1 r s t u v 5\r\n", DecodeError::TooManyArguments { op: "MSG" }),
        (b"HMSG a 1 5\r\n", DecodeError::MissingArguments { op: "HMSG" }),
        (b"HMSG a 1 r s 5 5\r\n", DecodeError::TooManyArguments { op: "HMSG" }),
    ];
    for (input, expected) in cases {
        assert_eq!(&server_error(input), expected, "{:?}", show(input));
    }
}

#[test]
fn junk_instead_of_crlf_after_payload() {
    for input in
        [&b"MSG a 1 2\r\nabXY"[..], b"MSG a 1 2\r\nab\n\r", b"MSG a 1 2\r\nab\rX", b"MSG a 1 2\r\nabc\r\n"]
    {
        assert_eq!(server_error(input), DecodeError::MissingPayloadTerminator, "{:?}", show(input));
    }
}

#[test]
fn header_size_larger_than_total() {
    assert_eq!(
        server_error(b"HMSG a 1 10 5\r\n"),
        DecodeError::HeaderLenExceedsTotal { header_len: 10, total_len: 5 }
    );
}

#[test]
fn huge_declared_size_is_refused_before_allocating() {
    let limits = DecoderLimits::new(1024, 1024 * 1024);
    let (ops, error) = server_ops_with(b"MSG a 1 999999999\r\nabc", limits);
    assert!(ops.is_empty());
    assert_eq!(error, Some(DecodeError::PayloadTooLarge { size: 999_999_999, limit: 1024 * 1024 }));

    // Within the limit, a few bytes of a large payload just wait for more, and the buffer
    // holds only what was received.
    let mut decoder = ServerDecoder::new();
    let mut buf = BytesMut::from(&b"MSG a 1 60000000\r\nabc"[..]);
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    assert_eq!(decoder.pending_frame_len(), Some(18 + 60_000_000 + 2));
    assert!(buf.capacity() < 1024, "the decoder must not allocate the declared size");
}

#[test]
fn control_line_past_the_limit_without_lf() {
    let limits = DecoderLimits::new(16, 1024);
    assert_eq!(
        server_ops_with(b"MSG aaaaaaaaaaaaa", limits),
        (vec![], None),
        "17 bytes may still end in CRLF"
    );
    assert_eq!(
        server_ops_with(b"PING 89abcdef012\r\n", limits),
        (vec![ServerOp::Ping], None),
        "16 + CRLF fits"
    );
    let (_, error) = server_ops_with(b"MSG aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", limits);
    assert_eq!(error, Some(DecodeError::ControlLineTooLong { limit: 16 }));
    let (_, error) = server_ops_with(b"PING 89abcdef0123\r\n", limits);
    assert_eq!(error, Some(DecodeError::ControlLineTooLong { limit: 16 }));
}

#[test]
fn unknown_operations_and_leading_space() {
    for input in
        [&b" PING\r\n"[..], b"\r\n", b"HELLO\r\n", b"MSGX a 1 0\r\n", b"INFOX {}\r\n", b"PUB a 1\r\n"]
    {
        assert!(matches!(server_error(input), DecodeError::UnknownOperation { .. }), "{:?}", show(input));
    }
}

#[test]
fn failure_is_final_until_reset() {
    let mut decoder = ServerDecoder::new();
    let mut buf = BytesMut::from(&b"BOGUS\r\nPING\r\n"[..]);
    assert!(decoder.decode(&mut buf).is_err());
    assert_eq!(decoder.decode(&mut buf), Err(DecodeError::Failed));
    decoder.reset();
    let mut fresh = BytesMut::from(&b"PING\r\n"[..]);
    assert_eq!(decoder.decode(&mut fresh), Ok(Some(ServerOp::Ping)));
}

#[test]
fn ops_before_an_error_are_delivered() {
    let (ops, error) = server_ops(b"PING\r\nMSG a 1 1\r\nx\r\nNOPE\r\nPONG\r\n");
    assert_eq!(ops.len(), 2);
    assert!(matches!(error, Some(DecodeError::UnknownOperation { .. })));
}

#[test]
fn status_description_and_length_on_the_message() {
    let m = msg(one_server_op(b"HMSG _INBOX.x 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"));
    assert_eq!(m.status(), Some(StatusCode::NO_RESPONDERS));
    assert!(m.status().is_some_and(|s| s == 503), "comparable with a number");
    assert_eq!(m.description(), None);
    assert_eq!(m.length(), 16);

    let m = msg(one_server_op(b"HMSG _INBOX.y 1 28 28\r\nNATS/1.0 404 No Messages\r\n\r\n\r\n"));
    assert_eq!(m.status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(m.description(), Some("No Messages"));
    assert_eq!(m.length(), 28);

    let m = msg(one_server_op(b"MSG foo 9 5\r\nhello\r\n"));
    assert_eq!((m.status(), m.description(), m.length()), (None, None, 5));
}
