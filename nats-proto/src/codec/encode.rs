//! Encoding ops into an [`OutBuffer`]: client ops for clients, server ops for test
//! servers and fuzzers.
//!
//! The encoders trust their (validated) inputs: subjects, queue groups and headers were
//! checked when they were constructed, so nothing here can produce a broken frame.

use bytes::{BufMut, Bytes, BytesMut};

use crate::{
    connect::ConnectInfo,
    headers::HeaderMap,
    info::ServerInfo,
    op::{ClientOp, Msg, Pub, ServerOp, Undeliverable},
    out_buffer::OutBuffer,
    queue_group::QueueGroup,
    server_error::ServerError,
    sid::Sid,
    subject::Subject,
};

/// Writes `n` in decimal.
fn put_decimal(out: &mut BytesMut, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        // n % 10 < 10: the narrowing cast cannot truncate.
        #[allow(clippy::cast_possible_truncation)]
        let digit = (n % 10) as u8;
        digits[i] = b'0' + digit;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&digits[i..]);
}

fn put_usize(out: &mut BytesMut, n: usize) {
    put_decimal(out, n as u64);
}

/// The size fields and the payload shared by `PUB`/`HPUB`/`MSG`/`HMSG`:
/// `[<hdr> ]<total>\r\n[<headers>]<payload>\r\n`.
fn put_sizes_and_body(out: &mut OutBuffer, headers: Option<&HeaderMap>, payload: &Bytes) {
    let tail = out.tail_cont();
    match headers {
        Some(headers) => {
            let header_len = headers.encoded_len();
            put_usize(tail, header_len);
            tail.put_u8(b' ');
            put_usize(tail, header_len + payload.len());
            tail.put_slice(b"\r\n");
            headers.encode(tail);
        }
        None => {
            put_usize(tail, payload.len());
            tail.put_slice(b"\r\n");
        }
    }
    out.put_payload(payload);
    out.tail_cont().put_slice(b"\r\n");
}

impl OutBuffer {
    /// `CONNECT {json}\r\n`.
    pub fn write_connect(&mut self, info: &ConnectInfo) {
        let tail = self.tail();
        tail.put_slice(b"CONNECT ");
        // Serializing plain structs of strings, bools and integers into memory cannot fail.
        tail.put_slice(&serde_json::to_vec(info).expect("CONNECT serializes"));
        self.tail().put_slice(b"\r\n");
    }

    /// `PUB <subject> [reply] <size>\r\n<payload>\r\n`, or `HPUB` with headers. The
    /// caller checks that `subject` is publishable and the size is within `max_payload`.
    pub fn write_pub(
        &mut self,
        subject: &Subject,
        reply: Option<&Subject>,
        headers: Option<&HeaderMap>,
        payload: &Bytes,
    ) {
        self.write_pub_raw(subject.as_str(), reply.map(Subject::as_str), headers, payload);
    }

    /// `write_pub` for subjects the caller has validated as strings.
    pub(crate) fn write_pub_raw(
        &mut self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&HeaderMap>,
        payload: &Bytes,
    ) {
        let tail = self.tail();
        tail.put_slice(if headers.is_some() { b"HPUB " } else { b"PUB " });
        tail.put_slice(subject.as_bytes());
        tail.put_u8(b' ');
        if let Some(reply) = reply {
            tail.put_slice(reply.as_bytes());
            tail.put_u8(b' ');
        }
        put_sizes_and_body(self, headers, payload);
    }

    /// `SUB <subject> [queue] <sid>\r\n`.
    pub fn write_sub(&mut self, sid: Sid, subject: &Subject, queue_group: Option<&QueueGroup>) {
        let tail = self.tail();
        tail.put_slice(b"SUB ");
        tail.put_slice(subject.as_bytes());
        tail.put_u8(b' ');
        if let Some(queue) = queue_group {
            tail.put_slice(queue.as_str().as_bytes());
            tail.put_u8(b' ');
        }
        put_decimal(tail, sid.0);
        tail.put_slice(b"\r\n");
    }

    /// `UNSUB <sid> [max]\r\n`.
    pub fn write_unsub(&mut self, sid: Sid, max: Option<u64>) {
        let tail = self.tail();
        tail.put_slice(b"UNSUB ");
        put_decimal(tail, sid.0);
        if let Some(max) = max {
            tail.put_u8(b' ');
            put_decimal(tail, max);
        }
        tail.put_slice(b"\r\n");
    }

    /// `PING\r\n`.
    pub fn write_ping(&mut self) {
        self.tail().put_slice(b"PING\r\n");
    }

    /// `PONG\r\n`.
    pub fn write_pong(&mut self) {
        self.tail().put_slice(b"PONG\r\n");
    }

    /// Any client op.
    pub fn write_client_op(&mut self, op: &ClientOp) {
        match op {
            ClientOp::Connect(info) => self.write_connect(info),
            ClientOp::Pub(Pub { subject, reply, headers, payload }) => {
                self.write_pub(subject, reply.as_ref(), headers.as_deref(), payload);
            }
            ClientOp::Sub { sid, subject, queue_group } => {
                self.write_sub(*sid, subject, queue_group.as_ref())
            }
            ClientOp::Unsub { sid, max } => self.write_unsub(*sid, *max),
            ClientOp::Ping => self.write_ping(),
            ClientOp::Pong => self.write_pong(),
        }
    }

    /// `INFO {json} \r\n`, with the space before CRLF that `nats-server` writes.
    pub fn write_info(&mut self, info: &ServerInfo) {
        let tail = self.tail();
        tail.put_slice(b"INFO ");
        tail.put_slice(&serde_json::to_vec(info).expect("INFO serializes"));
        self.tail().put_slice(b" \r\n");
    }

    /// `MSG <subject> <sid> [reply] <size>\r\n<payload>\r\n`, or `HMSG` with headers.
    pub fn write_msg(&mut self, msg: &Msg) {
        let tail = self.tail();
        tail.put_slice(if msg.headers.is_some() { b"HMSG " } else { b"MSG " });
        tail.put_slice(msg.subject.as_bytes());
        tail.put_u8(b' ');
        put_decimal(tail, msg.sid.0);
        tail.put_u8(b' ');
        if let Some(reply) = &msg.reply {
            tail.put_slice(reply.as_bytes());
            tail.put_u8(b' ');
        }
        put_sizes_and_body(self, msg.headers.as_deref(), &msg.payload);
    }

    /// `-ERR '<text>'\r\n`. Line breaks in the text are written as spaces, so that the
    /// frame stays intact.
    pub fn write_err(&mut self, error: &ServerError) {
        let tail = self.tail();
        tail.put_slice(b"-ERR '");
        for &b in error.message().as_bytes() {
            tail.put_u8(if b == b'\r' || b == b'\n' { b' ' } else { b });
        }
        tail.put_slice(b"'\r\n");
    }

    /// `MSG <raw subject> <sid> [raw reply] <size>` with `size` zero bytes as payload:
    /// what a test server sends to reproduce a message with a subject that is not UTF-8.
    /// Decoding it gives back the same [`Undeliverable`].
    pub fn write_undeliverable(&mut self, msg: &Undeliverable) {
        let tail = self.tail();
        tail.put_slice(b"MSG ");
        tail.put_slice(&msg.subject);
        tail.put_u8(b' ');
        put_decimal(tail, msg.sid.0);
        tail.put_u8(b' ');
        if let Some(reply) = &msg.reply {
            tail.put_slice(reply);
            tail.put_u8(b' ');
        }
        put_decimal(tail, msg.size as u64);
        tail.put_slice(b"\r\n");
        tail.put_bytes(0, msg.size);
        tail.put_slice(b"\r\n");
    }

    /// Any server op.
    pub fn write_server_op(&mut self, op: &ServerOp) {
        match op {
            ServerOp::Info(info) => self.write_info(info),
            ServerOp::Msg(msg) => self.write_msg(msg),
            ServerOp::Ping => self.write_ping(),
            ServerOp::Pong => self.write_pong(),
            ServerOp::Ok => self.tail().put_slice(b"+OK\r\n"),
            ServerOp::Err(error) => self.write_err(error),
            ServerOp::Undeliverable(msg) => self.write_undeliverable(msg),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;

    #[test]
    fn decimal() {
        for n in [0u64, 7, 10, 99, 100, 12345, u64::MAX] {
            let mut out = BytesMut::new();
            put_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }
}
