//! `ConnectOptions`: the builder users configure a connection with.

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use nats_proto::{Auth, AuthError, Credentials, Options, PendingLimits, Secret, ServerAddr, Signer};
#[cfg(feature = "tls")]
use rustls_pki_types::pem::PemObject;
#[cfg(feature = "tls")]
use rustls_pki_types::CertificateDer;

use crate::error::ConnectError;
use crate::event::{ClientEvent, EventCallback};
use crate::tls::TlsOptions;
#[cfg(feature = "tls")]
use crate::tls::{load_certificates, load_private_key};

/// The async credentials callback of [`ConnectOptions::auth_callback`], type-erased: it
/// receives the server's nonce (empty when the server sent none).
pub(crate) type AuthCallback = Arc<
    dyn Fn(Vec<u8>) -> Pin<Box<dyn Future<Output = Result<Credentials, AuthError>> + Send>> + Send + Sync,
>;

/// Where credentials come from; files are read at connect time.
#[derive(Clone)]
enum CredentialSource {
    Inline(Auth),
    CredsFile(PathBuf),
    NKeySeedFile(PathBuf),
    Callback(AuthCallback),
}

impl fmt::Debug for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Inline(auth) => f.debug_tuple("Inline").field(auth).finish(),
            Self::CredsFile(path) => f.debug_tuple("CredsFile").field(path).finish(),
            Self::NKeySeedFile(path) => f.debug_tuple("NKeySeedFile").field(path).finish(),
            Self::Callback(_) => f.write_str("Callback(<function>)"),
        }
    }
}

/// How to connect: servers come from the URL list given to `connect`, everything else from
/// here. Defaults follow nats.py and the other official clients; see each method.
///
/// Every duration may be as long as [`Duration::MAX`]: a timeout, interval, wait or jitter
/// of [`nats_proto::time::NEVER`] (about 136 years) or more means never. A zero that makes
/// no sense (a ping interval, a connection or drain timeout) is an error at connect time.
///
/// ```
/// use std::time::Duration;
/// use nats_client::ConnectOptions;
///
/// let options = ConnectOptions::new()
///     .name("billing")
///     .user_and_password("alice", "s3cret")
///     .max_reconnect_attempts(Some(10))
///     .reconnect_time_wait(Duration::from_secs(1))
///     .request_timeout(Duration::from_secs(2));
/// # let _ = options;
/// ```
#[derive(Clone)]
pub struct ConnectOptions {
    pub(crate) proto: Options,
    credentials: Option<CredentialSource>,
    /// The credentials callback, once [`resolve`](Self::resolve)d.
    pub(crate) auth_callback: Option<AuthCallback>,
    pub(crate) tls: TlsOptions,
    #[cfg(feature = "tls")]
    tls_files: Vec<PathBuf>,
    #[cfg(feature = "tls")]
    client_cert_files: Option<(PathBuf, PathBuf)>,
    pub(crate) pending_limits: PendingLimits,
    pub(crate) request_timeout: Duration,
    pub(crate) flush_timeout: Duration,
    pub(crate) callbacks: Vec<EventCallback>,
    pub(crate) local_address: Option<std::net::SocketAddr>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("ConnectOptions");
        s.field("proto", &self.proto).field("credentials", &self.credentials);
        #[cfg(feature = "tls")]
        s.field("tls_files", &self.tls_files).field("client_cert_files", &self.client_cert_files);
        s.field("pending_limits", &self.pending_limits)
            .field("request_timeout", &self.request_timeout)
            .field("callbacks", &self.callbacks.len())
            .finish_non_exhaustive()
    }
}

impl ConnectOptions {
    /// Default options.
    ///
    /// ```
    /// use nats_client::ConnectOptions;
    ///
    /// let options = ConnectOptions::new();
    /// # let _ = options;
    /// ```
    pub fn new() -> Self {
        Self {
            proto: Options::default(),
            credentials: None,
            auth_callback: None,
            tls: TlsOptions::default(),
            #[cfg(feature = "tls")]
            tls_files: Vec::new(),
            #[cfg(feature = "tls")]
            client_cert_files: None,
            pending_limits: PendingLimits::new(512 * 1024, 64 * 1024 * 1024),
            request_timeout: Duration::from_secs(10),
            local_address: None,
            flush_timeout: Duration::from_secs(10),
            callbacks: Vec::new(),
        }
    }

    /// The client name shown in the server's monitoring.
    ///
    /// ```
    /// let options = nats_client::ConnectOptions::new().name("billing-service");
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.proto.name = Some(name.into());
        self
    }

    /// Don't deliver this connection's own publishes to its subscriptions.
    ///
    /// ```
    /// // Publishes of this connection never come back to its own subscriptions.
    /// let options = nats_client::ConnectOptions::new().no_echo();
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn no_echo(mut self) -> Self {
        self.proto.echo = false;
        self
    }

    /// Ask the server to acknowledge every op (`+OK`); for debugging.
    ///
    /// ```
    /// let options = nats_client::ConnectOptions::new().verbose(true);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn verbose(mut self, verbose: bool) -> Self {
        self.proto.verbose = verbose;
        self
    }

    /// Ask the server for strict subject checking.
    ///
    /// ```
    /// let options = nats_client::ConnectOptions::new().pedantic(true);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn pedantic(mut self, pedantic: bool) -> Self {
        self.proto.pedantic = pedantic;
        self
    }

    /// User and password authentication (URL credentials take precedence).
    ///
    /// ```
    /// let options = nats_client::ConnectOptions::new().user_and_password("alice", "s3cret");
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn user_and_password(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials = Some(CredentialSource::Inline(Auth::UserPassword {
            user: user.into(),
            password: Secret::new(password),
        }));
        self
    }

    /// Token authentication.
    ///
    /// ```
    /// let options = nats_client::ConnectOptions::new().token("t0k3n");
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.credentials = Some(CredentialSource::Inline(Auth::Token(Secret::new(token))));
        self
    }

    /// Nkey authentication with a user seed (`SU...`).
    ///
    /// ```
    /// let options = nats_client::ConnectOptions::new()
    ///     .nkey("SUAMLK2ZNL35WSMW37E7UD4VZ7ELPKW7DHC3BWBSD2GCZ7IUQQXZIORRBU");
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn nkey(mut self, seed: impl Into<String>) -> Self {
        self.credentials = Some(CredentialSource::Inline(Auth::NKey(Secret::new(seed))));
        self
    }

    /// Nkey authentication with the seed read from a file at connect time.
    ///
    /// ```
    /// // Read when connecting.
    /// let options = nats_client::ConnectOptions::new().nkey_seed_file("/etc/nats/user.nk");
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn nkey_seed_file(mut self, path: impl AsRef<Path>) -> Self {
        self.credentials = Some(CredentialSource::NKeySeedFile(path.as_ref().to_owned()));
        self
    }

    /// JWT authentication from a creds file's contents (JWT and seed).
    ///
    /// # Errors
    /// [`ConnectError::Options`] when the text is not a creds file.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let creds = std::fs::read_to_string("/etc/nats/user.creds")?;
    /// let options = nats_client::ConnectOptions::new().credentials(&creds)?;
    /// # let _ = options;
    /// # Ok(()) }
    /// ```
    pub fn credentials(mut self, creds: &str) -> Result<Self, ConnectError> {
        let auth = Auth::from_creds(creds).map_err(nats_proto::OptionsError::from)?;
        self.credentials = Some(CredentialSource::Inline(auth));
        Ok(self)
    }

    /// JWT authentication from a creds file, read at connect time.
    ///
    /// ```
    /// // Read when connecting.
    /// let options = nats_client::ConnectOptions::new().credentials_file("/etc/nats/user.creds");
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn credentials_file(mut self, path: impl AsRef<Path>) -> Self {
        self.credentials = Some(CredentialSource::CredsFile(path.as_ref().to_owned()));
        self
    }

    /// JWT authentication where the nonce is signed by `sign`, so the seed never needs to
    /// be in this process's memory (a key store, an HSM, another service). `sign` receives
    /// the server's nonce and returns the raw Ed25519 signature; its error fails that
    /// connection attempt with [`AuthError::Signing`](crate::AuthError::Signing), and the
    /// reconnect policy goes on.
    ///
    /// ```
    /// use nats_client::ConnectOptions;
    ///
    /// # let key_pair = nkeys::KeyPair::new_user();
    /// // `key_pair` stands for whatever holds the user's key.
    /// let options = ConnectOptions::new().jwt("eyJ0eXAiOiJKV1Qi...", move |nonce: &[u8]| {
    ///     key_pair.sign(nonce).map_err(|e| e.to_string())
    /// });
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn jwt<E: fmt::Display>(
        mut self,
        jwt: impl Into<String>,
        sign: impl Fn(&[u8]) -> Result<Vec<u8>, E> + Send + Sync + 'static,
    ) -> Self {
        self.credentials = Some(CredentialSource::Inline(Auth::JwtSigner {
            jwt: Secret::new(jwt),
            signer: Signer::new(sign),
        }));
        self
    }

    /// Fresh credentials for every connection attempt, from an async callback (rotating
    /// tokens or passwords, short-lived JWTs, signatures made by a remote service). The
    /// callback receives the server's nonce (empty when the server sent none) and returns
    /// [`Credentials`](crate::Credentials); it runs on the connection's task after the
    /// server's INFO, within the attempt's
    /// [`connection_timeout`](Self::connection_timeout). Its error fails that attempt with
    /// [`AuthError::Callback`](crate::AuthError::Callback) and the reconnect policy goes
    /// on. Credentials in a server URL still take precedence for that server.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// use nats_client::{ConnectOptions, Credentials};
    ///
    /// let rotation = Arc::new(AtomicU64::new(0));
    /// let options = ConnectOptions::new().auth_callback(move |_nonce| {
    ///     let rotation = Arc::clone(&rotation);
    ///     async move {
    ///         // Fetch the current token from a secret store here.
    ///         let n = rotation.fetch_add(1, Ordering::SeqCst);
    ///         Ok::<_, std::io::Error>(Credentials::new().with_token(format!("token-{n}")))
    ///     }
    /// });
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn auth_callback<F, Fut, E>(mut self, callback: F) -> Self
    where
        F: Fn(Vec<u8>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Credentials, E>> + Send + 'static,
        E: fmt::Display,
    {
        let callback: AuthCallback = Arc::new(move |nonce| {
            let credentials = callback(nonce);
            Box::pin(async move { credentials.await.map_err(|e| AuthError::Callback(e.to_string())) })
        });
        self.credentials = Some(CredentialSource::Callback(callback));
        self
    }

    /// Keep retrying a server that refused the credentials twice in a row with the same
    /// error. By default the connection then closes with
    /// [`ConnectionError::RepeatedAuthError`](crate::ConnectionError::RepeatedAuthError)
    /// (in [`ClientEvent::Closed`]) instead of hammering the server with credentials that
    /// do not work, as nats.go and nats.js do.
    ///
    /// ```
    /// use nats_client::ConnectOptions;
    ///
    /// // The password may be fixed on the server while we keep trying.
    /// let options = ConnectOptions::new()
    ///     .user_and_password("alice", "s3cret")
    ///     .retry_on_repeated_auth_errors();
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn retry_on_repeated_auth_errors(mut self) -> Self {
        self.proto.retry_on_repeated_auth_errors = true;
        self
    }

    /// The seed of the connection's random numbers (server order, reconnect jitter,
    /// request inbox names). By default they are seeded from the operating system's
    /// randomness; set it where there is none to std (the browser adapter seeds it from
    /// the browser's crypto), or to a fixed value in tests. Never give two live
    /// connections the same seed: their request inboxes would be the same.
    #[must_use]
    pub fn rng_seed(mut self, seed: u64) -> Self {
        self.proto.rng_seed = Some(seed);
        self
    }

    /// Require TLS on every connection, whatever the server says.
    ///
    /// ```
    /// let options = nats_client::ConnectOptions::new().require_tls(true);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn require_tls(mut self, required: bool) -> Self {
        self.proto.tls_required = required;
        self
    }

    /// Start TLS before the server's INFO (server option `handshake_first`, 2.10.4+).
    ///
    /// ```
    /// // For servers configured with `handshake_first`.
    /// let options = nats_client::ConnectOptions::new().tls_first();
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn tls_first(mut self) -> Self {
        self.proto.tls_first = true;
        self
    }

    /// Trust the CA certificates in a PEM file (read at connect time). Roots given this
    /// way (or with [`add_root_certificate_pem`](Self::add_root_certificate_pem)) replace
    /// the operating system's, which are the default: a connection to a private NATS
    /// deployment trusts its CA and nothing else, as with async-nats. To trust both, add
    /// [`system_root_certificates(true)`](Self::system_root_certificates). Each call adds
    /// a file (async-nats keeps the last one only). (Cargo feature `tls`.)
    ///
    /// ```
    /// // Read when connecting.
    /// let options = nats_client::ConnectOptions::new().add_root_certificates("/etc/nats/ca.pem");
    /// # let _ = options;
    /// ```
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn add_root_certificates(mut self, path: impl AsRef<Path>) -> Self {
        self.tls_files.push(path.as_ref().to_owned());
        self
    }

    /// Trust the CA certificates in PEM text. (Cargo feature `tls`.)
    ///
    /// # Errors
    /// [`ConnectError::TlsConfig`] when the text holds no valid certificate.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pem = std::fs::read("/etc/nats/ca.pem")?;
    /// let options = nats_client::ConnectOptions::new().add_root_certificate_pem(&pem)?;
    /// # let _ = options;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "tls")]
    pub fn add_root_certificate_pem(mut self, pem: &[u8]) -> Result<Self, ConnectError> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<_, _>>()
            .map_err(|e| ConnectError::TlsConfig(format!("bad PEM certificate: {e}")))?;
        if certs.is_empty() {
            return Err(ConnectError::TlsConfig("no certificate in the PEM text".to_owned()));
        }
        self.tls.roots.extend(certs);
        Ok(self)
    }

    /// Whether the operating system's trusted roots are trusted. By default they are,
    /// unless other roots are given ([`add_root_certificates`](Self::add_root_certificates),
    /// `bundled_root_certificates` with the feature `webpki-roots`): `true` trusts
    /// them next to those, `false` never. The store is read once per process
    /// (rustls-native-certs: `SSL_CERT_FILE` and `SSL_CERT_DIR` on Linux, the keychain on
    /// macOS, the Windows store). (Cargo feature `tls`.)
    ///
    /// ```
    /// // The company CA and the public ones the machine trusts.
    /// let options = nats_client::ConnectOptions::new()
    ///     .add_root_certificates("/etc/nats/company-ca.pem")
    ///     .system_root_certificates(true);
    /// # let _ = options;
    /// ```
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn system_root_certificates(mut self, trusted: bool) -> Self {
        self.tls.system_roots = Some(trusted);
        self
    }

    /// Trust the Mozilla roots bundled in the binary (webpki-roots) instead of the
    /// operating system's, for machines without a usable store (minimal containers).
    /// (Cargo feature `webpki-roots`.)
    ///
    /// ```
    /// let options = nats_client::ConnectOptions::new().bundled_root_certificates();
    /// # let _ = options;
    /// ```
    #[cfg(feature = "webpki-roots")]
    #[must_use]
    pub fn bundled_root_certificates(mut self) -> Self {
        self.tls.bundled_roots = true;
        self
    }

    /// The rustls crypto provider for TLS connections. Without this call: the process
    /// default if the application installed one (`CryptoProvider::install_default`), else
    /// aws-lc-rs with the cargo feature `aws-lc-rs`, else ring (feature `ring`, default).
    /// (Cargo feature `tls`.)
    ///
    /// ```
    /// use std::sync::Arc;
    /// use nats_client::rustls::crypto::CryptoProvider;
    ///
    /// # fn provider() -> Option<CryptoProvider> { None }
    /// // A provider of the application's choosing (FIPS, a hardware module, ...).
    /// if let Some(provider) = provider() {
    ///     let options = nats_client::ConnectOptions::new().tls_crypto_provider(Arc::new(provider));
    ///     # let _ = options;
    /// }
    /// ```
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn tls_crypto_provider(mut self, provider: Arc<rustls::crypto::CryptoProvider>) -> Self {
        self.tls.provider = Some(provider);
        self
    }

    /// A client certificate chain and its private key (PEM files, read at connect time),
    /// for servers that verify clients.
    ///
    /// ```
    /// // Read when connecting.
    /// let options = nats_client::ConnectOptions::new()
    ///     .client_certificate("/etc/nats/client.pem", "/etc/nats/client-key.pem");
    /// # let _ = options;
    /// ```
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn client_certificate(mut self, cert: impl AsRef<Path>, key: impl AsRef<Path>) -> Self {
        self.client_cert_files = Some((cert.as_ref().to_owned(), key.as_ref().to_owned()));
        self
    }

    /// A complete rustls configuration, overriding the other TLS settings.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use nats_client::rustls;
    ///
    /// # fn company_ca() -> rustls::pki_types::CertificateDer<'static> { unimplemented!() }
    /// let mut roots = rustls::RootCertStore::empty();
    /// roots.add(company_ca())?;
    /// let config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    /// let options = nats_client::ConnectOptions::new().tls_client_config(Arc::new(config));
    /// # let _ = options;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn tls_client_config(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls.config = Some(config);
        self
    }

    /// The local address TCP connections start from: an IP of this machine (the network
    /// interface to use), and a port, or `0` for any. Only servers of the address's family
    /// (IPv4 or IPv6) can be reached. Not for the browser's WebSocket.
    ///
    /// ```
    /// use std::net::{Ipv4Addr, SocketAddr};
    ///
    /// // Out through the interface with this address.
    /// let options = nats_client::ConnectOptions::new().local_address(SocketAddr::from((Ipv4Addr::new(10, 0, 0, 5), 0)));
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn local_address(mut self, address: std::net::SocketAddr) -> Self {
        self.local_address = Some(address);
        self
    }

    /// How long one connection attempt may take (default 2 s).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let options = nats_client::ConnectOptions::new().connection_timeout(Duration::from_secs(5));
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.proto.connect_timeout = timeout;
        self
    }

    /// How often to PING the server (default 2 minutes).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let options = nats_client::ConnectOptions::new().ping_interval(Duration::from_secs(20));
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.proto.ping_interval = interval;
        self
    }

    /// Unanswered PINGs before the connection counts as stale (default 2).
    ///
    /// ```
    /// let options = nats_client::ConnectOptions::new().max_pings_outstanding(3);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn max_pings_outstanding(mut self, max: u32) -> Self {
        self.proto.max_pings_outstanding = max;
        self
    }

    /// Reconnect after losing the connection (default on; nats.py's
    /// `allow_reconnect`).
    ///
    /// ```
    /// // Close instead of reconnecting when the connection is lost.
    /// let options = nats_client::ConnectOptions::new().allow_reconnect(false);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn allow_reconnect(mut self, allow: bool) -> Self {
        self.proto.allow_reconnect = allow;
        self
    }

    /// Attempts per server before it is dropped (default 60; `None` for no limit;
    /// nats.py's `max_reconnect_attempts`).
    ///
    /// ```
    /// // Keep trying forever.
    /// let options = nats_client::ConnectOptions::new().max_reconnect_attempts(None);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn max_reconnect_attempts(mut self, max: Option<u32>) -> Self {
        self.proto.max_reconnect_attempts = max;
        self
    }

    /// The wait before reconnecting to a server just tried (default 2 s, doubling after
    /// each failure up to `reconnect_backoff_max`; nats.py's `reconnect_time_wait`).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let options = nats_client::ConnectOptions::new().reconnect_time_wait(Duration::from_millis(500));
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn reconnect_time_wait(mut self, wait: Duration) -> Self {
        self.proto.reconnect_wait = wait;
        if self.proto.reconnect_backoff_max < wait {
            self.proto.reconnect_backoff_max = wait;
        }
        self
    }

    /// The cap of the reconnect backoff (default 8 s).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let options = nats_client::ConnectOptions::new()
    ///     .reconnect_time_wait(Duration::from_secs(1))
    ///     .reconnect_backoff_max(Duration::from_secs(30));
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn reconnect_backoff_max(mut self, max: Duration) -> Self {
        self.proto.reconnect_backoff_max = max;
        self
    }

    /// Random extra wait before reconnecting: up to `plain` for plain connections and
    /// `tls` for TLS ones (defaults 100 ms and 1 s).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let options = nats_client::ConnectOptions::new()
    ///     .reconnect_jitter(Duration::from_millis(200), Duration::from_secs(2));
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn reconnect_jitter(mut self, plain: Duration, tls: Duration) -> Self {
        self.proto.reconnect_jitter = plain;
        self.proto.reconnect_jitter_tls = tls;
        self
    }

    /// Computes the wait before reconnecting, replacing `reconnect_time_wait`,
    /// `reconnect_backoff_max` and `reconnect_jitter`. The argument is the number of
    /// consecutive failed attempts to the server about to be retried (per server: `0`
    /// right after losing a connection to it); the wait counts from that server's last
    /// attempt, and a server never tried is tried at once.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use nats_client::ConnectOptions;
    ///
    /// let options = ConnectOptions::new().reconnect_delay_callback(|failures| {
    ///     Duration::from_millis(250).saturating_mul(1 << failures.min(6))
    /// });
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn reconnect_delay_callback(
        mut self,
        delay: impl Fn(u32) -> Duration + Send + Sync + 'static,
    ) -> Self {
        self.proto.reconnect_delay_callback = Some(nats_proto::ReconnectDelay::new(delay));
        self
    }

    /// Picks the server to reconnect to and the wait before it (from now), instead of the
    /// pool's order and backoff (ADR-40's reconnect-to-server callback). It is given the
    /// pool ([`Client::server_pool`](crate::Client::server_pool): each server's failed
    /// attempts, whether it connected, whether it was discovered) and the last
    /// [`ServerInfo`](crate::ServerInfo), before every attempt once a connection was
    /// established. Returning `None`, or a server not in the pool, leaves the choice to
    /// the pool. It runs in the connection's state machine and must return at once (it is
    /// a plain function here; async-nats' is async).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use nats_client::ConnectOptions;
    ///
    /// // Servers of this region first, one second apart; elsewhere only when none is left.
    /// let options = ConnectOptions::new().reconnect_to_server_callback(|servers, _info| {
    ///     let local = servers.iter().find(|s| s.addr.host().ends_with(".eu-west.example.com"))?;
    ///     Some((local.addr.clone(), Duration::from_secs(1)))
    /// });
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn reconnect_to_server_callback(
        mut self,
        choose: impl Fn(&[crate::Server], Option<&crate::ServerInfo>) -> Option<(ServerAddr, Duration)>
            + Send
            + Sync
            + 'static,
    ) -> Self {
        self.proto.reconnect_to_server_callback = Some(nats_proto::ReconnectToServer::new(choose));
        self
    }

    /// Bytes of publishes kept while disconnected (default 8 MiB); past it publishing
    /// fails with [`PublishError::ReconnectBufferFull`](crate::PublishError::ReconnectBufferFull).
    ///
    /// ```
    /// // Keep up to 64 MiB of publishes while reconnecting.
    /// let options = nats_client::ConnectOptions::new().reconnect_buffer_size(64 * 1024 * 1024);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn reconnect_buffer_size(mut self, bytes: usize) -> Self {
        self.proto.reconnect_buffer_size = bytes;
        self
    }

    /// Publish pacing (default on, 4 MiB): about how many bytes the server may have to
    /// send back for one window of this connection's publishes; `None` turns it off.
    ///
    /// A connection subscribed to what it publishes gets a copy per matching subscription,
    /// and nats-server cuts off a client whose pending output passes its `max_pending` (64
    /// MB by default) without slowing down a publisher that is its own consumer. Paced, a
    /// connection with subscriptions sends a PING after each window of publishes and
    /// writes at most four unanswered windows ahead; the window adapts so that what comes
    /// back for one stays near the budget. Publishers that get little back are hardly held
    /// up; a connection without subscriptions is never paced. Lower it for a server with a
    /// small `max_pending` (keep it at most an eighth of it). See
    /// [`nats_proto::Options::publish_pacing`].
    ///
    /// ```
    /// // The server has `max_pending: 8MB`.
    /// let options = nats_client::ConnectOptions::new().publish_pacing(Some(1024 * 1024));
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn publish_pacing(mut self, budget: Option<usize>) -> Self {
        self.proto.publish_pacing = budget;
        self
    }

    /// Keep trying the initial connection instead of failing after one pass over the
    /// servers; `connect` then returns at once.
    ///
    /// ```
    /// // Start even when the server is not up yet; publishes wait in the reconnect buffer.
    /// let options = nats_client::ConnectOptions::new().retry_on_initial_connect();
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn retry_on_initial_connect(mut self) -> Self {
        self.proto.retry_on_initial_connect = true;
        self
    }

    /// Ignore the servers the cluster advertises (INFO `connect_urls`): only the URLs
    /// given to `connect` are ever tried, and no
    /// [`ClientEvent::DiscoveredServers`](crate::ClientEvent::DiscoveredServers) is reported. Useful behind a
    /// load balancer or NAT, where the advertised addresses are not reachable.
    ///
    /// ```no_run
    /// use nats_client::ConnectOptions;
    ///
    /// // Reach the cluster only through the load balancer's address.
    /// let options = ConnectOptions::new().ignore_discovered_servers();
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn ignore_discovered_servers(mut self) -> Self {
        self.proto.ignore_discovered_servers = true;
        self
    }

    /// Try servers in the given order instead of shuffling them (nats.py's
    /// `dont_randomize`).
    ///
    /// ```
    /// // Always try the first URL first.
    /// let options = nats_client::ConnectOptions::new().dont_randomize();
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn dont_randomize(mut self) -> Self {
        self.proto.randomize = false;
        self
    }

    /// The prefix of request inboxes (default `_INBOX`).
    ///
    /// ```
    /// let options = nats_client::ConnectOptions::new().inbox_prefix("_INBOX_billing");
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn inbox_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.proto.inbox_prefix = prefix.into();
        self
    }

    /// How long a drain may take (default 30 s).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let options = nats_client::ConnectOptions::new().drain_timeout(Duration::from_secs(5));
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.proto.drain_timeout = timeout;
        self
    }

    /// The default request timeout (default 10 s): a duration, `Some(duration)`, or
    /// `None` for requests that wait until answered or the connection closes (as
    /// async-nats' `request_timeout(None)`).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let options = nats_client::ConnectOptions::new().request_timeout(Duration::from_secs(2));
    /// let patient = nats_client::ConnectOptions::new().request_timeout(None);
    /// # let _ = (options, patient);
    /// ```
    #[must_use]
    pub fn request_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.request_timeout = timeout.into().unwrap_or(Duration::MAX);
        self
    }

    /// The default flush timeout (default 10 s).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let options = nats_client::ConnectOptions::new().flush_timeout(Duration::from_secs(2));
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn flush_timeout(mut self, timeout: Duration) -> Self {
        self.flush_timeout = timeout;
        self
    }

    /// Pending limits of each subscriber: past `messages` messages or `bytes` payload
    /// bytes not yet consumed, messages are dropped and a
    /// [`ClientEvent::SlowConsumer`] reports it (defaults 524,288 and 64 MiB).
    ///
    /// ```
    /// // At most 10,000 messages or 16 MiB waiting in each subscriber.
    /// let options = nats_client::ConnectOptions::new().subscription_capacity(10_000, 16 * 1024 * 1024);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn subscription_capacity(mut self, messages: u64, bytes: u64) -> Self {
        self.pending_limits = PendingLimits::new(messages, bytes);
        self
    }

    /// The largest payload the server may send us (default 64 MiB) and the longest control
    /// line (default 64 KiB): bigger frames are protocol errors.
    ///
    /// ```
    /// // Accept payloads up to 8 MiB (set it at or above the server's max_payload).
    /// let options = nats_client::ConnectOptions::new().inbound_limits(8 * 1024 * 1024, 64 * 1024);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn inbound_limits(mut self, max_payload: usize, max_control_line: usize) -> Self {
        self.proto.decoder_limits = nats_proto::DecoderLimits::new(max_control_line, max_payload);
        self
    }

    /// An async callback for every [`ClientEvent`], run in order on a task of its own.
    ///
    /// A callback that captures a [`Client`](crate::Client) keeps the connection open
    /// until [`Client::close`](crate::Client::close) or
    /// [`drain`](crate::Client::drain) (the connection otherwise closes when its last
    /// handle is dropped): the events carry what a callback usually needs instead.
    ///
    /// ```
    /// use nats_client::{ClientEvent, ConnectOptions};
    ///
    /// let options = ConnectOptions::new().event_callback(|event| async move {
    ///     if let ClientEvent::SlowConsumer { subject, dropped, .. } = event {
    ///         eprintln!("{subject:?} is too slow: {dropped} messages dropped");
    ///     }
    /// });
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn event_callback<F, Fut>(mut self, callback: F) -> Self
    where
        F: Fn(ClientEvent) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.callbacks.push(Arc::new(move |event| Box::pin(callback(event))));
        self
    }

    /// Runs `callback` each time the connection is lost (nats.py's `disconnected_cb`).
    ///
    /// ```
    /// let options = nats_client::ConnectOptions::new()
    ///     .disconnected_callback(|| async { eprintln!("disconnected") });
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn disconnected_callback<F, Fut>(self, callback: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.filtered_callback(move |event| matches!(event, ClientEvent::Disconnected(_)).then(&callback))
    }

    /// Runs `callback` after each reconnect, given the server now connected to (nats.py's
    /// `reconnected_cb`, whose callback reads `nc.connected_url`; capturing the `Client` in a
    /// callback would keep the connection alive, see [`event_callback`](Self::event_callback)).
    ///
    /// ```
    /// let options = nats_client::ConnectOptions::new()
    ///     .reconnected_callback(|server| async move { eprintln!("reconnected to {server}") });
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn reconnected_callback<F, Fut>(self, callback: F) -> Self
    where
        F: Fn(ServerAddr) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.filtered_callback(move |event| match event {
            ClientEvent::Reconnected(server) => Some(callback(server.clone())),
            _ => None,
        })
    }

    /// Runs `callback` once the connection is closed for good (nats.py's `closed_cb`).
    ///
    /// ```
    /// let options = nats_client::ConnectOptions::new().closed_callback(|| async { eprintln!("closed") });
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn closed_callback<F, Fut>(self, callback: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.filtered_callback(move |event| matches!(event, ClientEvent::Closed(_)).then(&callback))
    }

    /// Runs `callback` on connection errors (nats.py's `error_cb`): disconnects with a cause,
    /// server errors and slow consumers, as text-friendly events.
    ///
    /// ```
    /// let options = nats_client::ConnectOptions::new()
    ///     .error_callback(|event| async move { eprintln!("NATS error: {event:?}") });
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn error_callback<F, Fut>(self, callback: F) -> Self
    where
        F: Fn(ClientEvent) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.filtered_callback(move |event| {
            matches!(
                event,
                ClientEvent::Disconnected(_) | ClientEvent::ServerError(_) | ClientEvent::SlowConsumer { .. }
            )
            .then(|| callback(event.clone()))
        })
    }

    fn filtered_callback<F, Fut>(self, filter: F) -> Self
    where
        F: Fn(&ClientEvent) -> Option<Fut> + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.event_callback(move |event| {
            let fut = filter(&event);
            async move {
                if let Some(fut) = fut {
                    fut.await;
                }
            }
        })
    }

    /// Resolves servers and reads the files named in the options.
    pub(crate) fn resolve(mut self, urls: &str) -> Result<Self, ConnectError> {
        self.proto.servers = ServerAddr::parse_list(urls).map_err(nats_proto::OptionsError::from)?;
        let read = |path: &Path| {
            std::fs::read_to_string(path)
                .map_err(|source| ConnectError::File { path: path.display().to_string(), source })
        };
        self.proto.auth = match self.credentials.take() {
            None => Auth::None,
            Some(CredentialSource::Inline(auth)) => auth,
            Some(CredentialSource::CredsFile(path)) => {
                Auth::from_creds(&read(&path)?).map_err(nats_proto::OptionsError::from)?
            }
            Some(CredentialSource::NKeySeedFile(path)) => Auth::NKey(Secret::new(read(&path)?.trim())),
            Some(CredentialSource::Callback(callback)) => {
                self.auth_callback = Some(callback);
                Auth::Callback
            }
        };
        #[cfg(feature = "tls")]
        self.resolve_tls()?;
        Ok(self)
    }

    /// Reads the certificate and key files and builds the TLS configuration once, so
    /// that a bad one fails at connect time.
    #[cfg(feature = "tls")]
    fn resolve_tls(&mut self) -> Result<(), ConnectError> {
        for path in std::mem::take(&mut self.tls_files) {
            let certs = load_certificates(&path)?;
            self.tls.roots.extend(certs);
        }
        if let Some((cert, key)) = self.client_cert_files.take() {
            let chain = load_certificates(&cert)?;
            let key = load_private_key(&key)?;
            self.tls.client_auth = Some((chain, Arc::new(key)));
        }
        // A configuration with the system's roots is built at the first TLS handshake, so
        // that a client that never uses TLS never reads the store; any other is built now,
        // so that a bad one fails here.
        if !self.tls.uses_system_roots() {
            self.tls.config = Some(self.tls.client_config()?);
        }
        Ok(())
    }
}
