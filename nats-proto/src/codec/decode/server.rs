//! Decoding what the server sends.

use crate::prelude::*;

use bytes::BytesMut;

use super::{
    parse_sid, payload_args, starts_with_op, unknown_operation, DecodeError, DecoderLimits, FrameReader,
    Framer, Line, PendingFrame,
};
use crate::{
    headers::HeaderMap,
    info::ServerInfo,
    op::{Msg, ServerOp, Undeliverable},
    server_error::ServerError,
    sid::Sid,
};

/// The streaming decoder of server ops, used by clients.
///
/// ```
/// use bytes::BytesMut;
/// use nats_proto::{ServerDecoder, ServerOp};
///
/// let mut decoder = ServerDecoder::new();
/// let mut buf = BytesMut::from(&b"PING\r\nMSG greet.joe 7 5\r\nhel"[..]);
/// assert_eq!(decoder.decode(&mut buf).unwrap(), Some(ServerOp::Ping));
/// assert_eq!(decoder.decode(&mut buf).unwrap(), None); // the payload is incomplete
/// buf.extend_from_slice(b"lo\r\n");
/// let Some(ServerOp::Msg(msg)) = decoder.decode(&mut buf).unwrap() else { panic!() };
/// assert_eq!(msg.subject.as_str(), "greet.joe");
/// assert_eq!(&msg.payload[..], b"hello");
/// ```
#[derive(Debug, Clone)]
pub struct ServerDecoder {
    framer: Framer,
}

impl Default for ServerDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerDecoder {
    /// A decoder with the default [`DecoderLimits`].
    pub fn new() -> Self {
        Self::with_limits(DecoderLimits::default())
    }

    /// A decoder with the given limits.
    pub fn with_limits(limits: DecoderLimits) -> Self {
        Self { framer: Framer::new(limits) }
    }

    /// The limits in force.
    pub fn limits(&self) -> DecoderLimits {
        self.framer.limits
    }

    /// Forgets all state, including a failure: use for a new connection.
    pub fn reset(&mut self) {
        self.framer.reset();
    }

    /// When a frame's control line has been parsed but its payload is incomplete: the
    /// total number of bytes the buffer must hold to complete it. A reader can use it to
    /// reserve space once for a large payload.
    pub fn pending_frame_len(&self) -> Option<usize> {
        self.framer.pending_frame_len()
    }

    /// Decodes the next op from the front of `buf`, removing its bytes.
    ///
    /// `Ok(None)` means more bytes are needed.
    ///
    /// # Errors
    /// A [`DecodeError`] when the stream is not valid protocol; after that every call
    /// fails with [`DecodeError::Failed`] until [`reset`](Self::reset).
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<ServerOp>, DecodeError> {
        self.framer.decode(buf, parse_line, finish_msg)
    }
}

fn parse_line(line: &[u8], limits: &DecoderLimits) -> Result<Line<ServerOp>, DecodeError> {
    let Some(&first) = line.first() else {
        return Err(unknown_operation(line));
    };
    match first {
        b'M' | b'm' if starts_with_op(line, b"MSG", true) => msg_line(line, limits, false),
        b'H' | b'h' if starts_with_op(line, b"HMSG", true) => msg_line(line, limits, true),
        b'P' | b'p' if starts_with_op(line, b"PING", false) => Ok(Line::Done(ServerOp::Ping)),
        b'P' | b'p' if starts_with_op(line, b"PONG", false) => Ok(Line::Done(ServerOp::Pong)),
        b'+' if starts_with_op(line, b"+OK", false) => Ok(Line::Done(ServerOp::Ok)),
        b'-' if starts_with_op(line, b"-ERR", false) => Ok(Line::Done(ServerOp::Err(err_line(&line[4..])))),
        b'I' | b'i' if starts_with_op(line, b"INFO", true) => {
            let info = ServerInfo::from_json(&line[4..]).map_err(DecodeError::InvalidInfo)?;
            Ok(Line::Done(ServerOp::Info(Box::new(info))))
        }
        _ => Err(unknown_operation(line)),
    }
}

/// `-ERR` text: blanks trimmed, then one leading and one trailing `'` removed if present.
/// Tolerates no text, no closing quote and quotes inside the text.
fn err_line(rest: &[u8]) -> ServerError {
    let text = String::from_utf8_lossy(rest);
    let text = text.trim_matches(|c| c == ' ' || c == '\t');
    let text = text.strip_prefix('\'').unwrap_or(text);
    let text = text.strip_suffix('\'').unwrap_or(text);
    ServerError::new(text)
}

/// `MSG <subject> <sid> [reply] <size>` or `HMSG <subject> <sid> [reply] <hdr> <total>`.
fn msg_line(line: &[u8], limits: &DecoderLimits, headers: bool) -> Result<Line<ServerOp>, DecodeError> {
    let (op, op_len, min_args) = if headers { ("HMSG", 4, 4) } else { ("MSG", 3, 3) };
    let (args, header_len, total_len) = payload_args(line, op, op_len, min_args, headers, limits)?;
    // Parse the sid now so that a bad line fails before its payload is awaited.
    let sid = parse_sid(args.get(line, 1), op)?.0;
    Ok(Line::Frame(PendingFrame { args, sid, line_len: 0, header_len, total_len }))
}

fn finish_msg(frame: &PendingFrame, mut reader: FrameReader) -> Result<ServerOp, DecodeError> {
    let args = &frame.args;
    let headers = reader.is_headers;
    let has_reply = args.count == if headers { 5 } else { 4 };
    let subject = reader.subject(args.range(0), "subject");
    let reply = has_reply.then(|| reader.subject(args.range(2), "reply subject")).transpose();
    let (subject, reply) = match (subject, reply) {
        (Ok(subject), Ok(reply)) => (subject, reply),
        // The server relays whatever bytes another client published as a subject: such a
        // frame is well formed and consumed whole, so the stream stays in sync. It is
        // reported instead of delivered (see `ServerOp::Undeliverable`).
        _ => {
            let raw_subject = reader.raw(args.range(0));
            let raw_reply = has_reply.then(|| reader.raw(args.range(2)));
            return Ok(ServerOp::Undeliverable(Undeliverable {
                sid: Sid(frame.sid),
                subject: raw_subject,
                reply: raw_reply,
                size: frame.total_len,
            }));
        }
    };
    let (header_block, payload) = reader.body(frame);
    let (headers, header_error) = if headers {
        match HeaderMap::decode(&header_block) {
            Ok(map) => (Some(Box::new(map)), None),
            Err(e) => (Some(Box::default()), Some(e)),
        }
    } else {
        (None, None)
    };
    Ok(ServerOp::Msg(Msg { subject, sid: Sid(frame.sid), reply, headers, header_error, payload }))
}
