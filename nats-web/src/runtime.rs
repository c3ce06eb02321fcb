//! The browser as a [`Runtime`]: the page's event loop, `setTimeout`, `performance.now()`
//! and the browser's WebSocket.

use std::future::Future;
use std::io;

use nats_client::{Instant, Runtime};

use crate::socket::{self, Connecting, WebSocketTransport};
use crate::timer::Sleep;

/// The browser, as the client's runtime: tasks run on the page's (or worker's) event loop
/// (`wasm_bindgen_futures::spawn_local`), timers are `setTimeout`, time is
/// `performance.now()` (through `web-time`), and transports are the browser's own
/// `WebSocket`s ([`NATIVE_WEBSOCKET`](Runtime::NATIVE_WEBSOCKET)): the browser does the
/// WebSocket framing and the TLS of `wss://`.
///
/// Made by [`Browser::new`], only in wasm32 where there is a JS `WebSocket`; the
/// [`connect`](crate::connect) functions use it for you.
#[derive(Debug, Clone, Copy)]
pub struct Browser {
    _private: (),
}

impl Browser {
    /// The browser runtime, or `None` when this is not wasm32 in a JS environment with
    /// `WebSocket` (a browser page or worker).
    pub fn new() -> Option<Self> {
        crate::in_browser().then_some(Self { _private: () })
    }
}

impl Runtime for Browser {
    type Transport = WebSocketTransport;
    type Sleep = Sleep;
    const NATIVE_WEBSOCKET: bool = true;

    /// Browsers cannot open TCP connections: this always fails (the client calls it only
    /// for `nats://` and `tls://` servers, which [`connect`](crate::connect) refuses
    /// before).
    fn connect(
        &self,
        host: String,
        port: u16,
    ) -> impl Future<Output = io::Result<Self::Transport>> + Send + 'static {
        std::future::ready(Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("a browser cannot open a TCP connection to {host}:{port}: use a ws:// or wss:// URL"),
        )))
    }

    fn connect_websocket(
        &self,
        url: String,
    ) -> impl Future<Output = io::Result<Self::Transport>> + Send + 'static {
        let connecting: Connecting = socket::connect(url);
        connecting
    }

    fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
        Sleep::until(deadline)
    }

    fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        wasm_bindgen_futures::spawn_local(future);
    }
}
