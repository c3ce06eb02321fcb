//! Checks shared by the cargo-fuzz targets in `fuzz/` and the corpus replay in
//! `cargo test`, so that stable CI runs every committed corpus file through exactly the
//! checks the fuzzer applies. Each function panics when a property is violated.
//!
//! A crate of its own (not published) so that `nats-proto` carries no fuzzing code and
//! packages only its own files.
#![forbid(unsafe_code)]

use arbitrary::{Result, Unstructured};
use bytes::{Bytes, BytesMut};

use nats_proto::{
    Action, ClientDecoder, ClientOp, ConnectInfo, Connection, DecodeError, DecoderLimits, HeaderMap,
    HeaderName, HeaderValue, Msg, Options, OutBuffer, Pub, QueueGroup, Secret, ServerDecoder, ServerError,
    ServerInfo, ServerOp, Sid, StatusCode, Subject, TransportError,
};

/// Small limits so that the fuzzer reaches them, and so memory stays bounded.
pub const FUZZ_LIMITS: DecoderLimits = DecoderLimits::new(1024, 4096);

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

/// `connection`: arbitrary sequences of inputs (transport events, server ops, raw bytes,
/// time) and commands against a [`Connection`]. Nothing panics, and after every step:
/// everything the client wrote (as much as publish pacing lets go) is valid protocol, no
/// more is writable than queued, the reconnect buffer stays within its
/// limit, the request table never holds more than was asked, a closed connection has no
/// deadline and refuses publishes, a live one always has a deadline, and
/// [`Connection::check_invariants`] holds.
pub fn connection(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let mut now = std::time::Instant::now();
    let options = Options::new("nats://a:4222,tls://b:4223")
        .expect("valid URLs")
        .with_randomize(false)
        .with_rng_seed(Some(7))
        .with_reconnect_buffer_size(4096)
        .with_max_reconnect_attempts(Some(3))
        .with_retry_on_initial_connect(u.arbitrary().unwrap_or(false))
        .with_tls_first(u.ratio(1, 8).unwrap_or(false))
        .with_verbose(u.arbitrary().unwrap_or(false))
        // A small pacing budget: windows of 1 KiB, so a few publishes hold the rest back.
        .with_publish_pacing(if u.arbitrary().unwrap_or(false) { Some(1024) } else { None })
        .with_decoder_limits(DecoderLimits::new(1024, 4096));
    let mut conn = Connection::new(options, now).expect("valid options");
    let mut server = ClientDecoder::new();
    let mut wire = BytesMut::new();
    let mut transport = Transports::default();
    let mut requests = 0usize;
    let mut sids = Vec::new();
    for _ in 0..200 {
        if u.is_empty() {
            break;
        }
        if step(&mut u, &mut conn, &mut now, &mut transport, &mut requests, &mut sids).is_err() {
            break;
        }
        // Drain the outputs, as a driver would.
        while let Some(action) = conn.poll_action() {
            match action {
                Action::Connect(id, _) => {
                    transport.current = Some(id);
                    transport.seen.push(id);
                    transport.open = false;
                    server.reset();
                    wire.clear();
                }
                Action::CloseTransport(id) if transport.current == Some(id) => {
                    transport.current = None;
                    transport.open = false;
                }
                _ => {}
            }
        }
        while conn.poll_event().is_some() {}
        let n = conn.writable_len();
        assert!(n <= conn.outbound().len(), "more writable than queued");
        if transport.open {
            wire.extend_from_slice(&conn.outbound().to_vec()[..n]);
            while let Some(op) = server.decode(&mut wire).expect("the client writes valid protocol") {
                let _ = op;
            }
        }
        conn.advance_outbound(n);
        // Invariants.
        if let Err(violation) = conn.check_invariants() {
            panic!("{violation}");
        }
        assert!(conn.reconnect_buffer_len() <= 4096, "reconnect buffer over its limit");
        assert!(conn.pending_requests() <= requests, "request table grew by itself");
        let publish = conn.publish(&Subject::from_static("x").expect("valid"), None, None, &Bytes::new());
        if conn.is_closed() {
            assert_eq!(conn.poll_timeout(), None, "a closed connection has no deadline");
            assert_eq!(publish, Err(nats_proto::PublishError::Closed));
        } else {
            assert!(conn.poll_timeout().is_some(), "a live connection always has a deadline");
        }
    }
}

/// The transports the connection asked for, as a driver tracks them.
#[derive(Default)]
struct Transports {
    current: Option<nats_proto::TransportId>,
    seen: Vec<nats_proto::TransportId>,
    open: bool,
}

impl Transports {
    fn pick(&self, u: &mut Unstructured<'_>) -> Result<Option<nats_proto::TransportId>> {
        let stale = u.ratio(1, 8)?;
        match (self.current, self.seen.is_empty()) {
            (Some(current), _) if !stale => Ok(Some(current)),
            (_, false) => Ok(Some(*u.choose(&self.seen)?)),
            // The connection asks for its first transport at once: there is always one.
            _ => Ok(None),
        }
    }
}

/// One arbitrary input or command.
fn step(
    u: &mut Unstructured<'_>,
    conn: &mut Connection,
    now: &mut std::time::Instant,
    transport: &mut Transports,
    requests: &mut usize,
    sids: &mut Vec<Sid>,
) -> Result<()> {
    use std::time::Duration;
    // Mostly the current transport; sometimes an older one, whose reports change nothing.
    let Some(id) = transport.pick(u)? else { return Ok(()) };
    match u.int_in_range(0..=15)? {
        0 => {
            if transport.current == Some(id) {
                transport.open = true;
            }
            conn.handle_connected(*now, id);
        }
        1 => conn.handle_tls_established(*now, id),
        2 => {
            if transport.current == Some(id) {
                transport.current = None;
                transport.open = false;
            }
            conn.handle_disconnected(*now, id, TransportError::closed());
        }
        3 => {
            let mut info = {
                let mut value = ServerInfo::default();
                value.headers = u.arbitrary()?;
                value.max_payload = u.int_in_range(0..=2048)?;
                value.tls_required = u.ratio(1, 4)?;
                value.tls_available = u.arbitrary()?;
                value.ldm = u.ratio(1, 8)?;
                value.nonce = u.ratio(1, 4)?.then(|| "nonce".to_owned());
                value
            };
            if u.arbitrary()? {
                info.connect_urls = vec!["c:4224".to_owned(), text(u, 12)?];
            }
            let mut out = OutBuffer::new();
            out.write_info(&info);
            conn.handle_input(*now, id, &out.to_vec());
        }
        4 => {
            let op = server_op(u)?;
            let mut out = OutBuffer::new();
            out.write_server_op(&op);
            conn.handle_input(*now, id, &out.to_vec());
        }
        5 => {
            let bytes: Vec<u8> = u.arbitrary()?;
            conn.handle_input(*now, id, &bytes);
        }
        6 => {
            let sid = *u.choose(sids).unwrap_or(&Sid(1));
            let op = match u.int_in_range(0..=3)? {
                0 => ServerOp::Pong,
                1 => ServerOp::Ping,
                2 => ServerOp::Ok,
                _ => ServerOp::Msg(Msg::new(subject(u, false)?, sid, payload(u)?)),
            };
            let mut out = OutBuffer::new();
            out.write_server_op(&op);
            conn.handle_input(*now, id, &out.to_vec());
        }
        7 => {
            *now += Duration::from_millis(u.int_in_range(0..=200_000)?);
            conn.handle_timeout(*now);
        }
        8 => {
            if let Some(deadline) = conn.poll_timeout() {
                *now = (*now).max(deadline);
                conn.handle_timeout(*now);
            }
        }
        9 => {
            let headers = optional(u, headers)?;
            let _ = conn.publish(&subject(u, false)?, None, headers.as_ref(), &payload(u)?);
        }
        10 => {
            if let Ok(sid) = conn.subscribe(subject(u, true)?, None) {
                sids.push(sid);
                if u.arbitrary()? {
                    conn.set_pending_limits(sid, Some(nats_proto::PendingLimits::new(2, 100)));
                }
            }
        }
        11 => {
            let sid = *u.choose(sids).unwrap_or(&Sid(1));
            let max = optional(u, |u| u.int_in_range(0..=3))?;
            conn.unsubscribe(sid, max);
        }
        12 => {
            let expected = if u.arbitrary()? {
                nats_proto::Expected::Count(u.int_in_range(1..=3)?)
            } else {
                nats_proto::Expected::UntilTimeout
            };
            let timeout = Duration::from_millis(u.int_in_range(1..=5000)?);
            if conn.request(*now, &subject(u, false)?, None, &payload(u)?, timeout, expected).is_ok() {
                *requests += 1;
            }
        }
        13 => {
            let _ = conn.flush(*now, Duration::from_millis(u.int_in_range(1..=5000)?));
        }
        14 => {
            let sid = *u.choose(sids).unwrap_or(&Sid(1));
            conn.handle_consumed(sid, u.int_in_range(0..=3)?, u.int_in_range(0..=100)?);
        }
        _ => {
            if u.ratio(1, 3)? {
                conn.drain(*now);
            } else if u.ratio(1, 4)? {
                conn.close();
            }
        }
    }
    Ok(())
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
            let mut info = {
                let mut value = ServerInfo::default();
                value.server_id = text(u, 12)?;
                value.version = text(u, 8)?;
                value.port = u.arbitrary()?;
                value.headers = u.arbitrary()?;
                value.max_payload = u.arbitrary()?;
                value.ldm = u.arbitrary()?;
                value.nonce = u.arbitrary::<bool>()?.then(|| "nonce-x".to_owned());
                value
            };
            for _ in 0..u.int_in_range(0..=3)? {
                info.connect_urls.push(text(u, 16)?);
            }
            ServerOp::Info(Box::new(info))
        }
        1 => ServerOp::Msg({
            let mut value = Msg::new(subject(u, false)?, Sid(u.arbitrary()?), payload(u)?);
            value.reply = optional(u, |u| subject(u, false))?;
            value.headers = optional(u, headers)?.map(Box::new);
            value
        }),
        2 => ServerOp::Ping,
        3 => ServerOp::Pong,
        4 => ServerOp::Ok,
        _ => ServerOp::Err(ServerError::new(text(u, 40)?)),
    })
}

fn client_op(u: &mut Unstructured<'_>) -> Result<ClientOp> {
    Ok(match u.int_in_range(0..=5)? {
        0 => ClientOp::Connect(Box::new({
            let mut value = ConnectInfo::default();
            value.verbose = u.arbitrary()?;
            value.echo = u.arbitrary()?;
            value.name = optional(u, |u| text(u, 10))?;
            value.user = optional(u, |u| text(u, 10))?;
            value.pass = optional(u, |u| text(u, 10).map(Secret::new))?;
            value
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
    fn connection_corpus() {
        replay("connection", super::connection);
    }

    /// Pseudo-random inputs on a fixed seed, beyond the corpus: each run of `cargo test`
    /// drives the connection through a few thousand arbitrary sequences.
    #[test]
    fn connection_seeded_inputs() {
        let runs: u64 = std::env::var("NATS_FUZZ_RUNS").ok().and_then(|n| n.parse().ok()).unwrap_or(2000);
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        for run in 0..runs {
            let len = 64 + (next() % 2048) as usize;
            let data: Vec<u8> = (0..len).map(|_| next().to_le_bytes()[0]).collect();
            let outcome = std::panic::catch_unwind(|| super::connection(&data));
            assert!(outcome.is_ok(), "run {run} of the seeded inputs failed (NATS_FUZZ_RUNS={})", run + 1);
        }
    }

    #[test]
    fn roundtrip_corpus() {
        replay("roundtrip", super::roundtrip);
    }
}
