//! Who may use the dashboard: one admin credential (an argon2 hash in the store), browser
//! sessions (random ids kept only as SHA-256 in memory, with a CSRF token each), API tokens for
//! scripts (SHA-256 in the store), and a per-address limit on failed logins.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apisonar_store::{Store, StoreError};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const ADMIN_SETTING: &str = "auth.admin";
pub const TOKENS_SETTING: &str = "auth.tokens";
pub const ADMIN_USER: &str = "admin";
/// A session lasts this long after login.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Failed logins allowed per address within `FAILURE_WINDOW`.
pub const MAX_FAILURES: u32 = 5;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(300);
/// Sessions and rate-limit entries kept at most (oldest go first).
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot generate random bytes: {0}")]
    Random(String),
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error("stored credentials are damaged: {0}")]
    Damaged(String),
}

#[derive(Serialize, Deserialize)]
struct Credential {
    user: String,
    /// PHC string (argon2id).
    hash: String,
}

/// An API token as stored: never the token itself.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct TokenRecord {
    pub name: String,
    pub sha256: String,
    /// RFC 3339.
    pub created: String,
}

fn random_hex(bytes: usize) -> Result<String, AuthError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| AuthError::Random(e.to_string()))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares without an early exit, so timing does not tell how much matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A new random admin password and its stored record.
fn new_credential() -> Result<(String, Vec<u8>), AuthError> {
    let password = random_hex(12)?;
    let salt_hex = random_hex(16)?;
    let salt = SaltString::encode_b64(salt_hex.as_bytes()).map_err(|e| AuthError::Hash(e.to_string()))?;
    let hash =
        Argon2::default().hash_password(password.as_bytes(), &salt).map_err(|e| AuthError::Hash(e.to_string()))?;
    let record = Credential { user: ADMIN_USER.into(), hash: hash.to_string() };
    let bytes = serde_json::to_vec(&record).map_err(|e| AuthError::Hash(e.to_string()))?;
    Ok((password, bytes))
}

/// Creates the admin credential if the store has none; returns the new password (to be shown
/// once) or `None` when one exists already.
pub fn ensure_admin(store: &dyn Store) -> Result<Option<String>, AuthError> {
    if store.setting(ADMIN_SETTING)?.is_some() {
        return Ok(None);
    }
    let (password, bytes) = new_credential()?;
    // Compare-and-swap: if another process created one meanwhile, theirs stands.
    Ok(if store.put_setting(ADMIN_SETTING, Some(None), &bytes)? { Some(password) } else { None })
}

/// Replaces the admin password with a new random one (a lost password); returns it.
pub fn reset_admin(store: &dyn Store) -> Result<String, AuthError> {
    let (password, bytes) = new_credential()?;
    store.put_setting(ADMIN_SETTING, None, &bytes)?;
    Ok(password)
}

/// Makes a new API token named `name`; returns the token (shown once, stored only as a hash).
pub fn create_token(store: &dyn Store, name: &str, now_rfc3339: &str) -> Result<String, AuthError> {
    let token = format!("aps_{}", random_hex(32)?);
    let record = TokenRecord { name: name.to_string(), sha256: sha256_hex(&token), created: now_rfc3339.to_string() };
    loop {
        let old = store.setting(TOKENS_SETTING)?;
        let mut tokens = parse_tokens(old.as_deref())?;
        tokens.push(record.clone());
        let bytes = serde_json::to_vec(&tokens).map_err(|e| AuthError::Damaged(e.to_string()))?;
        if store.put_setting(TOKENS_SETTING, Some(old.as_deref()), &bytes)? {
            return Ok(token);
        }
    }
}

fn parse_tokens(bytes: Option<&[u8]>) -> Result<Vec<TokenRecord>, AuthError> {
    match bytes {
        None => Ok(Vec::new()),
        Some(b) => serde_json::from_slice(b).map_err(|e| AuthError::Damaged(e.to_string())),
    }
}

/// A browser session.
#[derive(Clone, Debug)]
pub struct Session {
    pub user: String,
    pub csrf: String,
    pub expires: Instant,
}

/// How a request proved who it is.
#[derive(Clone, Debug)]
pub enum Principal {
    Session(Session),
    Token(String),
}

pub struct Auth {
    store: Arc<dyn Store + Send + Sync>,
    /// Keyed by SHA-256 of the session id, so a memory dump does not hand out live cookies.
    sessions: Mutex<HashMap<String, Session>>,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Auth")
    }
}

/// What a login attempt came to.
#[derive(Debug)]
pub enum Login {
    /// The new session id (for the cookie) and the session.
    Ok(String, Session),
    Refused,
    /// Too many failures from this address recently.
    Limited,
}

impl Auth {
    pub fn new(store: Arc<dyn Store + Send + Sync>) -> Auth {
        Auth { store, sessions: Mutex::new(HashMap::new()), failures: Mutex::new(HashMap::new()) }
    }

    pub fn login(&self, addr: Option<IpAddr>, user: &str, password: &str) -> Result<Login, AuthError> {
        let now = Instant::now();
        if let Some(ip) = addr {
            let failures = self.failures.lock().map_err(|_| AuthError::Damaged("lock".into()))?;
            if let Some((n, since)) = failures.get(&ip) {
                if *n >= MAX_FAILURES && now.duration_since(*since) < FAILURE_WINDOW {
                    return Ok(Login::Limited);
                }
            }
        }
        if !self.verify(user, password)? {
            if let Some(ip) = addr {
                let mut failures = self.failures.lock().map_err(|_| AuthError::Damaged("lock".into()))?;
                if failures.len() >= MAX_ENTRIES {
                    failures.retain(|_, (_, since)| now.duration_since(*since) < FAILURE_WINDOW);
                }
                let entry = failures.entry(ip).or_insert((0, now));
                if now.duration_since(entry.1) >= FAILURE_WINDOW {
                    *entry = (0, now);
                }
                entry.0 += 1;
            }
            return Ok(Login::Refused);
        }
        if let Some(ip) = addr {
            if let Ok(mut failures) = self.failures.lock() {
                failures.remove(&ip);
            }
        }
        let id = random_hex(32)?;
        let session = Session { user: user.to_string(), csrf: random_hex(32)?, expires: now + SESSION_TTL };
        let mut sessions = self.sessions.lock().map_err(|_| AuthError::Damaged("lock".into()))?;
        sessions.retain(|_, s| s.expires > now);
        if sessions.len() >= MAX_ENTRIES {
            if let Some(oldest) = sessions.iter().min_by_key(|(_, s)| s.expires).map(|(k, _)| k.clone()) {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(sha256_hex(&id), session.clone());
        Ok(Login::Ok(id, session))
    }

    fn verify(&self, user: &str, password: &str) -> Result<bool, AuthError> {
        let Some(bytes) = self.store.setting(ADMIN_SETTING)? else { return Ok(false) };
        let cred: Credential = serde_json::from_slice(&bytes).map_err(|e| AuthError::Damaged(e.to_string()))?;
        let hash = PasswordHash::new(&cred.hash).map_err(|e| AuthError::Damaged(e.to_string()))?;
        // The hash is checked even for a wrong user name, so both cost the same.
        let ok = Argon2::default().verify_password(password.as_bytes(), &hash).is_ok();
        Ok(ok && constant_time_eq(user.as_bytes(), cred.user.as_bytes()))
    }

    pub fn session(&self, id: &str) -> Option<Session> {
        let key = sha256_hex(id);
        let mut sessions = self.sessions.lock().ok()?;
        match sessions.get(&key) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                sessions.remove(&key);
                None
            }
            None => None,
        }
    }

    pub fn logout(&self, id: &str) {
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.remove(&sha256_hex(id));
        }
    }

    /// The name of the API token, if `token` is one.
    pub fn token(&self, token: &str) -> Option<String> {
        let tokens = parse_tokens(self.store.setting(TOKENS_SETTING).ok()?.as_deref()).ok()?;
        let hash = sha256_hex(token);
        tokens.into_iter().find(|t| constant_time_eq(t.sha256.as_bytes(), hash.as_bytes())).map(|t| t.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apisonar_store::MemoryStore;

    #[test]
    fn the_first_admin_password_is_made_once_and_checked_by_hash() {
        let store: Arc<dyn Store + Send + Sync> = Arc::new(MemoryStore::default());
        let password = ensure_admin(store.as_ref()).unwrap().expect("a new password");
        assert!(ensure_admin(store.as_ref()).unwrap().is_none(), "made once");
        let stored = String::from_utf8(store.setting(ADMIN_SETTING).unwrap().unwrap()).unwrap();
        assert!(stored.contains("$argon2id$") && !stored.contains(&password), "only the hash is stored");
        let auth = Auth::new(store);
        assert!(matches!(auth.login(None, "admin", &password).unwrap(), Login::Ok(..)));
        assert!(matches!(auth.login(None, "admin", "wrong").unwrap(), Login::Refused));
        assert!(matches!(auth.login(None, "root", &password).unwrap(), Login::Refused));
        // A reset replaces the password: the old one stops working.
        let store = auth.store.clone();
        let new = reset_admin(store.as_ref()).unwrap();
        assert!(matches!(auth.login(None, "admin", &password).unwrap(), Login::Refused));
        assert!(matches!(auth.login(None, "admin", &new).unwrap(), Login::Ok(..)));
    }

    #[test]
    fn failed_logins_are_limited_per_address() {
        let store: Arc<dyn Store + Send + Sync> = Arc::new(MemoryStore::default());
        let password = ensure_admin(store.as_ref()).unwrap().unwrap();
        let auth = Auth::new(store);
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        for _ in 0..MAX_FAILURES {
            assert!(matches!(auth.login(Some(a), "admin", "guess").unwrap(), Login::Refused));
        }
        // Even the right password is refused from that address now; others are not affected.
        assert!(matches!(auth.login(Some(a), "admin", &password).unwrap(), Login::Limited));
        assert!(matches!(auth.login(Some(b), "admin", &password).unwrap(), Login::Ok(..)));
    }

    #[test]
    fn sessions_and_tokens_are_known_by_their_hashes() {
        let store: Arc<dyn Store + Send + Sync> = Arc::new(MemoryStore::default());
        let password = ensure_admin(store.as_ref()).unwrap().unwrap();
        let token = create_token(store.as_ref(), "prometheus", "2026-11-30T00:00:00Z").unwrap();
        let stored = String::from_utf8(store.setting(TOKENS_SETTING).unwrap().unwrap()).unwrap();
        assert!(!stored.contains(&token) && stored.contains("prometheus"));
        let auth = Auth::new(store);
        assert_eq!(auth.token(&token).as_deref(), Some("prometheus"));
        assert_eq!(auth.token("aps_0000"), None);
        let Login::Ok(id, session) = auth.login(None, "admin", &password).unwrap() else { panic!() };
        assert_eq!(auth.session(&id).unwrap().csrf, session.csrf);
        auth.logout(&id);
        assert!(auth.session(&id).is_none());
    }
}
