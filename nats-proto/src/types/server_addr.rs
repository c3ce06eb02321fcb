//! Server addresses: `nats://`, `tls://`, `ws://` and `wss://` URLs with optional
//! credentials.

use crate::prelude::*;

use core::fmt;
use core::str::FromStr;

use crate::secret::Secret;

/// The port used when a URL has none.
pub const DEFAULT_PORT: u16 = 4222;

/// Why a server URL is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServerAddrError {
    /// The URL could not be parsed.
    #[error("invalid server URL {url:?}: {reason}")]
    Invalid {
        /// The URL, with any credentials removed.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The scheme is not `nats`, `tls`, `ws` or `wss`.
    #[error("unsupported scheme {0:?} (use nats://, tls://, ws:// or wss://)")]
    UnsupportedScheme(String),
    /// A list mixes WebSocket URLs (`ws://`, `wss://`) with NATS ones (`nats://`,
    /// `tls://`): a connection speaks one or the other, so its server pool holds one kind.
    #[error("server list mixes WebSocket (ws://, wss://) and NATS (nats://, tls://) URLs")]
    MixedSchemes,
    /// The URL has no host.
    #[error("server URL has no host")]
    MissingHost,
    /// The list of servers is empty.
    #[error("no server URL given")]
    Empty,
}

/// How a server is reached: the scheme of its URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// `nats://`: the NATS protocol over TCP, upgraded to TLS when the server or the
    /// options ask for it.
    Nats,
    /// `tls://`: the NATS protocol over TCP, TLS required.
    Tls,
    /// `ws://`: the NATS protocol in the binary messages of a WebSocket (default port 80).
    Ws,
    /// `wss://`: a WebSocket over TLS (default port 443).
    Wss,
}

impl Scheme {
    /// The scheme as written in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nats => "nats",
            Self::Tls => "tls",
            Self::Ws => "ws",
            Self::Wss => "wss",
        }
    }

    /// Whether the protocol travels in WebSocket messages (`ws://`, `wss://`).
    pub fn is_websocket(self) -> bool {
        matches!(self, Self::Ws | Self::Wss)
    }

    /// The port of a URL that names none: 4222 for NATS, 80 and 443 for WebSocket.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Nats | Self::Tls => DEFAULT_PORT,
            Self::Ws => 80,
            Self::Wss => 443,
        }
    }
}

/// One server: where it is, how it is reached (its [`Scheme`]), and the credentials
/// written in its URL (`nats://user:pass@host`, `nats://token@host`).
///
/// WebSocket URLs may carry a path (`wss://host/nats`); NATS URLs may not.
/// `Display` never shows the credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerAddr {
    scheme: Scheme,
    /// The connection to it was upgraded to TLS (a `nats://` server that requires TLS).
    upgraded: bool,
    host: String,
    port: u16,
    /// The WebSocket path ("/" unless the URL names one); empty for NATS URLs.
    path: String,
    user: Option<String>,
    pass: Option<Secret>,
    token: Option<Secret>,
}

impl ServerAddr {
    /// An address from parts, without credentials.
    /// `tls` chooses `tls://` over `nats://`.
    pub fn new(host: impl Into<String>, port: u16, tls: bool) -> Self {
        Self::with_scheme(if tls { Scheme::Tls } else { Scheme::Nats }, host, port)
    }

    /// An address from parts, without credentials, for any scheme (a WebSocket address
    /// gets the path "/").
    pub fn with_scheme(scheme: Scheme, host: impl Into<String>, port: u16) -> Self {
        let path = if scheme.is_websocket() { "/".to_owned() } else { String::new() };
        Self { scheme, upgraded: false, host: host.into(), port, path, user: None, pass: None, token: None }
    }

    /// Parses a comma-separated list of URLs (`nats://a:4222, tls://b`).
    ///
    /// # Errors
    /// The first invalid URL's error, [`ServerAddrError::Empty`], or
    /// [`ServerAddrError::MixedSchemes`] when WebSocket and NATS URLs are mixed.
    pub fn parse_list(urls: &str) -> Result<Vec<Self>, ServerAddrError> {
        let list: Vec<Self> = urls
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(Self::from_str)
            .collect::<Result<_, _>>()?;
        Self::check_list(&list)?;
        Ok(list)
    }

    /// Checks that a server list can make one pool: not empty, and all WebSocket or all
    /// NATS URLs.
    ///
    /// # Errors
    /// [`ServerAddrError::Empty`] or [`ServerAddrError::MixedSchemes`].
    pub fn check_list(list: &[Self]) -> Result<(), ServerAddrError> {
        let Some(first) = list.first() else { return Err(ServerAddrError::Empty) };
        if list.iter().any(|a| a.is_websocket() != first.is_websocket()) {
            return Err(ServerAddrError::MixedSchemes);
        }
        Ok(())
    }

    /// The URL's scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Whether the protocol travels in WebSocket messages (`ws://`, `wss://`).
    pub fn is_websocket(&self) -> bool {
        self.scheme.is_websocket()
    }

    /// Whether the connection uses TLS: the URL asked for it (`tls://`, `wss://`) or the
    /// connection to it was upgraded.
    pub fn tls(&self) -> bool {
        self.upgraded || matches!(self.scheme, Scheme::Tls | Scheme::Wss)
    }

    /// The WebSocket path (`/` unless the URL names one); empty for NATS URLs.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The URL to open a WebSocket to (`ws://host:port/path`), without credentials;
    /// `None` for a NATS URL.
    pub fn websocket_url(&self) -> Option<String> {
        self.is_websocket().then(|| format!("{}://{}{}", self.scheme.as_str(), self.host_port(), self.path))
    }

    /// The host name or IP address, without IPv6 brackets: what to resolve, and the name
    /// to verify a TLS certificate against.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The user name from the URL, if any.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The password from the URL, if any.
    pub fn pass(&self) -> Option<&Secret> {
        self.pass.as_ref()
    }

    /// The token from the URL (`nats://token@host`), if any.
    pub fn token(&self) -> Option<&Secret> {
        self.token.as_ref()
    }

    /// Whether the URL carries credentials.
    pub fn has_credentials(&self) -> bool {
        self.user.is_some() || self.token.is_some()
    }

    /// Marks the address as TLS (the connection to it was upgraded).
    pub(crate) fn set_tls(&mut self) {
        self.upgraded = true;
    }

    /// Copies the credentials of `other` (discovered servers inherit those of the server
    /// that announced them).
    pub(crate) fn inherit_credentials(&mut self, other: &Self) {
        self.user.clone_from(&other.user);
        self.pass.clone_from(&other.pass);
        self.token.clone_from(&other.token);
    }

    /// Whether both name the same host and port.
    pub fn same_endpoint(&self, other: &Self) -> bool {
        self.port == other.port && self.host.eq_ignore_ascii_case(&other.host)
    }

    /// `host:port`, bracketing IPv6 addresses.
    pub fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl FromStr for ServerAddr {
    type Err = ServerAddrError;

    /// Parses `nats://[user:pass@|token@]host[:port]`, `tls://...`, `ws://...[/path]`,
    /// `wss://...[/path]`, or a bare `host[:port]` (taken as `nats://`).
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let input = input.trim();
        let with_scheme = if input.contains("://") { input.to_owned() } else { format!("nats://{input}") };
        let url = url::Url::parse(&with_scheme)
            .map_err(|e| ServerAddrError::Invalid { url: redact(input), reason: e.to_string() })?;
        let scheme = match url.scheme() {
            "nats" => Scheme::Nats,
            "tls" => Scheme::Tls,
            "ws" => Scheme::Ws,
            "wss" => Scheme::Wss,
            other => return Err(ServerAddrError::UnsupportedScheme(other.to_owned())),
        };
        let host = match url.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Domain(d)) if !d.is_empty() => d.to_owned(),
            _ => return Err(ServerAddrError::MissingHost),
        };
        let path = if scheme.is_websocket() {
            if url.fragment().is_some() {
                return Err(ServerAddrError::Invalid {
                    url: redact(input),
                    reason: "a WebSocket server URL has no fragment".to_owned(),
                });
            }
            match url.query() {
                Some(query) => format!("{}?{query}", url.path()),
                None if url.path().is_empty() => "/".to_owned(),
                None => url.path().to_owned(),
            }
        } else {
            if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
                return Err(ServerAddrError::Invalid {
                    url: redact(input),
                    reason: "a NATS server URL has no path, query or fragment".to_owned(),
                });
            }
            String::new()
        };
        let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
        let (user, pass, token) = match (url.username(), url.password()) {
            ("", None) => (None, None, None),
            (token, None) => (None, None, Some(Secret::new(decode(token)))),
            (user, Some(pass)) => (Some(decode(user)), Some(Secret::new(decode(pass))), None),
        };
        // `url` drops a port equal to the scheme's own default (80 for ws, 443 for wss).
        let port = url.port_or_known_default().filter(|_| scheme.is_websocket()).or(url.port());
        let port = port.unwrap_or(scheme.default_port());
        Ok(Self { scheme, upgraded: false, host, port, path, user, pass, token })
    }
}

/// The URL without anything before `@`, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://***{}", &url[..scheme_end], &url[at..])
        }
        (None, Some(at)) => format!("***{}", &url[at..]),
        _ => url.to_owned(),
    }
}

impl fmt::Display for ServerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.upgraded && self.scheme == Scheme::Nats { Scheme::Tls } else { self.scheme };
        write!(f, "{}://{}", scheme.as_str(), self.host_port())?;
        if self.path != "/" {
            f.write_str(&self.path)?;
        }
        Ok(())
    }
}

impl fmt::Debug for ServerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerAddr")
            .field("url", &format_args!("{self}"))
            .field("user", &self.user)
            .field("pass", &self.pass)
            .field("token", &self.token)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> ServerAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn schemes_ports_and_hosts() {
        let a = parse("nats://demo.nats.io:4443");
        assert_eq!((a.tls(), a.host(), a.port()), (false, "demo.nats.io", 4443));
        let b = parse("tls://example.com");
        assert_eq!((b.tls(), b.port()), (true, DEFAULT_PORT));
        let c = parse("127.0.0.1:4223");
        assert_eq!((c.tls(), c.host(), c.port()), (false, "127.0.0.1", 4223));
        let d = parse("nats://[::1]:4222");
        assert_eq!(d.host(), "::1");
        assert_eq!(d.host_port(), "[::1]:4222");
        assert_eq!(d.to_string(), "nats://[::1]:4222");
        assert_eq!(parse("localhost").to_string(), "nats://localhost:4222");
        assert_eq!(parse("nats://host/").port(), DEFAULT_PORT);
    }

    #[test]
    fn credentials() {
        let a = parse("nats://alice:s3cr%40t@host:1");
        assert_eq!(a.user(), Some("alice"));
        assert_eq!(a.pass().unwrap().expose(), "s3cr@t");
        assert!(a.token().is_none());
        let b = parse("nats://tok3n@host");
        assert_eq!(b.token().unwrap().expose(), "tok3n");
        assert!(!format!("{a:?} {a} {b:?} {b}").contains("s3cr"), "credentials leak");
        assert!(!format!("{b:?} {b}").contains("tok3n"), "token leaks");
    }

    #[test]
    fn lists() {
        let list = ServerAddr::parse_list("nats://a:1, tls://b:2,,c").unwrap();
        assert_eq!(
            list.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["nats://a:1", "tls://b:2", "nats://c:4222"]
        );
        assert_eq!(ServerAddr::parse_list(" , "), Err(ServerAddrError::Empty));
    }

    #[test]
    fn websocket_urls() {
        let a = parse("ws://127.0.0.1:8080");
        assert_eq!((a.scheme(), a.tls(), a.port(), a.path()), (Scheme::Ws, false, 8080, "/"));
        assert_eq!(a.websocket_url().as_deref(), Some("ws://127.0.0.1:8080/"));
        assert_eq!(a.to_string(), "ws://127.0.0.1:8080");
        let b = parse("wss://user:pw@example.com/nats?x=1");
        assert_eq!((b.scheme(), b.tls(), b.port(), b.path()), (Scheme::Wss, true, 443, "/nats?x=1"));
        assert_eq!(b.websocket_url().as_deref(), Some("wss://example.com:443/nats?x=1"));
        assert_eq!(b.user(), Some("user"));
        assert!(!b.to_string().contains("pw"));
        assert_eq!(parse("ws://host").port(), 80);
        assert_eq!(parse("ws://host:80").port(), 80);
        assert_eq!(parse("nats://host").websocket_url(), None);
        assert!(matches!("ws://host/#frag".parse::<ServerAddr>(), Err(ServerAddrError::Invalid { .. })));
    }

    #[test]
    fn a_list_is_all_websocket_or_all_nats() {
        assert_eq!(ServerAddr::parse_list("ws://a, wss://b").unwrap().len(), 2);
        assert_eq!(ServerAddr::parse_list("nats://a, ws://b"), Err(ServerAddrError::MixedSchemes));
        assert_eq!(ServerAddr::parse_list("wss://a, tls://b"), Err(ServerAddrError::MixedSchemes));
    }

    #[test]
    fn invalid() {
        assert_eq!(
            "http://host".parse::<ServerAddr>(),
            Err(ServerAddrError::UnsupportedScheme("http".to_owned()))
        );
        assert!(matches!("nats://host:99999".parse::<ServerAddr>(), Err(ServerAddrError::Invalid { .. })));
        assert!(matches!("nats://host/path".parse::<ServerAddr>(), Err(ServerAddrError::Invalid { .. })));
        assert!("nats://".parse::<ServerAddr>().is_err());
        let err = "nats://user:hunter2@host:99999".parse::<ServerAddr>().unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
