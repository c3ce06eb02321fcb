//! The runtime-neutral async NATS client.
//!
//! This crate is the async face of the sans-IO core in [`nats_proto`]: a [`Client`]
//! handle, [`Subscriber`] streams, requests with one or several replies, flush, drain,
//! connection events as a stream or callbacks, TLS with rustls, and WebSocket. It runs on
//! any async runtime through the small [`Runtime`] trait (TCP connect, a timer, spawn); the
//! adapters `nats-tokio`, `nats-smol` and `nats-async-std` implement it and re-export this
//! API, so applications depend on one of those.
//!
//! One driver task per connection pumps bytes between the socket and the protocol core and
//! keeps its timers; all protocol behaviour (handshake, keepalive, reconnect,
//! resubscription, request tables, ...) lives in the core. Publishes are batched by the
//! driver into large vectored writes. A request or a flush is written to the socket by the
//! task that makes it when no write is in progress, and while that task waits for the
//! answer it reads the socket itself, so a round trip costs one wake of the waiting task
//! and none of the driver. A request future polled and then kept without being polled
//! again delays the connection's other readers by at most 10 ms (the driver then takes the
//! reads back); dropping it releases them at once.
//!
//! A publish waits only while the connection's write queue is full (8 MiB). A connection
//! with subscriptions also paces what it writes by the server's answers, so that copies of
//! its own publishes never pile up past the server's `max_pending`
//! ([`ConnectOptions::publish_pacing`]); reading never waits for subscribers (each drops
//! at its pending limits, [`ClientEvent::SlowConsumer`]), so a task may publish to its own
//! subscriptions before it reads them.
//!
//! # WebSocket
//!
//! `ws://` and `wss://` URLs reach nats-server's WebSocket listener with the same API.
//! Unless the runtime has a WebSocket of its own ([`Runtime::NATIVE_WEBSOCKET`], the
//! browser), this crate opens it on the runtime's TCP stream: TLS for `wss://` (rustls,
//! with the TLS options of [`ConnectOptions`], verifying the URL's host), then the HTTP
//! upgrade to the URL's path, then RFC 6455 framing (async-tungstenite); the protocol
//! travels in binary messages. A server list is all WebSocket or all NATS URLs
//! ([`ServerAddrError::MixedSchemes`]); NATS-level TLS options do not apply to a WebSocket
//! (`require_tls` and `tls_first` hold with `wss://` and are invalid with `ws://`). A
//! refused upgrade (`HTTP 404`), an answer that is not an upgrade, or a protocol
//! violation is a [`TransportError`] of kind [`TransportErrorKind::WebSocket`].
//!
//! ```no_run
//! # async fn demo<R: nats_client::Runtime>(rt: R) -> Result<(), nats_client::ConnectError> {
//! use nats_client::{connect_with_runtime, ConnectOptions};
//!
//! let options = ConnectOptions::new().add_root_certificates("ca.pem");
//! let client = connect_with_runtime(rt, "wss://nats.example.com/nats", options).await?;
//! # let _ = client; Ok(()) }
//! ```
//!
//! ```no_run
//! # async fn demo(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use std::future::poll_fn;
//! use std::pin::Pin;
//! use futures_core::Stream;
//!
//! let mut subscriber = client.subscribe("greet.*").await?;
//! client.publish("greet.joe", "hello".into()).await?;
//! let message = poll_fn(|cx| Pin::new(&mut subscriber).poll_next(cx)).await;
//! println!("{:?}", message.map(|m| m.payload));
//! let reply = client.request("help.please", "anyone?".into()).await;
//! println!("{reply:?}");
//! client.drain().await;
//! # Ok(()) }
//! ```
//!
//! (With `futures::StreamExt` in scope, `subscriber.next().await` reads the same.)
//!
//! # Cargo features
//! - `tls` (default): `tls://` servers, TLS upgrades, the TLS options
//!   ([`ConnectOptions::add_root_certificates`], [`ConnectOptions::tls_client_config`], ...)
//!   and the `rustls` re-export. The operating system's trusted roots are the default
//!   (rustls-native-certs, read once per process);
//!   [`ConnectOptions::system_root_certificates`] says how they combine with roots of the
//!   application's own. Without it those options and the re-export are absent, and
//!   connecting where TLS is needed fails with [`ConnectError::TlsUnavailable`] (or, when
//!   only the server's INFO demands it, with a TLS transport error) rather than panicking.
//!   The browser adapter `nats-web` builds without it: the browser does the TLS of
//!   `wss://` itself.
//! - `ring` (default): rustls' ring crypto provider (ring needs a C compiler for the
//!   target). `aws-lc-rs`: rustls' aws-lc-rs provider instead (chosen when both are on). A
//!   provider installed as the process default, or given with
//!   [`ConnectOptions::tls_crypto_provider`], comes first. Each turns on `tls`.
//! - `webpki-roots`: the Mozilla roots bundled in the binary, for
//!   `ConnectOptions::bundled_root_certificates`.
//! - `nkeys` (default): nkey and JWT authentication (nats-proto's `nkeys` feature).
//! - `tracing` (default): logs of connection-level events.

mod client;
mod deadline;
mod driver;
mod error;
mod event;
mod events;
mod lock_order;
mod log;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod net;
mod options;
mod read_through;
mod reader;
mod request;
pub mod rfc3339;
mod runtime;
mod shared;
mod subscriber;
#[cfg(test)]
mod testing;
mod time;
mod tls;
mod transport;
mod wake_list;
// The browser's WebSocket comes from the runtime (`Runtime::NATIVE_WEBSOCKET`).
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod websocket;
mod write_queue;
mod writer;

pub use client::{connect_with_runtime, Client, Replies, Sleep};
pub use error::{
    ConnectError, DrainError, Error, ReconnectError, RequestError, SubscribeError, UnsubscribeError,
};
pub use event::{ClientEvent, EventCallback};
pub use events::Events;
pub use nats_proto::{
    header, AuthError, ConnectionError, Credentials, Expected, FlushError, HeaderError, HeaderMap,
    HeaderName, HeaderValue, IntoHeaderName, IntoHeaderValue, Msg as Message, OptionsError,
    PermissionOperation, PublishError, RequestOutcome, Scheme, Server, ServerAddr, ServerAddrError,
    ServerError, ServerErrorKind, ServerInfo, ServerPoolError, ServerVersion, Sid, State, Statistics,
    StatusCode, Subject, SubjectError, TransportError, TransportErrorKind, Undeliverable,
};
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub use net::connect_bound;
pub use options::ConnectOptions;
pub use request::Request;
pub use runtime::Runtime;
/// The rustls this client is built with, so that a `ClientConfig` given to
/// [`ConnectOptions::tls_client_config`] comes from the same version. (Cargo feature `tls`.)
#[cfg(feature = "tls")]
pub use rustls;
pub use subscriber::Subscriber;
pub use time::{Instant, SystemTime, UNIX_EPOCH};
