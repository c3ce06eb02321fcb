//! Publish and subscribe over a blocking `std::net::TcpStream`, with nothing but
//! `nats-proto` and `bytes`.
//!
//! This example is the proof that the sans-IO core works in any IO stack: no async runtime,
//! no threads, no helper crates. The caller owns the socket and the loop; the core only
//! turns bytes into [`ServerOp`]s ([`ServerDecoder`]) and ops into bytes ([`OutBuffer`],
//! a `bytes::Buf` written here with vectored writes).
//!
//! It reads `INFO`, sends `CONNECT` + `PING` and waits for the `PONG`, subscribes, publishes
//! a few messages to itself (one with a reply subject, one empty, one large enough to be
//! queued as its own chunk), then sends `PING` and reads `MSG`s until the `PONG` arrives:
//! PONGs answer PINGs in order, so by then every message has been delivered. It exits 0
//! only if every message came back intact, else 1 (also on `-ERR`, a decode error, a
//! closed socket or 5 s of silence). Server `PING`s are answered.
//!
//! ```text
//! nats-server -p 4222 &
//! NATS_URL=nats://127.0.0.1:4222 cargo run -p nats-proto --example pubsub_std
//! ```
//!
//! The connection state machine will take over the handshake and keepalive here once it
//! exists; until then this example drives the codec directly.

use std::error::Error;
use std::io::{self, IoSlice, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use nats_proto::{ConnectInfo, Msg, OutBuffer, ServerDecoder, ServerInfo, ServerOp, Sid, Subject};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const DEFAULT_URL: &str = "nats://127.0.0.1:4222";
const TIMEOUT: Duration = Duration::from_secs(5);
const READ_CHUNK: usize = 64 * 1024;

/// One message to publish and expect back.
struct Expected {
    reply: Option<Subject>,
    payload: Bytes,
}

/// The socket plus the two halves of the codec: bytes in, ops out; ops in, bytes out.
struct Connection {
    stream: TcpStream,
    decoder: ServerDecoder,
    read_buf: BytesMut,
    out: OutBuffer,
}

impl Connection {
    /// Connects to `nats://host:port`, `host:port` or `host` (port 4222).
    fn open(url: &str) -> Result<Self> {
        let url = url.trim();
        let address = url.strip_prefix("nats://").unwrap_or(url).trim_end_matches('/');
        let address = if address.contains(':') { address.to_owned() } else { format!("{address}:4222") };
        let fail = |e: &dyn Error| format!("cannot connect to {address}: {e}");
        let mut last_error = io::Error::new(io::ErrorKind::NotFound, "no address");
        for addr in address.to_socket_addrs().map_err(|e| fail(&e))? {
            match TcpStream::connect_timeout(&addr, TIMEOUT) {
                Ok(stream) => {
                    stream.set_read_timeout(Some(TIMEOUT))?;
                    stream.set_write_timeout(Some(TIMEOUT))?;
                    stream.set_nodelay(true)?;
                    let (decoder, read_buf, out) = (ServerDecoder::new(), BytesMut::new(), OutBuffer::new());
                    return Ok(Self { stream, decoder, read_buf, out });
                }
                Err(e) => last_error = e,
            }
        }
        Err(fail(&last_error).into())
    }

    /// Writes everything in the outbound buffer, several chunks per system call.
    fn flush(&mut self) -> Result<()> {
        while self.out.has_remaining() {
            let mut slices = [IoSlice::new(&[]); 16];
            let count = self.out.chunks_vectored(&mut slices);
            let written = self.stream.write_vectored(&slices[..count])?;
            if written == 0 {
                return Err("the server closed the connection while we were writing".into());
            }
            self.out.advance(written);
        }
        Ok(())
    }

    /// The next op that needs the caller's attention. `PING` is answered here and `-ERR`
    /// becomes an error.
    fn next_op(&mut self) -> Result<ServerOp> {
        loop {
            match self.decoder.decode(&mut self.read_buf).map_err(|e| format!("protocol error: {e}"))? {
                Some(ServerOp::Ping) => {
                    self.out.write_pong();
                    self.flush()?;
                }
                Some(ServerOp::Err(error)) => return Err(error.into()),
                Some(op) => return Ok(op),
                None => self.fill()?,
            }
        }
    }

    /// Reads once from the socket into the spare end of the read buffer.
    fn fill(&mut self) -> Result<()> {
        let filled = self.read_buf.len();
        self.read_buf.resize(filled + READ_CHUNK, 0);
        let read = self.stream.read(&mut self.read_buf[filled..]);
        self.read_buf.truncate(filled + read.as_ref().copied().unwrap_or(0));
        match read {
            Ok(0) => Err("the server closed the connection".into()),
            Ok(_) => Ok(()),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                Err(format!("no answer from the server within {TIMEOUT:?}").into())
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// INFO, then CONNECT + PING, then the PONG that says the server accepted us.
fn handshake(conn: &mut Connection) -> Result<Box<ServerInfo>> {
    let info = match conn.next_op()? {
        ServerOp::Info(info) => info,
        other => return Err(format!("expected INFO first, got {other:?}").into()),
    };
    println!("connected: nats-server {}, max_payload {} bytes", info.version, info.max_payload);
    conn.out.write_connect(&ConnectInfo::default());
    conn.out.write_ping();
    conn.flush()?;
    wait_for_pong(conn, |msg| Err(format!("unexpected MSG before subscribing: {msg:?}").into()))?;
    Ok(info)
}

/// Reads ops until `PONG`, handing every `MSG` to `on_msg`.
fn wait_for_pong(conn: &mut Connection, mut on_msg: impl FnMut(Msg) -> Result<()>) -> Result<()> {
    loop {
        match conn.next_op()? {
            ServerOp::Pong => return Ok(()),
            ServerOp::Msg(msg) => on_msg(msg)?,
            _ => {} // +OK, or an INFO update: nothing to do here.
        }
    }
}

/// One line about a message; long payloads are cut short.
fn describe(subject: &Subject, sid: Sid, reply: Option<&Subject>, payload: &[u8]) -> String {
    let text = String::from_utf8_lossy(&payload[..payload.len().min(40)]);
    let more = if payload.len() > 40 { "..." } else { "" };
    let reply = reply.map_or("-", Subject::as_str);
    format!("subject={subject} sid={sid} reply={reply} payload={text:?}{more} ({} bytes)", payload.len())
}

fn run() -> Result<()> {
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
    let mut conn = Connection::open(&url)?;
    let info = handshake(&mut conn)?;

    let subject = Subject::new(format!("demo.pubsub_std.{}", std::process::id()))?;
    let sid = Sid(1);
    let expected = [
        Expected { reply: None, payload: Bytes::from_static(b"hello from std::net") },
        Expected { reply: Some(Subject::new("demo.reply.inbox")?), payload: Bytes::from_static(b"ask") },
        Expected { reply: None, payload: Bytes::new() },
        Expected { reply: None, payload: Bytes::from(vec![b'x'; 20_000]) },
    ];
    conn.out.write_sub(sid, &subject, None);
    for message in &expected {
        if message.payload.len() as u64 > info.max_payload {
            return Err(format!("payload of {} bytes exceeds max_payload", message.payload.len()).into());
        }
        conn.out.write_pub(&subject, message.reply.as_ref(), None, &message.payload);
    }
    conn.out.write_ping();
    println!("subscribed to {subject} (sid {sid}), published {} messages", expected.len());
    conn.flush()?;

    let mut received = Vec::new();
    wait_for_pong(&mut conn, |msg| {
        println!("  MSG {}", describe(&msg.subject, msg.sid, msg.reply.as_ref(), &msg.payload));
        received.push(msg);
        Ok(())
    })?;
    check(&subject, sid, &expected, &received)
}

/// Every published message must come back once, in order, unchanged.
fn check(subject: &Subject, sid: Sid, expected: &[Expected], received: &[Msg]) -> Result<()> {
    if received.len() != expected.len() {
        return Err(format!("expected {} messages, received {}", expected.len(), received.len()).into());
    }
    for (i, (want, got)) in expected.iter().zip(received).enumerate() {
        if (&got.subject, got.sid, &got.reply, &got.payload) != (subject, sid, &want.reply, &want.payload) {
            let sent = describe(subject, sid, want.reply.as_ref(), &want.payload);
            let came = describe(&got.subject, got.sid, got.reply.as_ref(), &got.payload);
            return Err(format!("message {i} was altered:\n  sent     {sent}\n  received {came}").into());
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    if let Err(error) = run() {
        eprintln!("FAILED: {error}");
        return ExitCode::FAILURE;
    }
    println!("OK: every published message came back intact");
    ExitCode::SUCCESS
}
