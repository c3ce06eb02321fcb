//! A virtual-clock harness for the connection state machine: the connection under test,
//! a scripted fake server that speaks through the codec, and a clock that only moves
//! when told (usually straight to the connection's next deadline).

#![allow(dead_code)]

use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use nats_proto::{
    Action, ClientDecoder, ClientOp, Connection, Event, HeaderMap, Msg, Options, OutBuffer, ServerAddr,
    ServerError, ServerInfo, ServerOp, Sid, StatusCode, Subject, TransportError, TransportId,
};

/// The connection, the fake server's view of the wire and the virtual clock.
pub struct Harness {
    pub conn: Connection,
    pub now: Instant,
    /// The server the current transport is connected to, if any.
    pub server: Option<ServerAddr>,
    /// The transport of the last Connect action.
    transport: Option<TransportId>,
    decoder: ClientDecoder,
    wire: BytesMut,
    /// The SUBs and UNSUBs sent with the last CONNECT, for the next `client_ops`.
    carried: Vec<ClientOp>,
}

/// Options for tests: one server per URL, kept in order, a fixed RNG seed.
pub fn options(urls: &str) -> Options {
    Options::new(urls).unwrap().with_randomize(false).with_rng_seed(Some(42))
}

/// A typical INFO from nats-server 2.9.10.
pub fn info() -> ServerInfo {
    {
        let mut value = ServerInfo::default();
        value.server_id = "NTEST".into();
        value.version = "2.9.10".into();
        value.proto = 1;
        value.headers = true;
        value.max_payload = 1024 * 1024;
        value
    }
}

pub fn subject(s: &str) -> Subject {
    Subject::new(s).unwrap()
}

impl Harness {
    /// The connection's invariants hold: checked after every step the harness takes.
    pub fn check(&self) {
        if let Err(violation) = self.conn.check_invariants() {
            panic!("{violation} (phase {:?})", self.conn.state());
        }
    }

    pub fn new(options: Options) -> Self {
        let now = Instant::now();
        let conn = Connection::new(options, now).expect("valid options");
        Self {
            conn,
            now,
            server: None,
            transport: None,
            decoder: ClientDecoder::new(),
            wire: BytesMut::new(),
            carried: Vec::new(),
        }
    }

    /// All actions the connection asks for now.
    pub fn actions(&mut self) -> Vec<Action> {
        self.check();
        let actions: Vec<Action> = std::iter::from_fn(|| self.conn.poll_action()).collect();
        for action in &actions {
            if let Action::Connect(transport, _) = action {
                self.transport = Some(*transport);
            }
        }
        actions
    }

    /// The transport of the last Connect action taken.
    pub fn transport(&self) -> TransportId {
        self.transport.expect("a Connect action was taken")
    }

    /// All events the connection reports now.
    pub fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.conn.poll_event()).collect()
    }

    /// Expects exactly one action: connect to some server; returns it.
    pub fn expect_connect(&mut self) -> ServerAddr {
        match self.actions().as_slice() {
            [Action::Connect(_, addr)] => addr.clone(),
            other => panic!("expected one Connect action, got {other:?}"),
        }
    }

    /// The transport opens: the fake server accepts.
    pub fn accept(&mut self, server: ServerAddr) {
        self.server = Some(server);
        self.decoder.reset();
        self.wire.clear();
        self.conn.handle_connected(self.now, self.transport());
        self.check();
    }

    /// The transport fails or the server goes away.
    pub fn drop_transport(&mut self) {
        self.server = None;
        self.conn.handle_disconnected(self.now, self.transport(), TransportError::closed());
        self.check();
    }

    /// The server sends ops.
    pub fn send(&mut self, ops: &[ServerOp]) {
        let mut out = OutBuffer::new();
        for op in ops {
            out.write_server_op(op);
        }
        self.conn.handle_input(self.now, self.transport(), &out.to_vec());
        self.check();
    }

    /// The server sends raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.conn.handle_input(self.now, self.transport(), bytes);
        self.check();
    }

    /// Everything the client wrote since the last call (as much as publish pacing lets
    /// it), decoded by the fake server.
    pub fn client_ops(&mut self) -> Vec<ClientOp> {
        self.check();
        let n = self.conn.writable_len();
        let mut bytes = self.conn.outbound().to_vec();
        bytes.truncate(n);
        self.wire.extend_from_slice(&bytes);
        self.conn.advance_outbound(n);
        let mut ops = std::mem::take(&mut self.carried);
        while let Some(op) = self.decoder.decode(&mut self.wire).expect("the client writes valid protocol") {
            ops.push(op);
        }
        ops
    }

    /// Writes only `n` bytes of the outbound buffer (a partial write).
    pub fn write_partially(&mut self, n: usize) {
        let out = self.conn.outbound();
        let n = n.min(out.len());
        let mut copy = out.to_vec();
        copy.truncate(n);
        self.wire.extend_from_slice(&copy);
        self.conn.advance_outbound(n);
        self.check();
    }

    /// Takes what the client wrote for its handshake: CONNECT, the subscriptions (SUB and
    /// UNSUB only), PING. The subscriptions are kept for the next `client_ops`. Returns
    /// the CONNECT.
    pub fn expect_connect_ping(&mut self) -> nats_proto::ConnectInfo {
        let ops = self.client_ops();
        let [ClientOp::Connect(connect), subscriptions @ .., ClientOp::Ping] = ops.as_slice() else {
            panic!("expected CONNECT, subscriptions, PING; got {ops:?}")
        };
        assert!(
            subscriptions.iter().all(|op| matches!(op, ClientOp::Sub { .. } | ClientOp::Unsub { .. })),
            "only subscriptions between CONNECT and PING: {ops:?}"
        );
        self.carried = subscriptions.to_vec();
        (**connect).clone()
    }

    /// The whole handshake with `info`: accept, INFO, CONNECT + subscriptions + PING,
    /// PONG. Returns the CONNECT the client sent.
    pub fn handshake(&mut self, info: ServerInfo) -> nats_proto::ConnectInfo {
        let server = self.expect_connect();
        self.accept(server);
        self.send(&[ServerOp::Info(Box::new(info))]);
        let connect = self.expect_connect_ping();
        self.send(&[ServerOp::Pong]);
        connect
    }

    /// Jumps the clock to the connection's next deadline and handles it; returns how far
    /// the clock moved.
    pub fn advance(&mut self) -> Duration {
        let deadline = self.conn.poll_timeout().expect("the connection has a deadline");
        let moved = deadline.saturating_duration_since(self.now);
        self.now = self.now.max(deadline);
        self.conn.handle_timeout(self.now);
        self.check();
        moved
    }

    /// Moves the clock by `by` and handles any deadline reached.
    pub fn sleep(&mut self, by: Duration) {
        self.now += by;
        self.conn.handle_timeout(self.now);
        self.check();
    }
}

/// A MSG op.
pub fn msg(subject: &str, sid: Sid, reply: Option<&str>, payload: &'static [u8]) -> ServerOp {
    ServerOp::Msg({
        let mut value = Msg::new(Subject::new(subject).unwrap(), sid, Bytes::from_static(payload));
        value.reply = reply.map(|r| Subject::new(r).unwrap());
        value
    })
}

/// The 503 no-responders status message nats-server 2.9.10 sends to a request's inbox.
pub fn no_responders(reply: &Subject, sid: Sid) -> ServerOp {
    let mut headers = HeaderMap::new();
    headers.set_status(Some((StatusCode::NO_RESPONDERS, None)));
    ServerOp::Msg({
        let mut value = Msg::new(reply.clone(), sid, Bytes::new());
        value.headers = Some(Box::new(headers));
        value
    })
}

/// A `-ERR`.
pub fn err(text: &str) -> ServerOp {
    ServerOp::Err(ServerError::new(text))
}

/// The payloads of the PUBs among `ops`.
pub fn published(ops: &[ClientOp]) -> Vec<Bytes> {
    ops.iter()
        .filter_map(|op| match op {
            ClientOp::Pub(p) => Some(p.payload.clone()),
            _ => None,
        })
        .collect()
}

/// Copies `bytes` out of any `Buf` (for checks on outbound data).
pub fn buf_to_vec(mut buf: impl Buf) -> Vec<u8> {
    let mut v = Vec::new();
    while buf.has_remaining() {
        let chunk = buf.chunk();
        v.extend_from_slice(chunk);
        let n = chunk.len();
        buf.advance(n);
    }
    v
}

// ----- helpers for the scenario suites --------------------------------------------------

/// [`info`] with changes.
pub fn info_with(change: impl FnOnce(&mut ServerInfo)) -> ServerInfo {
    let mut info = info();
    change(&mut info);
    info
}

/// An INFO op.
pub fn info_op(info: ServerInfo) -> ServerOp {
    ServerOp::Info(Box::new(info))
}

/// A PUB op, as the fake server decodes it.
pub fn pub_op(subject: &str, payload: &'static [u8]) -> ClientOp {
    ClientOp::Pub(nats_proto::Pub {
        subject: Subject::new(subject).unwrap(),
        reply: None,
        headers: None,
        payload: Bytes::from_static(payload),
    })
}

/// The length of `PUB <subject> <n>\r\n<payload>\r\n` on the wire.
pub fn pub_frame_len(subject: &str, payload_len: usize) -> usize {
    format!("PUB {subject} {payload_len}\r\n").len() + payload_len + 2
}

impl Harness {
    /// [`handshake`](Self::handshake), then forgets the events and the client's ops so far
    /// (the server's subscriptions and buffered publishes included).
    pub fn connect(&mut self, info: ServerInfo) -> nats_proto::ConnectInfo {
        let connect = self.handshake(info);
        self.events();
        self.client_ops();
        connect
    }

    /// The ops the fake server has fully received so far, without writing anything more.
    pub fn received_ops(&mut self) -> Vec<ClientOp> {
        let mut ops = Vec::new();
        while let Some(op) = self.decoder.decode(&mut self.wire).expect("the client writes valid protocol") {
            ops.push(op);
        }
        ops
    }

    /// Jumps from deadline to deadline until the connection asks to connect; returns the
    /// server and how long the clock moved in total. Other actions are not expected.
    pub fn advance_to_connect(&mut self) -> (ServerAddr, Duration) {
        let mut waited = Duration::ZERO;
        for _ in 0..1000 {
            let actions = self.actions();
            match actions.as_slice() {
                [] => waited += self.advance(),
                [Action::Connect(_, addr)] => return (addr.clone(), waited),
                other => panic!("expected a Connect action, got {other:?}"),
            }
        }
        panic!("no Connect action after 1000 deadlines");
    }

    /// The transport asked for by the pending Connect cannot be opened; returns its server.
    pub fn refuse(&mut self) -> ServerAddr {
        let server = self.expect_connect();
        self.conn.handle_disconnected(
            self.now,
            self.transport(),
            TransportError::new(nats_proto::TransportErrorKind::Connect, "connection refused"),
        );
        server
    }

    /// The handshake with `server`, whose Connect action was already taken: accept, INFO,
    /// CONNECT + PING, PONG. Returns the CONNECT the client sent.
    pub fn handshake_with(&mut self, server: ServerAddr, info: ServerInfo) -> nats_proto::ConnectInfo {
        self.accept(server);
        self.send(&[ServerOp::Info(Box::new(info))]);
        let connect = self.expect_connect_ping();
        self.send(&[ServerOp::Pong]);
        connect
    }

    /// Waits for the next Connect (however long the clock must move) and completes the
    /// handshake there; returns the server.
    pub fn reconnect(&mut self, info: ServerInfo) -> ServerAddr {
        let (server, _) = self.advance_to_connect();
        self.handshake_with(server.clone(), info);
        server
    }

    /// The attempt in progress fails: the transport could not be opened.
    pub fn refuse_current(&mut self) {
        self.conn.handle_disconnected(
            self.now,
            self.transport(),
            TransportError::new(nats_proto::TransportErrorKind::Connect, "connection refused"),
        );
    }

    /// The TLS handshake asked for by `Action::StartTls` succeeded.
    pub fn tls_established(&mut self) {
        self.conn.handle_tls_established(self.now, self.transport());
    }
}

/// A connection over a `Duration` since the caller's epoch (the `no_std` caller's clock),
/// connected at `epoch`: its first transport accepted, then the server's INFO (with
/// headers) and PONG read. Returns the connection, its transport, and the deadline of the
/// connect attempt as it was before the transport connected.
pub fn connect_at_epoch(
    options: Options,
    epoch: Duration,
) -> (Connection<Duration>, TransportId, Option<Duration>) {
    let mut conn: Connection<Duration> = Connection::new(options, epoch).unwrap();
    let Some(Action::Connect(transport, _)) = conn.poll_action() else { panic!("no Connect") };
    let attempt_deadline = conn.poll_timeout();
    conn.handle_connected(epoch, transport);
    let mut out = OutBuffer::new();
    out.write_server_op(&ServerOp::Info(Box::new(info())));
    out.write_server_op(&ServerOp::Pong);
    conn.handle_input(epoch, transport, &out.to_vec());
    assert_eq!(conn.state(), nats_proto::State::Connected);
    (conn, transport, attempt_deadline)
}
