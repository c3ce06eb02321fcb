//! Errors, one enum per operation family.

use std::io;

use nats_proto::{ConnectionError, PublishError, SubjectError};

/// Why connecting failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The options are unusable (bad URL, bad seed, ...).
    #[error(transparent)]
    Options(#[from] nats_proto::OptionsError),
    /// A file (creds, nkey seed, certificate, key) could not be read or parsed.
    #[error("cannot read {path}: {source}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        source: io::Error,
    },
    /// The TLS configuration is unusable.
    #[error("TLS configuration: {0}")]
    TlsConfig(String),
    /// TLS was asked for (a `tls://` server, `wss://` on a runtime without built-in
    /// WebSocket, [`require_tls`](crate::ConnectOptions::require_tls) or
    /// [`tls_first`](crate::ConnectOptions::tls_first)) in a build without the cargo
    /// feature `tls`. A server that demands TLS in its INFO fails the attempt instead:
    /// [`NoServers`](Self::NoServers) with a TLS [`TransportError`](nats_proto::TransportError).
    #[error("TLS is not available: this build of nats-client has no TLS (cargo feature `tls`)")]
    TlsUnavailable,
    /// No server could be connected to (seed: `ErrNoServers`); `last` says why the last
    /// attempt failed.
    #[error("no servers available for connection{}", last.as_ref().map(|e| format!(" (last error: {e})")).unwrap_or_default())]
    NoServers {
        /// The last attempt's error.
        last: Option<ConnectionError>,
    },
}

impl ConnectError {
    /// Whether the last attempt failed on authentication.
    pub fn is_auth_error(&self) -> bool {
        matches!(self, Self::NoServers { last: Some(e) } if e.is_auth_error())
    }
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// No reply within the timeout.
    #[error("request timed out")]
    Timeout,
    /// Nobody is subscribed to the subject (503 from the server).
    #[error("no responders for the request")]
    NoResponders,
    /// The request could not be published.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// The connection closed before a reply arrived.
    #[error("connection closed")]
    Closed,
}

/// Why a subscription could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubscribeError {
    /// The subject or filter is invalid.
    #[error("invalid subject: {0}")]
    InvalidSubject(#[from] SubjectError),
    /// The queue group name is invalid.
    #[error("invalid queue group: {0}")]
    InvalidQueueGroup(#[from] nats_proto::QueueGroupError),
    /// The connection is draining or closed.
    #[error("connection closed")]
    Closed,
}

/// Why an unsubscribe could not be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnsubscribeError {
    /// The subscription has already ended (unsubscribed before, its auto-unsubscribe count
    /// reached, or drained).
    #[error("the subscription has already ended")]
    Ended,
    /// The connection is closed.
    #[error("connection closed")]
    Closed,
}

/// Why [`Client::force_reconnect`](crate::Client::force_reconnect) did nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReconnectError {
    /// There is no connection to drop: connecting or reconnecting already.
    #[error("not connected: a connection attempt is already under way")]
    NotConnected,
    /// The connection is draining; it closes when the drain ends.
    #[error("the connection is draining")]
    Draining,
    /// Reconnecting is disabled ([`allow_reconnect(false)`](crate::ConnectOptions::allow_reconnect)).
    #[error("reconnecting is disabled for this client")]
    Disabled,
    /// The connection is closed.
    #[error("connection closed")]
    Closed,
}

/// Why [`Client::drain`](crate::Client::drain) did not end cleanly. The connection is
/// closed either way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DrainError {
    /// The drain did not finish within the drain timeout
    /// ([`ConnectOptions::drain_timeout`](crate::ConnectOptions::drain_timeout)):
    /// messages still in flight may not have been handled.
    #[error("drain timed out")]
    Timeout,
    /// The connection closed with an error before the drain could finish (lost with
    /// reconnecting impossible, or already closed with that error).
    #[error("connection closed before the drain finished: {0}")]
    Closed(ConnectionError),
}

/// An error of any kind, for application code that returns errors of several operations
/// with `?` (as `async_nats::Error`):
///
/// ```no_run
/// # async fn demo<R: nats_client::Runtime>(rt: R) -> Result<(), nats_client::Error> {
/// let client = nats_client::connect_with_runtime(rt, "nats://127.0.0.1:4222", Default::default()).await?;
/// client.publish("greet.joe", "hello".into()).await?;
/// client.flush().await?;
/// # Ok(()) }
/// ```
pub type Error = Box<dyn std::error::Error + Send + Sync + 'static>;
