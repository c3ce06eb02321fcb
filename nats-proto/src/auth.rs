//! Authentication: user/password, token, nkey, JWT with seed or with a signing function,
//! credentials asked of the caller for each connect, and the creds file format.

use crate::prelude::*;

use core::fmt;

use alloc::sync::Arc;

use crate::secret::Secret;

/// Why credentials are unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// A creds file lacks its JWT or seed block.
    #[error("creds file has no {0} block")]
    MissingCredsBlock(&'static str),
    /// The nkey seed is not a valid user seed.
    #[error("invalid nkey seed: {0}")]
    InvalidSeed(String),
    /// Signing the server's nonce failed.
    #[error("cannot sign the server nonce: {0}")]
    Signing(String),
    /// The server asks for a nonce signature but none could be produced, or it sent no
    /// nonce while nkey or JWT authentication is configured.
    #[error("the server sent no nonce to sign")]
    MissingNonce,
    /// Nkey or JWT authentication is configured, but this build has no Ed25519 signing
    /// (the `nkeys` feature is off).
    #[error("nkey and JWT authentication need nats-proto's `nkeys` feature")]
    NKeysUnavailable,
    /// The caller could not provide credentials for this connection attempt (its
    /// credentials callback failed; see [`Auth::Callback`]).
    #[error("the credentials callback failed: {0}")]
    Callback(String),
}

/// A function that signs the server's nonce for [`Auth::JwtSigner`]: it receives the
/// nonce's bytes and returns the raw Ed25519 signature (the connection encodes it), so the
/// seed can stay in a key store, an HSM or another process.
///
/// ```
/// use nats_proto::{Auth, Secret, Signer};
///
/// # let user = nkeys::KeyPair::new_user();
/// // `user` stands for whatever holds the key; only the signature leaves it.
/// let signer = Signer::new(move |nonce: &[u8]| user.sign(nonce).map_err(|e| e.to_string()));
/// let auth = Auth::JwtSigner { jwt: Secret::new("eyJ0eXAiOiJKV1Qi..."), signer };
/// # let _ = auth;
/// ```
#[derive(Clone)]
pub struct Signer(Arc<SignFn>);

/// The signing function, its error already turned into text.
type SignFn = dyn Fn(&[u8]) -> Result<Vec<u8>, String> + Send + Sync;

impl Signer {
    /// Wraps a signing function. Its error (any [`Display`](fmt::Display)able value) fails
    /// the connection attempt with [`AuthError::Signing`].
    pub fn new<E: fmt::Display>(sign: impl Fn(&[u8]) -> Result<Vec<u8>, E> + Send + Sync + 'static) -> Self {
        Self(Arc::new(move |nonce: &[u8]| sign(nonce).map_err(|e| e.to_string())))
    }

    /// Signs `nonce`: the signature encoded as base64url without padding, as `CONNECT`
    /// carries it.
    pub(crate) fn sign(&self, nonce: &[u8]) -> Result<Secret, AuthError> {
        let raw = (self.0)(nonce).map_err(AuthError::Signing)?;
        Ok(Secret::new(base64url(&raw)))
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signer(<function>)")
    }
}

/// Two signers are equal when they are the same function (clones of one [`Signer`]).
impl PartialEq for Signer {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Signer {}

/// Credentials the caller provides for one connection attempt, in answer to
/// [`Action::Authenticate`](crate::Action::Authenticate) (see [`Auth::Callback`]).
/// Build with the `with_*` methods; any combination the server accepts may be set
/// (for example a JWT with the nonce's signature, or an nkey with it). Signatures are the
/// raw Ed25519 bytes: the connection encodes them. `Debug` never shows a secret.
///
/// ```
/// use nats_proto::Credentials;
///
/// let token = Credentials::new().with_token("rotating-token-42");
/// let user = Credentials::new().with_user_and_password("alice", "s3cret");
/// # let nonce = b"nonce"; let signature = vec![0u8; 64];
/// let jwt = Credentials::new().with_jwt("eyJ0eXAiOiJKV1Qi...").with_signature(&signature);
/// # let _ = (token, user, jwt, nonce);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Credentials {
    user: Option<String>,
    password: Option<Secret>,
    token: Option<Secret>,
    jwt: Option<Secret>,
    nkey: Option<String>,
    signature: Option<Secret>,
}

impl Credentials {
    /// No credentials; add some with the `with_*` methods.
    pub fn new() -> Self {
        Self::default()
    }

    /// User and password.
    #[must_use]
    pub fn with_user_and_password(mut self, user: impl Into<String>, password: impl Into<Secret>) -> Self {
        self.user = Some(user.into());
        self.password = Some(password.into());
        self
    }

    /// A token.
    #[must_use]
    pub fn with_token(mut self, token: impl Into<Secret>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// A user JWT (with [`with_signature`](Self::with_signature) when the server sent a
    /// nonce).
    #[must_use]
    pub fn with_jwt(mut self, jwt: impl Into<Secret>) -> Self {
        self.jwt = Some(jwt.into());
        self
    }

    /// The user's public nkey (with [`with_signature`](Self::with_signature)).
    #[must_use]
    pub fn with_nkey(mut self, public_key: impl Into<String>) -> Self {
        self.nkey = Some(public_key.into());
        self
    }

    /// The raw Ed25519 signature of the server's nonce.
    #[must_use]
    pub fn with_signature(mut self, signature: &[u8]) -> Self {
        self.signature = Some(Secret::new(base64url(signature)));
        self
    }

    /// Puts the credentials into a `CONNECT`.
    pub(crate) fn apply(self, connect: &mut crate::connect::ConnectInfo) {
        connect.user = self.user;
        connect.pass = self.password;
        connect.auth_token = self.token;
        connect.jwt = self.jwt;
        connect.nkey = self.nkey;
        connect.sig = self.signature;
    }
}

/// Base64url without padding, as nonce signatures travel in `CONNECT`.
pub(crate) fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// How the client authenticates (in addition to any credentials in the server URL, which
/// take precedence for that server).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// User and password.
    UserPassword {
        /// The user.
        user: String,
        /// The password.
        password: Secret,
    },
    /// A token.
    Token(Secret),
    /// An nkey: the user's seed signs the server's nonce; the public key is derived.
    NKey(Secret),
    /// A user JWT plus the seed that signs the nonce (decentralised auth).
    Jwt {
        /// The user JWT.
        jwt: Secret,
        /// The user's nkey seed.
        seed: Secret,
    },
    /// A user JWT plus a function that signs the server's nonce: the seed never needs to
    /// be in this process's memory.
    JwtSigner {
        /// The user JWT.
        jwt: Secret,
        /// Signs the nonce.
        signer: Signer,
    },
    /// The caller provides fresh credentials for each connection attempt (rotating
    /// tokens, passwords or JWTs, signatures made elsewhere): after the server's `INFO`
    /// the handshake pauses with [`Action::Authenticate`](crate::Action::Authenticate),
    /// and continues when the caller answers with
    /// [`Connection::handle_credentials`](crate::Connection::handle_credentials). The
    /// attempt's `connect_timeout` keeps running meanwhile.
    Callback,
}

impl Auth {
    /// Parses the contents of a creds file into [`Auth::Jwt`]: the first fenced block is
    /// the JWT, the second the seed; text outside the blocks is ignored.
    ///
    /// # Errors
    /// [`AuthError::MissingCredsBlock`].
    pub fn from_creds(contents: &str) -> Result<Self, AuthError> {
        let mut blocks = fenced_blocks(contents);
        let jwt = blocks.next().ok_or(AuthError::MissingCredsBlock("JWT"))?;
        let seed = blocks.next().ok_or(AuthError::MissingCredsBlock("seed"))?;
        Ok(Self::Jwt { jwt: Secret::new(jwt), seed: Secret::new(seed) })
    }

    /// Checks that a seed is usable, at configuration time rather than at connect time.
    pub(crate) fn validate(&self) -> Result<(), AuthError> {
        match self {
            Self::NKey(seed) | Self::Jwt { seed, .. } => key_pair(seed).map(drop),
            _ => Ok(()),
        }
    }
}

/// The non-empty, trimmed contents between `-----BEGIN ...-----` and `------END ...------`
/// lines, in order.
fn fenced_blocks(contents: &str) -> impl Iterator<Item = String> + '_ {
    let mut lines = contents.lines().map(str::trim);
    core::iter::from_fn(move || {
        lines.by_ref().find(|l| l.starts_with("---") && l.contains("BEGIN"))?;
        let body: String =
            lines.by_ref().take_while(|l| !(l.starts_with("---") && l.contains("END"))).collect();
        Some(body)
    })
    .filter(|b| !b.is_empty())
}

#[cfg(feature = "nkeys")]
fn key_pair(seed: &Secret) -> Result<nkeys::KeyPair, AuthError> {
    nkeys::KeyPair::from_seed(seed.expose().trim()).map_err(|e| AuthError::InvalidSeed(e.to_string()))
}

#[cfg(not(feature = "nkeys"))]
fn key_pair(_seed: &Secret) -> Result<(), AuthError> {
    Err(AuthError::NKeysUnavailable)
}

/// The `nkey` public key and `sig` signature of `nonce` for a seed: the nonce's ASCII bytes
/// signed with Ed25519, encoded as base64url without padding.
#[cfg(feature = "nkeys")]
pub(crate) fn sign_nonce(seed: &Secret, nonce: &str) -> Result<(String, Secret), AuthError> {
    let pair = key_pair(seed)?;
    let signature = pair.sign(nonce.as_bytes()).map_err(|e| AuthError::Signing(e.to_string()))?;
    Ok((pair.public_key(), Secret::new(data_encoding::BASE64URL_NOPAD.encode(&signature))))
}

/// Without the `nkeys` feature there is nothing to sign with.
#[cfg(not(feature = "nkeys"))]
pub(crate) fn sign_nonce(_seed: &Secret, _nonce: &str) -> Result<(String, Secret), AuthError> {
    Err(AuthError::NKeysUnavailable)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREDS: &str = "-----BEGIN NATS USER JWT-----
eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.sig
------END NATS USER JWT------

************************* IMPORTANT *************************
NKEY Seed printed below can be used to sign and prove identity.

-----BEGIN USER NKEY SEED-----
SUAMLK2ZNL35WSMW37E7UD4VZ7ELPKW7DHC3BWBSD2GCZ7IUQQXZIORRBU
------END USER NKEY SEED------
";

    #[test]
    fn parses_creds() {
        let Auth::Jwt { jwt, seed } = Auth::from_creds(CREDS).unwrap() else { panic!() };
        assert_eq!(jwt.expose(), "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.sig");
        assert_eq!(seed.expose(), "SUAMLK2ZNL35WSMW37E7UD4VZ7ELPKW7DHC3BWBSD2GCZ7IUQQXZIORRBU");
        assert_eq!(Auth::from_creds("nothing"), Err(AuthError::MissingCredsBlock("JWT")));
        assert_eq!(
            Auth::from_creds("-----BEGIN X-----\nabc\n------END X------\n"),
            Err(AuthError::MissingCredsBlock("seed"))
        );
    }

    #[test]
    fn signs_nonces_verifiably() {
        let user = nkeys::KeyPair::new_user();
        let seed = Secret::new(user.seed().unwrap());
        let (public, sig) = sign_nonce(&seed, "nonce-123").unwrap();
        assert_eq!(public, user.public_key());
        let raw = data_encoding::BASE64URL_NOPAD.decode(sig.expose().as_bytes()).unwrap();
        let verifier = nkeys::KeyPair::from_public_key(&public).unwrap();
        assert!(verifier.verify(b"nonce-123", &raw).is_ok());
        assert!(verifier.verify(b"other", &raw).is_err());
        assert!(matches!(sign_nonce(&Secret::new("SUBOGUS"), "n"), Err(AuthError::InvalidSeed(_))));
    }

    #[test]
    fn base64url_matches_the_reference_encoder() {
        for len in 0..70u8 {
            let bytes: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37).wrapping_add(len)).collect();
            assert_eq!(base64url(&bytes), data_encoding::BASE64URL_NOPAD.encode(&bytes), "{len} bytes");
        }
    }

    #[test]
    fn signer_errors_are_typed_and_credentials_hide_secrets() {
        let signer = Signer::new(|_: &[u8]| Err::<Vec<u8>, _>("no key"));
        assert_eq!(signer.sign(b"n"), Err(AuthError::Signing("no key".into())));
        assert_eq!(signer, signer.clone());
        let credentials = Credentials::new()
            .with_user_and_password("u", "pw-hidden")
            .with_token("tok-hidden")
            .with_signature(b"sig");
        assert!(!format!("{credentials:?}").contains("hidden"));
    }

    #[test]
    fn debug_hides_secrets() {
        let auth = Auth::from_creds(CREDS).unwrap();
        assert!(!format!("{auth:?}").contains("SUAM"));
        let auth = Auth::UserPassword { user: "u".into(), password: Secret::new("pw-secret") };
        assert!(!format!("{auth:?}").contains("pw-secret"));
    }
}
