//! The browser's WebSocket as the client's transport.
//!
//! The client's runtime trait wants a `Send` transport, and a JS `WebSocket` is not
//! `Send`. The JS side (the `WebSocket` and its four event handlers) lives in a
//! thread-local table on the page's thread, keyed by a number; the transport holds that
//! number and an `Arc<Mutex<_>>` of plain Rust state (received bytes, close status,
//! wakers) that the handlers fill. So nothing JS ever crosses a `Send` boundary, and
//! writes call `WebSocket.send` directly, without a hop through a pump task. (A
//! `SendWrapper` around the `WebSocket` would panic if ever touched off its thread; here a
//! transport used elsewhere finds no socket and fails with an IO error instead.)
//!
//! Reads return the bytes of the binary messages received, in order. Each write is sent as
//! one binary message. Backpressure: while the browser has more than
//! [`BUFFERED_LIMIT`] bytes queued (`bufferedAmount`), writes wait; the browser has no
//! event for that amount going down, so they look again every [`BUFFERED_POLL`].

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_io::{AsyncRead, AsyncWrite};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, Event, MessageEvent, WebSocket};

use crate::timer::Sleep;

/// Writes wait while the browser holds more than this many bytes unsent.
pub(crate) const BUFFERED_LIMIT: u32 = 1024 * 1024;
/// How often a waiting write looks at `bufferedAmount` again.
pub(crate) const BUFFERED_POLL: Duration = Duration::from_millis(5);
/// The most bytes of one vectored write gathered into one message.
const MAX_MESSAGE: usize = 256 * 1024;

/// How the socket ended.
#[derive(Debug, Clone)]
struct Ended {
    code: u16,
    reason: String,
    clean: bool,
}

/// What the JS handlers tell the transport (all `Send`).
#[derive(Default)]
struct State {
    open: bool,
    /// An `error` event came (the browser gives no detail; `close` follows).
    errored: bool,
    ended: Option<Ended>,
    received: VecDeque<Vec<u8>>,
    /// Bytes of the front message already read.
    read_offset: usize,
    /// The task waiting to read, or for the socket to open.
    waker: Option<Waker>,
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The JS side of one socket; dropped (handlers detached, socket closed) with its
/// transport.
struct Js {
    socket: WebSocket,
    _on_open: Closure<dyn FnMut(Event)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(Event)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Drop for Js {
    fn drop(&mut self) {
        // Handlers first: a closure called after it is freed throws in JS.
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onerror(None);
        self.socket.set_onclose(None);
        if self.socket.ready_state() <= WebSocket::OPEN {
            let _ = self.socket.close_with_code(1000);
        }
    }
}

thread_local! {
    /// The sockets of this thread's transports, by id.
    static SOCKETS: RefCell<HashMap<u64, Js>> = RefCell::new(HashMap::new());
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Runs `f` on the socket of transport `id`; `None` when it is gone (or the transport is
/// used off the page's thread).
fn with_socket<T>(id: u64, f: impl FnOnce(&WebSocket) -> T) -> Option<T> {
    SOCKETS.try_with(|sockets| sockets.borrow().get(&id).map(|js| f(&js.socket))).ok().flatten()
}

fn wake(state: &Shared) {
    let waker = lock(state).waker.take();
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// Opens a WebSocket to `url`; completes when it is open (or failed to open).
pub(crate) fn connect(url: String) -> Connecting {
    let state = Shared::default();
    let socket = match WebSocket::new(&url) {
        Ok(socket) => socket,
        // A malformed URL, a blocked port, or ws:// from an https page (SecurityError).
        Err(error) => {
            let message = error
                .as_string()
                .or_else(|| error.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())));
            return Connecting(Opening::Failed(Some(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "cannot open a WebSocket to {url}: {}",
                    message.unwrap_or_else(|| "refused".to_owned())
                ),
            ))));
        }
    };
    socket.set_binary_type(BinaryType::Arraybuffer);

    let on_open = {
        let state = Arc::clone(&state);
        Closure::<dyn FnMut(Event)>::new(move |_: Event| {
            lock(&state).open = true;
            wake(&state);
        })
    };
    let on_message = {
        let state = Arc::clone(&state);
        Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let data = event.data();
            let bytes = if let Some(text) = data.as_string() {
                // nats-server sends binary messages; text ones carry the same protocol.
                text.into_bytes()
            } else {
                js_sys::Uint8Array::new(&data).to_vec()
            };
            if !bytes.is_empty() {
                lock(&state).received.push_back(bytes);
                wake(&state);
            }
        })
    };
    let on_error = {
        let state = Arc::clone(&state);
        Closure::<dyn FnMut(Event)>::new(move |_: Event| {
            lock(&state).errored = true;
            wake(&state);
        })
    };
    let on_close = {
        let state = Arc::clone(&state);
        Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            lock(&state).ended =
                Some(Ended { code: event.code(), reason: event.reason(), clean: event.was_clean() });
            wake(&state);
        })
    };
    socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    socket.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));

    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let js =
        Js { socket, _on_open: on_open, _on_message: on_message, _on_error: on_error, _on_close: on_close };
    SOCKETS.with(|sockets| sockets.borrow_mut().insert(id, js));
    Connecting(Opening::Waiting { transport: Some(WebSocketTransport { id, state, backoff: None }), url })
}

/// A WebSocket being opened ([`Runtime::connect_websocket`](nats_client::Runtime)). Dropping
/// it closes the socket.
pub struct Connecting(Opening);

enum Opening {
    Waiting { transport: Option<WebSocketTransport>, url: String },
    Failed(Option<io::Error>),
}

impl std::fmt::Debug for Connecting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connecting").finish_non_exhaustive()
    }
}

impl Future for Connecting {
    type Output = io::Result<WebSocketTransport>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().0 {
            Opening::Failed(error) => {
                Poll::Ready(Err(error.take().unwrap_or_else(|| io::Error::other("polled after completion"))))
            }
            Opening::Waiting { transport, url } => {
                let Some(t) = transport.as_ref() else {
                    return Poll::Ready(Err(io::Error::other("polled after completion")));
                };
                let mut state = lock(&t.state);
                if state.open {
                    drop(state);
                    return Poll::Ready(
                        transport.take().ok_or_else(|| io::Error::other("polled after completion")),
                    );
                }
                if let Some(ended) = &state.ended {
                    // The browser tells no more than a close code (1006) for a refused or
                    // failed WebSocket handshake, on purpose.
                    let error = io::Error::new(
                        io::ErrorKind::ConnectionRefused,
                        format!("the WebSocket to {url} did not open ({})", describe(ended)),
                    );
                    return Poll::Ready(Err(error));
                }
                state.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Words for a close event.
fn describe(ended: &Ended) -> String {
    let meaning = match ended.code {
        1000 => "normal closure",
        1001 => "going away",
        1002 => "protocol error",
        1003 => "unsupported data",
        1006 => "abnormal closure: no close frame; refused, unreachable or dropped",
        1007 => "invalid data",
        1008 => "policy violation",
        1009 => "message too big",
        1011 => "server error",
        1015 => "TLS handshake failure",
        _ => "closed",
    };
    if ended.reason.is_empty() {
        format!("close code {}, {meaning}", ended.code)
    } else {
        format!("close code {}, {meaning}: {}", ended.code, ended.reason)
    }
}

/// An open browser WebSocket, as the client's transport: reads are the bytes of the
/// binary messages received, each write one binary message. Writes wait while the
/// browser holds more than 1 MiB unsent (`bufferedAmount`, looked at every 5 ms).
///
/// `Send`, as the client's runtime trait asks, though a JS `WebSocket` is not: the
/// `WebSocket` and its event handlers stay in a table on the page's thread, and this
/// holds only their key and plain Rust state (received bytes, close status, wakers) that
/// the handlers fill. Used off that thread, it finds no socket and fails with an IO error
/// (where a `SendWrapper` would panic). Dropping it closes the socket.
pub struct WebSocketTransport {
    id: u64,
    state: Shared,
    /// The wait for `bufferedAmount` to go down.
    backoff: Option<Sleep>,
}

impl std::fmt::Debug for WebSocketTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketTransport").field("id", &self.id).finish_non_exhaustive()
    }
}

impl Drop for WebSocketTransport {
    fn drop(&mut self) {
        let js = SOCKETS.try_with(|sockets| sockets.borrow_mut().remove(&self.id)).ok().flatten();
        drop(js);
    }
}

impl WebSocketTransport {
    /// The error for a socket that has ended or is gone.
    fn ended_error(&self) -> io::Error {
        let state = lock(&self.state);
        match &state.ended {
            Some(ended) => io::Error::new(
                io::ErrorKind::BrokenPipe,
                format!("the WebSocket closed ({})", describe(ended)),
            ),
            None => io::Error::new(io::ErrorKind::NotConnected, "the WebSocket is not open"),
        }
    }

    /// Whether writes must wait for the browser's queue to go down; if so, a timer to
    /// look again is armed and polled.
    fn must_wait(&mut self, buffered: u32, cx: &mut Context<'_>) -> bool {
        if buffered <= BUFFERED_LIMIT {
            self.backoff = None;
            return false;
        }
        let sleep = self.backoff.get_or_insert_with(|| Sleep::after(BUFFERED_POLL));
        if Pin::new(sleep).poll(cx).is_ready() {
            // Rang: look at the amount again on the next poll (right away).
            self.backoff = None;
            cx.waker().wake_by_ref();
        }
        true
    }

    fn send(&mut self, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Poll::Ready(Ok(0));
        }
        let status = with_socket(self.id, |socket| (socket.ready_state(), socket.buffered_amount()));
        let Some((ready_state, buffered)) = status else {
            return Poll::Ready(Err(self.ended_error()));
        };
        if ready_state != WebSocket::OPEN || lock(&self.state).ended.is_some() {
            return Poll::Ready(Err(self.ended_error()));
        }
        if self.must_wait(buffered, cx) {
            return Poll::Pending;
        }
        // One message per write: gather the slices (up to MAX_MESSAGE) rather than send a
        // message per slice, or send a lone slice as it is.
        let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| &b[..]);
        let mut gathered;
        let message: &[u8] = if first.len() == total || first.len() >= MAX_MESSAGE {
            first
        } else {
            gathered = Vec::with_capacity(total.min(MAX_MESSAGE));
            for buf in bufs {
                let room = MAX_MESSAGE - gathered.len();
                if room == 0 {
                    break;
                }
                gathered.extend_from_slice(&buf[..buf.len().min(room)]);
            }
            &gathered
        };
        let sent = with_socket(self.id, |socket| socket.send_with_u8_array(message));
        match sent {
            Some(Ok(())) => Poll::Ready(Ok(message.len())),
            Some(Err(_)) | None => Poll::Ready(Err(self.ended_error())),
        }
    }
}

impl AsyncRead for WebSocketTransport {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut state = lock(&self.state);
        let state = &mut *state;
        if let Some(front) = state.received.front() {
            let rest = &front[state.read_offset..];
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            state.read_offset += n;
            if state.read_offset == front.len() {
                state.received.pop_front();
                state.read_offset = 0;
            }
            return Poll::Ready(Ok(n));
        }
        if let Some(ended) = &state.ended {
            return Poll::Ready(if ended.clean && !state.errored && ended.code == 1000 {
                Ok(0)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    format!("the WebSocket closed ({})", describe(ended)),
                ))
            });
        }
        if state.waker.as_ref().is_none_or(|w| !w.will_wake(cx.waker())) {
            state.waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl AsyncWrite for WebSocketTransport {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().send(cx, &[io::IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().send(cx, bufs)
    }

    /// Bytes written are with the browser, which sends them as it can.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        with_socket(self.id, |socket| socket.close_with_code(1000));
        Poll::Ready(Ok(()))
    }
}
