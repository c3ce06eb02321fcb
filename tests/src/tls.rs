//! Certificates generated at test time with rcgen: a CA, a server certificate for
//! 127.0.0.1 and localhost, a client certificate, and an unrelated CA (for "bad CA" tests),
//! written as PEM files to a temp dir.

use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tempfile::TempDir;

/// PEM files in a temp dir (removed on drop).
#[derive(Debug)]
pub struct TlsFiles {
    /// The directory holding the files.
    pub dir: TempDir,
    /// The CA certificate that signed the server and client certificates.
    pub ca: PathBuf,
    /// The server certificate (SANs `localhost` and `127.0.0.1`).
    pub server_cert: PathBuf,
    /// Its private key.
    pub server_key: PathBuf,
    /// A client certificate signed by the CA.
    pub client_cert: PathBuf,
    /// Its private key.
    pub client_key: PathBuf,
    /// A CA that signed nothing here.
    pub other_ca: PathBuf,
}

fn ca(name: &str) -> (rcgen::Certificate, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::new()).expect("no names");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate().expect("generate a key");
    let cert = params.self_signed(&key).expect("self-sign the CA");
    (cert, Issuer::new(params, key))
}

fn leaf(
    issuer: &Issuer<'static, KeyPair>,
    name: &str,
    sans: &[&str],
    usage: ExtendedKeyUsagePurpose,
) -> (String, String) {
    let mut params = CertificateParams::new(sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
        .expect("valid names");
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate().expect("generate a key");
    let cert = params.signed_by(&key, issuer).expect("sign the certificate");
    (cert.pem(), key.serialize_pem())
}

impl TlsFiles {
    /// Generates every certificate and writes the files; the server certificate is valid
    /// for `localhost` and `127.0.0.1`.
    pub fn generate() -> Self {
        Self::generate_for(&["localhost", "127.0.0.1"])
    }

    /// Like [`generate`](Self::generate), with a server certificate valid only for `names`
    /// (a certificate for another name makes a name-mismatch test).
    pub fn generate_for(names: &[&str]) -> Self {
        let dir = tempfile::Builder::new().prefix("nats-itest-tls-").tempdir().expect("a temp dir");
        let (ca_cert, issuer) = ca("nats-itest CA");
        let (server_cert, server_key) =
            leaf(&issuer, "nats-itest server", names, ExtendedKeyUsagePurpose::ServerAuth);
        let (client_cert, client_key) =
            leaf(&issuer, "nats-itest client", &["client.local"], ExtendedKeyUsagePurpose::ClientAuth);
        let (other_ca, _) = ca("unrelated CA");
        let write = |name: &str, contents: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, contents).expect("write a PEM file");
            path
        };
        Self {
            ca: write("ca.pem", &ca_cert.pem()),
            server_cert: write("server.pem", &server_cert),
            server_key: write("server-key.pem", &server_key),
            client_cert: write("client.pem", &client_cert),
            client_key: write("client-key.pem", &client_key),
            other_ca: write("other-ca.pem", &other_ca.pem()),
            dir,
        }
    }
}
