//! `INFO`: what the server says about itself.

use crate::prelude::*;

use serde::{Deserialize, Deserializer, Serialize};

/// Deserializes `null` as the type's default, so that `"connect_urls":null` and the like
/// (seen from real servers) are accepted.
fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// The server's `INFO` message. Unknown fields are ignored; missing or `null` fields take
/// their default. Servers add fields over time, so the struct is `#[non_exhaustive]`:
/// outside this crate, start from [`ServerInfo::default`] and set fields.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ServerInfo {
    /// The server's unique id.
    #[serde(deserialize_with = "nullable")]
    pub server_id: String,
    /// The server's configured name.
    #[serde(deserialize_with = "nullable")]
    pub server_name: String,
    /// The server version, such as `2.9.10`.
    #[serde(deserialize_with = "nullable")]
    pub version: String,
    /// The protocol version the server speaks (1 supports async INFO).
    #[serde(deserialize_with = "nullable")]
    pub proto: i32,
    /// The Go version the server was built with.
    #[serde(deserialize_with = "nullable")]
    pub go: String,
    /// The host the server listens on.
    #[serde(deserialize_with = "nullable")]
    pub host: String,
    /// The port the server listens on.
    #[serde(deserialize_with = "nullable")]
    pub port: u16,
    /// Whether the server supports headers (`HPUB`/`HMSG`).
    #[serde(deserialize_with = "nullable")]
    pub headers: bool,
    /// The largest payload (headers included) this client may publish.
    #[serde(deserialize_with = "nullable")]
    pub max_payload: u64,
    /// Whether the client must authenticate.
    #[serde(deserialize_with = "nullable")]
    pub auth_required: bool,
    /// Whether the connection must be upgraded to TLS.
    #[serde(deserialize_with = "nullable")]
    pub tls_required: bool,
    /// Whether the server requires a client certificate.
    #[serde(deserialize_with = "nullable")]
    pub tls_verify: bool,
    /// Whether the server accepts TLS when the client asks for it.
    #[serde(deserialize_with = "nullable")]
    pub tls_available: bool,
    /// Other servers of the cluster, as `host:port` without a scheme.
    #[serde(deserialize_with = "nullable")]
    pub connect_urls: Vec<String>,
    /// Lame duck mode: the server is shutting down and will close this connection.
    #[serde(deserialize_with = "nullable")]
    pub ldm: bool,
    /// The nonce to sign for nkey or JWT authentication.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The id the server gave this client.
    #[serde(deserialize_with = "nullable")]
    pub client_id: u64,
    /// This client's address as the server sees it.
    #[serde(deserialize_with = "nullable")]
    pub client_ip: String,
    /// The cluster name, if clustered.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The JetStream domain, if any.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Whether JetStream is enabled.
    #[serde(deserialize_with = "nullable")]
    pub jetstream: bool,
    /// The git commit the server was built from.
    #[serde(deserialize_with = "nullable")]
    pub git_commit: String,
    /// The server's public curve key for encrypted auth callouts (2.10+).
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    pub xkey: Option<String>,
    /// Set on the INFO a 2.12+ server sends right after its first PONG to a client
    /// (`protocol` 1), which says which account the connection is bound to.
    #[serde(deserialize_with = "nullable")]
    pub connect_info: bool,
    /// The account the connection is bound to (2.12+, from the INFO with `connect_info`).
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    pub remote_account: Option<String>,
    /// Whether that account is the system account (`acc_is_sys`, 2.12+).
    #[serde(rename = "acc_is_sys", deserialize_with = "nullable")]
    pub is_system_account: bool,
    /// The JetStream API level the server implements (`api_lvl`, 2.11+; 0 when not sent).
    #[serde(rename = "api_lvl", deserialize_with = "nullable")]
    pub jetstream_api_level: u32,
}

impl ServerInfo {
    /// The server's version, parsed (`None` when `version` is not one).
    pub fn server_version(&self) -> Option<crate::ServerVersion> {
        crate::ServerVersion::parse(&self.version)
    }

    /// Parses the JSON of an `INFO` line, which must be an object.
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
    fn parses_a_real_2_9_10_info() {
        let json = r#"{"server_id":"NBX","server_name":"NBX","version":"2.9.10","proto":1,"git_commit":"","go":"go1.19.8","host":"127.0.0.1","port":4222,"headers":true,"max_payload":1048576,"client_id":5,"client_ip":"127.0.0.1"}"#;
        let info: ServerInfo = serde_json::from_str(json).unwrap();
        assert_eq!(info.version, "2.9.10");
        assert_eq!(info.port, 4222);
        assert!(info.headers);
        assert_eq!(info.max_payload, 1_048_576);
        assert!(info.connect_urls.is_empty());
        assert_eq!(info.nonce, None);
    }

    #[test]
    fn parses_the_info_a_2_15_1_server_sends_after_the_first_pong() {
        let json = r#"{"server_id":"NAM","server_name":"NAM","version":"2.15.1","proto":1,"git_commit":"b2fd3ef","go":"go1.27.2","host":"0.0.0.0","port":14999,"headers":true,"auth_required":true,"max_payload":1048576,"client_id":5,"client_ip":"127.0.0.1","connect_info":true,"remote_account":"$G","api_lvl":5,"xkey":"XBA4"}"#;
        let info: ServerInfo = serde_json::from_str(json).unwrap();
        assert!(info.connect_info);
        assert_eq!(info.remote_account.as_deref(), Some("$G"));
        assert!(!info.is_system_account);
        assert_eq!(info.jetstream_api_level, 5);
        let round_trip: ServerInfo = serde_json::from_str(&serde_json::to_string(&info).unwrap()).unwrap();
        assert_eq!(round_trip, info);
    }

    #[test]
    fn nulls_and_unknown_fields() {
        let json = r#"{"connect_urls":null,"nonce":null,"port":null,"headers":null,"future_field":{"x":[1,2]},"ldm":true}"#;
        let info: ServerInfo = serde_json::from_str(json).unwrap();
        assert!(info.connect_urls.is_empty());
        assert_eq!(info.port, 0);
        assert!(info.ldm);
    }

    #[test]
    fn wrong_types_are_errors() {
        assert!(serde_json::from_str::<ServerInfo>(r#"{"port":"x"}"#).is_err());
        assert!(serde_json::from_str::<ServerInfo>(r#"{"port":70000}"#).is_err());
        assert!(ServerInfo::from_json(b"[]").is_err());
        assert!(ServerInfo::from_json(b" ").is_err());
        assert!(ServerInfo::from_json(b"{").is_err());
        assert!(ServerInfo::from_json(b"{} x").is_err());
        assert!(ServerInfo::from_json(b" {} ").is_ok());
    }
}
