//! The operating system's trusted roots (rustls-native-certs), read once per process: the
//! default trust of a TLS connection, as async-nats has it.
//!
//! rustls-native-certs is the crate async-nats uses, from the rustls project: it reads the
//! system store (the OpenSSL certificate file and directory on Linux and BSD, honouring
//! `SSL_CERT_FILE` and `SSL_CERT_DIR`; the keychain on macOS; the Windows store), and
//! gives the certificates to rustls' own verifier, so that roots given in the options and
//! the system's combine in one store. rustls-platform-verifier, which hands verification
//! to the platform instead, cannot add roots of the application's own next to the system's
//! on every platform.

use std::sync::OnceLock;

use rustls_pki_types::CertificateDer;

/// What the system store held, and why some of it could not be read.
pub(crate) struct SystemRoots {
    pub(crate) certificates: Vec<CertificateDer<'static>>,
    pub(crate) errors: Vec<String>,
}

/// The system's roots, read on first use.
pub(crate) fn system() -> &'static SystemRoots {
    static ROOTS: OnceLock<SystemRoots> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        SystemRoots {
            certificates: loaded.certs,
            errors: loaded.errors.iter().map(ToString::to_string).collect(),
        }
    })
}
