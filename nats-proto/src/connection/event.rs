//! What the connection reports: events, actions for the caller, states, statistics and
//! errors.

use crate::prelude::*;

use core::fmt;

use crate::{
    auth::AuthError, decode::DecodeError, info::ServerInfo, op::Msg, op::Undeliverable,
    server_addr::ServerAddr, server_error::ServerError, sid::Sid, subject::SubjectError,
};

/// Identifies a request made with [`Connection::request`](super::Connection::request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub(crate) u64);

/// Identifies a flush made with [`Connection::flush`](super::Connection::flush).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlushId(pub(crate) u64);

/// Identifies one transport: each [`Action::Connect`] names a new one. Every report about
/// a transport (`handle_connected`, `handle_tls_established`, `handle_input`,
/// `handle_received`, `handle_disconnected`) names it too, and a report about a transport
/// that is no longer current changes nothing, so a caller never has to remember which
/// transport the connection still cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransportId(pub(crate) u64);

impl fmt::Display for TransportId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "transport {}", self.0)
    }
}

/// Something the caller must do with its IO.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Open a transport (TCP) to this server, then call
    /// [`handle_connected`](super::Connection::handle_connected), or
    /// [`handle_disconnected`](super::Connection::handle_disconnected) if it fails, with
    /// this id. A previous transport was closed before (with [`Action::CloseTransport`]).
    ///
    /// For a WebSocket server ([`ServerAddr::is_websocket`]) the transport is the
    /// WebSocket: TCP, then TLS for `wss://` (verifying the certificate for
    /// [`ServerAddr::host`]), then the HTTP upgrade to [`ServerAddr::path`]; its bytes are
    /// those of the binary messages. `handle_connected` comes after the upgrade, and the
    /// connection never asks for [`Action::StartTls`] on it. The attempt's deadline
    /// (`connect_timeout`) covers all of it.
    Connect(TransportId, ServerAddr),
    /// Upgrade the transport to TLS, verifying the certificate for `server_name`; then call
    /// [`handle_tls_established`](super::Connection::handle_tls_established) (or
    /// `handle_disconnected` on failure). After it, all bytes in and out are the plaintext
    /// inside TLS.
    StartTls {
        /// The transport to upgrade.
        transport: TransportId,
        /// The name to verify the server's certificate against.
        server_name: String,
    },
    /// Provide credentials for this connection attempt ([`Auth::Callback`](crate::Auth::Callback)):
    /// the handshake waits until the caller answers with
    /// [`handle_credentials`](super::Connection::handle_credentials) for this transport
    /// (or the attempt's `connect_timeout` passes). An answer for an older transport is
    /// ignored.
    Authenticate {
        /// The transport being handshaken.
        transport: TransportId,
        /// The server's nonce, to sign for nkey or JWT authentication (`None` when the
        /// server sent none).
        nonce: Option<String>,
    },
    /// Close the transport, or give up opening it. Bytes still in
    /// [`outbound`](super::Connection::outbound) may be written first, best effort; the
    /// connection will not use this transport again, and reports about it change nothing.
    CloseTransport(TransportId),
}

/// The connection's state, as users see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Establishing the first connection.
    Connecting,
    /// Connected and handshaken.
    Connected,
    /// Lost the connection; reconnecting (publishes go to the reconnect buffer).
    Reconnecting,
    /// Draining: subscriptions are being unsubscribed and publishes flushed.
    Draining,
    /// Closed for good.
    Closed,
}

/// `connecting`, `connected`, `reconnecting`, `draining`, `closed`.
impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connecting => "connecting",
            Self::Connected => "connected",
            Self::Reconnecting => "reconnecting",
            Self::Draining => "draining",
            Self::Closed => "closed",
        })
    }
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RequestOutcome {
    /// The expected number of replies arrived.
    Completed,
    /// The deadline passed (for "until timeout" requests this is the normal end).
    TimedOut,
    /// The server answered that nobody listens on the subject (503).
    NoResponders,
    /// The connection closed.
    Closed,
}

/// Something that happened. Drain with [`poll_event`](super::Connection::poll_event).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The first connection is established.
    Connected {
        /// The server.
        server: ServerAddr,
    },
    /// A connection was re-established after a loss.
    Reconnected {
        /// The server.
        server: ServerAddr,
    },
    /// The connection was lost; reconnecting follows if the policy allows.
    Disconnected {
        /// Why.
        error: ConnectionError,
    },
    /// The connection is closed for good.
    Closed {
        /// Why, unless the caller closed it (or a drain finished).
        error: Option<ConnectionError>,
    },
    /// A message for a subscription.
    Message(Msg),
    /// A subscription ended on the connection's side: its auto-unsubscribe count was
    /// reached or a drain finished. No message for it follows.
    SubscriptionEnded {
        /// The subscription.
        sid: Sid,
    },
    /// A reply to a request.
    Reply {
        /// The request.
        request: RequestId,
        /// The reply.
        msg: Msg,
    },
    /// A request ended; no reply for it follows.
    RequestEnded {
        /// The request.
        request: RequestId,
        /// How.
        outcome: RequestOutcome,
        /// How many replies it received.
        replies: usize,
    },
    /// A flush finished.
    Flushed {
        /// The flush.
        flush: FlushId,
        /// `Ok` when the server has processed everything written before it.
        result: Result<(), FlushError>,
    },
    /// The server entered lame duck mode; the connection moves to another server if
    /// there is one.
    LameDuck {
        /// The server.
        server: ServerAddr,
    },
    /// New servers were learned from the cluster.
    DiscoveredServers {
        /// Their URLs.
        servers: Vec<ServerAddr>,
    },
    /// The server reported an error that does not close the connection (permissions,
    /// invalid subject, ...).
    ServerError(ServerError),
    /// A subscription's pending limits were exceeded and messages are being dropped.
    /// Reported once per episode; the episode ends when it has caught up to half its
    /// limits.
    SlowConsumer {
        /// The subscription.
        sid: Sid,
        /// Messages dropped for it so far, in total.
        dropped: u64,
    },
    /// The server sent a new `INFO` (for example with a new `max_payload`).
    ServerInfo(Box<ServerInfo>),
    /// A message was dropped because its subject or reply subject is not UTF-8 (another
    /// client published it; the server relays any bytes). Reported once per dropped
    /// message and counted in [`Statistics::undeliverable_msgs`]; the connection stays
    /// and no other message is affected. It still counts towards the subscription's
    /// auto-unsubscribe limit, as it does on the server.
    Undeliverable(Undeliverable),
}

/// Counters since the connection was created. More counters may come in minor versions
/// (`#[non_exhaustive]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Statistics {
    /// Messages received (subscriptions and replies).
    pub in_msgs: u64,
    /// Payload bytes received (headers included).
    pub in_bytes: u64,
    /// Messages published.
    pub out_msgs: u64,
    /// Payload bytes published (headers included).
    pub out_bytes: u64,
    /// Successful reconnections.
    pub reconnects: u64,
    /// Messages dropped because their subject or reply subject is not UTF-8 (see
    /// [`Event::Undeliverable`]).
    pub undeliverable_msgs: u64,
}

/// Why the transport failed, as the caller reports it. With the `std` feature it keeps the
/// [`std::io::ErrorKind`] of the IO error it came from ([`from_io`](Self::from_io)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    kind: TransportErrorKind,
    message: String,
    #[cfg(feature = "std")]
    io_kind: Option<std::io::ErrorKind>,
}

/// The class of a [`TransportError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The transport could not be opened.
    Connect,
    /// The TLS handshake failed (certificate, name, protocol).
    Tls,
    /// Reading or writing failed.
    Io,
    /// The peer closed the connection.
    Closed,
    /// The WebSocket upgrade was refused (an HTTP status other than 101, a bad
    /// `Sec-WebSocket-Accept`), or the server broke the WebSocket protocol (an invalid or
    /// oversized frame).
    WebSocket,
}

impl TransportError {
    /// A transport error of `kind` with a description.
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            #[cfg(feature = "std")]
            io_kind: None,
        }
    }

    /// A transport error of `kind` from an IO error, keeping its [`std::io::ErrorKind`].
    #[cfg(feature = "std")]
    pub fn from_io(kind: TransportErrorKind, error: &std::io::Error) -> Self {
        Self { kind, message: error.to_string(), io_kind: Some(error.kind()) }
    }

    /// The kind of the IO error this came from, if it came from one.
    #[cfg(feature = "std")]
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        self.io_kind
    }

    /// The peer closed the connection.
    pub fn closed() -> Self {
        Self::new(TransportErrorKind::Closed, "connection closed by the server")
    }

    /// The class.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    /// The description.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            TransportErrorKind::Connect => "connect",
            TransportErrorKind::Tls => "TLS",
            TransportErrorKind::Io => "IO",
            TransportErrorKind::Closed => "closed",
            TransportErrorKind::WebSocket => "WebSocket",
        };
        write!(f, "{what}: {}", self.message)
    }
}

impl core::error::Error for TransportError {}

/// Why a connection (or one attempt) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The transport failed.
    #[error("transport error: {0}")]
    Transport(TransportError),
    /// Connecting (transport, TLS and handshake) took longer than `connect_timeout`.
    #[error("connection attempt timed out")]
    Timeout,
    /// The server sent bytes that are not valid protocol.
    #[error("protocol error: {0}")]
    Protocol(#[from] DecodeError),
    /// The server reported an error and closes the connection (authorization, ...).
    #[error(transparent)]
    Server(ServerError),
    /// The credentials could not be used (bad seed, no nonce).
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The server did not answer `max_pings_outstanding` PINGs.
    #[error("stale connection: PINGs unanswered")]
    StaleConnection,
    /// TLS is required by the options or the URL, but the server offers none.
    #[error("TLS required, but the server does not offer it")]
    TlsNotAvailable,
    /// The server expects TLS first, or sent something before INFO that is not INFO.
    #[error("expected INFO from the server")]
    ExpectedInfo,
    /// No server is left to try (seed: `ErrNoServers`).
    #[error("no servers available for connection")]
    NoServers,
    /// The drain did not finish within `drain_timeout`.
    #[error("drain timed out")]
    DrainTimeout,
    /// The server entered lame duck mode and the connection moved away.
    #[error("server entered lame duck mode")]
    LameDuck,
    /// The server refused the credentials twice in a row with the same error (for example
    /// `Authorization Violation` or `User Authentication Expired`): the connection closes
    /// instead of retrying credentials that will not work, unless
    /// [`Options::retry_on_repeated_auth_errors`](crate::Options::retry_on_repeated_auth_errors)
    /// is set. Reported in [`Event::Closed`].
    #[error("the server refused the credentials twice in a row: {0}")]
    RepeatedAuthError(ServerError),
    /// The user asked for a reconnect ([`Connection::force_reconnect`](crate::Connection::force_reconnect)).
    #[error("reconnect forced by the client")]
    ForcedReconnect,
}

impl ConnectionError {
    /// Whether this is an authentication or authorization failure.
    pub fn is_auth_error(&self) -> bool {
        match self {
            Self::Server(e) | Self::RepeatedAuthError(e) => e.is_auth_error(),
            Self::Auth(_) => true,
            _ => false,
        }
    }
}

/// Why a publish was refused. Nothing was queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The subject is not a valid publish subject.
    #[error("invalid subject: {0}")]
    InvalidSubject(#[from] SubjectError),
    /// Headers and payload exceed the server's `max_payload`.
    #[error("message of {size} bytes exceeds the server's max_payload of {max_payload}")]
    MaxPayloadExceeded {
        /// Headers plus payload.
        size: usize,
        /// The server's limit.
        max_payload: u64,
    },
    /// Headers are disabled or the server does not support them.
    #[error("headers are not supported by this connection")]
    HeadersNotSupported,
    /// The reconnect buffer is full.
    #[error("reconnect buffer full ({limit} bytes)")]
    ReconnectBufferFull {
        /// The configured limit.
        limit: usize,
    },
    /// The connection is draining or closed.
    #[error("connection closed")]
    Closed,
}

/// Why a subscribe was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubscribeError {
    /// The connection is draining or closed.
    #[error("connection closed")]
    Closed,
}

/// Why a flush failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlushError {
    /// The deadline passed before the server answered.
    #[error("flush timed out")]
    Timeout,
    /// The connection was lost (or was not connected) before the server answered.
    #[error("disconnected before the flush completed")]
    Disconnected,
    /// The connection is closed.
    #[error("connection closed")]
    Closed,
}

/// Why a new server pool was refused ([`Connection::set_server_pool`](super::Connection::set_server_pool)).
/// The pool is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServerPoolError {
    /// The list is empty, or mixes WebSocket and NATS URLs, or is of the other kind than
    /// the connection's (a connection's servers are all WebSocket or all NATS).
    #[error("invalid server pool: {0}")]
    Invalid(#[from] crate::server_addr::ServerAddrError),
    /// The connection is closed.
    #[error("connection closed")]
    Closed,
}
