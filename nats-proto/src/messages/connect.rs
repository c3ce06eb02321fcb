//! `CONNECT`: what the client tells the server about itself.

use crate::prelude::*;

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// The client's `CONNECT` message.
///
/// [`ConnectInfo::default`] sends `verbose:false`, `pedantic:false` (the server's own
/// defaults are `true`), `protocol:1` (needed for asynchronous `INFO`: discovery and lame
/// duck), `lang:"rust"` and this crate's version. Secrets are [`Secret`]s: `Debug` never
/// shows them.
///
/// The protocol grows, so the struct is `#[non_exhaustive]`: outside this crate, start from
/// [`ConnectInfo::default`] and set fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ConnectInfo {
    /// Ask the server to acknowledge every op with `+OK`.
    pub verbose: bool,
    /// Ask the server for strict checking of subjects.
    pub pedantic: bool,
    /// Whether the client requires TLS.
    pub tls_required: bool,
    /// Token authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_token: Option<Secret>,
    /// User name for user/password authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Password for user/password authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass: Option<Secret>,
    /// The client's name, shown in the server's monitoring.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The client's implementation language.
    pub lang: String,
    /// The client's version.
    pub version: String,
    /// Protocol level: 1 enables asynchronous `INFO`.
    pub protocol: u8,
    /// Whether the server may deliver this connection's own publishes to its
    /// subscriptions.
    pub echo: bool,
    /// The signature of the server's nonce (nkey and JWT authentication).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sig: Option<Secret>,
    /// The user JWT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt: Option<Secret>,
    /// The user's public nkey.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nkey: Option<String>,
    /// Whether the client supports headers.
    pub headers: bool,
    /// Whether the server should answer requests nobody listens to with a 503 status.
    pub no_responders: bool,
}

impl Default for ConnectInfo {
    fn default() -> Self {
        Self {
            verbose: false,
            pedantic: false,
            tls_required: false,
            auth_token: None,
            user: None,
            pass: None,
            name: None,
            lang: "rust".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            protocol: 1,
            echo: true,
            sig: None,
            jwt: None,
            nkey: None,
            headers: true,
            no_responders: true,
        }
    }
}

impl ConnectInfo {
    /// Parses the JSON of a `CONNECT` line, which must be an object.
    pub(crate) fn from_json(json: &[u8]) -> Result<Self, String> {
        if json.trim_ascii_start().first() != Some(&b'{') {
            return Err("not a JSON object".to_owned());
        }
        serde_json::from_slice(json).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_json_states_verbose_and_pedantic() {
        let json = serde_json::to_string(&ConnectInfo::default()).unwrap();
        assert!(json.contains(r#""verbose":false"#), "{json}");
        assert!(json.contains(r#""pedantic":false"#), "{json}");
        assert!(json.contains(r#""protocol":1"#), "{json}");
        assert!(!json.contains("pass"), "{json}");
    }

    #[test]
    fn debug_redacts_secrets() {
        let info = ConnectInfo {
            user: Some("alice".into()),
            pass: Some(Secret::new("s3cr3t-pass")),
            auth_token: Some(Secret::new("s3cr3t-token")),
            jwt: Some(Secret::new("eyJ-s3cr3t")),
            sig: Some(Secret::new("s3cr3t-sig")),
            ..ConnectInfo::default()
        };
        let debug = format!("{info:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(debug.contains("alice"));
        let json = serde_json::to_string(&info).unwrap();
        assert!(json.contains(r#""pass":"s3cr3t-pass""#), "{json}");
    }
}
