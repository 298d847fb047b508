//! `apisonar serve` (the dashboard on a store, without capture) and `apisonar token create`.

use std::sync::Arc;

use anyhow::{Context, Result};
use apisonar_store::{SledOptions, SledStore};

use crate::cli::{ServeArgs, TokenCommand, WebFlags};
use crate::terminal::shown;
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
    let config = crate::config::load(args.config.as_deref(), crate::config::utf8_env())?;
    let certificate = crate::web::certificate(&tls_choice(&args.web, &config.web, &args.db))?;
    let listener =
        std::net::TcpListener::bind(&args.listen).with_context(|| format!("cannot listen on {}", args.listen))?;
    let store = SledStore::open(&args.db, &SledOptions::default())?;
    crate::web::announce_admin(&store, &args.db)?;
    let store: Arc<dyn apisonar_store::Store + Send + Sync> = Arc::new(store);
    // The dashboard's changes run on the application core's own thread here (no capture).
    let options = apisonar_app::CoreOptions {
        limits: config.inventory(),
        thresholds: config.thresholds(),
        retention_days: config.run.retention_days,
        specs: Vec::new(),
    };
    let (commands, core) = apisonar_app::spawn_serving(store.clone(), options, Box::new(crate::capture::stopped))
        .context("cannot open the inventory")?;
    let addr = listener.local_addr()?;
    let tls = certificate.is_some();
    announce(addr, certificate.as_ref());
    let state = apisonar_web::AppState::new(store, commands, None, tls);
    crate::web::serve(listener, state, certificate)?;
    match core.join() {
        Ok(result) => {
            result.context("cannot write the inventory")?;
        }
        Err(_) => anyhow::bail!("the application core stopped unexpectedly"),
    }
    Ok(0)
}

pub fn token(cmd: &TokenCommand) -> Result<u8> {
    use apisonar_web::auth;
    match cmd {
        TokenCommand::Create(args) => {
            let scopes = args
                .scopes
                .iter()
                .map(|s| {
                    auth::Scope::parse(s.trim())
                        .with_context(|| format!("--scope {s:?}: expected read, metrics or admin"))
                })
                .collect::<Result<Vec<_>>>()?;
            let now = chrono::Utc::now();
            let expires = args.expires.as_deref().map(|e| expiry(e, now)).transpose()?;
            let store = SledStore::open(&args.db, &SledOptions::default())?;
            let new = auth::NewToken {
                name: &args.name,
                scopes,
                created: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                expires,
            };
            let (token, record) = auth::create_token(&store, new).context("cannot create a token")?;
            apisonar_store::Store::flush(&store).context("cannot flush the store")?;
            println!("{token}");
            let scopes: Vec<&str> = record.scopes.iter().map(|s| s.as_str()).collect();
            eprintln!(
                "token {} ({}) may {}{}; shown once, only its hash is kept",
                record.id(),
                shown(&record.name),
                scopes.join(", "),
                record.expires.as_deref().map(|e| format!(" until {e}")).unwrap_or_default()
            );
            Ok(0)
        }
        TokenCommand::List(args) => {
            let store = SledStore::open(&args.db, &SledOptions::default())?;
            let tokens = auth::list_tokens(&store).context("cannot read the tokens")?;
            let now = chrono::Utc::now();
            let rows: Vec<serde_json::Value> = tokens
                .iter()
                .map(|t| {
                    serde_json::json!({
                        "id": t.id(), "name": t.name, "scopes": t.scopes, "created": t.created,
                        "expires": t.expires, "expired": t.expired(now),
                    })
                })
                .collect();
            match args.format {
                crate::cli::ListFormat::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
                crate::cli::ListFormat::Table => {
                    println!("{:<12} {:<20} {:<20} {:<20} EXPIRES", "ID", "NAME", "SCOPES", "CREATED");
                    for t in &tokens {
                        let scopes: Vec<&str> = t.scopes.iter().map(|s| s.as_str()).collect();
                        let expires = match &t.expires {
                            None => "never".to_string(),
                            Some(e) if t.expired(now) => format!("{} (expired)", shown(e)),
                            Some(e) => shown(e).into_owned(),
                        };
                        println!(
                            "{:<12} {:<20} {:<20} {:<20} {expires}",
                            t.id(),
                            shown(&t.name),
                            scopes.join(","),
                            shown(&t.created)
                        );
                    }
                    println!("{} tokens", tokens.len());
                }
            }
            Ok(0)
        }
        TokenCommand::Revoke(args) => {
            let store = SledStore::open(&args.db, &SledOptions::default())?;
            let removed = auth::revoke_token(&store, &args.token).context("cannot revoke the token")?;
            apisonar_store::Store::flush(&store).context("cannot flush the store")?;
            if removed == 0 {
                anyhow::bail!("no token is named {:?} or has that id (see `apisonar token list`)", args.token);
            }
            println!("revoked {removed} token{}", if removed == 1 { "" } else { "s" });
            Ok(0)
        }
        TokenCommand::ResetAdmin(args) => {
            let store = SledStore::open(&args.db, &SledOptions::default())?;
            let password = auth::reset_admin(&store).context("cannot reset the admin password")?;
            apisonar_store::Store::flush(&store).context("cannot flush the store")?;
            println!("{password}");
            eprintln!("every dashboard session opened with the old password has ended");
            Ok(0)
        }
    }
}

/// `--expires`: `90d`, `12h`, `30m`, `45s` from `now`, or an RFC 3339 time; as RFC 3339.
fn expiry(text: &str, now: chrono::DateTime<chrono::Utc>) -> Result<String> {
    let when = if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        t.with_timezone(&chrono::Utc)
    } else {
        let unit = text.chars().last().unwrap_or(' ');
        let number: i64 = text
            .get(..text.len().saturating_sub(unit.len_utf8()))
            .and_then(|n| n.parse().ok())
            .filter(|n| *n > 0)
            .with_context(|| format!("--expires {text:?}: expected e.g. 90d, 12h, 30m or an RFC 3339 time"))?;
        let secs = match unit {
            'd' => number.checked_mul(86_400),
            'h' => number.checked_mul(3_600),
            'm' => number.checked_mul(60),
            's' => Some(number),
            _ => None,
        };
        secs.and_then(chrono::TimeDelta::try_seconds)
            .and_then(|d| now.checked_add_signed(d))
            .with_context(|| format!("--expires {text:?}: expected e.g. 90d, 12h, 30m or an RFC 3339 time"))?
    };
    if when <= now {
        anyhow::bail!("--expires {text:?} is in the past");
    }
    Ok(when.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

#[cfg(test)]
mod tests {
    use super::expiry;

    #[test]
    fn expiry_accepts_durations_and_times() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z").unwrap().with_timezone(&chrono::Utc);
        assert_eq!(expiry("90d", now).unwrap(), "2027-03-01T00:00:00Z");
        assert_eq!(expiry("12h", now).unwrap(), "2026-12-01T12:00:00Z");
        assert_eq!(expiry("2027-01-01T00:00:00+01:00", now).unwrap(), "2026-12-31T23:00:00Z");
        for bad in ["", "d", "0d", "-1d", "5w", "2020-01-01T00:00:00Z", "99999999999999999d", "1é"] {
            assert!(expiry(bad, now).is_err(), "{bad:?}");
        }
    }
}
