//! Streaming decoders: server ops (what a client reads) and client ops (what a server or
//! test server reads).
//!
//! Both follow one contract. The caller appends received bytes to a `BytesMut` and calls
//! `decode` on it until it returns `Ok(None)` ("need more bytes": a normal result, never
//! an error). Each decoded op is split off the front of the buffer; payloads and header
//! blocks are zero-copy `Bytes` slices of it. Always pass the same buffer, only ever
//! appended to between calls: the decoder remembers how far it has scanned.
//!
//! Any error is final: the decoder then refuses all input with [`DecodeError::Failed`]
//! until [`ServerDecoder::reset`](crate::ServerDecoder::reset). The connection must be
//! dropped; resynchronising inside a corrupt stream would deliver garbage.

use crate::prelude::*;

mod client;
mod server;

pub use client::ClientDecoder;
pub use server::ServerDecoder;

use bytes::{Buf, Bytes, BytesMut};
use bytestring::ByteString;

use crate::{headers::HeaderError, queue_group::QueueGroupError, sid::Sid, subject::Subject};

/// Size limits applied while decoding, each checked before anything is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecoderLimits {
    /// The longest control line (the op and its arguments, without the line end).
    /// Default 64 KiB.
    pub max_control_line: usize,
    /// The largest payload (headers included) a `MSG`/`HMSG`/`PUB`/`HPUB` may declare.
    /// Default 64 MiB.
    pub max_payload: usize,
}

impl DecoderLimits {
    /// Limits of `max_control_line` bytes per control line and `max_payload` bytes per
    /// payload.
    pub const fn new(max_control_line: usize, max_payload: usize) -> Self {
        Self { max_control_line, max_payload }
    }
}

impl Default for DecoderLimits {
    fn default() -> Self {
        Self { max_control_line: 64 * 1024, max_payload: 64 * 1024 * 1024 }
    }
}

/// Why the byte stream is not valid protocol. Every variant is fatal for the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A control line is longer than [`DecoderLimits::max_control_line`].
    #[error("control line longer than the limit of {limit} bytes")]
    ControlLineTooLong {
        /// The limit.
        limit: usize,
    },
    /// The line does not start with a known op.
    #[error("unknown protocol operation {line:?}")]
    UnknownOperation {
        /// The start of the offending line (at most 32 bytes, lossily decoded).
        line: String,
    },
    /// An op lacks required arguments.
    #[error("{op}: missing arguments")]
    MissingArguments {
        /// The op.
        op: &'static str,
    },
    /// An op has more arguments than it takes.
    #[error("{op}: too many arguments")]
    TooManyArguments {
        /// The op.
        op: &'static str,
    },
    /// A size is not 1 to 9 ASCII digits.
    #[error("{op}: invalid size field")]
    InvalidSize {
        /// The op.
        op: &'static str,
    },
    /// A declared payload is larger than [`DecoderLimits::max_payload`].
    #[error("declared payload of {size} bytes exceeds the limit of {limit}")]
    PayloadTooLarge {
        /// The declared size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The header size is larger than the total size.
    #[error("header size {header_len} exceeds total size {total_len}")]
    HeaderLenExceedsTotal {
        /// The declared header size.
        header_len: usize,
        /// The declared total size.
        total_len: usize,
    },
    /// The payload is not followed by exactly CRLF.
    #[error("payload not followed by CRLF")]
    MissingPayloadTerminator,
    /// A sid or an UNSUB count is not a decimal u64.
    #[error("{op}: invalid number")]
    InvalidNumber {
        /// The op.
        op: &'static str,
    },
    /// A subject, queue group or other text field is not UTF-8.
    #[error("{field} is not valid UTF-8")]
    InvalidUtf8 {
        /// The field.
        field: &'static str,
    },
    /// An invalid queue group.
    #[error("invalid queue group: {0}")]
    InvalidQueueGroup(#[from] QueueGroupError),
    /// The `INFO` JSON is invalid.
    #[error("invalid INFO: {0}")]
    InvalidInfo(String),
    /// The `CONNECT` JSON is invalid.
    #[error("invalid CONNECT: {0}")]
    InvalidConnect(String),
    /// An `HPUB` header block is malformed (client-op decoding only; a malformed `HMSG`
    /// block is reported on the message instead).
    #[error("invalid header block: {0}")]
    InvalidHeaders(#[from] HeaderError),
    /// The decoder failed earlier and must be reset with a new connection.
    #[error("decoder failed earlier; the connection must be reset")]
    Failed,
}

/// Where the current frame's fields lie, as offsets from the start of the frame.
#[derive(Debug, Clone, Copy)]
struct PendingFrame {
    /// The op's fields, decoded when the whole frame is buffered.
    args: Args,
    /// The sid of a `MSG`/`HMSG`, parsed with the line (0 for client ops).
    sid: u64,
    /// Length of the control line including its line end.
    line_len: usize,
    /// Declared header size (0 without headers).
    header_len: usize,
    /// Declared total size (headers and payload).
    total_len: usize,
}

impl PendingFrame {
    /// Bytes from the frame start to the end of the CRLF after the payload.
    fn frame_len(&self) -> usize {
        self.line_len + self.total_len + 2
    }
}

/// Byte ranges of the whitespace-separated arguments of a control line. `u32` offsets
/// keep frames small (lines are capped well below 4 GiB, see [`Framer::new`]).
#[derive(Debug, Clone, Copy, Default)]
struct Args {
    ranges: [(u32, u32); 5],
    count: usize,
}

impl Args {
    /// Splits `line[start..]` on runs of spaces and tabs. Returns `None` when there are
    /// more than five arguments (more than any op takes).
    fn split(line: &[u8], mut pos: usize) -> Option<Self> {
        let mut args = Self::default();
        let len = line.len();
        loop {
            while pos < len && matches!(line[pos], b' ' | b'\t') {
                pos += 1;
            }
            if pos == len {
                return Some(args);
            }
            let start = pos;
            while pos < len && !matches!(line[pos], b' ' | b'\t') {
                pos += 1;
            }
            if args.count == args.ranges.len() {
                return None;
            }
            // Lines are shorter than u32::MAX (see `Framer::new`).
            #[allow(clippy::cast_possible_truncation)]
            let range = (start as u32, pos as u32);
            args.ranges[args.count] = range;
            args.count += 1;
        }
    }

    fn range(&self, i: usize) -> (usize, usize) {
        let (start, end) = self.ranges[i];
        (start as usize, end as usize)
    }

    fn get<'a>(&self, line: &'a [u8], i: usize) -> &'a [u8] {
        let (start, end) = self.range(i);
        &line[start..end]
    }
}

/// The framing shared by both decoders: line finding, sizes, payload completion, and the
/// failed state.
#[derive(Debug, Clone)]
struct Framer {
    limits: DecoderLimits,
    /// How many bytes at the front of the buffer were searched for LF without finding one.
    scanned: usize,
    /// A frame whose control line is parsed but whose payload is not all buffered yet.
    pending: Option<PendingFrame>,
    failed: bool,
}

/// What the op-specific parser made of a control line.
enum Line<T> {
    /// A complete op without payload; the line is consumed.
    Done(T),
    /// An op with a payload of `header_len` + rest bytes.
    Frame(PendingFrame),
}

impl Framer {
    fn new(mut limits: DecoderLimits) -> Self {
        // Argument offsets are stored as u32.
        limits.max_control_line = limits.max_control_line.min(u32::MAX as usize - 2);
        Self { limits, scanned: 0, pending: None, failed: false }
    }

    fn reset(&mut self) {
        *self = Self::new(self.limits);
    }

    fn pending_frame_len(&self) -> Option<usize> {
        self.pending.map(|f| f.frame_len())
    }

    /// Runs one decoding step with the fail-once contract.
    fn decode<T>(
        &mut self,
        buf: &mut BytesMut,
        parse_line: impl FnOnce(&[u8], &DecoderLimits) -> Result<Line<T>, DecodeError>,
        finish: impl FnOnce(&PendingFrame, FrameReader) -> Result<T, DecodeError>,
    ) -> Result<Option<T>, DecodeError> {
        if self.failed {
            return Err(DecodeError::Failed);
        }
        let result = self.step(buf, parse_line, finish);
        if result.is_err() {
            self.failed = true;
            self.pending = None;
        }
        result
    }

    fn step<T>(
        &mut self,
        buf: &mut BytesMut,
        parse_line: impl FnOnce(&[u8], &DecoderLimits) -> Result<Line<T>, DecodeError>,
        finish: impl FnOnce(&PendingFrame, FrameReader) -> Result<T, DecodeError>,
    ) -> Result<Option<T>, DecodeError> {
        let frame = match self.pending.take() {
            Some(frame) => frame,
            None => {
                let max = self.limits.max_control_line;
                // A line may be up to `max` bytes plus CR LF.
                let search_end = buf.len().min(max + 2);
                let Some(lf) = memchr::memchr(b'\n', &buf[self.scanned.min(search_end)..search_end])
                    .map(|i| i + self.scanned)
                else {
                    if buf.len() > max + 1 {
                        return Err(DecodeError::ControlLineTooLong { limit: max });
                    }
                    self.scanned = buf.len();
                    return Ok(None);
                };
                self.scanned = 0;
                let line_end = if lf > 0 && buf[lf - 1] == b'\r' { lf - 1 } else { lf };
                if line_end > max {
                    return Err(DecodeError::ControlLineTooLong { limit: max });
                }
                match parse_line(&buf[..line_end], &self.limits)? {
                    Line::Done(op) => {
                        buf.advance(lf + 1);
                        return Ok(Some(op));
                    }
                    Line::Frame(mut frame) => {
                        frame.line_len = lf + 1;
                        frame
                    }
                }
            }
        };
        let frame_len = frame.frame_len();
        if buf.len() < frame_len {
            self.pending = Some(frame);
            return Ok(None);
        }
        if &buf[frame_len - 2..frame_len] != b"\r\n" {
            return Err(DecodeError::MissingPayloadTerminator);
        }
        let is_headers = matches!(buf[0], b'H' | b'h');
        finish(&frame, FrameReader { frame: buf.split_to(frame_len).freeze(), is_headers }).map(Some)
    }
}

/// A complete frame, split off the read buffer once; fields are slices of it.
struct FrameReader {
    frame: Bytes,
    /// Whether the op is `HMSG`/`HPUB`.
    is_headers: bool,
}

impl FrameReader {
    #[inline]
    fn take(&mut self, (start, end): (usize, usize)) -> Bytes {
        if start == end {
            Bytes::new()
        } else {
            self.frame.slice(start..end)
        }
    }

    /// A subject at `range`: UTF-8 and non-empty (never empty here: the argument splitter
    /// yields no empty arguments).
    #[inline]
    fn subject(&mut self, range: (usize, usize), field: &'static str) -> Result<Subject, DecodeError> {
        ByteString::try_from(self.take(range))
            .ok()
            .and_then(Subject::from_wire)
            .ok_or(DecodeError::InvalidUtf8 { field })
    }

    /// The raw bytes at `range`, whatever they are.
    #[inline]
    fn raw(&mut self, range: (usize, usize)) -> Bytes {
        self.take(range)
    }

    /// The header block and the payload. The payload is the frame itself, trimmed: no
    /// reference-count traffic for it.
    #[inline]
    fn body(self, frame: &PendingFrame) -> (Bytes, Bytes) {
        let headers_end = frame.line_len + frame.header_len;
        let headers =
            if frame.header_len == 0 { Bytes::new() } else { self.frame.slice(frame.line_len..headers_end) };
        let mut payload = self.frame;
        payload.truncate(frame.line_len + frame.total_len);
        payload.advance(headers_end);
        (headers, payload)
    }
}

/// Matches the op name at the start of `line` case-insensitively. `exact` ops must be
/// followed by whitespace or the end of the line; others (`PING`, `PONG`, `+OK`) tolerate
/// trailing bytes, as the server does.
fn starts_with_op(line: &[u8], op: &[u8], exact: bool) -> bool {
    line.len() >= op.len()
        && line[..op.len()].eq_ignore_ascii_case(op)
        && (!exact || line.len() == op.len() || matches!(line[op.len()], b' ' | b'\t'))
}

fn unknown_operation(line: &[u8]) -> DecodeError {
    DecodeError::UnknownOperation { line: String::from_utf8_lossy(&line[..line.len().min(32)]).into_owned() }
}

/// Parses a size: 1 to 9 ASCII digits (leading zeros allowed), as the server accepts.
fn parse_size(digits: &[u8], op: &'static str) -> Result<usize, DecodeError> {
    if digits.is_empty() || digits.len() > 9 {
        return Err(DecodeError::InvalidSize { op });
    }
    let mut n = 0usize;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(DecodeError::InvalidSize { op });
        }
        n = n * 10 + usize::from(d - b'0');
    }
    Ok(n)
}

/// Parses a decimal u64 (a sid or an UNSUB count), rejecting overflow.
fn parse_u64(digits: &[u8], op: &'static str) -> Result<u64, DecodeError> {
    if digits.is_empty() || digits.len() > 20 {
        return Err(DecodeError::InvalidNumber { op });
    }
    let mut n = 0u64;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(DecodeError::InvalidNumber { op });
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or(DecodeError::InvalidNumber { op })?;
    }
    Ok(n)
}

fn parse_sid(digits: &[u8], op: &'static str) -> Result<Sid, DecodeError> {
    parse_u64(digits, op).map(Sid)
}

/// Splits the arguments of a payload-carrying op (`MSG`, `HMSG`, `PUB`, `HPUB`) after its
/// `op_len`-byte name, checks their count (`min_args`, or one more with a reply subject),
/// and parses the trailing size fields: `(header_len, total_len)`, checked against the
/// limits. `headers` ops end with two sizes, the others with one.
fn payload_args(
    line: &[u8],
    op: &'static str,
    op_len: usize,
    min_args: usize,
    headers: bool,
    limits: &DecoderLimits,
) -> Result<(Args, usize, usize), DecodeError> {
    let args = Args::split(line, op_len).ok_or(DecodeError::TooManyArguments { op })?;
    if args.count < min_args {
        return Err(DecodeError::MissingArguments { op });
    }
    if args.count > min_args + 1 {
        return Err(DecodeError::TooManyArguments { op });
    }
    let total_len = parse_size(args.get(line, args.count - 1), op)?;
    let header_len = if headers { parse_size(args.get(line, args.count - 2), op)? } else { 0 };
    check_sizes(header_len, total_len, limits)?;
    Ok((args, header_len, total_len))
}

/// Checks payload sizes against the limit and each other.
fn check_sizes(header_len: usize, total_len: usize, limits: &DecoderLimits) -> Result<(), DecodeError> {
    if total_len > limits.max_payload {
        return Err(DecodeError::PayloadTooLarge { size: total_len, limit: limits.max_payload });
    }
    if header_len > total_len {
        return Err(DecodeError::HeaderLenExceedsTotal { header_len, total_len });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size(b"0", "MSG"), Ok(0));
        assert_eq!(parse_size(b"005", "MSG"), Ok(5));
        assert_eq!(parse_size(b"999999999", "MSG"), Ok(999_999_999));
        for bad in [&b""[..], b"1234567890", b"-1", b"+1", b"1a", b"0x10", b" 1"] {
            assert_eq!(parse_size(bad, "MSG"), Err(DecodeError::InvalidSize { op: "MSG" }), "{bad:?}");
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u64(b"18446744073709551615", "UNSUB"), Ok(u64::MAX));
        assert!(parse_u64(b"18446744073709551616", "UNSUB").is_err());
        assert!(parse_u64(b"99999999999999999999", "UNSUB").is_err());
        assert!(parse_u64(b"1x", "UNSUB").is_err());
    }

    #[test]
    fn args_split_on_runs_of_blanks() {
        let line = b"MSG  a\t\tb   c ";
        let args = Args::split(line, 3).unwrap();
        assert_eq!(args.count, 3);
        assert_eq!(args.get(line, 0), b"a");
        assert_eq!(args.get(line, 2), b"c");
        assert!(Args::split(b"x a b c d e f", 1).is_none());
    }
}
