//! NATS client in the browser: the runtime-neutral [`nats_client`] in
//! `wasm32-unknown-unknown`, over the browser's own WebSocket.
//!
//! A thin adapter like `nats-tokio`: a [`Runtime`] for the browser ([`Browser`]: tasks on
//! the page's event loop, `setTimeout` timers, `performance.now()` time, the browser's
//! `WebSocket` as transport, the random seed from `crypto.getRandomValues`), the
//! [`connect`] functions, and a re-export of the whole [`nats_client`] API: the same
//! [`Client`] with publish, subscribe, request, flush, drain, events and reconnect.
//!
//! Browsers reach NATS only over WebSocket: give `ws://` or `wss://` URLs of a
//! nats-server with a `websocket { ... }` listener. `nats://` and `tls://` URLs are
//! refused with [`WebConnectError::NotWebSocket`].
//!
//! ```no_run
//! use futures_util::StreamExt;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let client = nats_web::connect("ws://127.0.0.1:8080").await?;
//! let mut subscriber = client.subscribe("greet.*").await?;
//! client.publish("greet.joe", "hello".into()).await?;
//! if let Some(message) = subscriber.next().await {
//!     web_sys::console::log_1(&format!("{}: {:?}", message.subject, message.payload).into());
//! }
//! let reply = client.request("time.now", "".into()).await?;
//! # let _ = reply;
//! client.drain().await;
//! # Ok(()) }
//! // In a page: wasm_bindgen_futures::spawn_local(async { demo().await.ok(); });
//! ```
//!
//! # Targets
//! The crate builds on every target, so that a workspace builds, tests and documents on
//! the host, but it works only in wasm32 in a browser page or worker: elsewhere
//! [`connect`] fails with [`WebConnectError::NotInBrowser`] and [`Browser::new`] is
//! `None`, before any JS is called.
//!
//! # Cargo features
//! nats-client is built without `tls` (the browser does the TLS of `wss://`; rustls and
//! ring would need a C compiler for wasm32), so the TLS options are absent.
//! - `nkeys`: nkey and JWT authentication (Ed25519 in wasm; adds to the bundle).
//! - `tracing`: connection-level logs through `tracing`.
//!
//! # Limits
//! - The browser gives no detail on a failed WebSocket: a refused or unreachable server is
//!   a transport error with close code 1006.
//! - A WebSocket cannot be paused: messages the server sends are buffered as they come
//!   (the client's slow-consumer limits still apply to each subscription).
//! - Writes wait while the browser holds more than 1 MiB unsent (`bufferedAmount`), looked
//!   at every 5 ms, as the browser has no event for it.

mod random;
mod runtime;
mod socket;
mod timer;

pub use nats_client::*;
pub use runtime::Browser;
pub use socket::{Connecting, WebSocketTransport};
pub use timer::Sleep as BrowserSleep;

/// Why [`connect`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebConnectError {
    /// A server URL is not a WebSocket one: browsers reach NATS only over WebSocket.
    #[error("{url}: browsers reach NATS over WebSocket only: use a ws:// or wss:// URL of the server's websocket listener")]
    NotWebSocket {
        /// The URL.
        url: String,
    },
    /// This is not wasm32 in a browser page or worker (no JS `WebSocket`).
    #[error("nats-web runs only in wasm32 in a browser (no WebSocket here)")]
    NotInBrowser,
    /// The browser has no `crypto.getRandomValues` to seed the connection's randomness
    /// (request inboxes) from.
    #[error("no crypto.getRandomValues in this browser context")]
    NoRandomness,
    /// Connecting failed (bad options, no server reachable, ...).
    #[error(transparent)]
    Connect(#[from] ConnectError),
}

/// Whether this is wasm32 with a JS `WebSocket` (a page or a worker).
fn in_browser() -> bool {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Reflect::has(&js_sys::global(), &wasm_bindgen::JsValue::from_str("WebSocket"))
            .unwrap_or(false)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        false
    }
}

/// Connects with default options to the servers in `urls` (comma-separated `ws://` or
/// `wss://` URLs, with a path if the server's listener has one; credentials allowed:
/// `ws://user:pass@host:8080`).
///
/// # Errors
/// A [`WebConnectError`].
pub async fn connect(urls: &str) -> Result<Client, WebConnectError> {
    connect_with_options(urls, ConnectOptions::new()).await
}

/// Connects with the given options. The connection's random seed (request inboxes,
/// server order, reconnect jitter) is drawn from the browser's crypto, replacing any
/// [`ConnectOptions::rng_seed`]; for a fixed one, use
/// [`connect_with_runtime`]`(`[`Browser`]`, ...)`.
///
/// # Errors
/// A [`WebConnectError`].
pub async fn connect_with_options(urls: &str, options: ConnectOptions) -> Result<Client, WebConnectError> {
    // Bad URLs are left to the client, which reports them as options errors.
    if let Ok(servers) = ServerAddr::parse_list(urls) {
        if let Some(server) = servers.iter().find(|s| !s.is_websocket()) {
            return Err(WebConnectError::NotWebSocket { url: server.to_string() });
        }
    }
    let runtime = Browser::new().ok_or(WebConnectError::NotInBrowser)?;
    let seed = random::seed().ok_or(WebConnectError::NoRandomness)?;
    Ok(connect_with_runtime(runtime, urls, options.rng_seed(seed)).await?)
}
