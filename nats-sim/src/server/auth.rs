//! Authorization as nats-server does it for the client's CONNECT: a shared token
//! (`auth_token`), or users identified by nkey public keys. For nkey users the server
//! sends each connection a fresh nonce in its first INFO (11 random bytes, base64url
//! without padding: 15 characters, as nats-server makes it), and the CONNECT must carry
//! the user's public key (`nkey`) and its Ed25519 signature of that nonce (`sig`,
//! base64url without padding; nats-server also accepts standard base64). Anything else is
//! `Authorization Violation`. Asynchronous INFOs carry no nonce.

use data_encoding::{BASE64, BASE64URL_NOPAD};
use nkeys::KeyPair;
use serde_json::Value;

use super::ServerConfig;
use crate::rng::Rng;

/// Whether clients must authenticate.
pub(super) fn required(config: &ServerConfig) -> bool {
    config.token.is_some() || !config.nkeys.is_empty()
}

/// A fresh nonce for a new connection when nkey users are configured.
pub(super) fn nonce(config: &ServerConfig, rng: &mut Rng) -> Option<String> {
    if config.nkeys.is_empty() {
        return None;
    }
    let mut raw = [0u8; 11];
    rng.fill(&mut raw);
    Some(BASE64URL_NOPAD.encode(&raw))
}

/// Whether `connect` passes the server's authorization; `nonce` is the one its
/// connection was sent. A CONNECT passes when it carries the token, or a configured
/// nkey with a valid signature of the nonce.
pub(super) fn authorized(config: &ServerConfig, nonce: Option<&str>, connect: &Value) -> bool {
    if !required(config) {
        return true;
    }
    let field = |name: &str| connect.get(name).and_then(Value::as_str);
    if let (Some(token), Some(sent)) = (&config.token, field("auth_token")) {
        if sent == token {
            return true;
        }
    }
    let (Some(nonce), Some(nkey), Some(sig)) = (nonce, field("nkey"), field("sig")) else {
        return false;
    };
    if !config.nkeys.iter().any(|known| known == nkey) {
        return false;
    }
    let Ok(sig) = BASE64URL_NOPAD.decode(sig.as_bytes()).or_else(|_| BASE64.decode(sig.as_bytes())) else {
        return false;
    };
    KeyPair::from_public_key(nkey).is_ok_and(|key| key.verify(nonce.as_bytes(), &sig).is_ok())
}

#[cfg(test)]
mod tests {
    use nkeys::KeyPairType;
    use serde_json::json;

    use super::*;

    fn user(byte: u8) -> KeyPair {
        KeyPair::new_from_raw(KeyPairType::User, [byte; 32]).expect("a user key")
    }

    fn config(users: &[&KeyPair]) -> ServerConfig {
        ServerConfig { nkeys: users.iter().map(|u| u.public_key()).collect(), ..ServerConfig::default() }
    }

    fn signed(key: &KeyPair, nonce: &str) -> Value {
        let sig = BASE64URL_NOPAD.encode(&key.sign(nonce.as_bytes()).expect("signs"));
        json!({ "nkey": key.public_key(), "sig": sig })
    }

    #[test]
    fn a_nonce_is_fifteen_base64url_characters_and_differs_per_connection() {
        let alice = user(1);
        let mut rng = Rng::new(3);
        let a = nonce(&config(&[&alice]), &mut rng).expect("a nonce with nkey users");
        let b = nonce(&config(&[&alice]), &mut rng).expect("a nonce with nkey users");
        assert_eq!(a.len(), 15);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'), "{a}");
        assert_ne!(a, b);
        assert_eq!(nonce(&ServerConfig::default(), &mut rng), None);
    }

    #[test]
    fn a_known_key_signing_this_connections_nonce_passes_and_nothing_else_does() {
        let (alice, mallory) = (user(1), user(2));
        let config = config(&[&alice]);
        assert!(authorized(&config, Some("n0nce"), &signed(&alice, "n0nce")));
        // Standard base64 with padding is accepted too, as nats-server does.
        let sig = BASE64.encode(&alice.sign(b"n0nce").expect("signs"));
        assert!(authorized(&config, Some("n0nce"), &json!({ "nkey": alice.public_key(), "sig": sig })));
        // Another connection's nonce, an unknown key, no signature, no nonce, garbage.
        assert!(!authorized(&config, Some("other"), &signed(&alice, "n0nce")));
        assert!(!authorized(&config, Some("n0nce"), &signed(&mallory, "n0nce")));
        assert!(!authorized(&config, Some("n0nce"), &json!({ "nkey": alice.public_key() })));
        assert!(!authorized(&config, None, &signed(&alice, "n0nce")));
        assert!(!authorized(&config, Some("n0nce"), &json!({ "nkey": alice.public_key(), "sig": "!!" })));
        assert!(!authorized(&config, Some("n0nce"), &json!({ "nkey": "UNOTAKEY", "sig": "AA" })));
        assert!(!authorized(&config, Some("n0nce"), &json!({})));
    }

    #[test]
    fn a_token_passes_only_when_it_matches_and_no_authorization_passes_everything() {
        let config = ServerConfig { token: Some("s3cret".into()), ..ServerConfig::default() };
        assert!(authorized(&config, None, &json!({ "auth_token": "s3cret" })));
        assert!(!authorized(&config, None, &json!({ "auth_token": "nope" })));
        assert!(!authorized(&config, None, &json!({})));
        assert!(authorized(&ServerConfig::default(), None, &json!({})));
    }
}
