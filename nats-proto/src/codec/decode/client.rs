//! Decoding what a client sends: for test servers and fuzzers, through the same tested
//! framing as the client side.

use crate::prelude::*;

use bytes::BytesMut;
use bytestring::ByteString;

use super::{
    parse_sid, parse_u64, payload_args, starts_with_op, unknown_operation, Args, DecodeError, DecoderLimits,
    FrameReader, Framer, Line, PendingFrame,
};
use crate::{
    connect::ConnectInfo,
    headers::HeaderMap,
    op::{ClientOp, Pub},
    queue_group::QueueGroup,
    subject::Subject,
};

/// The streaming decoder of client ops (`CONNECT`, `PUB`, `HPUB`, `SUB`, `UNSUB`, `PING`,
/// `PONG`), for servers and test servers. Same contract as
/// [`ServerDecoder`](crate::ServerDecoder). Subjects are checked only for UTF-8, as a
/// non-pedantic server does; validating them is the caller's business.
#[derive(Debug, Clone)]
pub struct ClientDecoder {
    framer: Framer,
}

impl Default for ClientDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientDecoder {
    /// A decoder with the default [`DecoderLimits`].
    pub fn new() -> Self {
        Self::with_limits(DecoderLimits::default())
    }

    /// A decoder with the given limits.
    pub fn with_limits(limits: DecoderLimits) -> Self {
        Self { framer: Framer::new(limits) }
    }

    /// Forgets all state, including a failure.
    pub fn reset(&mut self) {
        self.framer.reset();
    }

    /// Decodes the next op from the front of `buf`, removing its bytes. `Ok(None)` means
    /// more bytes are needed.
    ///
    /// # Errors
    /// A [`DecodeError`]; after that every call fails with [`DecodeError::Failed`] until
    /// [`reset`](Self::reset).
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<ClientOp>, DecodeError> {
        self.framer.decode(buf, parse_line, finish_pub)
    }
}

fn parse_line(line: &[u8], limits: &DecoderLimits) -> Result<Line<ClientOp>, DecodeError> {
    let Some(&first) = line.first() else {
        return Err(unknown_operation(line));
    };
    match first {
        b'P' | b'p' if starts_with_op(line, b"PUB", true) => pub_line(line, limits, false),
        b'H' | b'h' if starts_with_op(line, b"HPUB", true) => pub_line(line, limits, true),
        b'S' | b's' if starts_with_op(line, b"SUB", true) => sub_line(line).map(Line::Done),
        b'U' | b'u' if starts_with_op(line, b"UNSUB", true) => unsub_line(line).map(Line::Done),
        b'P' | b'p' if starts_with_op(line, b"PING", false) => Ok(Line::Done(ClientOp::Ping)),
        b'P' | b'p' if starts_with_op(line, b"PONG", false) => Ok(Line::Done(ClientOp::Pong)),
        b'C' | b'c' if starts_with_op(line, b"CONNECT", true) => {
            let info = ConnectInfo::from_json(&line[7..]).map_err(DecodeError::InvalidConnect)?;
            Ok(Line::Done(ClientOp::Connect(Box::new(info))))
        }
        _ => Err(unknown_operation(line)),
    }
}

/// `PUB <subject> [reply] <size>` or `HPUB <subject> [reply] <hdr> <total>`.
fn pub_line(line: &[u8], limits: &DecoderLimits, headers: bool) -> Result<Line<ClientOp>, DecodeError> {
    let (op, op_len, min_args) = if headers { ("HPUB", 4, 3) } else { ("PUB", 3, 2) };
    let (args, header_len, total_len) = payload_args(line, op, op_len, min_args, headers, limits)?;
    Ok(Line::Frame(PendingFrame { args, sid: 0, line_len: 0, header_len, total_len }))
}

fn finish_pub(frame: &PendingFrame, mut reader: FrameReader) -> Result<ClientOp, DecodeError> {
    let headers = reader.is_headers;
    let has_reply = frame.args.count == if headers { 4 } else { 3 };
    let subject = reader.subject(frame.args.range(0), "subject")?;
    let reply = if has_reply { Some(reader.subject(frame.args.range(1), "reply subject")?) } else { None };
    let (header_block, payload) = reader.body(frame);
    let headers = if headers { Some(Box::new(HeaderMap::decode(&header_block)?)) } else { None };
    Ok(ClientOp::Pub(Pub { subject, reply, headers, payload }))
}

/// `SUB <subject> [queue] <sid>`.
fn sub_line(line: &[u8]) -> Result<ClientOp, DecodeError> {
    const OP: &str = "SUB";
    let args = Args::split(line, 3).ok_or(DecodeError::TooManyArguments { op: OP })?;
    match args.count {
        0 | 1 => return Err(DecodeError::MissingArguments { op: OP }),
        2 | 3 => {}
        _ => return Err(DecodeError::TooManyArguments { op: OP }),
    }
    let subject = core::str::from_utf8(args.get(line, 0))
        .ok()
        .and_then(|s| Subject::from_wire(ByteString::from(s)))
        .ok_or(DecodeError::InvalidUtf8 { field: "subject" })?;
    let queue_group = if args.count == 3 {
        let name = core::str::from_utf8(args.get(line, 1))
            .map_err(|_| DecodeError::InvalidUtf8 { field: "queue group" })?;
        Some(QueueGroup::from_wire(ByteString::from(name))?)
    } else {
        None
    };
    let sid = parse_sid(args.get(line, args.count - 1), OP)?;
    Ok(ClientOp::Sub { sid, subject, queue_group })
}

/// `UNSUB <sid> [max]`.
fn unsub_line(line: &[u8]) -> Result<ClientOp, DecodeError> {
    const OP: &str = "UNSUB";
    let args = Args::split(line, 5).ok_or(DecodeError::TooManyArguments { op: OP })?;
    match args.count {
        0 => return Err(DecodeError::MissingArguments { op: OP }),
        1 | 2 => {}
        _ => return Err(DecodeError::TooManyArguments { op: OP }),
    }
    let sid = parse_sid(args.get(line, 0), OP)?;
    let max = if args.count == 2 { Some(parse_u64(args.get(line, 1), OP)?) } else { None };
    Ok(ClientOp::Unsub { sid, max })
}
