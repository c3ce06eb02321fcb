//! TLS with rustls: building the client configuration and the plain-or-TLS transport.
//! Without the `tls` feature only the plain transport and an empty [`TlsOptions`] remain.

use std::io;
#[cfg(feature = "tls")]
use std::path::Path;
use std::pin::Pin;
#[cfg(feature = "tls")]
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
#[cfg(feature = "tls")]
use futures_rustls::client::TlsStream;
#[cfg(feature = "tls")]
use rustls::crypto::CryptoProvider;
#[cfg(feature = "tls")]
use rustls::{ClientConfig, RootCertStore};
#[cfg(feature = "tls")]
use rustls_pki_types::pem::PemObject;
#[cfg(feature = "tls")]
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

#[cfg(feature = "tls")]
use crate::error::ConnectError;

#[cfg(feature = "tls")]
mod provider;
#[cfg(feature = "tls")]
mod roots;

/// Why a TLS connection cannot be made in a build without the `tls` feature.
#[cfg(not(feature = "tls"))]
pub(crate) const TLS_UNAVAILABLE: &str = "this build of nats-client has no TLS (cargo feature `tls`)";

/// Without the `tls` feature there is nothing to configure.
#[cfg(not(feature = "tls"))]
#[derive(Clone, Default)]
pub(crate) struct TlsOptions {}

/// Where TLS trust and identity come from. No `Debug`: it holds a private key.
#[cfg(feature = "tls")]
#[derive(Clone, Default)]
pub(crate) struct TlsOptions {
    /// Roots given in the options (files, PEM text).
    pub(crate) roots: Vec<CertificateDer<'static>>,
    /// Whether the operating system's roots are trusted: `None` means only when no other
    /// roots are given.
    pub(crate) system_roots: Option<bool>,
    /// Whether the bundled Mozilla roots (webpki-roots) are trusted.
    #[cfg(feature = "webpki-roots")]
    pub(crate) bundled_roots: bool,
    /// A client certificate chain and its key, for servers that verify clients.
    pub(crate) client_auth: Option<(Vec<CertificateDer<'static>>, Arc<PrivateKeyDer<'static>>)>,
    /// The crypto provider, if the application chose one (see [`provider`]).
    pub(crate) provider: Option<Arc<CryptoProvider>>,
    /// A complete configuration that overrides everything above.
    pub(crate) config: Option<Arc<ClientConfig>>,
}

#[cfg(feature = "tls")]
impl TlsOptions {
    /// Whether the operating system's store is read for this configuration.
    pub(crate) fn uses_system_roots(&self) -> bool {
        #[cfg(feature = "webpki-roots")]
        let others = !self.roots.is_empty() || self.bundled_roots;
        #[cfg(not(feature = "webpki-roots"))]
        let others = !self.roots.is_empty();
        self.config.is_none() && self.system_roots.unwrap_or(!others)
    }

    /// The rustls configuration: certificates are always verified.
    pub(crate) fn client_config(&self) -> Result<Arc<ClientConfig>, ConnectError> {
        if let Some(config) = &self.config {
            return Ok(Arc::clone(config));
        }
        let mut roots = RootCertStore::empty();
        if self.uses_system_roots() {
            // Unreadable entries are skipped (rustls-native-certs reports them); what is
            // missing shows as an unknown issuer in the handshake.
            let (added, _ignored) =
                roots.add_parsable_certificates(roots::system().certificates.iter().cloned());
            if added == 0 {
                let errors = &roots::system().errors;
                return Err(ConnectError::TlsConfig(format!(
                    "no trusted roots: the operating system's certificate store is empty or unreadable{}; \
                     add roots with add_root_certificates, or use bundled_root_certificates",
                    if errors.is_empty() { String::new() } else { format!(" ({})", errors.join("; ")) }
                )));
            }
        }
        #[cfg(feature = "webpki-roots")]
        if self.bundled_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        for cert in &self.roots {
            roots
                .add(cert.clone())
                .map_err(|e| ConnectError::TlsConfig(format!("bad root certificate: {e}")))?;
        }
        let builder = ClientConfig::builder_with_provider(provider::choose(self.provider.as_ref())?)
            .with_safe_default_protocol_versions()
            .map_err(|e| ConnectError::TlsConfig(e.to_string()))?
            .with_root_certificates(roots);
        let config = match &self.client_auth {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain.clone(), key.clone_key())
                .map_err(|e| ConnectError::TlsConfig(format!("bad client certificate or key: {e}")))?,
            None => builder.with_no_client_auth(),
        };
        Ok(Arc::new(config))
    }
}

/// Reads every certificate in a PEM file.
#[cfg(feature = "tls")]
pub(crate) fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, ConnectError> {
    let file_error = |source: io::Error| ConnectError::File { path: path.display().to_string(), source };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(pem_io_error(e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(io::Error::new(io::ErrorKind::InvalidData, e.to_string())))?;
    if certs.is_empty() {
        return Err(file_error(io::Error::new(io::ErrorKind::InvalidData, "no certificate in the file")));
    }
    Ok(certs)
}

/// Reads the private key in a PEM file.
#[cfg(feature = "tls")]
pub(crate) fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, ConnectError> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| ConnectError::File { path: path.display().to_string(), source: pem_io_error(e) })
}

/// Keeps the IO error kind (not found, permission denied) of a PEM reading error.
#[cfg(feature = "tls")]
fn pem_io_error(error: rustls_pki_types::pem::Error) -> io::Error {
    match error {
        rustls_pki_types::pem::Error::Io(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
    }
}

/// A transport before or after its TLS upgrade.
pub(crate) enum Stream<T> {
    Plain(T),
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream<T>>),
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for Stream<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(t) => Pin::new(t).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            Self::Tls(t) => Pin::new(t).poll_read(cx, buf),
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Stream<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(t) => Pin::new(t).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            Self::Tls(t) => Pin::new(t).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(t) => Pin::new(t).poll_write_vectored(cx, bufs),
            #[cfg(feature = "tls")]
            Self::Tls(t) => Pin::new(t).poll_write_vectored(cx, bufs),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(t) => Pin::new(t).poll_flush(cx),
            #[cfg(feature = "tls")]
            Self::Tls(t) => Pin::new(t).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(t) => Pin::new(t).poll_close(cx),
            #[cfg(feature = "tls")]
            Self::Tls(t) => Pin::new(t).poll_close(cx),
        }
    }
}
