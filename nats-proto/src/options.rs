//! Connection options: servers, identity, auth, timing, reconnect policy and limits.

use crate::prelude::*;

use core::fmt;
use core::time::Duration;

use alloc::sync::Arc;

use crate::{
    auth::{Auth, AuthError},
    connection::Server,
    decode::DecoderLimits,
    info::ServerInfo,
    server_addr::{Scheme, ServerAddr, ServerAddrError},
    subject::{Subject, SubjectError},
};

/// Why options are unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OptionsError {
    /// A server URL is invalid, or there is none.
    #[error(transparent)]
    Server(#[from] ServerAddrError),
    /// The credentials are unusable.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The inbox prefix is not a valid literal subject.
    #[error("invalid inbox prefix: {0}")]
    InboxPrefix(SubjectError),
    /// A value is out of range.
    #[error("invalid option {name}: {reason}")]
    Invalid {
        /// The option.
        name: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

/// A hook computing the wait before reconnecting to a server, replacing the built-in
/// `reconnect_wait` / backoff / jitter (see [`Options::reconnect_delay_callback`]).
///
/// Its argument is the number of consecutive failed attempts to the server about to be
/// retried (per server, not overall): `0` when the server is retried right after a
/// connection to it was lost, `1` after one failed attempt, and so on. The wait counts
/// from that server's last attempt; a server never tried is tried at once without calling
/// the hook.
///
/// ```
/// use core::time::Duration;
/// use nats_proto::{Options, ReconnectDelay};
///
/// let options = Options::new("nats://127.0.0.1:4222")?.with_reconnect_delay_callback(Some(
///     ReconnectDelay::new(|failures| Duration::from_millis(100 * u64::from(failures + 1))),
/// ));
/// # let _ = options;
/// # Ok::<(), nats_proto::OptionsError>(())
/// ```
#[derive(Clone)]
pub struct ReconnectDelay(Arc<dyn Fn(u32) -> Duration + Send + Sync>);

impl ReconnectDelay {
    /// Wraps a function of the consecutive failures of the server to retry.
    pub fn new(delay: impl Fn(u32) -> Duration + Send + Sync + 'static) -> Self {
        Self(Arc::new(delay))
    }

    /// The wait before retrying a server that failed `failures` times in a row.
    pub fn delay(&self, failures: u32) -> Duration {
        (self.0)(failures)
    }
}

impl fmt::Debug for ReconnectDelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReconnectDelay(<callback>)")
    }
}

/// A hook that picks the server to reconnect to and how long to wait before (from now),
/// replacing the pool's own order and backoff (ADR-40's reconnect-to-server callback; see
/// [`Options::reconnect_to_server_callback`]). It is asked before every attempt once a
/// connection was established; the first connection follows the pool.
///
/// It is given the pool as [`Connection::server_pool`](crate::Connection::server_pool)
/// shows it (in the order the pool would try them, with their failed attempts) and the
/// last INFO received, if any. Returning `None`, or a server that is not in the pool,
/// leaves the choice to the pool. It runs inside the state machine: it must return at
/// once.
///
/// ```
/// use core::time::Duration;
/// use nats_proto::{Options, ReconnectToServer};
///
/// // Prefer servers that never failed; the pool's order among them.
/// let options = Options::new("nats://a:4222,nats://b:4222")?.with_reconnect_to_server_callback(Some(
///     ReconnectToServer::new(|servers, _info| {
///         let server = servers.iter().find(|s| s.failed_attempts == 0)?;
///         Some((server.addr.clone(), Duration::ZERO))
///     }),
/// ));
/// # let _ = options;
/// # Ok::<(), nats_proto::OptionsError>(())
/// ```
#[derive(Clone)]
#[allow(clippy::type_complexity)]
pub struct ReconnectToServer(
    Arc<dyn Fn(&[Server], Option<&ServerInfo>) -> Option<(ServerAddr, Duration)> + Send + Sync>,
);

impl ReconnectToServer {
    /// Wraps a function of the pool and the last INFO.
    pub fn new(
        choose: impl Fn(&[Server], Option<&ServerInfo>) -> Option<(ServerAddr, Duration)> + Send + Sync + 'static,
    ) -> Self {
        Self(Arc::new(choose))
    }

    /// The server to try next and the wait before, if the hook picks one.
    pub fn choose(&self, servers: &[Server], info: Option<&ServerInfo>) -> Option<(ServerAddr, Duration)> {
        (self.0)(servers, info)
    }
}

impl fmt::Debug for ReconnectToServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReconnectToServer(<callback>)")
    }
}

/// Everything that shapes a connection. Build with [`Options::new`] and the `with_*`
/// methods (one per field), or by setting fields; the connection validates them once, at
/// construction. More fields may come in minor versions, so the struct is
/// `#[non_exhaustive]`: outside this crate it cannot be written as a literal.
///
/// ```
/// use core::time::Duration;
/// use nats_proto::Options;
///
/// let options = Options::new("nats://127.0.0.1:4222")?
///     .with_name(Some("billing".to_owned()))
///     .with_randomize(false)
///     .with_ping_interval(Duration::from_secs(30));
/// let mut changed = options.clone();
/// changed.echo = false;
/// # let _ = changed;
/// # Ok::<(), nats_proto::OptionsError>(())
/// ```
///
/// Defaults follow nats.py and the other official clients: randomised server order,
/// 2 s connect timeout, PING every 2 minutes with 2 outstanding allowed, reconnect with
/// 60 attempts per server, 2 s wait growing exponentially to 8 s (plus up to 100 ms
/// jitter, 1 s for TLS), an 8 MiB reconnect buffer, `_INBOX` prefix, 30 s drain timeout,
/// publish pacing with a 4 MiB budget.
///
/// Every duration may be as long as [`Duration::MAX`]: a timeout, interval, wait or jitter
/// of [`NEVER`](crate::time::NEVER) or longer means never (see
/// [`time::deadline`](crate::time::deadline)).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// The servers to connect to, tried in order when `randomize` is off.
    pub servers: Vec<ServerAddr>,
    /// Shuffle the server list (once, at start) to spread clients over a cluster.
    /// nats.py's `dont_randomize` is `randomize: false`.
    pub randomize: bool,
    /// The client's name, shown in the server's monitoring.
    pub name: Option<String>,
    /// Deliver this connection's own publishes to its matching subscriptions.
    pub echo: bool,
    /// Ask the server to acknowledge every op with `+OK`.
    pub verbose: bool,
    /// Ask the server for strict subject checking.
    pub pedantic: bool,
    /// Use headers (`HPUB`/`HMSG`) when the server supports them.
    pub headers: bool,
    /// Ask for 503 status replies to requests nobody listens to (needs headers).
    pub no_responders: bool,
    /// Credentials (URL credentials take precedence for their server).
    pub auth: Auth,
    /// Require TLS on every connection, whatever the server says. With WebSocket servers
    /// only `wss://` URLs are allowed (TLS below the WebSocket); with a `ws://` one the
    /// options are [invalid](OptionsError::Invalid).
    pub tls_required: bool,
    /// Start TLS before the server's `INFO` (server option `handshake_first`, 2.10.4+).
    /// `wss://` always starts with TLS; with a `ws://` server the options are
    /// [invalid](OptionsError::Invalid).
    pub tls_first: bool,
    /// How long one connection attempt (transport, TLS and handshake) may take.
    pub connect_timeout: Duration,
    /// Send a PING after this long.
    pub ping_interval: Duration,
    /// Declare the connection stale when this many PINGs are unanswered.
    pub max_pings_outstanding: u32,
    /// Ignore the servers a cluster advertises in INFO `connect_urls`: only the
    /// configured servers are ever tried, and no
    /// [`Event::DiscoveredServers`](crate::Event::DiscoveredServers) is reported.
    pub ignore_discovered_servers: bool,
    /// Reconnect after losing a connection.
    pub allow_reconnect: bool,
    /// Keep retrying a server that refused the credentials twice in a row with the same
    /// error. Off by default: the connection then closes with
    /// [`ConnectionError::RepeatedAuthError`](crate::ConnectionError::RepeatedAuthError)
    /// (nats.go's `IgnoreAuthErrorAbort` turns the same rule off).
    pub retry_on_repeated_auth_errors: bool,
    /// Keep retrying the initial connection as if it were a reconnect, instead of failing
    /// after one pass over the servers.
    pub retry_on_initial_connect: bool,
    /// Attempts per server before it is dropped from the pool (`None`: never).
    pub max_reconnect_attempts: Option<u32>,
    /// The wait before reconnecting to a server just tried (nats.py's
    /// `reconnect_time_wait`); doubled after each failed attempt up to
    /// `reconnect_backoff_max`.
    pub reconnect_wait: Duration,
    /// The cap of the exponential backoff.
    pub reconnect_backoff_max: Duration,
    /// Random extra wait, up to this much, for plain connections.
    pub reconnect_jitter: Duration,
    /// Random extra wait, up to this much, for TLS connections.
    pub reconnect_jitter_tls: Duration,
    /// Computes the wait before reconnecting instead of `reconnect_wait`,
    /// `reconnect_backoff_max` and the jitters, which are then ignored (`None`, the
    /// default: the built-in backoff).
    pub reconnect_delay_callback: Option<ReconnectDelay>,
    /// Picks the server to reconnect to and the wait before, instead of the pool's order
    /// and backoff (`None`, the default: the pool decides).
    pub reconnect_to_server_callback: Option<ReconnectToServer>,
    /// Bytes of publishes kept while disconnected; past it, publishing fails.
    pub reconnect_buffer_size: usize,
    /// Publish pacing: about how many bytes the server may have to send back for one
    /// window of this connection's publishes (`None`: no pacing). A connection that
    /// subscribes to what it publishes gets a copy per matching subscription, and
    /// nats-server cuts off a client whose pending output passes its `max_pending` (64 MB
    /// by default) without slowing down a publisher that is its own consumer. With pacing
    /// a connection that has subscriptions sends a PING after each window of publishes and
    /// writes at most four unanswered windows ahead; the window adapts so that what comes
    /// back for one stays near this budget, so the server holds about four budgets for the
    /// connection. Publishers that get little back are hardly held up (the window grows to
    /// 8 MiB); a connection without subscriptions is never paced. Default 4 MiB; keep it
    /// at most an eighth of the server's `max_pending`. Off when [`echo`](Self::echo) is
    /// off.
    pub publish_pacing: Option<usize>,
    /// The prefix of request inboxes.
    pub inbox_prefix: String,
    /// How long a drain may take before the connection is closed anyway.
    pub drain_timeout: Duration,
    /// Limits on what the server may send.
    pub decoder_limits: DecoderLimits,
    /// The seed of the random number generator (server order, jitter, inbox names).
    /// `None` (the default) seeds it from the operating system's randomness; a fixed seed
    /// makes tests deterministic. Never share a fixed seed between live connections: their
    /// request inboxes would be the same. In `wasm32-unknown-unknown` std's hasher keys,
    /// which the default draws on, are fixed: give a seed from the platform there (the
    /// browser adapter draws one from `crypto.getRandomValues`).
    pub rng_seed: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            servers: Vec::new(),
            randomize: true,
            name: None,
            echo: true,
            verbose: false,
            pedantic: false,
            headers: true,
            no_responders: true,
            auth: Auth::None,
            tls_required: false,
            tls_first: false,
            connect_timeout: Duration::from_secs(2),
            ping_interval: Duration::from_secs(120),
            max_pings_outstanding: 2,
            ignore_discovered_servers: false,
            allow_reconnect: true,
            retry_on_repeated_auth_errors: false,
            retry_on_initial_connect: false,
            max_reconnect_attempts: Some(60),
            reconnect_wait: Duration::from_secs(2),
            reconnect_backoff_max: Duration::from_secs(8),
            reconnect_jitter: Duration::from_millis(100),
            reconnect_jitter_tls: Duration::from_secs(1),
            reconnect_delay_callback: None,
            reconnect_to_server_callback: None,
            reconnect_buffer_size: 8 * 1024 * 1024,
            publish_pacing: Some(4 * 1024 * 1024),
            inbox_prefix: "_INBOX".to_owned(),
            drain_timeout: Duration::from_secs(30),
            decoder_limits: DecoderLimits::default(),
            rng_seed: None,
        }
    }
}

impl Options {
    /// Default options for a comma-separated list of server URLs.
    ///
    /// # Errors
    /// [`OptionsError::Server`] for an invalid URL or an empty list.
    pub fn new(urls: &str) -> Result<Self, OptionsError> {
        Ok(Self { servers: ServerAddr::parse_list(urls)?, ..Self::default() })
    }

    /// Sets [`servers`](Self::servers).
    #[must_use]
    pub fn with_servers(mut self, servers: Vec<ServerAddr>) -> Self {
        self.servers = servers;
        self
    }
    /// Sets [`randomize`](Self::randomize).
    #[must_use]
    pub fn with_randomize(mut self, randomize: bool) -> Self {
        self.randomize = randomize;
        self
    }
    /// Sets [`name`](Self::name).
    #[must_use]
    pub fn with_name(mut self, name: Option<String>) -> Self {
        self.name = name;
        self
    }
    /// Sets [`echo`](Self::echo).
    #[must_use]
    pub fn with_echo(mut self, echo: bool) -> Self {
        self.echo = echo;
        self
    }
    /// Sets [`verbose`](Self::verbose).
    #[must_use]
    pub fn with_verbose(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }
    /// Sets [`pedantic`](Self::pedantic).
    #[must_use]
    pub fn with_pedantic(mut self, pedantic: bool) -> Self {
        self.pedantic = pedantic;
        self
    }
    /// Sets [`headers`](Self::headers).
    #[must_use]
    pub fn with_headers(mut self, headers: bool) -> Self {
        self.headers = headers;
        self
    }
    /// Sets [`no_responders`](Self::no_responders).
    #[must_use]
    pub fn with_no_responders(mut self, no_responders: bool) -> Self {
        self.no_responders = no_responders;
        self
    }
    /// Sets [`auth`](Self::auth).
    #[must_use]
    pub fn with_auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }
    /// Sets [`tls_required`](Self::tls_required).
    #[must_use]
    pub fn with_tls_required(mut self, tls_required: bool) -> Self {
        self.tls_required = tls_required;
        self
    }
    /// Sets [`tls_first`](Self::tls_first).
    #[must_use]
    pub fn with_tls_first(mut self, tls_first: bool) -> Self {
        self.tls_first = tls_first;
        self
    }
    /// Sets [`connect_timeout`](Self::connect_timeout).
    #[must_use]
    pub fn with_connect_timeout(mut self, connect_timeout: Duration) -> Self {
        self.connect_timeout = connect_timeout;
        self
    }
    /// Sets [`ping_interval`](Self::ping_interval).
    #[must_use]
    pub fn with_ping_interval(mut self, ping_interval: Duration) -> Self {
        self.ping_interval = ping_interval;
        self
    }
    /// Sets [`max_pings_outstanding`](Self::max_pings_outstanding).
    #[must_use]
    pub fn with_max_pings_outstanding(mut self, max_pings_outstanding: u32) -> Self {
        self.max_pings_outstanding = max_pings_outstanding;
        self
    }
    /// Sets [`ignore_discovered_servers`](Self::ignore_discovered_servers).
    #[must_use]
    pub fn with_ignore_discovered_servers(mut self, ignore_discovered_servers: bool) -> Self {
        self.ignore_discovered_servers = ignore_discovered_servers;
        self
    }
    /// Sets [`allow_reconnect`](Self::allow_reconnect).
    #[must_use]
    pub fn with_allow_reconnect(mut self, allow_reconnect: bool) -> Self {
        self.allow_reconnect = allow_reconnect;
        self
    }
    /// Sets [`retry_on_repeated_auth_errors`](Self::retry_on_repeated_auth_errors).
    #[must_use]
    pub fn with_retry_on_repeated_auth_errors(mut self, retry_on_repeated_auth_errors: bool) -> Self {
        self.retry_on_repeated_auth_errors = retry_on_repeated_auth_errors;
        self
    }
    /// Sets [`retry_on_initial_connect`](Self::retry_on_initial_connect).
    #[must_use]
    pub fn with_retry_on_initial_connect(mut self, retry_on_initial_connect: bool) -> Self {
        self.retry_on_initial_connect = retry_on_initial_connect;
        self
    }
    /// Sets [`max_reconnect_attempts`](Self::max_reconnect_attempts).
    #[must_use]
    pub fn with_max_reconnect_attempts(mut self, max_reconnect_attempts: Option<u32>) -> Self {
        self.max_reconnect_attempts = max_reconnect_attempts;
        self
    }
    /// Sets [`reconnect_wait`](Self::reconnect_wait).
    #[must_use]
    pub fn with_reconnect_wait(mut self, reconnect_wait: Duration) -> Self {
        self.reconnect_wait = reconnect_wait;
        self
    }
    /// Sets [`reconnect_backoff_max`](Self::reconnect_backoff_max).
    #[must_use]
    pub fn with_reconnect_backoff_max(mut self, reconnect_backoff_max: Duration) -> Self {
        self.reconnect_backoff_max = reconnect_backoff_max;
        self
    }
    /// Sets [`reconnect_jitter`](Self::reconnect_jitter).
    #[must_use]
    pub fn with_reconnect_jitter(mut self, reconnect_jitter: Duration) -> Self {
        self.reconnect_jitter = reconnect_jitter;
        self
    }
    /// Sets [`reconnect_jitter_tls`](Self::reconnect_jitter_tls).
    #[must_use]
    pub fn with_reconnect_jitter_tls(mut self, reconnect_jitter_tls: Duration) -> Self {
        self.reconnect_jitter_tls = reconnect_jitter_tls;
        self
    }
    /// Sets [`reconnect_delay_callback`](Self::reconnect_delay_callback).
    #[must_use]
    pub fn with_reconnect_delay_callback(mut self, reconnect_delay_callback: Option<ReconnectDelay>) -> Self {
        self.reconnect_delay_callback = reconnect_delay_callback;
        self
    }
    /// Sets [`reconnect_to_server_callback`](Self::reconnect_to_server_callback).
    #[must_use]
    pub fn with_reconnect_to_server_callback(mut self, callback: Option<ReconnectToServer>) -> Self {
        self.reconnect_to_server_callback = callback;
        self
    }
    /// Sets [`reconnect_buffer_size`](Self::reconnect_buffer_size).
    #[must_use]
    pub fn with_reconnect_buffer_size(mut self, reconnect_buffer_size: usize) -> Self {
        self.reconnect_buffer_size = reconnect_buffer_size;
        self
    }
    /// Sets [`publish_pacing`](Self::publish_pacing).
    #[must_use]
    pub fn with_publish_pacing(mut self, publish_pacing: Option<usize>) -> Self {
        self.publish_pacing = publish_pacing;
        self
    }
    /// Sets [`inbox_prefix`](Self::inbox_prefix).
    #[must_use]
    pub fn with_inbox_prefix(mut self, inbox_prefix: String) -> Self {
        self.inbox_prefix = inbox_prefix;
        self
    }
    /// Sets [`drain_timeout`](Self::drain_timeout).
    #[must_use]
    pub fn with_drain_timeout(mut self, drain_timeout: Duration) -> Self {
        self.drain_timeout = drain_timeout;
        self
    }
    /// Sets [`decoder_limits`](Self::decoder_limits).
    #[must_use]
    pub fn with_decoder_limits(mut self, decoder_limits: DecoderLimits) -> Self {
        self.decoder_limits = decoder_limits;
        self
    }
    /// Sets [`rng_seed`](Self::rng_seed).
    #[must_use]
    pub fn with_rng_seed(mut self, rng_seed: Option<u64>) -> Self {
        self.rng_seed = rng_seed;
        self
    }

    /// Checks the options; returns the inbox prefix as a subject.
    pub(crate) fn validate(&self) -> Result<Subject, OptionsError> {
        ServerAddr::check_list(&self.servers)?;
        // A `ws://` server has no TLS at all (TLS for a WebSocket is `wss://`, set up below
        // the WebSocket); `wss://` satisfies both options by itself.
        if self.servers.iter().any(|s| s.scheme() == Scheme::Ws) {
            if self.tls_required {
                return Err(OptionsError::Invalid {
                    name: "tls_required",
                    reason: "a ws:// server has no TLS: use wss:// for TLS below the WebSocket",
                });
            }
            if self.tls_first {
                return Err(OptionsError::Invalid {
                    name: "tls_first",
                    reason: "a ws:// server has no TLS: use wss:// for TLS below the WebSocket",
                });
            }
        }
        self.auth.validate()?;
        let prefix = Subject::new(self.inbox_prefix.as_str()).map_err(OptionsError::InboxPrefix)?;
        prefix.validate_publish().map_err(OptionsError::InboxPrefix)?;
        let positive = |name, d: Duration| {
            if d.is_zero() {
                Err(OptionsError::Invalid { name, reason: "must be greater than zero" })
            } else {
                Ok(())
            }
        };
        positive("connect_timeout", self.connect_timeout)?;
        positive("ping_interval", self.ping_interval)?;
        positive("drain_timeout", self.drain_timeout)?;
        if self.max_pings_outstanding == 0 {
            return Err(OptionsError::Invalid {
                name: "max_pings_outstanding",
                reason: "must be at least 1",
            });
        }
        if self.reconnect_backoff_max < self.reconnect_wait {
            return Err(OptionsError::Invalid {
                name: "reconnect_backoff_max",
                reason: "must not be less than reconnect_wait",
            });
        }
        if self.publish_pacing == Some(0) {
            return Err(OptionsError::Invalid {
                name: "publish_pacing",
                reason: "must be greater than zero (None turns pacing off)",
            });
        }
        if self.decoder_limits.max_control_line < 512 {
            return Err(OptionsError::Invalid {
                name: "decoder_limits.max_control_line",
                reason: "must be at least 512",
            });
        }
        Ok(prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn new_parses_servers_and_validates() {
        let options = Options::new("nats://a:1,b").unwrap();
        assert_eq!(options.servers.len(), 2);
        assert_eq!(options.validate().unwrap(), "_INBOX");
        assert!(Options::new("").is_err());
        assert!(Options::default().validate().is_err(), "no servers");
    }

    #[test]
    fn rejects_bad_values() {
        let base = Options::new("a").unwrap();
        let bad = [
            Options { inbox_prefix: "in box".into(), ..base.clone() },
            Options { inbox_prefix: "_INBOX.*".into(), ..base.clone() },
            Options { ping_interval: Duration::ZERO, ..base.clone() },
            Options { max_pings_outstanding: 0, ..base.clone() },
            Options { reconnect_backoff_max: Duration::from_millis(1), ..base.clone() },
            Options { auth: Auth::NKey(Secret::new("not a seed")), ..base.clone() },
            Options { tls_required: true, ..Options::new("ws://a").unwrap() },
            Options { tls_first: true, ..Options::new("ws://a").unwrap() },
            Options { servers: vec!["ws://a".parse().unwrap(), "nats://b".parse().unwrap()], ..base.clone() },
        ];
        for options in bad {
            assert!(options.validate().is_err(), "{options:?}");
        }
    }

    #[test]
    fn wss_satisfies_the_tls_options() {
        let options = Options { tls_required: true, tls_first: true, ..Options::new("wss://a").unwrap() };
        assert!(options.validate().is_ok());
    }

    #[test]
    fn debug_hides_secrets() {
        let options = Options {
            auth: Auth::Token(Secret::new("tok-secret")),
            ..Options::new("nats://u:pw-secret@host").unwrap()
        };
        let debug = format!("{options:?}");
        assert!(!debug.contains("secret"), "{debug}");
    }
}
