//! Checks shared by the cargo-fuzz targets in `fuzz/` and the corpus replay in
//! `cargo test`, so that stable CI runs every committed corpus file through exactly the
//! checks the fuzzer applies. Each function panics when a property is violated.

use arbitrary::{Result, Unstructured};
use bytes::{Bytes, BytesMut};

use crate::{
    ClientDecoder, ClientOp, ConnectInfo, DecodeError, DecoderLimits, HeaderMap, HeaderName, HeaderValue,
    Msg, OutBuffer, Pub, QueueGroup, Secret, ServerDecoder, ServerError, ServerInfo, ServerOp, Sid,
    StatusCode, Subject,
};

/// Small limits so that the fuzzer reaches them, and so memory stays bounded.
pub const FUZZ_LIMITS: DecoderLimits = DecoderLimits { max_control_line: 1024, max_payload: 4096 };

/// Decodes everything in `buf`, in as many calls as it takes; returns the ops and the
/// error that stopped decoding, if any.
fn drain(decoder: &mut ServerDecoder, buf: &mut BytesMut, ops: &mut Vec<ServerOp>) -> Option<DecodeError> {
    loop {
        match decoder.decode(buf) {
            Ok(Some(op)) => ops.push(op),
            Ok(None) => return None,
            Err(e) => return Some(e),
        }
    }
}

/// `decode_server`: arbitrary bytes never panic, stay within the limits, and an error is
/// final.
pub fn decode_server(data: &[u8]) {
    let mut decoder = ServerDecoder::with_limits(FUZZ_LIMITS);
    let mut buf = BytesMut::from(data);
    // The limit applies to the frame as sent, so measure each message's frame as consumed
    // from the input: a re-encoded header block (`HeaderMap::encoded_len`) can be longer
    // than the tolerated LF-only or `Name:value` form on the wire.
    let mut consumed = 0;
    let error = loop {
        let before = buf.len();
        match decoder.decode(&mut buf) {
            Ok(Some(op)) => {
                let frame = &data[consumed..consumed + before - buf.len()];
                consumed += frame.len();
                if let ServerOp::Msg(msg) = op {
                    check_msg_frame(&msg, frame);
                }
            }
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    match error {
        Some(_) => assert_eq!(decoder.decode(&mut buf), Err(DecodeError::Failed), "an error must be final"),
        // Whatever is left is an incomplete op, which can never be longer than the limits
        // allow before the decoder says so.
        None => {
            assert!(buf.len() <= FUZZ_LIMITS.max_control_line + 2 + FUZZ_LIMITS.max_payload + 2)
        }
    }
}

/// A decoded message is its frame: a control line, at most `max_payload` bytes whose tail
/// is the payload (all of them without headers), then CRLF.
fn check_msg_frame(msg: &Msg, frame: &[u8]) {
    let line_len = frame.iter().position(|&b| b == b'\n').expect("a frame starts with a line") + 1;
    let body = frame[line_len..].strip_suffix(b"\r\n").expect("a frame ends with CRLF");
    assert!(body.len() <= FUZZ_LIMITS.max_payload, "frame larger than the limit");
    assert!(body.ends_with(&msg.payload), "the payload is the end of the frame");
    if msg.headers.is_none() {
        assert_eq!(body.len(), msg.payload.len(), "a MSG is all payload");
    }
}

/// `decode_split`: feeding the input in pieces (sizes drawn from its first two bytes)
/// gives the same ops and the same error as feeding it whole.
pub fn decode_split(data: &[u8]) {
    let (control, input) = data.split_at(data.len().min(2));
    let mut whole_ops = Vec::new();
    let whole_error =
        drain(&mut ServerDecoder::with_limits(FUZZ_LIMITS), &mut BytesMut::from(input), &mut whole_ops);

    let mut seed = u32::from(control.first().copied().unwrap_or(0)) << 8
        | u32::from(control.get(1).copied().unwrap_or(0));
    let mut decoder = ServerDecoder::with_limits(FUZZ_LIMITS);
    let mut buf = BytesMut::new();
    let mut split_ops = Vec::new();
    let mut split_error = None;
    let mut rest = input;
    while !rest.is_empty() && split_error.is_none() {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let max_piece = if seed & 0x1_0000 == 0 { 1 } else { 64 };
        let piece = 1 + (seed >> 17) as usize % max_piece;
        let (now, later) = rest.split_at(piece.min(rest.len()));
        buf.extend_from_slice(now);
        rest = later;
        split_error = drain(&mut decoder, &mut buf, &mut split_ops);
    }
    assert_eq!(split_ops, whole_ops, "split decoding gave different ops");
    assert_eq!(split_error, whole_error, "split decoding gave a different error");
}

/// `roundtrip`: arbitrary valid ops, encoded then decoded (whole and split at an
/// arbitrary point), come back identical, in both directions.
pub fn roundtrip(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok((server_ops, client_ops)) = arbitrary_ops(&mut u) else {
        return;
    };
    let split_at = u.arbitrary::<usize>().unwrap_or(0);

    let mut out = OutBuffer::with_chunk_threshold(64);
    for op in &server_ops {
        out.write_server_op(op);
    }
    let bytes = out.to_vec();
    for split in [bytes.len(), split_at % (bytes.len() + 1)] {
        let mut decoder = ServerDecoder::new();
        let mut buf = BytesMut::from(&bytes[..split]);
        let mut decoded = Vec::new();
        assert_eq!(drain(&mut decoder, &mut buf, &mut decoded), None);
        buf.extend_from_slice(&bytes[split..]);
        assert_eq!(drain(&mut decoder, &mut buf, &mut decoded), None);
        assert_eq!(decoded, server_ops);
        assert!(buf.is_empty());
    }

    let mut out = OutBuffer::with_chunk_threshold(64);
    for op in &client_ops {
        out.write_client_op(op);
    }
    let mut buf = BytesMut::from(&out.to_vec()[..]);
    let mut decoder = ClientDecoder::new();
    let mut decoded = Vec::new();
    while let Some(op) = decoder.decode(&mut buf).expect("encoded client ops decode") {
        decoded.push(op);
    }
    assert_eq!(decoded, client_ops);
    assert!(buf.is_empty());
}

/// Arbitrary valid server and client ops.
pub fn arbitrary_ops(u: &mut Unstructured<'_>) -> Result<(Vec<ServerOp>, Vec<ClientOp>)> {
    let mut server_ops = Vec::new();
    for _ in 0..u.int_in_range(0..=8)? {
        server_ops.push(server_op(u)?);
    }
    let mut client_ops = Vec::new();
    for _ in 0..u.int_in_range(0..=8)? {
        client_ops.push(client_op(u)?);
    }
    Ok((server_ops, client_ops))
}

fn server_op(u: &mut Unstructured<'_>) -> Result<ServerOp> {
    Ok(match u.int_in_range(0..=5)? {
        0 => {
            let mut info = ServerInfo {
                server_id: text(u, 12)?,
                version: text(u, 8)?,
                port: u.arbitrary()?,
                headers: u.arbitrary()?,
                max_payload: u.arbitrary()?,
                ldm: u.arbitrary()?,
                nonce: u.arbitrary::<bool>()?.then(|| "nonce-x".to_owned()),
                ..ServerInfo::default()
            };
            for _ in 0..u.int_in_range(0..=3)? {
                info.connect_urls.push(text(u, 16)?);
            }
            ServerOp::Info(Box::new(info))
        }
        1 => ServerOp::Msg(Msg {
            subject: subject(u, false)?,
            sid: Sid(u.arbitrary()?),
            reply: optional(u, |u| subject(u, false))?,
            headers: optional(u, headers)?.map(Box::new),
            header_error: None,
            payload: payload(u)?,
        }),
        2 => ServerOp::Ping,
        3 => ServerOp::Pong,
        4 => ServerOp::Ok,
        _ => ServerOp::Err(ServerError::new(text(u, 40)?)),
    })
}

fn client_op(u: &mut Unstructured<'_>) -> Result<ClientOp> {
    Ok(match u.int_in_range(0..=5)? {
        0 => ClientOp::Connect(Box::new(ConnectInfo {
            verbose: u.arbitrary()?,
            echo: u.arbitrary()?,
            name: optional(u, |u| text(u, 10))?,
            user: optional(u, |u| text(u, 10))?,
            pass: optional(u, |u| text(u, 10).map(Secret::new))?,
            ..ConnectInfo::default()
        })),
        1 => ClientOp::Pub(Pub {
            subject: subject(u, false)?,
            reply: optional(u, |u| subject(u, false))?,
            headers: optional(u, headers)?.map(Box::new),
            payload: payload(u)?,
        }),
        2 => ClientOp::Sub {
            sid: Sid(u.arbitrary()?),
            subject: subject(u, true)?,
            queue_group: optional(u, |u| {
                QueueGroup::new(token(u)?.replace(['>', '*'], "q"))
                    .map_err(|_| arbitrary::Error::IncorrectFormat)
            })?,
        },
        3 => ClientOp::Unsub { sid: Sid(u.arbitrary()?), max: u.arbitrary()? },
        4 => ClientOp::Ping,
        _ => ClientOp::Pong,
    })
}

fn optional<T>(
    u: &mut Unstructured<'_>,
    f: impl FnOnce(&mut Unstructured<'_>) -> Result<T>,
) -> Result<Option<T>> {
    if u.arbitrary()? {
        f(u).map(Some)
    } else {
        Ok(None)
    }
}

/// Printable text, possibly with quotes and non-ASCII, without line breaks.
fn text(u: &mut Unstructured<'_>, max: usize) -> Result<String> {
    const ALPHABET: &[char] = &['a', 'Z', '0', ' ', '\'', '"', '.', '-', 'é', '€', '\t', ':', '>'];
    let len = u.int_in_range(0..=max)?;
    (0..len).map(|_| u.choose(ALPHABET).copied()).collect()
}

fn token(u: &mut Unstructured<'_>) -> Result<String> {
    const ALPHABET: &[char] = &['a', 'b', 'Z', '0', '_', '-', '$', 'é', '*', '>'];
    let len = u.int_in_range(1..=6)?;
    (0..len).map(|_| u.choose(ALPHABET).copied()).collect()
}

fn subject(u: &mut Unstructured<'_>, wildcards: bool) -> Result<Subject> {
    let count = u.int_in_range(1..=4)?;
    let mut tokens = Vec::with_capacity(count);
    for i in 0..count {
        let wild = wildcards && u.ratio(1, 4)?;
        tokens.push(match (wild, i + 1 == count && u.arbitrary()?) {
            (true, true) => ">".to_owned(),
            (true, false) => "*".to_owned(),
            _ => {
                let t = token(u)?;
                if t == "*" || t == ">" {
                    "x".to_owned()
                } else {
                    t
                }
            }
        });
    }
    Subject::new(tokens.join(".")).map_err(|_| arbitrary::Error::IncorrectFormat)
}

fn headers(u: &mut Unstructured<'_>) -> Result<HeaderMap> {
    const NAMES: &[&str] = &["Nats-Msg-Id", "nats-msg-id", "X", "a-b_c~!", "Status"];
    let mut map = HeaderMap::new();
    if u.arbitrary()? {
        let code =
            StatusCode::new(u.int_in_range(100..=999)?).map_err(|_| arbitrary::Error::IncorrectFormat)?;
        let description = optional(u, value)?;
        map.set_status(Some((code, description)));
    }
    for _ in 0..u.int_in_range(0..=4)? {
        let name = HeaderName::new(*u.choose(NAMES)?).map_err(|_| arbitrary::Error::IncorrectFormat)?;
        map.append(name, value(u)?);
    }
    Ok(map)
}

fn value(u: &mut Unstructured<'_>) -> Result<HeaderValue> {
    HeaderValue::new(text(u, 12)?.trim_matches([' ', '\t'])).map_err(|_| arbitrary::Error::IncorrectFormat)
}

/// Binary payloads, often containing CRLF, sometimes empty, sometimes past the chunk
/// threshold.
fn payload(u: &mut Unstructured<'_>) -> Result<Bytes> {
    let mut bytes: Vec<u8> = u.arbitrary()?;
    if u.arbitrary()? {
        bytes.extend_from_slice(b"\r\nMSG x 1 2\r\n");
    }
    if u.ratio(1, 8)? {
        bytes.resize(bytes.len() + 100, b'\n');
    }
    Ok(Bytes::from(bytes))
}

#[cfg(test)]
mod corpus_replay {
    //! Replays every committed fuzz corpus file through its target's check.

    use std::path::Path;

    fn replay(target: &str, check: fn(&[u8])) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
        let mut count = 0;
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("corpus entry").path();
            let data = std::fs::read(&path).expect("corpus file");
            let result = std::panic::catch_unwind(|| check(&data));
            assert!(result.is_ok(), "{target}: {} fails its check", path.display());
            count += 1;
        }
        assert!(count > 0, "corpus for {target} is empty");
    }

    #[test]
    fn decode_server_corpus() {
        replay("decode_server", super::decode_server);
    }

    #[test]
    fn decode_split_corpus() {
        replay("decode_split", super::decode_split);
    }

    #[test]
    fn roundtrip_corpus() {
        replay("roundtrip", super::roundtrip);
    }
}
