//! The driver task: pumps bytes between the transport and the protocol core, acts on the
//! core's actions, sleeps until its next deadline. It holds no protocol policy.
//!
//! One task per connection, polled by hand: each round takes the core's actions and
//! outbound bytes under the lock, then does the IO without it (so publishers keep
//! encoding while the socket is written), then feeds what was read back in, routing the
//! resulting events in the same lock.

use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use futures_io::{AsyncRead, AsyncWrite};
#[cfg(feature = "tls")]
use futures_rustls::TlsConnector;
use nats_proto::{Action, TransportError, TransportErrorKind, TransportId};
#[cfg(feature = "tls")]
use rustls_pki_types::ServerName;

use crate::runtime::Runtime;
use crate::shared::{Shared, HIGH_WATER};
use crate::time::Instant;
use crate::tls::{Stream, TlsOptions};

/// Bytes taken from the core per round of writing. Taken bytes count as handed to the
/// transport: if it dies they are lost like bytes in the kernel's buffer, so this stays
/// small; publishes not yet taken move to the reconnect buffer instead.
const WRITE_BATCH: usize = 256 * 1024;
/// The read buffer (zeroed once).
const READ_CHUNK: usize = 64 * 1024;
/// Rounds before the task yields to others.
const BUDGET: usize = 32;
/// Slices per vectored write.
const MAX_IOV: usize = 64;

type ConnectFuture<T> = Pin<Box<dyn Future<Output = io::Result<T>> + Send>>;

enum Io<T> {
    Idle,
    Connecting(ConnectFuture<T>),
    #[cfg(feature = "tls")]
    Handshaking(Box<futures_rustls::Connect<T>>),
    Ready(Stream<T>),
}

pub(crate) struct Driver<R: Runtime> {
    runtime: R,
    shared: Arc<Shared>,
    tls: TlsOptions,
    io: Io<R::Transport>,
    /// The core's id of the transport in `io`: every report about it names it, and the
    /// core ignores reports about a transport it no longer uses.
    transport: Option<TransportId>,
    /// Bytes taken from the core, not yet accepted by the transport.
    write_queue: VecDeque<Bytes>,
    write_queued: usize,
    needs_flush: bool,
    read_buf: Vec<u8>,
    sleep: Option<(Instant, Pin<Box<R::Sleep>>)>,
}

impl<R: Runtime> Driver<R> {
    pub(crate) fn new(runtime: R, shared: Arc<Shared>, tls: TlsOptions) -> Self {
        Self {
            runtime,
            shared,
            tls,
            io: Io::Idle,
            transport: None,
            write_queue: VecDeque::new(),
            write_queued: 0,
            needs_flush: false,
            read_buf: vec![0; READ_CHUNK],
            sleep: None,
        }
    }

    /// Runs until the connection is closed and its transport gone.
    pub(crate) async fn run(mut self) {
        std::future::poll_fn(|cx| self.poll_drive(cx)).await;
    }

    fn drop_io(&mut self) {
        self.io = Io::Idle;
        self.transport = None;
        self.write_queue.clear();
        self.write_queued = 0;
        self.needs_flush = false;
    }

    /// The transport failed: forget it and tell the core.
    fn fail(&mut self, kind: TransportErrorKind, message: String) {
        self.fail_with(TransportError::new(kind, message));
    }

    /// The transport failed with an IO error (its kind is kept for the user).
    fn fail_io(&mut self, kind: TransportErrorKind, error: &io::Error) {
        self.fail_with(TransportError::from_io(kind, error));
    }

    fn fail_with(&mut self, error: TransportError) {
        let Some(transport) = self.transport else { return };
        self.drop_io();
        let mut inner = self.shared.lock();
        inner.conn.handle_disconnected(self.runtime.now(), transport, error);
        inner.dispatch();
    }

    #[cfg(not(feature = "tls"))]
    fn start_tls(&mut self, server_name: String) -> Result<(), String> {
        let _ = (server_name, &self.tls);
        Err(crate::tls::TLS_UNAVAILABLE.to_owned())
    }

    #[cfg(feature = "tls")]
    fn start_tls(&mut self, server_name: String) -> Result<(), String> {
        let Io::Ready(Stream::Plain(_)) = self.io else {
            return Err("no plain transport to upgrade".to_owned());
        };
        let Io::Ready(Stream::Plain(plain)) = std::mem::replace(&mut self.io, Io::Idle) else {
            unreachable!()
        };
        let config = self.tls.client_config().map_err(|e| e.to_string())?;
        let name = ServerName::try_from(server_name).map_err(|e| format!("invalid TLS server name: {e}"))?;
        self.io = Io::Handshaking(Box::new(TlsConnector::from(config).connect(name, plain)));
        Ok(())
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
                            _ => Io::Connecting(Box::pin(
                                self.runtime.connect(server.host().to_owned(), server.port()),
                            )),
                        };
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
                    _ => {}
                }
            }
            if matches!(self.io, Io::Ready(_)) {
                while self.write_queued < WRITE_BATCH {
                    let Some(chunk) = inner.conn.take_outbound(WRITE_BATCH - self.write_queued) else {
                        break;
                    };
                    self.write_queued += chunk.len();
                    self.write_queue.push_back(chunk);
                }
            }
            if inner.conn.outbound().len() < HIGH_WATER / 2 {
                inner.wake_writers();
            }
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
            inner.conn.poll_timeout()
        };

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
                    inner.dispatch();
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

    /// Connects, upgrades, writes and reads as far as the transport allows without
    /// waiting. Returns whether anything happened.
    fn poll_io(&mut self, cx: &mut Context<'_>) -> bool {
        match &mut self.io {
            Io::Idle => false,
            Io::Connecting(connect) => match connect.as_mut().poll(cx) {
                Poll::Pending => false,
                Poll::Ready(Ok(stream)) => {
                    self.io = Io::Ready(Stream::Plain(stream));
                    let transport = self.transport.expect("a transport in progress has an id");
                    self.shared.lock().conn.handle_connected(self.runtime.now(), transport);
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
                    self.io = Io::Ready(Stream::Tls(Box::new(tls)));
                    let transport = self.transport.expect("a transport in progress has an id");
                    self.shared.lock().conn.handle_tls_established(self.runtime.now(), transport);
                    true
                }
                Poll::Ready(Err(e)) => {
                    self.fail_io(TransportErrorKind::Tls, &e);
                    true
                }
            },
            Io::Ready(_) => {
                let wrote = self.poll_write(cx);
                let read = self.poll_read(cx);
                wrote || read
            }
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>) -> bool {
        let Io::Ready(stream) = &mut self.io else { return false };
        let mut progress = false;
        while !self.write_queue.is_empty() {
            let mut slices = [IoSlice::new(&[]); MAX_IOV];
            let count =
                self.write_queue.iter().zip(slices.iter_mut()).map(|(b, s)| *s = IoSlice::new(b)).count();
            match Pin::new(&mut *stream).poll_write_vectored(cx, &slices[..count]) {
                Poll::Pending => break,
                Poll::Ready(Ok(0)) => {
                    self.fail(TransportErrorKind::Io, "the transport accepts no more bytes".to_owned());
                    return true;
                }
                Poll::Ready(Ok(mut n)) => {
                    progress = true;
                    self.needs_flush = true;
                    self.write_queued -= n;
                    while n > 0 {
                        let front = self.write_queue.front_mut().expect("written bytes were queued");
                        if n >= front.len() {
                            n -= front.len();
                            self.write_queue.pop_front();
                        } else {
                            front.advance(n);
                            n = 0;
                        }
                    }
                }
                Poll::Ready(Err(e)) => {
                    self.fail_io(TransportErrorKind::Io, &e);
                    return true;
                }
            }
        }
        if self.write_queue.is_empty() && self.needs_flush {
            let Io::Ready(stream) = &mut self.io else { return progress };
            match Pin::new(stream).poll_flush(cx) {
                Poll::Pending => {}
                Poll::Ready(Ok(())) => self.needs_flush = false,
                Poll::Ready(Err(e)) => {
                    self.fail_io(TransportErrorKind::Io, &e);
                    return true;
                }
            }
        }
        progress
    }

    fn poll_read(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        for _ in 0..4 {
            let (Io::Ready(stream), Some(transport)) = (&mut self.io, self.transport) else {
                return progress;
            };
            match Pin::new(stream).poll_read(cx, &mut self.read_buf) {
                Poll::Pending => break,
                Poll::Ready(Ok(0)) => {
                    self.drop_io();
                    let mut inner = self.shared.lock();
                    inner.conn.handle_disconnected(self.runtime.now(), transport, TransportError::closed());
                    inner.dispatch();
                    return true;
                }
                Poll::Ready(Ok(n)) => {
                    progress = true;
                    let mut inner = self.shared.lock();
                    // If the core gave this transport up meanwhile, the bytes (and a later
                    // end) are ignored: the next round takes its CloseTransport.
                    inner.conn.handle_input(self.runtime.now(), transport, &self.read_buf[..n]);
                    inner.dispatch();
                    if n < self.read_buf.len() {
                        break;
                    }
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => {
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
