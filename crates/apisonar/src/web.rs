//! Serving the dashboard: HTTPS with rustls by default (a certificate and key from the
//! configuration, or a self-signed one made on first start and kept in the store directory),
//! plain HTTP only when asked. The router comes from apisonar-web; this module owns sockets,
//! TLS, the tokio runtime (one thread, packets never touch it) and connection limits.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use apisonar_web::{AppState, ClientAddr};
use sha2::{Digest, Sha256};

/// Connections served at once; more wait in the kernel's accept queue.
const MAX_CONNECTIONS: usize = 256;
/// A client has this long for the TLS handshake and for each request head.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the dashboard's certificate comes from.
#[derive(Debug, Clone)]
pub enum Tls {
    Off,
    /// These PEM files.
    Files {
        cert: PathBuf,
        key: PathBuf,
    },
    /// Self-signed, made on first start and kept in this directory.
    SelfSigned {
        dir: PathBuf,
    },
}

/// A certificate ready to serve, and its SHA-256 fingerprint (to check in the browser).
pub struct Certificate {
    config: Arc<rustls::ServerConfig>,
    pub fingerprint: String,
}

fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der).iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

/// Writes a file readable by its owner only (a private key).
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}

/// Loads (or, for `SelfSigned`, makes once) the certificate.
pub fn certificate(tls: &Tls) -> Result<Option<Certificate>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let (cert_path, key_path) = match tls {
        Tls::Off => return Ok(None),
        Tls::Files { cert, key } => (cert.clone(), key.clone()),
        Tls::SelfSigned { dir } => {
            let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
            if !cert.exists() || !key.exists() {
                std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
                let names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
                let made = rcgen::generate_simple_self_signed(names).context("cannot make a certificate")?;
                write_private(&key, made.key_pair.serialize_pem().as_bytes())?;
                std::fs::write(&cert, made.cert.pem()).with_context(|| format!("cannot write {}", cert.display()))?;
            }
            (cert, key)
        }
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .with_context(|| format!("cannot read {}", cert_path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow!("{}: {e}", cert_path.display()))?;
    let first = certs.first().ok_or_else(|| anyhow!("{}: no certificate in it", cert_path.display()))?;
    let fingerprint = fingerprint(first.as_ref());
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| anyhow!("{}: {e}", key_path.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS setup")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| anyhow!("{} and {}: {e}", cert_path.display(), key_path.display()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(Certificate { config: Arc::new(config), fingerprint }))
}

/// Serves `state` on `listener` from a thread of its own; returns once serving has started.
pub fn serve(listener: TcpListener, state: AppState, certificate: Option<Certificate>) -> Result<()> {
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::Builder::new().name("apisonar-web".into()).spawn(move || {
        runtime.block_on(async move {
            let listener = match tokio::net::TcpListener::from_std(listener) {
                Ok(l) => l,
                Err(e) => return tracing::error!(error = %e, "cannot serve"),
            };
            let acceptor = certificate.map(|c| tokio_rustls::TlsAcceptor::from(c.config));
            let app = apisonar_web::router(state);
            let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
            loop {
                let Ok(permit) = slots.clone().acquire_owned().await else { return };
                let (tcp, peer) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let app = app.clone().layer(axum::Extension(ClientAddr(peer)));
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    let service = hyper_util::service::TowerToHyperService::new(app);
                    let mut builder =
                        hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
                    builder.http1().timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(HANDSHAKE_TIMEOUT);
                    match acceptor {
                        Some(acceptor) => {
                            let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
                            else {
                                return;
                            };
                            let _ = builder.serve_connection(hyper_util::rt::TokioIo::new(tls), service).await;
                        }
                        None => {
                            let _ = builder.serve_connection(hyper_util::rt::TokioIo::new(tcp), service).await;
                        }
                    }
                });
            }
        });
    })?;
    Ok(())
}

/// Makes the admin credential on first start and hands the password over once: on a terminal it
/// is printed; otherwise (a service) it goes to a file only its owner can read.
pub fn announce_admin(store: &dyn apisonar_store::Store, db: &Path) -> Result<()> {
    use std::io::IsTerminal;
    let Some(password) = apisonar_web::auth::ensure_admin(store).context("cannot create the admin credential")? else {
        return Ok(());
    };
    // Standard error: standard output carries data (the run summary).
    if std::io::stderr().is_terminal() {
        eprintln!(
            "dashboard user: {}  password: {password}  (shown once; only a hash is kept)",
            apisonar_web::auth::ADMIN_USER
        );
    } else {
        let path = db.join("initial-admin-password");
        write_private(&path, format!("{password}\n").as_bytes())?;
        eprintln!(
            "dashboard user: {}; its password was written to {} (readable by this user only; delete it once read)",
            apisonar_web::auth::ADMIN_USER,
            path.display()
        );
    }
    Ok(())
}
