//! `apisonar serve` (the dashboard on a store, without capture) and `apisonar token create`.

use std::sync::Arc;

use anyhow::{Context, Result};
use apisonar_store::{SledOptions, SledStore};

use crate::cli::{ServeArgs, TokenCommand, WebFlags};
use crate::web::Tls;

/// The TLS choice: flags, then the `[web]` section; files, off, or self-signed kept next to
/// the store.
pub fn tls_choice(flags: &WebFlags, config: &crate::config::WebConfig, db: &std::path::Path) -> Tls {
    if flags.plain_http || config.plain_http == Some(true) {
        return Tls::Off;
    }
    match (&flags.tls_cert, &flags.tls_key, &config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key), _, _) | (None, None, Some(cert), Some(key)) => {
            Tls::Files { cert: cert.clone(), key: key.clone() }
        }
        _ => Tls::SelfSigned { dir: db.join("tls") },
    }
}

/// Prints where the dashboard is and how to recognise its certificate.
pub fn announce(addr: std::net::SocketAddr, certificate: Option<&crate::web::Certificate>) {
    match certificate {
        Some(c) => eprintln!("dashboard: https://{addr}/  (certificate SHA-256 {})", c.fingerprint),
        None => eprintln!("dashboard: http://{addr}/  (plain HTTP)"),
    }
}

pub fn run(args: &ServeArgs) -> Result<u8> {
    crate::capture::stop_on_signals()?;
    let config = crate::config::load(args.config.as_deref(), crate::sink::utf8_env())?;
    let certificate = crate::web::certificate(&tls_choice(&args.web, &config.web, &args.db))?;
    let listener =
        std::net::TcpListener::bind(&args.listen).with_context(|| format!("cannot listen on {}", args.listen))?;
    let store = SledStore::open(&args.db, &SledOptions::default())?;
    crate::web::announce_admin(&store, &args.db)?;
    let addr = listener.local_addr()?;
    let tls = certificate.is_some();
    announce(addr, certificate.as_ref());
    let state = apisonar_web::AppState::new(Arc::new(store.clone()), None, tls);
    crate::web::serve(listener, state, certificate)?;
    while !crate::capture::stopped() {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    apisonar_store::Store::flush(&store).context("cannot flush the store")?;
    Ok(0)
}

pub fn token(cmd: &TokenCommand) -> Result<u8> {
    match cmd {
        TokenCommand::Create(args) => {
            let store = SledStore::open(&args.db, &SledOptions::default())?;
            let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let token = apisonar_web::auth::create_token(&store, &args.name, &now).context("cannot create a token")?;
            apisonar_store::Store::flush(&store).context("cannot flush the store")?;
            println!("{token}");
            Ok(0)
        }
        TokenCommand::ResetAdmin(args) => {
            let store = SledStore::open(&args.db, &SledOptions::default())?;
            let password = apisonar_web::auth::reset_admin(&store).context("cannot reset the admin password")?;
            apisonar_store::Store::flush(&store).context("cannot flush the store")?;
            println!("{password}");
            Ok(0)
        }
    }
}
