//! What an async runtime contributes: a TCP connector (or the platform's WebSocket), a
//! timer, a clock and a spawner.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use crate::time::{Instant, SystemTime};

use futures_io::{AsyncRead, AsyncWrite};

/// An async runtime, as the client needs it. The adapters (`nats-tokio`, `nats-smol`,
/// `nats-async-std`) implement it in a few lines each.
///
/// The trait is generic rather than object-safe: the driver task is compiled for the
/// runtime's own transport and timer types, so the per-read, per-write and per-deadline
/// paths have no dynamic dispatch or boxing. [`Client`](crate::Client) itself is not
/// generic: the driver runs as a spawned task behind it.
pub trait Runtime: Clone + Send + Sync + 'static {
    /// A connected TCP stream, as a futures-io reader and writer.
    type Transport: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// A timer that completes at a deadline.
    type Sleep: Future<Output = ()> + Send + 'static;

    /// Opens a TCP connection to `host:port` (name resolution included). Implementations
    /// should set `TCP_NODELAY`.
    fn connect(
        &self,
        host: String,
        port: u16,
    ) -> impl Future<Output = io::Result<Self::Transport>> + Send + 'static;

    /// Opens a TCP connection to `host:port` from the local address `local` (an IP, and a
    /// port or `0` for any): [`ConnectOptions::local_address`](crate::ConnectOptions::local_address).
    /// Only addresses of `local`'s family are tried. The default fails with
    /// [`io::ErrorKind::Unsupported`]; the adapters for tokio, smol and async-std
    /// implement it ([`connect_bound`](crate::connect_bound) is a blocking helper for
    /// runtimes without bind-before-connect).
    fn connect_from(
        &self,
        host: String,
        port: u16,
        local: SocketAddr,
    ) -> impl Future<Output = io::Result<Self::Transport>> + Send + 'static {
        let _ = (host, port, local);
        std::future::ready(Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this runtime cannot connect from a given local address",
        )))
    }

    /// Whether the platform has WebSocket built in and
    /// [`connect_websocket`](Self::connect_websocket) opens it (the browser). When `false` (the default), the
    /// client reaches `ws://` and `wss://` servers itself: [`connect`](Self::connect),
    /// then TLS for `wss://`, then the WebSocket handshake and framing.
    const NATIVE_WEBSOCKET: bool = false;

    /// Opens a WebSocket to `url` (`ws://host:port/path` or `wss://...`, no credentials)
    /// with the platform's own WebSocket. The transport's reads return the bytes of the
    /// binary messages received, in order, with no framing; each write sends its bytes as
    /// one or more binary messages. Called only when
    /// [`NATIVE_WEBSOCKET`](Self::NATIVE_WEBSOCKET) is `true`; the default fails with
    /// [`io::ErrorKind::Unsupported`].
    fn connect_websocket(
        &self,
        url: String,
    ) -> impl Future<Output = io::Result<Self::Transport>> + Send + 'static {
        let _ = url;
        std::future::ready(Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this runtime has no built-in WebSocket",
        )))
    }

    /// The current time on the runtime's clock. The client reads time only through this
    /// (deadlines, keepalive, reconnect waits), so a test runtime can run it on a virtual
    /// clock; real runtimes keep the default, [`Instant::now`].
    fn now(&self) -> Instant {
        Instant::now()
    }

    /// The wall-clock time on the runtime's clock: the times the layers above the client
    /// write (an object's modification time, a service's start). Real runtimes keep the
    /// default, [`SystemTime::now`] (`Date.now()` in the browser); a simulation runs it on
    /// its virtual clock.
    fn system_time(&self) -> SystemTime {
        SystemTime::now()
    }

    /// A timer completing at `deadline` (a time on [`now`](Self::now)'s clock).
    fn sleep_until(&self, deadline: Instant) -> Self::Sleep;

    /// Runs `future` to completion in the background.
    fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static;
}
