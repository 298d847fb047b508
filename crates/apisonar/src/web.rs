//! Serving the dashboard: HTTPS with rustls by default (a certificate and key from the
//! configuration, or a self-signed one made on first start and kept in the store directory),
//! plain HTTP only when asked. The router comes from apisonar-web; this module owns sockets,
//! TLS, the tokio runtime (two threads, packets never touch it) and connection limits.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use apisonar_web::{AppState, ClientAddr};
use sha2::{Digest, Sha256};

/// Connections served at once.
const MAX_CONNECTIONS: usize = 256;
/// Connections beyond that are still accepted, up to this many more, and answer `/healthz` only
/// (so probes see a saturated dashboard as alive); beyond both they are closed at once.
const OVERFLOW_CONNECTIONS: usize = 32;
/// Connections one address may hold at once: one client cannot take every slot.
const MAX_CONNECTIONS_PER_ADDRESS: usize = 32;
/// A client has this long for the TLS handshake and for each request head (which also closes
/// keep-alive connections idle for this long: hyper's timer runs while it waits for a head).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Overflow connections get less time and no keep-alive, so their slots come back quickly.
const OVERFLOW_TIMEOUT: Duration = Duration::from_secs(3);

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

/// Writes a file readable by its owner only (a private key, a password). Never through a
/// symbolic link: this runs as root before privileges are dropped, in a directory the service
/// user owns, who could otherwise point the name at any file of the system.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .with_context(|| format!("cannot write {} (a symbolic link is refused)", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}

/// The self-signed certificate's directory, opened without following a symbolic link at its
/// last component (made, owner-only, if missing): the files in it are then made and read
/// relative to this handle, so swapping the directory for a link after the check changes nothing.
fn private_dir(dir: &Path) -> Result<std::os::fd::OwnedFd> {
    use nix::fcntl::{open, OFlag};
    use nix::sys::stat::Mode;
    use std::os::unix::fs::DirBuilderExt;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
    }
    open(dir, OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .with_context(|| format!("cannot open {} (a symbolic link is refused)", dir.display()))
}

/// Opens `name` in `dir` without following links: to read (`None`) or to create it new with `bytes`.
fn file_in(dir: &std::os::fd::OwnedFd, name: &str, create: Option<&[u8]>) -> Result<Vec<u8>> {
    use nix::fcntl::{openat, OFlag};
    use nix::sys::stat::Mode;
    use std::io::{Read, Write};
    let flags = OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = match create {
        Some(_) => openat(
            dir,
            name,
            flags | OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC,
            Mode::from_bits_truncate(0o600),
        ),
        None => openat(dir, name, flags | OFlag::O_RDONLY, Mode::empty()),
    }
    .with_context(|| format!("cannot open {name} (a symbolic link is refused)"))?;
    let mut file = std::fs::File::from(fd);
    let mut out = Vec::new();
    match create {
        Some(bytes) => file.write_all(bytes).with_context(|| format!("cannot write {name}"))?,
        None => {
            file.read_to_end(&mut out).with_context(|| format!("cannot read {name}"))?;
        }
    }
    Ok(out)
}

fn exists_in(dir: &std::os::fd::OwnedFd, name: &str) -> bool {
    nix::sys::stat::fstatat(dir, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW).is_ok()
}

/// Loads (or, for `SelfSigned`, makes once) the certificate.
pub fn certificate(tls: &Tls) -> Result<Option<Certificate>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    // The PEM texts and the names to give in errors. Files named by the operator are read as
    // given (certbot's live/ directory is made of links); the self-signed pair never through links.
    let (cert_path, key_path, cert_pem, key_pem) = match tls {
        Tls::Off => return Ok(None),
        Tls::Files { cert, key } => (
            cert.clone(),
            key.clone(),
            std::fs::read(cert).with_context(|| format!("cannot read {}", cert.display()))?,
            std::fs::read(key).with_context(|| format!("cannot read {}", key.display()))?,
        ),
        Tls::SelfSigned { dir } => {
            let handle = private_dir(dir)?;
            if !exists_in(&handle, "cert.pem") || !exists_in(&handle, "key.pem") {
                let names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
                let made = rcgen::generate_simple_self_signed(names).context("cannot make a certificate")?;
                file_in(&handle, "key.pem", Some(made.key_pair.serialize_pem().as_bytes()))?;
                file_in(&handle, "cert.pem", Some(made.cert.pem().as_bytes()))?;
            }
            let read = |name: &str| file_in(&handle, name, None).with_context(|| format!("in {}", dir.display()));
            (dir.join("cert.pem"), dir.join("key.pem"), read("cert.pem")?, read("key.pem")?)
        }
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow!("{}: {e}", cert_path.display()))?;
    let first = certs.first().ok_or_else(|| anyhow!("{}: no certificate in it", cert_path.display()))?;
    let fingerprint = fingerprint(first.as_ref());
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| anyhow!("{}: {e}", key_path.display()))?;
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

/// Connections held per client address; a slot is given back when its guard is dropped.
#[derive(Clone, Default)]
struct PerAddress(Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>);

struct AddressSlot {
    table: PerAddress,
    ip: std::net::IpAddr,
}

impl PerAddress {
    fn take(&self, ip: std::net::IpAddr) -> Option<AddressSlot> {
        let mut table = self.0.lock().ok()?;
        let n = table.entry(ip).or_insert(0);
        if *n >= MAX_CONNECTIONS_PER_ADDRESS {
            return None;
        }
        *n += 1;
        Some(AddressSlot { table: self.clone(), ip })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        if let Ok(mut table) = self.table.0.lock() {
            if let Some(n) = table.get_mut(&self.ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    table.remove(&self.ip);
                }
            }
        }
    }
}

/// Serves `state` on `listener` from a thread of its own; returns once serving has started.
pub fn serve(listener: TcpListener, state: AppState, certificate: Option<Certificate>) -> Result<()> {
    listener.set_nonblocking(true)?;
    // Two threads: one busy with TLS handshakes of a flood does not hold up `/healthz`.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("apisonar-web")
        .enable_all()
        .build()?;
    std::thread::Builder::new().name("apisonar-web".into()).spawn(move || {
        runtime.block_on(async move {
            let listener = match tokio::net::TcpListener::from_std(listener) {
                Ok(l) => l,
                Err(e) => return tracing::error!(error = %e, "cannot serve"),
            };
            let acceptor = certificate.map(|c| tokio_rustls::TlsAcceptor::from(c.config));
            let app = apisonar_web::router(state.clone());
            let overflow_app = apisonar_web::overflow_router(state);
            let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
            let overflow = Arc::new(tokio::sync::Semaphore::new(OVERFLOW_CONNECTIONS));
            let per_address = PerAddress::default();
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                // Over its address's share, or over both limits: closed at once.
                let Some(address_slot) = per_address.take(peer.ip()) else { continue };
                let (app, permit, timeout, keep_alive) = match slots.clone().try_acquire_owned() {
                    Ok(p) => (app.clone(), p, HANDSHAKE_TIMEOUT, true),
                    Err(_) => match overflow.clone().try_acquire_owned() {
                        Ok(p) => (overflow_app.clone(), p, OVERFLOW_TIMEOUT, false),
                        Err(_) => continue,
                    },
                };
                let app = app.layer(axum::Extension(ClientAddr(peer)));
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let _held = (permit, address_slot);
                    let service = hyper_util::service::TowerToHyperService::new(app);
                    let mut builder =
                        hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
                    builder
                        .http1()
                        .timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(timeout)
                        .keep_alive(keep_alive);
                    match acceptor {
                        Some(acceptor) => {
                            let Ok(Ok(tls)) = tokio::time::timeout(timeout, acceptor.accept(tcp)).await else {
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
