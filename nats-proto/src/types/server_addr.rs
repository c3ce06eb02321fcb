//! Server addresses: `nats://` and `tls://` URLs with optional credentials.

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
    /// The scheme is not `nats` or `tls`.
    #[error("unsupported scheme {0:?} (use nats:// or tls://)")]
    UnsupportedScheme(String),
    /// The URL has no host.
    #[error("server URL has no host")]
    MissingHost,
    /// The list of servers is empty.
    #[error("no server URL given")]
    Empty,
}

/// One server: where it is, whether it wants TLS from the start (`tls://`), and the
/// credentials written in its URL (`nats://user:pass@host`, `nats://token@host`).
///
/// `Display` never shows the credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerAddr {
    tls: bool,
    host: String,
    port: u16,
    user: Option<String>,
    pass: Option<Secret>,
    token: Option<Secret>,
}

impl ServerAddr {
    /// An address from parts, without credentials.
    pub fn new(host: impl Into<String>, port: u16, tls: bool) -> Self {
        Self { tls, host: host.into(), port, user: None, pass: None, token: None }
    }

    /// Parses a comma-separated list of URLs (`nats://a:4222, tls://b`).
    ///
    /// # Errors
    /// The first invalid URL's error, or [`ServerAddrError::Empty`].
    pub fn parse_list(urls: &str) -> Result<Vec<Self>, ServerAddrError> {
        let list: Vec<Self> = urls
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(Self::from_str)
            .collect::<Result<_, _>>()?;
        if list.is_empty() {
            return Err(ServerAddrError::Empty);
        }
        Ok(list)
    }

    /// Whether the URL asked for TLS (`tls://`).
    pub fn tls(&self) -> bool {
        self.tls
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
        self.tls = true;
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

    /// Parses `nats://[user:pass@|token@]host[:port]`, `tls://...`, or a bare
    /// `host[:port]` (taken as `nats://`).
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let input = input.trim();
        let with_scheme = if input.contains("://") { input.to_owned() } else { format!("nats://{input}") };
        let url = url::Url::parse(&with_scheme)
            .map_err(|e| ServerAddrError::Invalid { url: redact(input), reason: e.to_string() })?;
        let tls = match url.scheme() {
            "nats" => false,
            "tls" => true,
            other => return Err(ServerAddrError::UnsupportedScheme(other.to_owned())),
        };
        let host = match url.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Domain(d)) if !d.is_empty() => d.to_owned(),
            _ => return Err(ServerAddrError::MissingHost),
        };
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err(ServerAddrError::Invalid {
                url: redact(input),
                reason: "a server URL has no path, query or fragment".to_owned(),
            });
        }
        let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
        let (user, pass, token) = match (url.username(), url.password()) {
            ("", None) => (None, None, None),
            (token, None) => (None, None, Some(Secret::new(decode(token)))),
            (user, Some(pass)) => (Some(decode(user)), Some(Secret::new(decode(pass))), None),
        };
        Ok(Self { tls, host, port: url.port().unwrap_or(DEFAULT_PORT), user, pass, token })
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
        write!(f, "{}://{}", if self.tls { "tls" } else { "nats" }, self.host_port())
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
    fn invalid() {
        assert_eq!(
            "ws://host".parse::<ServerAddr>(),
            Err(ServerAddrError::UnsupportedScheme("ws".to_owned()))
        );
        assert!(matches!("nats://host:99999".parse::<ServerAddr>(), Err(ServerAddrError::Invalid { .. })));
        assert!(matches!("nats://host/path".parse::<ServerAddr>(), Err(ServerAddrError::Invalid { .. })));
        assert!("nats://".parse::<ServerAddr>().is_err());
        let err = "nats://user:hunter2@host:99999".parse::<ServerAddr>().unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
