//! Who may use the dashboard: one admin credential (an argon2 hash in the store), browser
//! sessions (random ids kept only as SHA-256 in memory, with a CSRF token each, ended when the
//! admin password changes), API tokens for scripts (SHA-256 in the store, with scopes and an
//! optional expiry), and a per-address limit on failed logins. Password hashing costs 19 MiB and
//! tens of milliseconds, so only a few run at once and every attempt is counted before it.

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
/// Password hashes computed at once; more logins are refused as busy (each takes 19 MiB).
pub const MAX_CONCURRENT_HASHES: usize = 2;

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

/// What an API token may do.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read the API and the pages (GET).
    Read,
    /// Read `/metrics` (for Prometheus).
    Metrics,
    /// Everything, changes included (acknowledge alerts, upload specs).
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Metrics, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Metrics => "metrics",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Tokens made before scopes existed could do everything; they keep that.
fn legacy_scopes() -> Vec<Scope> {
    vec![Scope::Admin]
}

/// An API token as stored: never the token itself.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct TokenRecord {
    pub name: String,
    pub sha256: String,
    /// RFC 3339.
    pub created: String,
    #[serde(default = "legacy_scopes")]
    pub scopes: Vec<Scope>,
    /// RFC 3339; the token is refused from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

impl TokenRecord {
    /// A short id to name the token by (the start of its hash: tells nothing about the token).
    pub fn id(&self) -> &str {
        self.sha256.get(..12).unwrap_or(&self.sha256)
    }

    /// Expired at `now` (an unreadable expiry counts as expired: fail closed).
    pub fn expired(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        self.expires.as_deref().is_some_and(|e| chrono::DateTime::parse_from_rfc3339(e).map_or(true, |e| e <= now))
    }
}

fn random_hex(bytes: usize) -> Result<String, AuthError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| AuthError::Random(e.to_string()))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn sha256_hex(s: &str) -> String {
    sha256_bytes_hex(s.as_bytes())
}

fn sha256_bytes_hex(b: &[u8]) -> String {
    Sha256::digest(b).iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares without an early exit, so timing does not tell how much matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Argon2id with 7 MiB of memory and 5 passes: one of the settings OWASP's password storage
/// guidance gives as equal in strength (19 MiB and 2 passes is another, argon2's default). The
/// sensor runs for months: memory the hash used is kept by the allocator for reuse, and 7 MiB
/// kept is better than 19. Stored hashes carry their settings, so older ones still verify.
fn password_hasher() -> Result<Argon2<'static>, AuthError> {
    const MEMORY_KIB: u32 = 7 * 1024;
    const PASSES: u32 = 5;
    let params = argon2::Params::new(MEMORY_KIB, PASSES, 1, None).map_err(|e| AuthError::Hash(e.to_string()))?;
    Ok(Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params))
}

/// A new random admin password and its stored record.
fn new_credential() -> Result<(String, Vec<u8>), AuthError> {
    let password = random_hex(12)?;
    let salt_hex = random_hex(16)?;
    let salt = SaltString::encode_b64(salt_hex.as_bytes()).map_err(|e| AuthError::Hash(e.to_string()))?;
    let hash =
        password_hasher()?.hash_password(password.as_bytes(), &salt).map_err(|e| AuthError::Hash(e.to_string()))?;
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

/// What a new token may do and until when.
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    pub name: &'a str,
    pub scopes: Vec<Scope>,
    /// RFC 3339.
    pub created: String,
    pub expires: Option<String>,
}

/// Makes a new API token; returns the token (shown once, stored only as a hash) and its record.
pub fn create_token(store: &dyn Store, new: NewToken<'_>) -> Result<(String, TokenRecord), AuthError> {
    let token = format!("aps_{}", random_hex(32)?);
    let mut scopes = new.scopes;
    scopes.sort();
    scopes.dedup();
    let record = TokenRecord {
        name: new.name.to_string(),
        sha256: sha256_hex(&token),
        created: new.created,
        scopes,
        expires: new.expires,
    };
    update_tokens(store, |tokens| tokens.push(record.clone()))?;
    Ok((token, record))
}

/// The stored API tokens (hashes and what they may do).
pub fn list_tokens(store: &dyn Store) -> Result<Vec<TokenRecord>, AuthError> {
    parse_tokens(store.setting(TOKENS_SETTING)?.as_deref())
}

/// Removes the tokens named `name_or_id` (a name, or an id from `list_tokens`); returns how many.
pub fn revoke_token(store: &dyn Store, name_or_id: &str) -> Result<usize, AuthError> {
    let mut removed = 0;
    update_tokens(store, |tokens| {
        let before = tokens.len();
        tokens.retain(|t| t.name != name_or_id && t.id() != name_or_id);
        removed = before.saturating_sub(tokens.len());
    })?;
    Ok(removed)
}

/// Read, change, compare-and-swap, until no other writer came in between.
fn update_tokens(store: &dyn Store, mut change: impl FnMut(&mut Vec<TokenRecord>)) -> Result<(), AuthError> {
    loop {
        let old = store.setting(TOKENS_SETTING)?;
        let mut tokens = parse_tokens(old.as_deref())?;
        change(&mut tokens);
        let bytes = serde_json::to_vec(&tokens).map_err(|e| AuthError::Damaged(e.to_string()))?;
        if store.put_setting(TOKENS_SETTING, Some(old.as_deref()), &bytes)? {
            return Ok(());
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
    /// SHA-256 of the admin credential it was opened with: a new password ends it.
    credential: String,
}

/// How a request proved who it is.
#[derive(Clone, Debug)]
pub enum Principal {
    /// The admin, signed in: may do everything.
    Session(Session),
    /// An API token: its name and scopes.
    Token { name: String, scopes: Vec<Scope> },
}

impl Principal {
    pub fn allows(&self, needed: Scope) -> bool {
        match self {
            Principal::Session(_) => true,
            Principal::Token { scopes, .. } => scopes.iter().any(|s| *s == needed || *s == Scope::Admin),
        }
    }
}

pub struct Auth {
    store: Arc<dyn Store + Send + Sync>,
    /// Keyed by SHA-256 of the session id, so a memory dump does not hand out live cookies.
    sessions: Mutex<HashMap<String, Session>>,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    /// Password hashes running now.
    hashing: std::sync::atomic::AtomicUsize,
}

/// A slot among `MAX_CONCURRENT_HASHES`, given back when dropped.
struct HashSlot<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> HashSlot<'a> {
    fn take(counter: &'a std::sync::atomic::AtomicUsize) -> Option<HashSlot<'a>> {
        use std::sync::atomic::Ordering;
        counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_CONCURRENT_HASHES).then(|| n.saturating_add(1))
            })
            .ok()
            .map(|_| HashSlot(counter))
    }
}

impl Drop for HashSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
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
    /// Other logins are being checked; try again in a moment (nothing was counted).
    Busy,
}

impl Auth {
    pub fn new(store: Arc<dyn Store + Send + Sync>) -> Auth {
        Auth {
            store,
            sessions: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            hashing: Default::default(),
        }
    }

    pub fn login(&self, addr: Option<IpAddr>, user: &str, password: &str) -> Result<Login, AuthError> {
        let now = Instant::now();
        let Some(_slot) = HashSlot::take(&self.hashing) else { return Ok(Login::Busy) };
        // Counted before the hash is checked: parallel guesses cannot all get in before the
        // first failure is recorded. A success clears it.
        if let Some(ip) = addr {
            let mut failures = self.failures.lock().map_err(|_| AuthError::Damaged("lock".into()))?;
            if failures.len() >= MAX_ENTRIES {
                failures.retain(|_, (_, since)| now.duration_since(*since) < FAILURE_WINDOW);
                if failures.len() >= MAX_ENTRIES {
                    // Every entry is recent: a flood from many addresses; refuse rather than forget.
                    return Ok(Login::Limited);
                }
            }
            let entry = failures.entry(ip).or_insert((0, now));
            if now.duration_since(entry.1) >= FAILURE_WINDOW {
                *entry = (0, now);
            }
            if entry.0 >= MAX_FAILURES {
                return Ok(Login::Limited);
            }
            entry.0 = entry.0.saturating_add(1);
        }
        let Some(credential) = self.verify(user, password)? else {
            return Ok(Login::Refused);
        };
        if let Some(ip) = addr {
            if let Ok(mut failures) = self.failures.lock() {
                failures.remove(&ip);
            }
        }
        let id = random_hex(32)?;
        let session = Session {
            user: user.to_string(),
            csrf: random_hex(32)?,
            expires: now.checked_add(SESSION_TTL).unwrap_or(now),
            credential,
        };
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

    /// The fingerprint of the admin credential when `user` and `password` match it.
    fn verify(&self, user: &str, password: &str) -> Result<Option<String>, AuthError> {
        let Some(bytes) = self.store.setting(ADMIN_SETTING)? else { return Ok(None) };
        let cred: Credential = serde_json::from_slice(&bytes).map_err(|e| AuthError::Damaged(e.to_string()))?;
        let hash = PasswordHash::new(&cred.hash).map_err(|e| AuthError::Damaged(e.to_string()))?;
        // The hash is checked even for a wrong user name, so both cost the same.
        let ok = Argon2::default().verify_password(password.as_bytes(), &hash).is_ok();
        Ok((ok && constant_time_eq(user.as_bytes(), cred.user.as_bytes())).then(|| sha256_bytes_hex(&bytes)))
    }

    /// The live session with this id; sessions opened before the admin password last changed
    /// (`token reset-admin`) are over.
    pub fn session(&self, id: &str) -> Option<Session> {
        let key = sha256_hex(id);
        let current = self.store.setting(ADMIN_SETTING).ok().flatten().map(|b| sha256_bytes_hex(&b));
        let mut sessions = self.sessions.lock().ok()?;
        match sessions.get(&key) {
            Some(s) if s.expires > Instant::now() && current.as_deref() == Some(s.credential.as_str()) => {
                Some(s.clone())
            }
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

    /// Who `token` is, if it is a stored token that has not expired.
    pub fn token(&self, token: &str) -> Option<Principal> {
        let tokens = parse_tokens(self.store.setting(TOKENS_SETTING).ok()?.as_deref()).ok()?;
        let hash = sha256_hex(token);
        let now = chrono::Utc::now();
        tokens
            .into_iter()
            .find(|t| constant_time_eq(t.sha256.as_bytes(), hash.as_bytes()))
            .filter(|t| !t.expired(now))
            .map(|t| Principal::Token { name: t.name, scopes: t.scopes })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use apisonar_store::MemoryStore;

    #[test]
    fn a_password_hashed_with_argon2s_default_settings_still_verifies() {
        // What stores made before the lighter settings hold.
        let store: Arc<dyn Store + Send + Sync> = Arc::new(MemoryStore::default());
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let hash = Argon2::default().hash_password(b"old-password", &salt).unwrap().to_string();
        assert!(hash.contains("$m=19456,t=2,p=1$"), "{hash}");
        let record = serde_json::to_vec(&Credential { user: ADMIN_USER.into(), hash }).unwrap();
        assert!(store.put_setting(ADMIN_SETTING, Some(None), &record).unwrap());
        let auth = Auth::new(store);
        assert!(matches!(auth.login(None, "admin", "old-password").unwrap(), Login::Ok(..)));
        assert!(matches!(auth.login(None, "admin", "new-password").unwrap(), Login::Refused));
    }

    #[test]
    fn the_first_admin_password_is_made_once_and_checked_by_hash() {
        let store: Arc<dyn Store + Send + Sync> = Arc::new(MemoryStore::default());
        let password = ensure_admin(store.as_ref()).unwrap().expect("a new password");
        assert!(ensure_admin(store.as_ref()).unwrap().is_none(), "made once");
        let stored = String::from_utf8(store.setting(ADMIN_SETTING).unwrap().unwrap()).unwrap();
        assert!(stored.contains("$argon2id$") && !stored.contains(&password), "only the hash is stored");
        assert!(stored.contains("$m=7168,t=5,p=1$"), "{stored}");
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

    fn new_token(name: &str, scopes: &[Scope], expires: Option<&str>) -> NewToken<'static> {
        NewToken {
            name: Box::leak(name.to_string().into_boxed_str()),
            scopes: scopes.to_vec(),
            created: "2026-11-30T00:00:00Z".into(),
            expires: expires.map(String::from),
        }
    }

    fn token_name(p: Option<Principal>) -> Option<(String, Vec<Scope>)> {
        match p? {
            Principal::Token { name, scopes } => Some((name, scopes)),
            Principal::Session(_) => None,
        }
    }

    #[test]
    fn sessions_and_tokens_are_known_by_their_hashes() {
        let store: Arc<dyn Store + Send + Sync> = Arc::new(MemoryStore::default());
        let password = ensure_admin(store.as_ref()).unwrap().unwrap();
        let (token, _) = create_token(store.as_ref(), new_token("prometheus", &[Scope::Metrics], None)).unwrap();
        let stored = String::from_utf8(store.setting(TOKENS_SETTING).unwrap().unwrap()).unwrap();
        assert!(!stored.contains(&token) && stored.contains("prometheus"));
        let auth = Auth::new(store);
        assert_eq!(token_name(auth.token(&token)), Some(("prometheus".into(), vec![Scope::Metrics])));
        assert!(auth.token("aps_0000").is_none());
        let Login::Ok(id, session) = auth.login(None, "admin", &password).unwrap() else { panic!() };
        assert_eq!(auth.session(&id).unwrap().csrf, session.csrf);
        auth.logout(&id);
        assert!(auth.session(&id).is_none());
    }

    #[test]
    fn tokens_have_scopes_expire_and_can_be_listed_and_revoked() {
        let store: Arc<dyn Store + Send + Sync> = Arc::new(MemoryStore::default());
        let (read, r) = create_token(store.as_ref(), new_token("ci", &[Scope::Read, Scope::Read], None)).unwrap();
        let (old, _) =
            create_token(store.as_ref(), new_token("old", &[Scope::Admin], Some("2020-01-01T00:00:00Z"))).unwrap();
        let (bad, _) = create_token(store.as_ref(), new_token("bad", &[Scope::Admin], Some("soon"))).unwrap();
        let auth = Auth::new(store.clone());
        let p = auth.token(&read).unwrap();
        assert!(p.allows(Scope::Read) && !p.allows(Scope::Metrics) && !p.allows(Scope::Admin));
        assert!(auth.token(&old).is_none(), "expired");
        assert!(auth.token(&bad).is_none(), "an unreadable expiry fails closed");
        let listed = list_tokens(store.as_ref()).unwrap();
        assert_eq!(listed.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["ci", "old", "bad"]);
        assert_eq!(listed[0].scopes, [Scope::Read], "deduplicated");
        assert_eq!(revoke_token(store.as_ref(), r.id()).unwrap(), 1);
        assert!(auth.token(&read).is_none(), "revoked by id");
        assert_eq!(revoke_token(store.as_ref(), "old").unwrap(), 1);
        assert_eq!(revoke_token(store.as_ref(), "nothing").unwrap(), 0);
        assert_eq!(list_tokens(store.as_ref()).unwrap().len(), 1);
    }

    #[test]
    fn tokens_made_before_scopes_keep_full_access() {
        let store: Arc<dyn Store + Send + Sync> = Arc::new(MemoryStore::default());
        let token = "aps_legacy";
        let record = format!(r#"[{{"name":"old","sha256":"{}","created":"2026-11-01T00:00:00Z"}}]"#, sha256_hex(token));
        store.put_setting(TOKENS_SETTING, None, record.as_bytes()).unwrap();
        assert!(Auth::new(store).token(token).unwrap().allows(Scope::Admin));
    }

    #[test]
    fn a_new_admin_password_ends_every_session() {
        let store: Arc<dyn Store + Send + Sync> = Arc::new(MemoryStore::default());
        let password = ensure_admin(store.as_ref()).unwrap().unwrap();
        let auth = Auth::new(store.clone());
        let Login::Ok(id, _) = auth.login(None, "admin", &password).unwrap() else { panic!() };
        assert!(auth.session(&id).is_some());
        reset_admin(store.as_ref()).unwrap();
        assert!(auth.session(&id).is_none());
    }

    #[test]
    fn attempts_are_counted_before_hashing_and_hashing_is_bounded() {
        let store: Arc<dyn Store + Send + Sync> = Arc::new(MemoryStore::default());
        let password = ensure_admin(store.as_ref()).unwrap().unwrap();
        let auth = Arc::new(Auth::new(store));
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        // Many guesses at once: every outcome is a refusal, a limit or busy, and no more than
        // MAX_FAILURES of them were hashed (counted before the hash, so none slips past).
        let outcomes: Vec<Login> = std::thread::scope(|s| {
            let handles: Vec<_> =
                (0..16).map(|_| s.spawn(|| auth.login(Some(ip), "admin", "guess").unwrap())).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let refused = outcomes.iter().filter(|o| matches!(o, Login::Refused)).count();
        assert!(refused <= MAX_FAILURES as usize, "{outcomes:?}");
        assert!(outcomes.iter().all(|o| matches!(o, Login::Refused | Login::Limited | Login::Busy)));
        // With every hashing slot taken, a login is refused as busy before anything is counted.
        let slots: Vec<_> = (0..MAX_CONCURRENT_HASHES).filter_map(|_| HashSlot::take(&auth.hashing)).collect();
        let other: IpAddr = "192.0.2.10".parse().unwrap();
        assert!(matches!(auth.login(Some(other), "admin", &password).unwrap(), Login::Busy));
        drop(slots);
        assert!(matches!(auth.login(Some(other), "admin", &password).unwrap(), Login::Ok(..)));
    }
}
