//! The driver task: pumps bytes between the transport and the protocol core, acts on the
//! core's actions, sleeps until its next deadline. It holds no protocol policy.
//!
//! One task per connection, polled by hand: each round takes the core's actions under the
//! lock, then does the IO without it (so publishers keep encoding while the socket is
//! written), then feeds what was read back in, routing the resulting events in the same
//! lock. During the handshake the driver owns the whole stream; once connected it splits
//! it into the shared [`Writer`](crate::writer), where requesting tasks write their own
//! bytes (write-through) and the driver writes what they leave, and the shared
//! [`Reader`](crate::reader), where a task waiting on a reply reads it itself
//! (read-through) and the driver reads the rest.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_io::AsyncRead;
#[cfg(feature = "tls")]
use futures_rustls::TlsConnector;
use futures_util::io::AsyncReadExt;
use nats_proto::{
    Action, AuthError, Credentials, ServerAddr, State, TransportError, TransportErrorKind, TransportId,
};
#[cfg(feature = "tls")]
use rustls_pki_types::ServerName;

use crate::deadline;
use crate::options::AuthCallback;
use crate::reader::Reading;
use crate::runtime::Runtime;
use crate::shared::{Shared, HIGH_WATER};
use crate::time::Instant;
use crate::tls::{Stream, TlsOptions};
use crate::transport::Transport;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
use crate::websocket::{self, WebSocket};
use crate::write_queue::{WriteOutcome, WriteQueue};
use crate::writer::Pumped;

/// Reads per round (of up to 64 KiB each) before the driver looks at its other work; far
/// more than the one batch of writes per round ([`Writer::pump`](crate::writer::Writer::pump)),
/// since a connection can receive much more than it sends (a fan-out to its own
/// subscriptions).
const READS_PER_ROUND: usize = 64;
/// Rounds before the task yields to others.
const BUDGET: usize = 32;

type ConnectFuture<T> = Pin<Box<dyn Future<Output = io::Result<T>> + Send>>;
type CredentialsFuture = Pin<Box<dyn Future<Output = Result<Credentials, AuthError>> + Send>>;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
type UpgradeFuture<T> = Pin<Box<dyn Future<Output = Result<WebSocket<Stream<T>>, TransportError>> + Send>>;

enum Io<T> {
    Idle,
    Connecting(ConnectFuture<T>),
    /// TLS: asked for by the core, or below the WebSocket of a `wss://` server.
    #[cfg(feature = "tls")]
    Handshaking(Box<futures_rustls::Connect<T>>),
    /// The WebSocket upgrade of a `ws://` or `wss://` server (after TLS for `wss://`).
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    Upgrading(UpgradeFuture<T>),
    /// Open, the NATS handshake under way: the driver reads and writes the whole stream.
    Ready(Transport<T>),
    /// Connected: the halves are in the shared reader and writer.
    Split,
}

pub(crate) struct Driver<R: Runtime> {
    runtime: R,
    shared: Arc<Shared>,
    tls: TlsOptions,
    io: Io<R::Transport>,
    /// The WebSocket server the transport in progress opens a WebSocket to, when the
    /// runtime has none of its own: after TCP (and TLS for `wss://`), the upgrade.
    websocket: Option<ServerAddr>,
    /// The core's id of the transport in `io`: every report about it names it, and the
    /// core ignores reports about a transport it no longer uses.
    transport: Option<TransportId>,
    /// Bytes taken from the core during the handshake, not yet accepted by the transport.
    write_queue: WriteQueue,
    /// The transport was dropped while the shared state was locked: the halves go as soon
    /// as the lock is released (lock order: the reader or the writer first).
    detach_halves: bool,
    sleep: Option<(Instant, Pin<Box<R::Sleep>>)>,
    /// The user's credentials callback ([`ConnectOptions::auth_callback`](crate::ConnectOptions::auth_callback)).
    auth_callback: Option<AuthCallback>,
    /// The callback's answer being awaited, for this transport.
    credentials: Option<(TransportId, CredentialsFuture)>,
    /// Where TCP connections start from ([`ConnectOptions::local_address`](crate::ConnectOptions::local_address)).
    local_address: Option<std::net::SocketAddr>,
}

impl<R: Runtime> Driver<R> {
    pub(crate) fn new(
        runtime: R,
        shared: Arc<Shared>,
        tls: TlsOptions,
        auth_callback: Option<AuthCallback>,
        local_address: Option<std::net::SocketAddr>,
    ) -> Self {
        Self {
            runtime,
            shared,
            tls,
            io: Io::Idle,
            websocket: None,
            transport: None,
            write_queue: WriteQueue::default(),
            detach_halves: false,
            sleep: None,
            auth_callback,
            local_address,
            credentials: None,
        }
    }

    /// Runs until the connection is closed and its transport gone.
    pub(crate) async fn run(mut self) {
        std::future::poll_fn(|cx| self.poll_drive(cx)).await;
    }

    /// Forgets the transport. The halves, if split off, go at the next
    /// [`detach_halves`](Self::detach_halves) (called once the shared state is unlocked;
    /// meanwhile the writer finds the transport given up by the core and writes nothing
    /// new to it, and the core ignores what the reader reads from it).
    fn drop_io(&mut self) {
        if matches!(self.io, Io::Split) {
            self.detach_halves = true;
        }
        self.io = Io::Idle;
        self.websocket = None;
        self.transport = None;
        // A callback still running for this transport is no longer wanted.
        self.credentials = None;
        self.write_queue.clear();
    }

    /// Drops the halves of a forgotten transport (call with the shared state free);
    /// returns what the writer had taken from the core and not written.
    fn detach_halves(&mut self) -> Vec<Bytes> {
        if !std::mem::take(&mut self.detach_halves) {
            return Vec::new();
        }
        let unwritten = self.shared.writer().detach();
        self.shared.reader().detach();
        unwritten
    }

    /// The transport failed: forget it and tell the core.
    fn fail(&mut self, kind: TransportErrorKind, message: String) {
        self.fail_with(TransportError::new(kind, message));
    }

    /// The transport failed with an IO error (its kind is kept for the user; a WebSocket
    /// protocol error is reported as such).
    fn fail_io(&mut self, kind: TransportErrorKind, error: &io::Error) {
        self.fail_io_unwritten(kind, error, Vec::new());
    }

    fn fail_io_unwritten(&mut self, kind: TransportErrorKind, error: &io::Error, unwritten: Vec<Bytes>) {
        #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
        let kind = websocket::error_kind(error, kind);
        self.fail_with_unwritten(TransportError::from_io(kind, error), unwritten);
    }

    fn fail_with(&mut self, error: TransportError) {
        self.fail_with_unwritten(error, Vec::new());
    }

    /// The transport failed; `unwritten` is what the writer had taken for it and could
    /// not write (when the failure was the writer's). The core gets that back before it
    /// hears of the failure, so that the publishes in it go to the reconnect buffer.
    fn fail_with_unwritten(&mut self, error: TransportError, unwritten: Vec<Bytes>) {
        let Some(transport) = self.transport else { return };
        // Before the halves are split the driver writes itself (the handshake, and the
        // publishes released right after it); after, the shared writer does: one of the
        // two holds what was taken and not written.
        let mut unwritten = [self.write_queue.take_unwritten(), unwritten].concat();
        self.drop_io();
        unwritten.extend(self.detach_halves());
        let mut inner = self.shared.lock();
        inner.conn.handle_unwritten(transport, unwritten);
        inner.conn.handle_disconnected(self.runtime.now(), transport, error);
    }

    #[cfg(not(feature = "tls"))]
    fn start_tls(&mut self, server_name: String) -> Result<(), String> {
        let _ = (server_name, &self.tls);
        Err(crate::tls::TLS_UNAVAILABLE.to_owned())
    }

    #[cfg(feature = "tls")]
    fn start_tls(&mut self, server_name: String) -> Result<(), String> {
        let Io::Ready(Transport::Direct(Stream::Plain(_))) = self.io else {
            return Err("no plain transport to upgrade".to_owned());
        };
        let Io::Ready(Transport::Direct(Stream::Plain(plain))) = std::mem::replace(&mut self.io, Io::Idle)
        else {
            unreachable!()
        };
        self.io = self.tls_handshake(server_name, plain)?;
        Ok(())
    }

    /// Without the `tls` feature there is no TLS below a `wss://` WebSocket either.
    #[cfg(not(feature = "tls"))]
    fn tls_handshake(&self, server_name: String, plain: R::Transport) -> Result<Io<R::Transport>, String> {
        let _ = (server_name, plain);
        Err(crate::tls::TLS_UNAVAILABLE.to_owned())
    }

    /// The TLS handshake on `plain`, verifying the certificate for `server_name`.
    #[cfg(feature = "tls")]
    fn tls_handshake(&self, server_name: String, plain: R::Transport) -> Result<Io<R::Transport>, String> {
        let config = self.tls.client_config().map_err(|e| e.to_string())?;
        let name = ServerName::try_from(server_name).map_err(|e| format!("invalid TLS server name: {e}"))?;
        Ok(Io::Handshaking(Box::new(TlsConnector::from(config).connect(name, plain))))
    }

    /// The transport to a WebSocket server is open: TLS first for `wss://`, else the
    /// upgrade.
    fn open_websocket(&mut self, plain: R::Transport) {
        let Some(server) = &self.websocket else {
            return self.fail(TransportErrorKind::Connect, "no WebSocket server to open".to_owned());
        };
        if server.tls() {
            let host = server.host().to_owned();
            match self.tls_handshake(host, plain) {
                Ok(io) => self.io = io,
                Err(message) => self.fail(TransportErrorKind::Tls, message),
            }
        } else {
            self.upgrade(Stream::Plain(plain));
        }
    }

    /// Starts the WebSocket upgrade on `stream` (not in the browser, where the runtime
    /// opens WebSockets itself).
    fn upgrade(&mut self, stream: Stream<R::Transport>) {
        let Some(url) = self.websocket.as_ref().and_then(ServerAddr::websocket_url) else {
            return self.fail(TransportErrorKind::Connect, "no WebSocket server to open".to_owned());
        };
        #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
        {
            self.io = Io::Upgrading(Box::pin(async move { websocket::upgrade(stream, &url).await }));
        }
        #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
        {
            drop(stream);
            self.fail(TransportErrorKind::Connect, format!("{url}: this runtime has no WebSocket"));
        }
    }

    /// The transport is ready for the protocol: tell the core.
    fn ready(&mut self, transport: Transport<R::Transport>) {
        self.io = Io::Ready(transport);
        let transport = self.transport.expect("a transport in progress has an id");
        self.shared.lock().conn.handle_connected(self.runtime.now(), transport);
    }

    fn poll_drive(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        for _ in 0..BUDGET {
            match self.round(cx) {
                Round::Progress => {}
                Round::Idle => return Poll::Pending,
                Round::Done => return Poll::Ready(()),
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    fn round(&mut self, cx: &mut Context<'_>) -> Round {
        let mut progress = false;
        let mut authenticate = None;
        let mut split = false;
        let deadline = {
            let shared = Arc::clone(&self.shared);
            let mut inner = shared.lock();
            let now = self.runtime.now();
            if inner.conn.poll_timeout().is_some_and(|t| t <= now) {
                inner.conn.handle_timeout(now);
            }
            while let Some(action) = inner.conn.poll_action() {
                progress = true;
                match action {
                    Action::Connect(transport, server) => {
                        self.drop_io();
                        self.io = match server.websocket_url() {
                            Some(url) if R::NATIVE_WEBSOCKET => {
                                Io::Connecting(Box::pin(self.runtime.connect_websocket(url)))
                            }
                            _ => Io::Connecting(match self.local_address {
                                Some(local) => Box::pin(self.runtime.connect_from(
                                    server.host().to_owned(),
                                    server.port(),
                                    local,
                                )),
                                None => {
                                    Box::pin(self.runtime.connect(server.host().to_owned(), server.port()))
                                }
                            }),
                        };
                        if server.is_websocket() && !R::NATIVE_WEBSOCKET {
                            self.websocket = Some(server);
                        }
                        self.transport = Some(transport);
                    }
                    Action::StartTls { transport, server_name } if self.transport == Some(transport) => {
                        if let Err(message) = self.start_tls(server_name) {
                            self.drop_io();
                            let error = TransportError::new(TransportErrorKind::Tls, message);
                            inner.conn.handle_disconnected(now, transport, error);
                        }
                    }
                    Action::CloseTransport(transport) if self.transport == Some(transport) => self.drop_io(),
                    // The callback runs after the lock is released: user code never runs
                    // under it.
                    Action::Authenticate { transport, nonce } if self.transport == Some(transport) => {
                        authenticate = Some((transport, nonce));
                    }
                    _ => {}
                }
            }
            if matches!(self.io, Io::Ready(_)) {
                // Handshake done and its bytes written: from now on the shared writer
                // takes the core's bytes.
                split = self.write_queue.is_empty()
                    && matches!(inner.conn.state(), State::Connected | State::Draining);
                if !split {
                    self.write_queue.fill(|max| inner.conn.take_outbound(max));
                }
            }
            if inner.conn.outbound().len() < HIGH_WATER / 2 {
                inner.wake_writers();
            }
            // Now rather than when the guard drops: the listeners below must hold the
            // `Closed` event before the driver says it is done.
            inner.dispatch();
            if inner.conn.is_closed() && matches!(self.io, Io::Idle) {
                inner.driver_done = true;
                inner.wake_state_waiters();
                inner.wake_writers();
                let inner = &mut *inner;
                for listener in inner.listeners.values_mut() {
                    inner.wakes.take_from(&mut listener.waker);
                }
                return Round::Done;
            }
            if inner.driver_waker.as_ref().is_none_or(|w| !w.will_wake(cx.waker())) {
                inner.driver_waker = Some(cx.waker().clone());
            }
            let deadline = deadline::driver_deadline(&inner, now);
            // What the timer below will be armed for: waits starting later wake the driver
            // only if it fires after their deadline (crate::deadline::watch).
            inner.driver_deadline = match (deadline, &self.sleep) {
                (Some(d), Some((at, _))) => Some(d.min(*at)),
                (d, _) => d,
            };
            deadline
        };
        // A transport the core gave up itself: it settled what it had handed out.
        self.detach_halves();
        if split {
            self.split();
        }

        if let Some((transport, nonce)) = authenticate {
            self.start_credentials(transport, nonce);
        }
        progress |= self.poll_credentials(cx);
        progress |= self.poll_io(cx);

        if let Some(deadline) = deadline {
            // Re-arm only for an earlier deadline: a timer that fires early costs one idle
            // round, while re-arming on every change (each request moves the deadline)
            // costs a timer registration per request.
            if self.sleep.as_ref().is_none_or(|(at, _)| deadline < *at) {
                self.sleep = Some((deadline, Box::pin(self.runtime.sleep_until(deadline))));
            }
            if let Some((_, sleep)) = &mut self.sleep {
                if sleep.as_mut().poll(cx).is_ready() {
                    self.sleep = None;
                    let mut inner = self.shared.lock();
                    inner.conn.handle_timeout(self.runtime.now());
                    progress = true;
                }
            }
        } else {
            self.sleep = None;
        }
        if progress {
            Round::Progress
        } else {
            Round::Idle
        }
    }

    /// Asks the user's callback for the credentials of `transport`'s attempt.
    fn start_credentials(&mut self, transport: TransportId, nonce: Option<String>) {
        let future: CredentialsFuture = match &self.auth_callback {
            Some(callback) => callback(nonce.map(String::into_bytes).unwrap_or_default()),
            None => {
                Box::pin(std::future::ready(Err(AuthError::Callback("no credentials callback".to_owned()))))
            }
        };
        self.credentials = Some((transport, future));
    }

    /// Polls the credentials callback; hands its answer to the core once ready.
    fn poll_credentials(&mut self, cx: &mut Context<'_>) -> bool {
        let Some((transport, future)) = &mut self.credentials else { return false };
        let Poll::Ready(credentials) = future.as_mut().poll(cx) else { return false };
        let transport = *transport;
        self.credentials = None;
        if let Err(error) = &credentials {
            crate::log::auth_failed(error);
        }
        let mut inner = self.shared.lock();
        inner.conn.handle_credentials(self.runtime.now(), transport, credentials);
        true
    }

    /// Connects, upgrades, writes and reads as far as the transport allows without
    /// waiting. Returns whether anything happened.
    fn poll_io(&mut self, cx: &mut Context<'_>) -> bool {
        match &mut self.io {
            Io::Idle => false,
            Io::Connecting(connect) => match connect.as_mut().poll(cx) {
                Poll::Pending => false,
                Poll::Ready(Ok(stream)) => {
                    if self.websocket.is_some() {
                        self.open_websocket(stream);
                    } else {
                        self.ready(Transport::Direct(Stream::Plain(stream)));
                    }
                    true
                }
                Poll::Ready(Err(e)) => {
                    self.fail_io(TransportErrorKind::Connect, &e);
                    true
                }
            },
            #[cfg(feature = "tls")]
            Io::Handshaking(handshake) => match Pin::new(&mut **handshake).poll(cx) {
                Poll::Pending => false,
                Poll::Ready(Ok(tls)) => {
                    if self.websocket.is_some() {
                        self.upgrade(Stream::Tls(Box::new(tls)));
                    } else {
                        self.io = Io::Ready(Transport::Direct(Stream::Tls(Box::new(tls))));
                        let transport = self.transport.expect("a transport in progress has an id");
                        self.shared.lock().conn.handle_tls_established(self.runtime.now(), transport);
                    }
                    true
                }
                Poll::Ready(Err(e)) => {
                    self.fail_io(TransportErrorKind::Tls, &e);
                    true
                }
            },
            #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
            Io::Upgrading(upgrade) => match upgrade.as_mut().poll(cx) {
                Poll::Pending => false,
                Poll::Ready(Ok(websocket)) => {
                    self.ready(Transport::WebSocket(Box::new(websocket)));
                    true
                }
                Poll::Ready(Err(error)) => {
                    self.fail_with(error);
                    true
                }
            },
            Io::Ready(_) => {
                let wrote = self.poll_write(cx);
                let read = self.poll_read(cx);
                wrote || read
            }
            Io::Split => {
                // Reading first (until the transport would block, or many reads), then a
                // batch of writes (see Writer::pump): what the server sends is never held
                // up behind a backlog of publishes.
                let read = self.read_split(cx);
                let wrote = self.pump(cx);
                read || wrote
            }
        }
    }

    /// Splits the connected stream into the shared reader and writer.
    fn split(&mut self) {
        let (Io::Ready(_), Some(transport)) = (&self.io, self.transport) else { return };
        let Io::Ready(stream) = std::mem::replace(&mut self.io, Io::Split) else { unreachable!() };
        let (read, write) = stream.split();
        self.shared.reader().attach(transport, Box::pin(read));
        self.shared.writer().attach(transport, Box::pin(write));
    }

    /// Writes through the shared writer what the core has queued (and what requesting
    /// tasks left), and reports a failure of the write half.
    fn pump(&mut self, cx: &mut Context<'_>) -> bool {
        let mut writer = self.shared.writer();
        let pumped = writer.pump(&*self.shared, cx);
        let failure = writer.take_failure();
        drop(writer);
        if let Some((transport, error, unwritten)) = failure {
            if self.transport == Some(transport) {
                self.fail_io_unwritten(TransportErrorKind::Io, &error, unwritten);
            }
            return true;
        }
        pumped != Pumped::Idle
    }

    /// Writes the handshake's bytes on the whole stream.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> bool {
        let Io::Ready(stream) = &mut self.io else { return false };
        let (wrote, outcome) = self.write_queue.write_to(Pin::new(stream), cx, |_| {});
        match outcome {
            WriteOutcome::Done | WriteOutcome::Blocked => wrote,
            WriteOutcome::Failed(error) => {
                self.fail_io(TransportErrorKind::Io, &error);
                true
            }
        }
    }

    /// Reads through the shared reader, unless a waiting task is reading (it routes what
    /// it reads), and reports the end of the read half, whoever met it.
    fn read_split(&mut self, cx: &mut Context<'_>) -> bool {
        let wake = self.shared.read_wake();
        wake.set_driver(cx.waker());
        wake.unstick();
        let Some(mut reader) = self.shared.try_reader() else { return false };
        let reading = reader.read(&*self.shared, self.runtime.now(), READS_PER_ROUND);
        let end = reader.take_end();
        drop(reader);
        if let Some((transport, error)) = end {
            if self.transport == Some(transport) {
                self.ended(transport, error.as_ref());
            }
            return true;
        }
        match reading {
            Reading::Idle | Reading::Blocked(false) => false,
            Reading::Blocked(true) => true,
            Reading::More => {
                // Bytes may be waiting and no wake will come for them: another round.
                cx.waker().wake_by_ref();
                true
            }
        }
    }

    /// The transport ended (`None`: closed by the peer) or failed while reading.
    fn ended(&mut self, transport: TransportId, error: Option<&io::Error>) {
        match error {
            Some(e) => self.fail_io(TransportErrorKind::Io, e),
            None => {
                let mut unwritten = self.write_queue.take_unwritten();
                self.drop_io();
                unwritten.extend(self.detach_halves());
                let mut inner = self.shared.lock();
                inner.conn.handle_unwritten(transport, unwritten);
                inner.conn.handle_disconnected(self.runtime.now(), transport, TransportError::closed());
            }
        }
    }

    /// Reads the whole stream during the handshake.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        let shared = Arc::clone(&self.shared);
        for _ in 0..READS_PER_ROUND {
            let (Io::Ready(stream), Some(transport)) = (&mut self.io, self.transport) else {
                return progress;
            };
            let mut reader = shared.reader();
            match Pin::new(stream).poll_read(cx, reader.buffer()) {
                Poll::Pending => break,
                Poll::Ready(Ok(0)) => {
                    drop(reader);
                    self.ended(transport, None);
                    return true;
                }
                Poll::Ready(Ok(n)) => {
                    progress = true;
                    let mut inner = shared.lock();
                    inner.conn.handle_input(self.runtime.now(), transport, &reader.buffer()[..n]);
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => {
                    drop(reader);
                    self.fail_io(TransportErrorKind::Io, &e);
                    return true;
                }
            }
        }
        progress
    }
}

enum Round {
    Progress,
    Idle,
    Done,
}
