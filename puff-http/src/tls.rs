//! HTTPS: the rustls server settings (certificate, key, HTTP/2 and HTTP/1.1 by ALPN) and
//! the request marker for TLS connections. Handshakes run in each connection's own task
//! (see `conn`), bounded by `header_read_timeout_ms`, so a slow or silent client never
//! holds up the accept loop.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Marks requests that arrived over TLS (a request extension), so WSGI and ASGI report
/// the `https` / `wss` scheme.
#[derive(Clone, Copy, Debug)]
pub struct TlsConnection;

/// True for a request that arrived over TLS.
pub fn is_tls(extensions: &http::Extensions) -> bool {
    extensions.get::<TlsConnection>().is_some()
}

/// Why the certificate and key cannot serve HTTPS; the message names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("`tls_cert`: cannot read a PEM certificate from {}: {error}", .path.display())]
    ReadCertificate { path: PathBuf, error: pem::Error },
    #[error("`tls_cert`: {} holds no PEM certificate", .0.display())]
    NoCertificate(PathBuf),
    #[error("`tls_key`: cannot read a PEM private key from {}: {error}", .path.display())]
    ReadKey { path: PathBuf, error: pem::Error },
    #[error("TLS setup failed: {0}")]
    Setup(rustls::Error),
    #[error(
        "`tls_key`: {} does not fit the certificate in {}: {error}",
        .key.display(),
        .cert.display()
    )]
    KeyMismatch {
        key: PathBuf,
        cert: PathBuf,
        error: rustls::Error,
    },
}

/// Load a PEM certificate chain and private key into a server config with ALPN
/// `h2`, `http/1.1`. Errors name the file and what is wrong with it.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|error| TlsError::ReadCertificate {
            path: cert.to_owned(),
            error,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(cert.to_owned()));
    }
    let private_key = PrivateKeyDer::from_pem_file(key).map_err(|error| TlsError::ReadKey {
        path: key.to_owned(),
        error,
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Setup)?
        .with_no_client_auth()
        .with_single_cert(certs, private_key)
        .map_err(|error| TlsError::KeyMismatch {
            key: key.to_owned(),
            cert: cert.to_owned(),
            error,
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
