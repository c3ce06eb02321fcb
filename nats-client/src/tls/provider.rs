//! Which rustls crypto provider a connection uses, in this order: the one given in the
//! options ([`ConnectOptions::tls_crypto_provider`](crate::ConnectOptions::tls_crypto_provider)),
//! the process default an application installed (`CryptoProvider::install_default`),
//! aws-lc-rs with the cargo feature `aws-lc-rs`, ring with the feature `ring` (default).
//!
//! The ring provider is assembled here from rustls' public ring parts: rustls 0.23.48
//! deprecated `rustls::crypto::ring::default_provider` (ring has no post-quantum key
//! exchange), and going through rustls' own crate-feature choice instead
//! (`ClientConfig::builder()`) panics when a build enables both of its providers, which
//! happens as soon as another dependency of the application asks for aws-lc-rs. The
//! parts are the same as rustls' ring provider; a test compares them.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

use crate::error::ConnectError;

/// The provider for a connection: `configured` if given, else as the module says.
pub(crate) fn choose(configured: Option<&Arc<CryptoProvider>>) -> Result<Arc<CryptoProvider>, ConnectError> {
    if let Some(provider) = configured {
        return Ok(Arc::clone(provider));
    }
    if let Some(provider) = CryptoProvider::get_default() {
        return Ok(Arc::clone(provider));
    }
    built_in().ok_or_else(|| {
        ConnectError::TlsConfig(
            "no TLS crypto provider: enable the cargo feature `ring` or `aws-lc-rs` of nats-client, \
             install a process default (rustls::crypto::CryptoProvider::install_default) or pass one \
             with ConnectOptions::tls_crypto_provider"
                .to_owned(),
        )
    })
}

/// The provider the crate's features select, once per process.
fn built_in() -> Option<Arc<CryptoProvider>> {
    static PROVIDER: std::sync::OnceLock<Option<Arc<CryptoProvider>>> = std::sync::OnceLock::new();
    PROVIDER
        .get_or_init(|| {
            #[cfg(feature = "aws-lc-rs")]
            return Some(Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
            #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
            return Some(Arc::new(ring::provider()));
            #[allow(unreachable_code)]
            None
        })
        .clone()
}

#[cfg(feature = "ring")]
pub(crate) mod ring {
    //! rustls' ring provider from its public parts.

    use rustls::crypto::ring::{sign, DEFAULT_CIPHER_SUITES, DEFAULT_KX_GROUPS};
    use rustls::crypto::{
        CryptoProvider, GetRandomFailed, KeyProvider, SecureRandom, WebPkiSupportedAlgorithms,
    };
    use rustls::sign::SigningKey;
    use rustls::SignatureScheme;
    use rustls_pki_types::PrivateKeyDer;
    use webpki::ring as alg;

    /// rustls' ring provider: its default cipher suites and key exchange groups, webpki's
    /// ring signature algorithms, ring's system randomness and key loading.
    pub(crate) fn provider() -> CryptoProvider {
        CryptoProvider {
            cipher_suites: DEFAULT_CIPHER_SUITES.to_vec(),
            kx_groups: DEFAULT_KX_GROUPS.to_vec(),
            signature_verification_algorithms: SIGNATURES,
            secure_random: &Ring,
            key_provider: &Ring,
        }
    }

    /// The certificate signature algorithms webpki verifies with ring, and which of them
    /// each TLS signature scheme (RFC 8446 section 4.2.3) may use. For TLS 1.2 an ECDSA
    /// scheme does not fix the curve, so both curves are listed.
    const SIGNATURES: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
        all: &[
            alg::ECDSA_P256_SHA256,
            alg::ECDSA_P256_SHA384,
            alg::ECDSA_P384_SHA256,
            alg::ECDSA_P384_SHA384,
            alg::ED25519,
            alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
            alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
            alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
            alg::RSA_PKCS1_2048_8192_SHA256,
            alg::RSA_PKCS1_2048_8192_SHA384,
            alg::RSA_PKCS1_2048_8192_SHA512,
            alg::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
            alg::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
            alg::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
        ],
        mapping: &[
            (SignatureScheme::ECDSA_NISTP384_SHA384, &[alg::ECDSA_P384_SHA384, alg::ECDSA_P256_SHA384]),
            (SignatureScheme::ECDSA_NISTP256_SHA256, &[alg::ECDSA_P256_SHA256, alg::ECDSA_P384_SHA256]),
            (SignatureScheme::ED25519, &[alg::ED25519]),
            (SignatureScheme::RSA_PSS_SHA512, &[alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY]),
            (SignatureScheme::RSA_PSS_SHA384, &[alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY]),
            (SignatureScheme::RSA_PSS_SHA256, &[alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY]),
            (SignatureScheme::RSA_PKCS1_SHA512, &[alg::RSA_PKCS1_2048_8192_SHA512]),
            (SignatureScheme::RSA_PKCS1_SHA384, &[alg::RSA_PKCS1_2048_8192_SHA384]),
            (SignatureScheme::RSA_PKCS1_SHA256, &[alg::RSA_PKCS1_2048_8192_SHA256]),
        ],
    };

    /// Randomness and private keys from ring.
    #[derive(Debug)]
    struct Ring;

    impl SecureRandom for Ring {
        fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
            ::ring::rand::SecureRandom::fill(&::ring::rand::SystemRandom::new(), buf)
                .map_err(|_| GetRandomFailed)
        }
    }

    impl KeyProvider for Ring {
        fn load_private_key(
            &self,
            key_der: PrivateKeyDer<'static>,
        ) -> Result<std::sync::Arc<dyn SigningKey>, rustls::Error> {
            sign::any_supported_type(&key_der)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "ring")]
    #[test]
    #[allow(deprecated)] // The reference this provider must equal.
    fn the_ring_provider_is_rustls_own() {
        let ours = ring::provider();
        let theirs = rustls::crypto::ring::default_provider();
        let suites = |p: &CryptoProvider| p.cipher_suites.iter().map(|s| s.suite()).collect::<Vec<_>>();
        assert_eq!(suites(&ours), suites(&theirs));
        let groups = |p: &CryptoProvider| p.kx_groups.iter().map(|g| g.name()).collect::<Vec<_>>();
        assert_eq!(groups(&ours), groups(&theirs));
        type Algorithms = [&'static dyn rustls_pki_types::SignatureVerificationAlgorithm];
        let ids = |algs: &Algorithms| {
            algs.iter()
                .map(|a| (a.public_key_alg_id().as_ref().to_vec(), a.signature_alg_id().as_ref().to_vec()))
                .collect::<Vec<_>>()
        };
        let (ours_sig, theirs_sig) =
            (ours.signature_verification_algorithms, theirs.signature_verification_algorithms);
        assert_eq!(ids(ours_sig.all), ids(theirs_sig.all));
        assert_eq!(ours_sig.supported_schemes(), theirs_sig.supported_schemes());
        for ((scheme, ours), (_, theirs)) in ours_sig.mapping.iter().zip(theirs_sig.mapping) {
            assert_eq!(ids(ours), ids(theirs), "{scheme:?}");
        }
        let mut random = [0_u8; 32];
        ours.secure_random.fill(&mut random).unwrap();
        assert_ne!(random, [0; 32]);
        assert!(ours.fips() == theirs.fips());
    }

    #[test]
    fn a_provider_in_the_options_comes_first() {
        let mut custom = CryptoProvider::clone(&built_in().expect("a provider feature is on"));
        custom.cipher_suites.truncate(1);
        let custom = Arc::new(custom);
        let chosen = choose(Some(&custom)).unwrap();
        assert!(Arc::ptr_eq(&chosen, &custom));
        assert_eq!(chosen.cipher_suites.len(), 1);
    }
}
