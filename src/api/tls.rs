//! HTTPS for the API: loads the configured PEM certificate chain and key into rustls (ring
//! provider, TLS 1.2 and 1.3) and serves the router over TLS connections with hyper. A client
//! that does not finish its handshake within [`HANDSHAKE_TIMEOUT`] is dropped. The certificate
//! is handed out by a resolver whose key a reload replaces ([`Acceptor::install`]): handshakes
//! after it get the new certificate, connections already open keep theirs.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::config::TlsFiles;

/// Longest a TLS handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A TLS configuration ready to accept connections.
#[derive(Clone)]
pub struct Acceptor {
    acceptor: tokio_rustls::TlsAcceptor,
    certificate: Arc<Certificate>,
}

/// The certificate chain and key handshakes are answered with; a reload swaps it.
#[derive(Debug)]
struct Certificate(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Certificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.read().ok().map(|key| key.clone())
    }
}

/// A certificate chain and its key, read and checked, not yet served.
pub struct LoadedCertificate(Arc<CertifiedKey>);

impl std::fmt::Debug for LoadedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LoadedCertificate({} certificates)", self.0.cert.len())
    }
}

impl Acceptor {
    /// Serves `loaded` to every handshake from now on.
    pub fn install(&self, loaded: LoadedCertificate) {
        match self.certificate.0.write() {
            Ok(mut current) => *current = loaded.0,
            Err(poisoned) => *poisoned.into_inner() = loaded.0,
        }
    }
}

impl std::fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Acceptor")
    }
}

/// Why the certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {why}")]
    File { path: String, why: String },
    #[error("certificate {certificate} and key {key} do not work together: {why}")]
    Config { certificate: String, key: String, why: String },
}

/// Reads the certificate chain and private key and makes the acceptor that serves them.
pub fn load(files: &TlsFiles) -> Result<Acceptor, TlsError> {
    let certificate = Arc::new(Certificate(RwLock::new(read(files)?.0)));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config {
            certificate: files.certificate.display().to_string(),
            key: files.key.display().to_string(),
            why: e.to_string(),
        })?
        .with_no_client_auth()
        .with_cert_resolver(certificate.clone());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Acceptor { acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)), certificate })
}

/// Reads and checks a certificate chain and its private key (they must match) without serving
/// them; [`Acceptor::install`] does that.
pub fn read(files: &TlsFiles) -> Result<LoadedCertificate, TlsError> {
    let cert_path = files.certificate.display().to_string();
    let key_path = files.key.display().to_string();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.certificate)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| TlsError::File { path: cert_path.clone(), why: e.to_string() })?;
    if certs.is_empty() {
        return Err(TlsError::File { path: cert_path, why: "no CERTIFICATE block found".into() });
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| TlsError::File { path: key_path.clone(), why: e.to_string() })?;
    let provider = rustls::crypto::ring::default_provider();
    let key = CertifiedKey::from_der(certs, key, &provider).map_err(|e| TlsError::Config {
        certificate: cert_path,
        key: key_path,
        why: e.to_string(),
    })?;
    Ok(LoadedCertificate(Arc::new(key)))
}

/// Accepts TLS connections on `listener` and serves `app` on each until `shutdown`.
pub async fn serve(listener: tokio::net::TcpListener, acceptor: Acceptor, app: Router, shutdown: CancellationToken) {
    loop {
        let (tcp, peer) = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "API accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let (acceptor, app, shutdown) = (acceptor.acceptor.clone(), app.clone(), shutdown.clone());
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            serve_connection(tls, peer, app, shutdown).await;
        });
    }
}

async fn serve_connection(
    tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    peer: SocketAddr,
    app: Router,
    shutdown: CancellationToken,
) {
    let service = tower::service_fn(move |mut request: axum::http::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(request.map(axum::body::Body::new))
    });
    let builder = hyper::server::conn::http1::Builder::new();
    let connection = builder.serve_connection(TokioIo::new(tls), TowerToHyperService::new(service));
    tokio::select! {
        result = connection => {
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "API connection ended with an error");
            }
        }
        _ = shutdown.cancelled() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls").join(name)
    }

    #[test]
    fn loads_pem_files_and_names_the_bad_one() {
        let good = TlsFiles { certificate: fixture("api.pem"), key: fixture("api.key") };
        assert!(load(&good).is_ok());
        let missing = TlsFiles { certificate: fixture("nope.pem"), key: fixture("api.key") };
        let e = load(&missing).expect_err("missing file").to_string();
        assert!(e.contains("nope.pem"), "{e}");
        let not_a_key = TlsFiles { certificate: fixture("api.pem"), key: fixture("ca.pem") };
        let e = load(&not_a_key).expect_err("no key").to_string();
        assert!(e.contains("ca.pem"), "{e}");
        let not_a_cert = TlsFiles { certificate: fixture("api.key"), key: fixture("api.key") };
        let e = load(&not_a_cert).expect_err("no certificate").to_string();
        assert!(e.contains("no CERTIFICATE"), "{e}");
        let mismatched = TlsFiles { certificate: fixture("api.pem"), key: fixture("api2.key") };
        let e = load(&mismatched).expect_err("the key is another certificate's").to_string();
        assert!(e.contains("do not work together"), "{e}");
    }
}
