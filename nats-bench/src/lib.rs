//! Benchmarks of this project against other NATS implementations.
//!
//! Each benchmark measures this project and its comparison in the same run, on the same
//! input, and prints the ratio: the machines are shared and noisy, so only ratios from
//! one run mean anything. The comparisons are optional dependencies behind the `compare`
//! feature, so the test build never compiles them:
//!
//! ```text
//! cargo bench -p nats-bench --features compare --bench decode
//! ```
//!
//! This library holds the input generators the benchmarks share: byte streams of server
//! ops exactly as nats-server writes them, together with what a decoder must find in
//! them, so a benchmark can check that a decoder really decoded everything.

use std::fmt::Write as _;

mod alloc;
#[cfg(feature = "compare")]
pub mod clients;

pub use alloc::{rss_bytes, voluntary_context_switches, AllocDelta, AllocStats, CountingAlloc};
/// The integration tests' `nats-server` launcher, shared so that benchmarks and tests start
/// servers one way (the pinned binary, free ports, a temporary store, killed on drop).
#[cfg(feature = "compare")]
pub use nats_integration_tests::NatsServer;

/// `n` scaled by `$BENCH_SCALE` (default 1; `0.1` for a quick run), at least 1.
pub fn scale(n: usize) -> usize {
    let factor: f64 = std::env::var("BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    // Counts are far below 2^52: the round trip through f64 is exact enough.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let scaled = (n as f64 * factor) as usize;
    scaled.max(1)
}

/// A reply subject in the shape the client libraries generate (`_INBOX.<nuid>.<n>`); the
/// frame index is appended to it.
const REPLY_PREFIX: &str = "_INBOX.UmR8Ym1sJq0DwAcEdyoHrq.";

/// Bytes of server ops and the totals a correct decoder finds in them.
#[derive(Debug, Clone)]
pub struct ServerStream {
    /// A short description, for tables.
    pub name: String,
    /// The stream as the server writes it to the socket.
    pub bytes: Vec<u8>,
    /// How many `MSG`/`HMSG` frames it holds.
    pub msgs: usize,
    /// The sum of the payload lengths, header blocks excluded.
    pub payload_bytes: usize,
    /// The sum of the header entries over all messages (the version line not counted).
    pub header_entries: usize,
    /// How many frames carry a reply subject.
    pub replies: usize,
}

/// `frames` `MSG` frames with payloads of `payload_len` bytes, e.g.
/// `MSG bench.subject.3 1 16\r\n<16 bytes>\r\n`. The subjects cycle through ten
/// `bench.subject.<digit>` values; every `reply_every`-th frame (starting with the
/// first; never if 0) carries a reply subject:
/// `MSG bench.subject.0 1 _INBOX.<nuid>.0 16\r\n...`.
pub fn msg_stream(frames: usize, payload_len: usize, reply_every: usize) -> ServerStream {
    let mut stream = ServerStream::new(format!("MSG {payload_len} B"));
    let mut line = String::with_capacity(128);
    for i in 0..frames {
        line.clear();
        write!(line, "MSG bench.subject.{} 1 ", i % 10).expect("writing to a String");
        if has_reply(i, reply_every) {
            write!(line, "{REPLY_PREFIX}{i} ").expect("writing to a String");
            stream.replies += 1;
        }
        write!(line, "{payload_len}\r\n").expect("writing to a String");
        stream.bytes.extend_from_slice(line.as_bytes());
        push_payload(&mut stream.bytes, i, payload_len);
        stream.bytes.extend_from_slice(b"\r\n");
        stream.msgs += 1;
        stream.payload_bytes += payload_len;
    }
    stream
}

/// `frames` `HMSG` frames, each with the header block `NATS/1.0\r\nNats-Msg-Id:
/// <n>\r\n\r\n` (one header entry, the shape of a JetStream-deduplicated publish) and a
/// payload of `payload_len` bytes, e.g.
/// `HMSG bench.orders.5 1 32 1056\r\nNATS/1.0\r\nNats-Msg-Id: 12345\r\n\r\n<1024 bytes>\r\n`.
/// Subjects and reply subjects as in [`msg_stream`].
pub fn hmsg_stream(frames: usize, payload_len: usize, reply_every: usize) -> ServerStream {
    let mut stream = ServerStream::new(format!("HMSG {payload_len} B"));
    let mut line = String::with_capacity(128);
    let mut headers = String::with_capacity(64);
    for i in 0..frames {
        headers.clear();
        write!(headers, "NATS/1.0\r\nNats-Msg-Id: {i}\r\n\r\n").expect("writing to a String");
        line.clear();
        write!(line, "HMSG bench.orders.{} 1 ", i % 10).expect("writing to a String");
        if has_reply(i, reply_every) {
            write!(line, "{REPLY_PREFIX}{i} ").expect("writing to a String");
            stream.replies += 1;
        }
        write!(line, "{} {}\r\n", headers.len(), headers.len() + payload_len).expect("writing to a String");
        stream.bytes.extend_from_slice(line.as_bytes());
        stream.bytes.extend_from_slice(headers.as_bytes());
        push_payload(&mut stream.bytes, i, payload_len);
        stream.bytes.extend_from_slice(b"\r\n");
        stream.msgs += 1;
        stream.payload_bytes += payload_len;
        stream.header_entries += 1;
    }
    stream
}

impl ServerStream {
    fn new(name: String) -> Self {
        Self { name, bytes: Vec::new(), msgs: 0, payload_bytes: 0, header_entries: 0, replies: 0 }
    }
}

fn has_reply(frame: usize, reply_every: usize) -> bool {
    reply_every != 0 && frame.is_multiple_of(reply_every)
}

/// Printable filler that differs from frame to frame (and contains no CR or LF, so a
/// decoder that wrongly scans payloads for line ends is not rescued by luck).
fn push_payload(out: &mut Vec<u8>, frame: usize, len: usize) {
    let first = b'a' + u8::try_from(frame % 26).expect("below 26");
    out.extend((0..len).map(|j| first.wrapping_add(u8::try_from(j % 26).expect("below 26"))));
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use nats_proto::{ServerDecoder, ServerOp};

    use super::*;

    /// Decodes the whole stream with nats-proto and checks the totals it advertises.
    fn check(stream: &ServerStream) {
        let mut buf = BytesMut::from(&stream.bytes[..]);
        let mut decoder = ServerDecoder::new();
        let (mut msgs, mut payload, mut headers, mut replies) = (0, 0, 0, 0);
        while let Some(op) = decoder.decode(&mut buf).unwrap() {
            let ServerOp::Msg(msg) = op else { panic!("unexpected op {op:?}") };
            assert!(msg.header_error.is_none());
            msgs += 1;
            payload += msg.payload.len();
            headers += msg.headers.map_or(0, |h| h.len());
            replies += usize::from(msg.reply.is_some());
        }
        assert!(buf.is_empty());
        assert_eq!(
            (msgs, payload, headers, replies),
            (stream.msgs, stream.payload_bytes, stream.header_entries, stream.replies)
        );
    }

    #[test]
    fn msg_stream_is_what_it_says() {
        let stream = msg_stream(100, 16, 4);
        assert!(stream.bytes.starts_with(b"MSG bench.subject.0 1 _INBOX.UmR8Ym1sJq0DwAcEdyoHrq.0 16\r\n"));
        assert_eq!(stream.replies, 25);
        check(&stream);
    }

    #[test]
    fn hmsg_stream_is_what_it_says() {
        let stream = hmsg_stream(100, 1024, 3);
        let first = "HMSG bench.orders.0 1 _INBOX.UmR8Ym1sJq0DwAcEdyoHrq.0 28 1052\r\nNATS/1.0\r\nNats-Msg-Id: 0\r\n\r\n";
        assert!(stream.bytes.starts_with(first.as_bytes()));
        assert_eq!(stream.replies, 34);
        check(&stream);
    }
}
