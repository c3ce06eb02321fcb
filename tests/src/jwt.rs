//! Nkeys and JWTs for auth tests: a minimal JWT encoder (header
//! `{"typ":"JWT","alg":"ed25519-nkey"}`, claims as nats-server 2.x expects them, Ed25519
//! signature by an nkey, base64url without padding) and an operator/account/user setup.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use data_encoding::{BASE32_NOPAD, BASE64URL_NOPAD};
use nkeys::KeyPair;
use serde_json::{json, Value};

/// A user nkey: the seed the client signs with and the public key the server knows.
#[derive(Debug, Clone)]
pub struct NKeyUser {
    /// `SU...`.
    pub seed: String,
    /// `U...`.
    pub public: String,
}

impl NKeyUser {
    /// A fresh user key.
    pub fn generate() -> Self {
        let pair = KeyPair::new_user();
        Self { seed: pair.seed().expect("a generated key has a seed"), public: pair.public_key() }
    }
}

/// Encodes and signs a JWT with `signer`. `claims` holds `name` and `nats`; `jti`, `iat`,
/// `iss` (the signer) and `sub` are filled in.
pub fn encode_jwt(signer: &KeyPair, subject: &str, name: &str, nats: Value) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let iat = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs();
    // A unique id: a hash is not required by the server, only uniqueness.
    let unique = format!("{subject}:{iat}:{}", COUNTER.fetch_add(1, Ordering::Relaxed));
    let jti_sig = signer.sign(unique.as_bytes()).expect("signing works");
    let claims = json!({
        "jti": BASE32_NOPAD.encode(&jti_sig[..20]),
        "iat": iat,
        "iss": signer.public_key(),
        "sub": subject,
        "name": name,
        "nats": nats,
    });
    let header = BASE64URL_NOPAD.encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let payload = BASE64URL_NOPAD.encode(claims.to_string().as_bytes());
    let signing_input = format!("{header}.{payload}");
    let signature = signer.sign(signing_input.as_bytes()).expect("signing works");
    format!("{signing_input}.{}", BASE64URL_NOPAD.encode(&signature))
}

/// No limit, in JWT claims.
const NO_LIMIT: i64 = -1;

/// An operator, one account preloaded in the server's memory resolver, and users of it.
#[derive(Clone)]
pub struct OperatorSetup {
    /// The operator JWT (self-signed).
    pub operator_jwt: String,
    /// The account's public key (`A...`).
    pub account_public: String,
    /// The account JWT, signed by the operator.
    pub account_jwt: String,
    account: std::sync::Arc<KeyPair>,
}

impl std::fmt::Debug for OperatorSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorSetup").field("account_public", &self.account_public).finish_non_exhaustive()
    }
}

impl OperatorSetup {
    /// Generates the operator and account keys and JWTs.
    pub fn generate() -> Self {
        let operator = KeyPair::new_operator();
        let account = KeyPair::new_account();
        let operator_jwt = encode_jwt(
            &operator,
            &operator.public_key(),
            "itest-operator",
            json!({ "type": "operator", "version": 2 }),
        );
        let account_public = account.public_key();
        let account_jwt = encode_jwt(
            &operator,
            &account_public,
            "itest-account",
            json!({
                "limits": {
                    "subs": NO_LIMIT, "data": NO_LIMIT, "payload": NO_LIMIT, "imports": NO_LIMIT,
                    "exports": NO_LIMIT, "wildcards": true, "conn": NO_LIMIT, "leaf": NO_LIMIT,
                },
                "default_permissions": { "pub": {}, "sub": {} },
                "type": "account",
                "version": 2,
            }),
        );
        Self { operator_jwt, account_public, account_jwt, account: std::sync::Arc::new(account) }
    }

    /// A new user of the account: its creds file contents (JWT and seed).
    pub fn user_creds(&self, name: &str) -> String {
        let user = KeyPair::new_user();
        let jwt = user_jwt(&self.account, &user.public_key(), name);
        creds(&jwt, &user.seed().expect("a generated key has a seed"))
    }

    /// A new user of the account: its JWT and key pair (for signing the nonce by hand).
    pub fn user(&self, name: &str) -> (String, KeyPair) {
        let user = KeyPair::new_user();
        (user_jwt(&self.account, &user.public_key(), name), user)
    }

    /// A user JWT signed by an account the server does not know.
    pub fn foreign_user_creds(&self, name: &str) -> String {
        let stranger = KeyPair::new_account();
        let user = KeyPair::new_user();
        let jwt = user_jwt(&stranger, &user.public_key(), name);
        creds(&jwt, &user.seed().expect("a generated key has a seed"))
    }

    /// A valid user JWT paired with another user's seed: the nonce signature cannot match.
    pub fn mismatched_seed_creds(&self, name: &str) -> String {
        let user = KeyPair::new_user();
        let jwt = user_jwt(&self.account, &user.public_key(), name);
        let other = KeyPair::new_user();
        creds(&jwt, &other.seed().expect("a generated key has a seed"))
    }
}

fn user_jwt(account: &KeyPair, user_public: &str, name: &str) -> String {
    encode_jwt(
        account,
        user_public,
        name,
        json!({
            "pub": {}, "sub": {},
            "subs": NO_LIMIT, "data": NO_LIMIT, "payload": NO_LIMIT,
            "type": "user",
            "version": 2,
        }),
    )
}

/// A creds file's contents.
pub fn creds(jwt: &str, seed: &str) -> String {
    format!(
        "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\
         NKEYs are sensitive and should be treated as secrets.\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n\
         *************************************************************\n"
    )
}
