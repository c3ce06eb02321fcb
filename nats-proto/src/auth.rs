//! Authentication: user/password, token, nkey, JWT with seed, and the creds file format.

use crate::prelude::*;

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
    fn debug_hides_secrets() {
        let auth = Auth::from_creds(CREDS).unwrap();
        assert!(!format!("{auth:?}").contains("SUAM"));
        let auth = Auth::UserPassword { user: "u".into(), password: Secret::new("pw-secret") };
        assert!(!format!("{auth:?}").contains("pw-secret"));
    }
}
