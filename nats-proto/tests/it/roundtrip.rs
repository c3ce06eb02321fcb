//! Property tests: encoding then decoding is the identity, for arbitrary ops in both
//! directions, whether the bytes arrive whole or split at an arbitrary point.

use bytes::{Bytes, BytesMut};
use nats_proto::{
    ClientDecoder, ClientOp, ConnectInfo, HeaderMap, HeaderName, HeaderValue, Msg, OutBuffer, Pub,
    QueueGroup, Secret, ServerDecoder, ServerError, ServerInfo, ServerOp, Sid, StatusCode, Subject,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_$é*>-]{1,8}".prop_filter("a lone wildcard is not a literal token", |t| t != "*" && t != ">")
}

fn literal_subject() -> impl Strategy<Value = Subject> {
    vec(token(), 1..5).prop_map(|tokens| Subject::new(tokens.join(".")).unwrap())
}

fn filter_subject() -> impl Strategy<Value = Subject> {
    (vec(prop_oneof![3 => token(), 1 => Just("*".to_owned())], 1..5), any::<bool>()).prop_map(
        |(mut tokens, full)| {
            if full {
                tokens.push(">".to_owned());
            }
            Subject::new(tokens.join(".")).unwrap()
        },
    )
}

fn header_value() -> impl Strategy<Value = HeaderValue> {
    "([ -~é€]{0,20})?".prop_map(|v| HeaderValue::new(v.trim_matches([' ', '\t'])).unwrap())
}

fn headers() -> impl Strategy<Value = HeaderMap> {
    let name = prop_oneof![Just("Nats-Msg-Id".to_owned()), Just("X".to_owned()), "[!-9;-~]{1,10}"];
    (option::of((100u16..1000, option::of(header_value()))), vec((name, header_value()), 0..6)).prop_map(
        |(status, entries)| {
            let mut map = HeaderMap::new();
            map.set_status(status.map(|(code, desc)| (StatusCode::new(code).unwrap(), desc)));
            for (name, value) in entries {
                // Repeated names are common here: the name alphabet is small.
                map.append(HeaderName::new(name).unwrap(), value);
            }
            map
        },
    )
}

/// Binary payloads: empty, arbitrary bytes, and bytes full of CRLF and op names.
fn payload() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        Just(Vec::new()),
        vec(any::<u8>(), 0..300),
        vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'M'), Just(b' ')], 0..100),
        Just(b"\r\nMSG a 1 2\r\nhi\r\n".to_vec()),
        (0usize..70_000).prop_map(|n| vec![b'x'; n]),
    ]
    .prop_map(Bytes::from)
}

fn text() -> impl Strategy<Value = String> {
    "[ -~é\t]{0,40}"
}

fn server_op() -> impl Strategy<Value = ServerOp> {
    prop_oneof![
        (text(), any::<u16>(), any::<bool>(), any::<u64>(), vec("[a-z0-9.:]{1,20}", 0..4)).prop_map(
            |(id, port, ldm, max_payload, urls)| {
                let info = {
                    let mut value = ServerInfo::default();
                    value.server_id = id;
                    value.port = port;
                    value.ldm = ldm;
                    value.max_payload = max_payload;
                    value.connect_urls = urls;
                    value.headers = true;
                    value
                };
                ServerOp::Info(Box::new(info))
            }
        ),
        (literal_subject(), any::<u64>(), option::of(literal_subject()), option::of(headers()), payload())
            .prop_map(|(subject, sid, reply, headers, payload)| ServerOp::Msg({
                let mut value = Msg::new(subject, Sid(sid), payload);
                value.reply = reply;
                value.headers = headers.map(Box::new);
                value
            })),
        Just(ServerOp::Ping),
        Just(ServerOp::Pong),
        Just(ServerOp::Ok),
        text().prop_map(|t| ServerOp::Err(ServerError::new(t))),
    ]
}

fn client_op() -> impl Strategy<Value = ClientOp> {
    prop_oneof![
        (option::of(text()), option::of("[a-z]{1,8}"), option::of(text()), any::<bool>()).prop_map(
            |(name, user, pass, echo)| ClientOp::Connect(Box::new({
                let mut value = ConnectInfo::default();
                value.name = name;
                value.user = user;
                value.pass = pass.map(Secret::new);
                value.echo = echo;
                value
            }))
        ),
        (literal_subject(), option::of(literal_subject()), option::of(headers()), payload()).prop_map(
            |(subject, reply, headers, payload)| ClientOp::Pub(Pub {
                subject,
                reply,
                headers: headers.map(Box::new),
                payload
            })
        ),
        (any::<u64>(), filter_subject(), option::of("[a-zA-Z0-9._-]{1,10}")).prop_map(
            |(sid, subject, queue)| {
                ClientOp::Sub {
                    sid: Sid(sid),
                    subject,
                    queue_group: queue.map(|q| QueueGroup::new(q).unwrap()),
                }
            }
        ),
        (any::<u64>(), option::of(any::<u64>()))
            .prop_map(|(sid, max)| ClientOp::Unsub { sid: Sid(sid), max }),
        Just(ClientOp::Ping),
        Just(ClientOp::Pong),
    ]
}

/// Decodes all of `bytes`, delivered in two pieces split at `split`.
fn decode_in_two<T>(
    bytes: &[u8],
    split: usize,
    mut decode: impl FnMut(&mut BytesMut) -> Result<Option<T>, nats_proto::DecodeError>,
) -> Vec<T> {
    let split = split % (bytes.len() + 1);
    let mut buf = BytesMut::from(&bytes[..split]);
    let mut ops = Vec::new();
    while let Some(op) = decode(&mut buf).expect("valid encoding decodes") {
        ops.push(op);
    }
    buf.extend_from_slice(&bytes[split..]);
    while let Some(op) = decode(&mut buf).expect("valid encoding decodes") {
        ops.push(op);
    }
    assert!(buf.is_empty(), "bytes left over");
    ops
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn server_ops_roundtrip(ops in vec(server_op(), 0..8), split in any::<usize>(), threshold in 1usize..100_000) {
        let mut out = OutBuffer::with_chunk_threshold(threshold);
        for op in &ops {
            out.write_server_op(op);
        }
        let bytes = out.to_vec();
        let mut decoder = ServerDecoder::new();
        prop_assert_eq!(decode_in_two(&bytes, split, |b| decoder.decode(b)), ops);
    }

    #[test]
    fn client_ops_roundtrip(ops in vec(client_op(), 0..8), split in any::<usize>(), threshold in 1usize..100_000) {
        let mut out = OutBuffer::with_chunk_threshold(threshold);
        for op in &ops {
            out.write_client_op(op);
        }
        let bytes = out.to_vec();
        let mut decoder = ClientDecoder::new();
        prop_assert_eq!(decode_in_two(&bytes, split, |b| decoder.decode(b)), ops);
    }

    #[test]
    fn header_blocks_roundtrip(map in headers()) {
        let mut block = Vec::new();
        map.encode(&mut block);
        prop_assert_eq!(block.len(), map.encoded_len());
        prop_assert_eq!(HeaderMap::decode(&Bytes::from(block)).unwrap(), map);
    }
}
