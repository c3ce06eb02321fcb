//! Server-op decoding throughput: nats-proto's `ServerDecoder` against watermelon-proto's
//! `StreamDecoder`, on the same in-memory streams, in the same run.
//!
//! Both decoders are fed the way a socket reader feeds them: the stream is appended to
//! the read buffer in 64 KiB chunks and, after each chunk, every complete frame is
//! decoded. Each decoder's message, payload and header counts are checked against the
//! stream's, so a decoder that skips work cannot look fast. Each measurement is repeated
//! and the best time kept, the two decoders alternating within the run.
//!
//! ```text
//! cargo bench -p nats-bench --features compare --bench decode
//! ```
//!
//! For profiling, `DECODE_ONLY=nats-proto` (or `watermelon-proto`) runs just that
//! decoder, still checked, and prints its rates without a comparison; `DECODE_STREAM=MSG`
//! (or `HMSG`) keeps only the streams whose name starts with that.

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use bytes::{BufMut as _, BytesMut};
use nats_bench::{hmsg_stream, msg_stream, ServerStream};
use watermelon_proto::proto::{ServerOp as TheirOp, StreamDecoder};

/// What a socket read typically returns on a busy connection.
const CHUNK: usize = 64 * 1024;
/// Runs per decoder and stream; the best is kept.
const REPS: usize = 5;
/// The ratio (ours / theirs) the project aims for.
const GOAL: f64 = 1.5;

/// What a decoder found in a stream.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    msgs: usize,
    payload_bytes: usize,
    header_entries: usize,
    replies: usize,
}

impl Tally {
    fn expected(stream: &ServerStream) -> Self {
        Self {
            msgs: stream.msgs,
            payload_bytes: stream.payload_bytes,
            header_entries: stream.header_entries,
            replies: stream.replies,
        }
    }
}

fn decode_ours(stream: &[u8]) -> Tally {
    let mut decoder = nats_proto::ServerDecoder::new();
    let mut buf = BytesMut::with_capacity(CHUNK);
    let mut tally = Tally::default();
    for chunk in stream.chunks(CHUNK) {
        buf.extend_from_slice(chunk);
        while let Some(op) = decoder.decode(&mut buf).expect("nats-proto failed to decode") {
            let nats_proto::ServerOp::Msg(msg) = op else { panic!("nats-proto decoded {op:?}") };
            assert!(msg.header_error.is_none(), "nats-proto: {:?}", msg.header_error);
            tally.msgs += 1;
            tally.payload_bytes += msg.payload.len();
            tally.header_entries += msg.headers.as_ref().map_or(0, |h| h.len());
            tally.replies += usize::from(msg.reply.is_some());
            black_box(msg);
        }
    }
    assert!(buf.is_empty(), "nats-proto left {} bytes", buf.len());
    tally
}

fn decode_theirs(stream: &[u8]) -> Tally {
    let mut decoder = StreamDecoder::new();
    let mut tally = Tally::default();
    for chunk in stream.chunks(CHUNK) {
        decoder.read_buf().put_slice(chunk);
        while let Some(op) = decoder.decode().expect("watermelon-proto failed to decode") {
            let TheirOp::Message { message } = op else { panic!("watermelon-proto decoded {op:?}") };
            tally.msgs += 1;
            tally.payload_bytes += message.base.payload.len();
            tally.header_entries += message.base.headers.len();
            tally.replies += usize::from(message.base.reply_subject.is_some());
            black_box(message);
        }
    }
    tally
}

/// Times one decode of the stream and checks what it found.
fn measure(stream: &ServerStream, who: &str, decode: fn(&[u8]) -> Tally) -> Duration {
    let start = Instant::now();
    let tally = decode(black_box(&stream.bytes));
    let elapsed = start.elapsed();
    assert_eq!(tally, Tally::expected(stream), "{who} on {}", stream.name);
    elapsed
}

/// Best times (ours, theirs) over [`REPS`] alternating runs.
fn compare(stream: &ServerStream) -> (Duration, Duration) {
    let (mut ours, mut theirs) = (Duration::MAX, Duration::MAX);
    for rep in 0..REPS {
        // Alternate who goes first, so neither always runs on a warmer (or hotter) core.
        if rep.is_multiple_of(2) {
            ours = ours.min(measure(stream, "nats-proto", decode_ours));
            theirs = theirs.min(measure(stream, "watermelon-proto", decode_theirs));
        } else {
            theirs = theirs.min(measure(stream, "watermelon-proto", decode_theirs));
            ours = ours.min(measure(stream, "nats-proto", decode_ours));
        }
    }
    (ours, theirs)
}

#[allow(clippy::cast_precision_loss)] // counts far below 2^52
fn per_sec(count: usize, time: Duration) -> f64 {
    count as f64 / time.as_secs_f64()
}

#[allow(clippy::cast_precision_loss)] // sizes far below 2^52
fn mib(bytes: usize) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

/// Times only one decoder (for profiling), the one named in `DECODE_ONLY`.
fn profile_one(streams: &[ServerStream], who: &str) {
    let decode = match who {
        "nats-proto" => decode_ours,
        "watermelon-proto" => decode_theirs,
        _ => panic!("DECODE_ONLY must be nats-proto or watermelon-proto, not {who:?}"),
    };
    for stream in streams {
        let best = (0..REPS).map(|_| measure(stream, who, decode)).min().expect("REPS > 0");
        println!("{:<12} {who}: {:.0} msgs/s", stream.name, per_sec(stream.msgs, best));
    }
}

fn main() {
    let filter = std::env::var("DECODE_STREAM").unwrap_or_default();
    let streams: Vec<ServerStream> = [
        ("MSG", msg_stream as fn(usize, usize, usize) -> ServerStream, 5_000_000, 16),
        ("HMSG", hmsg_stream, 250_000, 1024),
    ]
    .into_iter()
    .filter(|(name, ..)| name.starts_with(filter.as_str()))
    .map(|(_, make, frames, payload_len)| make(frames, payload_len, 10))
    .collect();
    if let Ok(who) = std::env::var("DECODE_ONLY") {
        profile_one(&streams, &who);
        return;
    }
    println!("decoding in {} KiB chunks, best of {REPS} runs each, decoders alternating;", CHUNK / 1024);
    println!("ratio = nats-proto msgs/s / watermelon-proto msgs/s (goal: {GOAL})\n");
    println!(
        "{:<12} {:>9} {:>7} {:>18} {:>18} {:>6} {:>11} {:>11}",
        "stream",
        "frames",
        "MiB",
        "nats-proto msgs/s",
        "watermelon msgs/s",
        "ratio",
        "ours MiB/s",
        "their MiB/s"
    );
    for stream in &streams {
        let (ours, theirs) = compare(stream);
        let ratio = theirs.as_secs_f64() / ours.as_secs_f64();
        let mib_per_sec = |time| per_sec(stream.bytes.len(), time) / f64::from(1 << 20);
        println!(
            "{:<12} {:>9} {:>7.1} {:>18.0} {:>18.0} {:>6.2} {:>11.0} {:>11.0}{}",
            stream.name,
            stream.msgs,
            mib(stream.bytes.len()),
            per_sec(stream.msgs, ours),
            per_sec(stream.msgs, theirs),
            ratio,
            mib_per_sec(ours),
            mib_per_sec(theirs),
            if ratio < GOAL { format!("  (below the goal of {GOAL})") } else { String::new() },
        );
    }
}
