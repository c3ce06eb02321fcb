//! The NATS connection state machine driven over a blocking `std::net::TcpStream`, with
//! nothing but `nats-proto`, `bytes` and `std`.
//!
//! This example is the proof that the sans-IO core works in any IO stack: no async runtime,
//! no threads, no helper crates. [`Driver`] owns the socket and the clock and runs the loop
//! of the crate docs one [`Driver::turn`] at a time; the [`Connection`] does the protocol:
//! handshake, PING/PONG, subscriptions, the request inbox, flush and drain.
//!
//! The demo connects, subscribes to `greet.*`, publishes messages to itself (plain, with a
//! reply subject, empty, larger than 16 KiB, with headers), flushes and checks that every
//! one came back intact and in order. Then request/reply: a responder on `help.please`
//! answers a request made on the same connection, and a request to a subject nobody
//! listens on must end with "no responders". Finally it drains and waits for the close.
//! It exits 0 only if everything checked out, else 1; every wait has a deadline.
//!
//! ```text
//! nats-server -p 4222 &
//! NATS_URL=nats://127.0.0.1:4222 cargo run -p nats-proto --example pubsub_std
//! ```

use std::io::{ErrorKind, IoSlice, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use nats_proto::{
    Action, Connection, Event, Expected, HeaderMap, HeaderName, HeaderValue, Options, RequestOutcome,
    ServerAddr, Subject, TransportError, TransportErrorKind, TransportId,
};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const DEFAULT_URL: &str = "nats://127.0.0.1:4222";
const TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A blocking driver: the connection, the socket it asked for, and a read buffer.
struct Driver {
    conn: Connection,
    /// The open transport and its id.
    socket: Option<(TransportId, TcpStream)>,
    read_buf: Vec<u8>,
}

impl Driver {
    fn new(options: Options) -> Result<Self> {
        let conn = Connection::new(options, Instant::now())?;
        Ok(Self { conn, socket: None, read_buf: vec![0; 64 * 1024] })
    }

    /// One round of the run loop: actions, outbound bytes, input until the connection's
    /// next timer or `deadline` (not waiting when events are ready), timers. Returns the
    /// events.
    fn turn(&mut self, deadline: Instant) -> Vec<Event> {
        self.carry_out_actions();
        self.write_outbound();
        self.carry_out_actions(); // a failed write may have scheduled another attempt
        let mut events: Vec<Event> = std::iter::from_fn(|| self.conn.poll_event()).collect();
        if events.is_empty() {
            self.wait_for_input(deadline);
        }
        self.conn.handle_timeout(Instant::now());
        events.extend(std::iter::from_fn(|| self.conn.poll_event()));
        events
    }

    fn carry_out_actions(&mut self) {
        while let Some(action) = self.conn.poll_action() {
            match action {
                Action::Connect(id, server) => match open(&server) {
                    Ok(stream) => {
                        self.socket = Some((id, stream));
                        self.conn.handle_connected(Instant::now(), id);
                    }
                    Err(e) => {
                        eprintln!("  cannot connect to {server}: {e}");
                        self.conn.handle_disconnected(
                            Instant::now(),
                            id,
                            TransportError::new(TransportErrorKind::Connect, e.to_string()),
                        );
                    }
                },
                Action::StartTls { server_name, .. } => {
                    let message = format!("this example has no TLS (asked for {server_name})");
                    eprintln!("  {message}");
                    self.lost(TransportError::new(TransportErrorKind::Tls, message));
                }
                Action::CloseTransport(id) => {
                    if self.socket.as_ref().is_some_and(|(open, _)| *open == id) {
                        self.socket = None;
                    }
                }
                other => eprintln!("  ignoring an action this example does not know: {other:?}"),
            }
        }
    }

    /// Writes everything that may be written now, several chunks per system call (publish
    /// pacing may hold back the end of the queue until the server answers).
    fn write_outbound(&mut self) {
        loop {
            let mut left = self.conn.writable_len();
            let Some((_, stream)) = self.socket.as_mut().filter(|_| left > 0) else { return };
            let mut chunks = [IoSlice::new(&[]); 16];
            let count = self.conn.outbound().chunks_vectored(&mut chunks);
            let mut slices = [IoSlice::new(&[]); 16];
            for (slice, chunk) in slices.iter_mut().zip(&chunks[..count]) {
                let n = chunk.len().min(left);
                *slice = IoSlice::new(&chunk[..n]);
                left -= n;
            }
            match stream.write_vectored(&slices[..count]) {
                Ok(0) => self.lost(TransportError::closed()),
                Ok(written) => self.conn.advance_outbound(written),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => self.lost(TransportError::new(TransportErrorKind::Io, e.to_string())),
            }
        }
    }

    /// Reads once, waiting no later than the connection's next timer or `deadline`.
    fn wait_for_input(&mut self, deadline: Instant) {
        let now = Instant::now();
        let until = self.conn.poll_timeout().map_or(deadline, |t| t.min(deadline));
        let wait = until.saturating_duration_since(now).max(Duration::from_millis(1));
        let Some((id, stream)) = self.socket.as_mut() else { return std::thread::sleep(wait) };
        let id = *id;
        let read = stream.set_read_timeout(Some(wait)).and_then(|()| stream.read(&mut self.read_buf));
        match read {
            Ok(0) => self.lost(TransportError::closed()),
            Ok(n) => self.conn.handle_input(Instant::now(), id, &self.read_buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(e) => self.lost(TransportError::new(TransportErrorKind::Io, e.to_string())),
        }
    }

    /// The open transport failed: drop it and tell the connection.
    fn lost(&mut self, error: TransportError) {
        if let Some((id, _)) = self.socket.take() {
            self.conn.handle_disconnected(Instant::now(), id, error);
        }
    }

    /// Runs turns, handing every event to `step`, until `step` returns `true` (the rest of
    /// that turn's events still go to `step`); fails after `TIMEOUT`.
    fn run_until(
        &mut self,
        what: &str,
        mut step: impl FnMut(&mut Connection, Event) -> Result<bool>,
    ) -> Result<()> {
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            let mut done = false;
            for event in self.turn(deadline) {
                done |= step(&mut self.conn, event)?;
            }
            if done {
                return Ok(());
            }
        }
        Err(format!("no {what} within {TIMEOUT:?}").into())
    }
}

/// Opens TCP to the first address of `server` that answers.
fn open(server: &ServerAddr) -> std::io::Result<TcpStream> {
    let mut last = std::io::Error::new(ErrorKind::NotFound, "the name resolves to no address");
    for addr in server.host_port().to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                stream.set_write_timeout(Some(TIMEOUT))?;
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Any event a step did not expect: harmless news is ignored, the rest is a failure.
fn unexpected(event: Event) -> Result<bool> {
    match event {
        Event::ServerInfo(_) | Event::DiscoveredServers { .. } => Ok(false),
        Event::Disconnected { error } => Err(format!("disconnected: {error}").into()),
        Event::Closed { error: Some(error) } => Err(format!("connection closed: {error}").into()),
        other => Err(format!("unexpected event: {other:?}").into()),
    }
}

/// One message to publish and expect back.
struct Sent {
    subject: &'static str,
    reply: Option<&'static str>,
    headers: Option<HeaderMap>,
    payload: Bytes,
}

fn messages() -> Result<Vec<Sent>> {
    let mut headers = HeaderMap::new();
    headers.insert(HeaderName::new("X-Demo")?, HeaderValue::new("pubsub_std")?);
    headers.append(HeaderName::new("X-Demo")?, HeaderValue::new("second value")?);
    let plain = |subject, payload| Sent { subject, reply: None, headers: None, payload };
    Ok(vec![
        plain("greet.joe", Bytes::from_static(b"hello from std::net")),
        Sent { reply: Some("demo.reply.inbox"), ..plain("greet.ann", Bytes::from_static(b"ask")) },
        plain("greet.empty", Bytes::new()),
        plain("greet.large", Bytes::from(vec![b'x'; 20_000])), // its own chunk: > 16 KiB
        Sent { headers: Some(headers), ..plain("greet.headers", Bytes::from_static(b"with headers")) },
    ])
}

/// Subscribe, publish to ourselves, flush, and check every message came back in order.
fn pubsub(driver: &mut Driver) -> Result<()> {
    let sid = driver.conn.subscribe(Subject::new("greet.*")?, None)?;
    let sent = messages()?;
    for m in &sent {
        let reply = m.reply.map(Subject::new).transpose()?;
        driver.conn.publish(&Subject::new(m.subject)?, reply.as_ref(), m.headers.as_ref(), &m.payload)?;
    }
    let flush = driver.conn.flush(Instant::now(), TIMEOUT);
    println!("subscribed to greet.* (sid {sid}), published {} messages, flushing", sent.len());
    let mut received = Vec::new();
    driver.run_until("flush", |_, event| match event {
        Event::Message(msg) if msg.sid == sid => {
            received.push(msg);
            Ok(false)
        }
        Event::Flushed { flush: id, result } if id == flush => Ok(result.map(|()| true)?),
        other => unexpected(other),
    })?;
    if received.len() != sent.len() {
        return Err(format!("sent {} messages, received {}", sent.len(), received.len()).into());
    }
    for (i, (want, got)) in sent.iter().zip(&received).enumerate() {
        let same = (got.sid, got.subject.as_str(), got.reply.as_ref().map(Subject::as_str))
            == (sid, want.subject, want.reply)
            && got.headers.as_deref() == want.headers.as_ref()
            && got.header_error.is_none()
            && got.payload == want.payload;
        if !same {
            let (subject, size) = (&got.subject, got.payload.len());
            return Err(
                format!("message {i} ({}) came back altered: {subject}, {size} bytes", want.subject).into()
            );
        }
    }
    println!("flushed: all {} messages came back intact and in order", received.len());
    Ok(())
}

/// A responder on this connection answers a request; a request nobody hears ends at once.
fn request_reply(driver: &mut Driver) -> Result<()> {
    let responder = driver.conn.subscribe(Subject::new("help.please")?, None)?;
    let now = Instant::now();
    let question = Bytes::from_static(b"what is the answer?");
    let answer = Bytes::from_static(b"42");
    let help = Subject::new("help.please")?;
    let asked = driver.conn.request(now, &help, None, &question, TIMEOUT, Expected::Count(1))?;
    let nobody = Subject::new(format!("nobody.home.{}", std::process::id()))?;
    let unheard = driver.conn.request(now, &nobody, None, &question, TIMEOUT, Expected::Count(1))?;
    let (mut replied, mut completed, mut no_responders) = (false, false, false);
    driver.run_until("replies", |conn, event| {
        match event {
            Event::Message(msg) if msg.sid == responder => {
                let reply = msg.reply.ok_or("the request came without a reply subject")?;
                println!("  responder got {:?} on {}, answering", msg.payload, msg.subject);
                conn.publish(&reply, None, None, &answer)?;
            }
            Event::Reply { request, msg } if request == asked => {
                if msg.payload != answer {
                    return Err(format!("wrong reply: {:?}", msg.payload).into());
                }
                replied = true;
            }
            Event::RequestEnded { request, outcome, replies } if request == asked => {
                if (outcome, replies) != (RequestOutcome::Completed, 1) {
                    return Err(format!("request ended {outcome:?} after {replies} replies").into());
                }
                completed = true;
            }
            Event::RequestEnded { request, outcome, .. } if request == unheard => {
                if outcome != RequestOutcome::NoResponders {
                    return Err(format!("request to {nobody} ended {outcome:?}, not NoResponders").into());
                }
                no_responders = true;
            }
            other => return unexpected(other),
        }
        Ok(replied && completed && no_responders)
    })?;
    println!("request help.please: reply {answer:?}, completed; request {nobody}: no responders");
    Ok(())
}

/// Drains: subscriptions end, the last publishes are confirmed, the connection closes.
fn drain(driver: &mut Driver) -> Result<()> {
    driver.conn.drain(Instant::now());
    let mut ended = 0;
    driver.run_until("close after drain", |_, event| match event {
        Event::SubscriptionEnded { .. } => {
            ended += 1;
            Ok(false)
        }
        Event::Closed { error: None } => Ok(true),
        other => unexpected(other),
    })?;
    driver.carry_out_actions(); // the final CloseTransport
    if driver.socket.is_some() || driver.conn.subscription_count() != 0 {
        return Err("closed, but the transport or a subscription is still open".into());
    }
    println!("drained ({ended} subscriptions ended) and closed");
    Ok(())
}

fn run() -> Result<()> {
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
    let mut driver = Driver::new(Options::new(&url)?)?;
    driver.run_until("connection", |_, event| match event {
        Event::Connected { .. } => Ok(true),
        other => unexpected(other),
    })?;
    let server = driver.conn.connected_server().ok_or("connected to no server")?.to_string();
    let info = driver.conn.server_info().ok_or("connected without INFO")?;
    println!("connected to {server}: nats-server {}, max_payload {} bytes", info.version, info.max_payload);
    pubsub(&mut driver)?;
    request_reply(&mut driver)?;
    drain(&mut driver)
}

fn main() -> ExitCode {
    if let Err(error) = run() {
        eprintln!("FAILED: {error}");
        return ExitCode::FAILURE;
    }
    println!("OK: pub/sub, request/reply and drain all checked out");
    ExitCode::SUCCESS
}
