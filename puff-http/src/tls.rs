//! HTTPS: the rustls server settings (certificate, key, HTTP/2 and HTTP/1.1 by ALPN) and
//! the request marker for TLS connections. Handshakes run in each connection's own task
//! (see `conn`), bounded by `header_read_timeout_ms`, so a slow or silent client never
//! holds up the accept loop.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Marks requests that arrived over TLS (a request extension), so WSGI and ASGI report
/// the `https` / `wss` scheme.
#[derive(Clone, Copy, Debug)]
pub struct TlsConnection;

/// True for a request that arrived over TLS.
pub fn is_tls(extensions: &http::Extensions) -> bool {
    extensions.get::<TlsConnection>().is_some()
}

/// Load a PEM certificate chain and private key into a server config with ALPN
/// `h2`, `http/1.1`. Errors name the file and what is wrong with it.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, String> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            format!(
                "`tls_cert`: cannot read a PEM certificate from {}: {e}",
                cert.display()
            )
        })?;
    if certs.is_empty() {
        return Err(format!(
            "`tls_cert`: {} holds no PEM certificate",
            cert.display()
        ));
    }
    let private_key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        format!(
            "`tls_key`: cannot read a PEM private key from {}: {e}",
            key.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, private_key)
        .map_err(|e| {
            format!(
                "`tls_key`: {} does not fit the certificate in {}: {e}",
                key.display(),
                cert.display()
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
