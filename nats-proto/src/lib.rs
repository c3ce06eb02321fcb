//! The NATS client protocol without IO.
//!
//! `nats-proto` is a NATS client connection as a pure state machine. It opens no sockets,
//! spawns nothing, reads no clock and depends on no async runtime, so any IO stack
//! (blocking `std::net`, tokio, smol, async-std, an embedded loop) can drive it.
//!
//! - [`Connection`] owns the whole protocol: handshake and authentication (user/password,
//!   token, nkey, JWT with a seed or a [`Signer`], or [`Credentials`] the caller provides
//!   for each attempt; the same refusal twice in a row closes the connection), keepalive, subscriptions with auto-unsubscribe, request/reply on a
//!   shared inbox, flush, the server pool with discovery, reconnect with backoff and
//!   jitter, the reconnect buffer, lame duck mode, drain and close.
//! - The codec underneath: [`ServerDecoder`] and [`ClientDecoder`] (streaming; incomplete
//!   input is `Ok(None)`, never an error; zero-copy payloads; sizes checked against
//!   [`DecoderLimits`] before anything is allocated; any [`DecodeError`] is final until
//!   reset) and the [`OutBuffer`] encoder (a [`bytes::Buf`] of chunks: small ops copied
//!   into one reused buffer, large payloads queued as their own chunk for vectored
//!   writes). Test servers and fuzzers use both directions.
//! - Validated types: [`Subject`], [`QueueGroup`], [`Sid`], [`HeaderName`],
//!   [`HeaderValue`], [`HeaderMap`], [`StatusCode`], [`ServerAddr`], plus [`ServerInfo`],
//!   [`ConnectInfo`] and the classified [`ServerError`]. Invalid values are rejected when
//!   constructed, with a typed error; secrets are [`Secret`]s that `Debug` never shows.
//!
//! # Features: std and no_std
//!
//! The crate is `no_std` + `alloc`; with `default-features = false` it builds for
//! `wasm32-unknown-unknown` and bare-metal targets such as `thumbv7em-none-eabihf`.
//!
//! - `std` (default): `std::time::Instant` is the [`DefaultInstant`] of [`Connection`];
//!   randomness (server order, jitter, inbox names) is seeded by the OS unless
//!   [`Options::rng_seed`] is set; [`OutBuffer`] implements `Buf::chunks_vectored`; the
//!   dependencies use std. Error types implement [`core::error::Error`] either way.
//! - `nkeys` (default, implies `std`): nkey and JWT authentication (Ed25519 signatures of
//!   the server's nonce by the `nkeys` crate, which needs std). Without it such
//!   credentials fail with [`AuthError::NKeysUnavailable`].
//!
//! Time always comes from the caller. Every input that depends on it takes `now` of the
//! connection's [`Instant`] type: `std::time::Instant` by default, or without std a
//! `Duration` since an epoch of the caller's choosing (`Connection<Duration>`), or any
//! type of the caller's own. Without std, set [`Options::rng_seed`] from the platform's
//! randomness: otherwise a fixed seed is used. Durations are never too long: a wait of
//! [`time::NEVER`] or more (up to `Duration::MAX`) means never, and every deadline is
//! computed with [`time::deadline`], which cannot overflow an instant.
//!
//! # The run loop
//!
//! The caller owns the IO and the clock. Method names say their kind: `handle_*` feeds an
//! input, commands (`publish`, `subscribe`, `request`, `flush`, `drain`, `close`, ...)
//! only change state, `poll_*` drains outputs. Every call that depends on time takes
//! `now`. The loop:
//!
//! 1. Carry out every [`Action`] from [`Connection::poll_action`]: open a transport to a
//!    server ([`Action::Connect`], then `handle_connected` or `handle_disconnected`),
//!    upgrade it to TLS ([`Action::StartTls`], then `handle_tls_established`), or close
//!    it ([`Action::CloseTransport`]). With [`Auth::Callback`], [`Action::Authenticate`]
//!    asks for the attempt's credentials: answer with `handle_credentials`, whenever they
//!    are ready (the connection never waits inside a call). Each `Connect` names a new [`TransportId`]; every
//!    report about a transport names it, and reports about a transport that is no longer
//!    current change nothing (no bookkeeping of "closed" transports is needed).
//! 2. Write the first [`Connection::writable_len`] bytes of [`Connection::outbound`] to the
//!    transport and report what was written with [`Connection::advance_outbound`] (or take
//!    them with [`Connection::take_outbound`]). The rest waits for the server to answer a
//!    PING ([`Options::publish_pacing`]): reading makes room.
//! 3. Handle every [`Event`] from [`Connection::poll_event`]: messages, replies, state
//!    changes, errors.
//! 4. Wait for input until [`Connection::poll_timeout`]: bytes go to `handle_input`, the
//!    end of the transport to `handle_disconnected`, the deadline to `handle_timeout`.
//!    User commands may be issued at any point; then go round again.
//!
//! The loop ends when [`Connection::is_closed`] is true and no action is left.
//!
//! ```no_run
//! use std::io::{ErrorKind, Read, Write};
//! use std::net::TcpStream;
//! use std::time::{Duration, Instant};
//!
//! use bytes::Bytes;
//! use nats_proto::{
//!     Action, Connection, Event, Options, Subject, TransportError, TransportErrorKind, TransportId,
//! };
//!
//! let mut conn = Connection::new(Options::new("nats://127.0.0.1:4222")?, Instant::now())?;
//! let sid = conn.subscribe(Subject::new("greet.*")?, None)?;
//! conn.publish(&Subject::new("greet.joe")?, None, None, &Bytes::from_static(b"hello"))?;
//! // The open transport, with the id the connection gave it.
//! let mut socket: Option<(TransportId, TcpStream)> = None;
//! let mut buf = vec![0; 64 * 1024];
//! while !conn.is_closed() {
//!     // 1. Actions.
//!     while let Some(action) = conn.poll_action() {
//!         match action {
//!             Action::Connect(id, server) => match TcpStream::connect(server.host_port()) {
//!                 Ok(stream) => {
//!                     socket = Some((id, stream));
//!                     conn.handle_connected(Instant::now(), id);
//!                 }
//!                 Err(e) => conn.handle_disconnected(
//!                     Instant::now(),
//!                     id,
//!                     TransportError::new(TransportErrorKind::Connect, e.to_string()),
//!                 ),
//!             },
//!             Action::StartTls { .. } => unimplemented!("this example has no TLS"),
//!             // Reports about a closed transport would change nothing; drop it.
//!             Action::CloseTransport(_) => socket = None,
//!             _ => {}
//!         }
//!     }
//!     // 2. Outbound bytes.
//!     if let Some((_, stream)) = socket.as_mut() {
//!         // Publish pacing may hold back the end of the queue until the server answers.
//!         let n = conn.writable_len();
//!         stream.write_all(&conn.outbound().to_vec()[..n])?;
//!         conn.advance_outbound(n);
//!     }
//!     // 3. Events.
//!     while let Some(event) = conn.poll_event() {
//!         if let Event::Message(msg) = event {
//!             println!("{}: {:?}", msg.subject, msg.payload);
//!             conn.unsubscribe(sid, None);
//!             conn.close();
//!         }
//!     }
//!     // 4. Input until the next deadline.
//!     let now = Instant::now();
//!     let wait = conn.poll_timeout().map_or(Duration::from_secs(1), |t| t.saturating_duration_since(now));
//!     match socket.as_mut() {
//!         Some((id, stream)) => {
//!             let id = *id;
//!             stream.set_read_timeout(Some(wait.max(Duration::from_millis(1))))?;
//!             match stream.read(&mut buf) {
//!                 Ok(0) => conn.handle_disconnected(Instant::now(), id, TransportError::closed()),
//!                 Ok(n) => conn.handle_input(Instant::now(), id, &buf[..n]),
//!                 Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
//!                 Err(e) => conn.handle_disconnected(
//!                     Instant::now(),
//!                     id,
//!                     TransportError::new(TransportErrorKind::Io, e.to_string()),
//!                 ),
//!             }
//!         }
//!         None => std::thread::sleep(wait),
//!     }
//!     conn.handle_timeout(Instant::now());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `examples/pubsub_std.rs` is a complete program in this style against a real
//! `nats-server`.
//!
//! # Server errors
//!
//! Every `-ERR` is classified in one place, [`ServerError::new`], and handled by one rule
//! ([`ServerError::closes_connection`]):
//!
//! | Class | Texts | While connected |
//! |---|---|---|
//! | per operation | `Invalid Subject`, `Invalid Publish Subject`, `Permissions Violation for ...`, `maximum subscriptions exceeded` | [`Event::ServerError`], recorded as [`Connection::last_error`]; the connection stays |
//! | fatal, known | `Authorization Violation`, `Authentication Timeout`, `User/Account Authentication Expired`, `User Authentication Revoked`, `Stale Connection`, `Maximum Payload Violation`, `maximum (account active) connections exceeded`, `maximum control line exceeded`, `Unknown Protocol Operation`, `invalid client protocol`, `no responders requires headers support`, `Secure Connection - TLS Required` | the core closes the transport ([`Action::CloseTransport`]), records `last_error`, reports [`Event::Disconnected`], then reconnects (or closes when `allow_reconnect` is off) |
//! | fatal, unknown | any other text, and a bare `-ERR` | as fatal, known: a peer that sends one and keeps the socket open cannot leave the client half-alive |
//!
//! During the handshake every `-ERR` fails the attempt and the next server is tried, except a
//! per-operation error for one of the subscriptions sent with CONNECT (they go before the
//! handshake's PING, so that they are live when [`Event::Connected`] or
//! [`Event::Reconnected`] is reported): that is reported as when connected. A server
//! that refuses the credentials twice in a row with the same error (`Authorization
//! Violation`, `User`/`Account Authentication Expired`, `User Authentication Revoked`),
//! while connected or while handshaking, closes the connection with
//! [`ConnectionError::RepeatedAuthError`] unless [`Options::retry_on_repeated_auth_errors`]
//! is set.
//!
//! # What other clients can make the server relay
//!
//! A server forwards what any publisher in the account sends, so none of it may cost the
//! connection. A message whose subject or reply subject is not UTF-8 is dropped, counted in
//! [`Statistics::undeliverable_msgs`] and reported once with [`Event::Undeliverable`] (its
//! raw bytes included); it still counts towards the subscription's auto-unsubscribe
//! limit, as on the server. A malformed `HMSG` header block or status line is delivered
//! with [`Msg::header_error`] set. Sizes are checked against [`DecoderLimits`] (set them at
//! or above the server's `max_payload`). Bytes that are not protocol at all still end the
//! connection with a protocol error.
//!
//! # The codec alone
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use nats_proto::{ClientDecoder, ClientOp, ConnectInfo, OutBuffer, ServerDecoder, ServerOp, Sid, Subject};
//!
//! // The client encodes CONNECT, SUB and PUB into its outbound buffer...
//! let subject = Subject::new("greet.joe")?;
//! let mut out = OutBuffer::new();
//! out.write_connect(&ConnectInfo::default());
//! out.write_sub(Sid(1), &subject, None);
//! out.write_pub(&subject, None, None, &Bytes::from_static(b"hello"));
//!
//! // ...which a server decodes...
//! let mut wire = BytesMut::from(&out.to_vec()[..]);
//! let mut server = ClientDecoder::new();
//! assert!(matches!(server.decode(&mut wire)?, Some(ClientOp::Connect(_))));
//! assert!(matches!(server.decode(&mut wire)?, Some(ClientOp::Sub { sid: Sid(1), .. })));
//! let Some(ClientOp::Pub(publish)) = server.decode(&mut wire)? else { unreachable!() };
//!
//! // ...and the message comes back as MSG, split across two reads.
//! let mut reply = OutBuffer::new();
//! reply.write_msg(&nats_proto::Msg::new(publish.subject, Sid(1), publish.payload));
//! let bytes = reply.to_vec();
//! let mut client = ServerDecoder::new();
//! let mut read_buf = BytesMut::from(&bytes[..10]);
//! assert_eq!(client.decode(&mut read_buf)?, None); // need more bytes
//! read_buf.extend_from_slice(&bytes[10..]);
//! let Some(ServerOp::Msg(msg)) = client.decode(&mut read_buf)? else { unreachable!() };
//! assert_eq!((msg.subject.as_str(), &msg.payload[..]), ("greet.joe", &b"hello"[..]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

/// What `std`'s prelude would bring, for a `no_std` crate.
mod prelude {
    pub(crate) use alloc::borrow::ToOwned;
    pub(crate) use alloc::boxed::Box;
    pub(crate) use alloc::format;
    pub(crate) use alloc::string::{String, ToString};
    #[allow(unused_imports)]
    pub(crate) use alloc::vec;
    pub(crate) use alloc::vec::Vec;
}

// The layers, bottom up: `types` (validated values), `codec` (decoders, encoder, out
// buffer, ops), `messages` (INFO, CONNECT, -ERR), then `connection` (the state machine and
// its components) with its `options` and `auth`.
mod auth;
mod codec;
mod connection;
mod messages;
mod options;
pub mod time;
mod types;

// Short paths inside the crate (`crate::subject::Subject`, ...).
use codec::{decode, op, out_buffer};
use messages::{connect, info, server_error};
use types::{headers, queue_group, secret, server_addr, server_version, sid, status_code, subject};

pub use auth::{Auth, AuthError, Credentials, Signer};
pub use connect::ConnectInfo;
pub use connection::{
    Action, Connection, ConnectionError, Event, Expected, FlushError, FlushId, InvariantViolation,
    PendingLimits, PublishError, RequestId, RequestOutcome, Server, ServerPoolError, State, Statistics,
    SubscribeError, TransportError, TransportErrorKind, TransportId,
};
pub use decode::{ClientDecoder, DecodeError, DecoderLimits, ServerDecoder};
pub use headers::{HeaderError, HeaderMap, HeaderName, HeaderValue, IntoHeaderName, IntoHeaderValue};
pub use info::ServerInfo;
pub use op::{ClientOp, Msg, Pub, ServerOp, Undeliverable};
pub use options::{Options, OptionsError, ReconnectDelay, ReconnectToServer};
pub use out_buffer::{OutBuffer, DEFAULT_CHUNK_THRESHOLD, SPARES as SPARE_BLOCKS};
pub use queue_group::{QueueGroup, QueueGroupError};
pub use secret::Secret;
pub use server_addr::{Scheme, ServerAddr, ServerAddrError, DEFAULT_PORT};
pub use server_error::{PermissionOperation, ServerError, ServerErrorKind};
pub use server_version::ServerVersion;
pub use sid::Sid;
pub use status_code::{InvalidStatusCode, StatusCode};
pub use subject::{Subject, SubjectError};
pub use time::{DefaultInstant, Instant};
pub use types::header_names as header;
