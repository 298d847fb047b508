//! Abuse detectors that need memory across requests, per client and endpoint, in packet time:
//! enumeration, brute force, broken object-level authorisation (BOLA), scanners, and rate and
//! error spikes against a per-endpoint baseline. All state is bounded.

use std::collections::{BTreeSet, VecDeque};
use std::hash::BuildHasher;
use std::net::IpAddr;

use crate::alert::{Alert, Severity};
use crate::catalog::EndpointKey;
use crate::observation::Observation;
use crate::stats::{add_count, stable_hash, stable_hash_more};

/// Per-client and per-endpoint state is looked up for every request: foldhash (randomly seeded
/// per map) instead of SipHash.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Tunable thresholds (config file and flags set them in the binary).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Thresholds {
    /// Distinct values of one path parameter walked by one client...
    pub enumeration_values: usize,
    /// ...of which at least this share answered 404 or 403.
    pub enumeration_error_share: f64,
    /// Failed logins by one client on one endpoint within `window_secs`.
    pub brute_force_failures: usize,
    /// Distinct objects of other principals read by one principal.
    pub bola_objects: usize,
    /// Distinct paths answered 404 to one client within `window_secs`.
    pub scanner_404_paths: usize,
    /// A one-second bucket with this many times the endpoint's mean, and at least `rate_min`.
    pub rate_multiplier: f64,
    pub rate_min: u64,
    /// The same for server errors (5xx), with at least `error_min`.
    pub error_multiplier: f64,
    pub error_min: u64,
    pub window_secs: u32,
    /// Most tracked (client, endpoint) pairs, objects, and endpoints.
    pub max_entries: usize,
    /// Clients that get an alert of their own per kind and endpoint; occurrences from further
    /// clients are counted in one alert with client `*` (a public endpoint seen from millions of
    /// addresses must not make millions of alerts).
    pub max_clients_per_alert: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            enumeration_values: 20,
            enumeration_error_share: 0.5,
            brute_force_failures: 10,
            bola_objects: 3,
            scanner_404_paths: 30,
            rate_multiplier: 10.0,
            rate_min: 100,
            error_multiplier: 10.0,
            error_min: 20,
            window_secs: 300,
            max_entries: 100_000,
            max_clients_per_alert: 50,
        }
    }
}

/// The scanner a request's user agent names, if any (worked out on a flow worker, once per
/// request: the detectors and the catalog only look it up).
pub fn scanner_tool(obs: &Observation) -> Option<&'static str> {
    scanner_in(obs.request_header("user-agent")?)
}

/// The scanner a user agent names, if any.
fn scanner_in(agent: &str) -> Option<&'static str> {
    let [tool] = SCANNER_SIGNATURES.first_of_each(agent);
    tool
}

/// User agents a flow worker has looked up for scanner names, with the answer: clients send the
/// same one with every request, and the lookup is a search of the whole text. Keyed by the
/// agent itself (not a hash of it, so no agent can pass for another); bounded, forgotten all at
/// once when full.
#[derive(Debug, Default)]
pub struct AgentMemory {
    known: HashMap<String, Option<&'static str>>,
}

/// Distinct user agents an `AgentMemory` holds, and the longest it keeps (longer ones are
/// looked up every time: they are rare, and a scanner could send many).
const MAX_AGENTS: usize = 256;
const MAX_AGENT_BYTES: usize = 256;

impl AgentMemory {
    /// [`scanner_tool`], remembered per user agent.
    pub fn scanner_tool(&mut self, obs: &Observation) -> Option<&'static str> {
        let agent = obs.request_header("user-agent")?;
        if let Some(known) = self.known.get(agent) {
            return *known;
        }
        let tool = scanner_in(agent);
        if agent.len() <= MAX_AGENT_BYTES {
            if self.known.len() >= MAX_AGENTS {
                self.known.clear();
            }
            self.known.insert(agent.to_string(), tool);
        }
        tool
    }

    pub fn len(&self) -> usize {
        self.known.len()
    }

    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }
}

/// Scanner names in user agents, matched ignoring case in one pass.
static SCANNER_SIGNATURES: std::sync::LazyLock<crate::signatures::Signatures<1>> =
    std::sync::LazyLock::new(|| crate::signatures::Signatures::new([SCANNER_AGENTS], true));

const SCANNER_AGENTS: &[&str] = &[
    "nikto",
    "sqlmap",
    "nmap",
    "masscan",
    "zgrab",
    "gobuster",
    "dirbuster",
    "dirb",
    "wfuzz",
    "ffuf",
    "nuclei",
    "acunetix",
    "nessus",
    "openvas",
    "w3af",
    "burp",
    "zaproxy",
    "owasp zap",
    "feroxbuster",
    "whatweb",
    "wpscan",
    "arachni",
    "skipfish",
    "netsparker",
    "qualys",
    "jaeles",
    "hydra",
];

/// One-second buckets: bursts from one client are short.
const BUCKET_MICROS: i64 = 1_000_000;
/// Buckets of history needed before a spike can be judged.
const BASELINE_BUCKETS: u64 = 10;

/// One client on one endpoint. Up to `max_entries` of these are kept, most of them for a
/// request or two: a few words each, with what only some need allocated when needed.
#[derive(Default)]
struct PairState {
    last_seen: i64,
    /// Distinct values of the path parameters (hashes).
    values: DistinctSet,
    requests: u64,
    not_found: u64,
    /// Only on login-like endpoints.
    login: Option<Box<LoginState>>,
}

/// Failed logins of one client on one endpoint.
#[derive(Default)]
struct LoginState {
    failures: VecDeque<i64>,
    failure_bodies: HashMap<u64, u64>,
}

/// What one principal shares with others on one endpoint.
#[derive(Default)]
struct Shared {
    objects: DistinctSet,
    partners: DistinctSet,
}

/// Most partners remembered per principal and endpoint (two are evidence).
const MAX_PARTNERS: usize = 64;

/// Up to this many values a set is a sorted vector; past it, a hash set.
const FEW_VALUES: usize = 32;

/// Distinct hashes, at most a cap: a sorted vector while few (most clients send a handful of
/// values), a hash set once many (one busy client behind a load balancer walks thousands, and
/// inserting into a long sorted vector would move it on every new value).
#[derive(Default)]
enum DistinctSet {
    #[default]
    Empty,
    Few(Vec<u64>),
    Many(std::collections::HashSet<u64, foldhash::fast::RandomState>),
}

impl DistinctSet {
    /// Adds `value` unless the set holds `cap` values already.
    fn insert(&mut self, value: u64, cap: usize) {
        if self.len() >= cap {
            return;
        }
        match self {
            DistinctSet::Empty => *self = DistinctSet::Few(vec![value]),
            DistinctSet::Few(few) => {
                if let Err(at) = few.binary_search(&value) {
                    if few.len() < FEW_VALUES {
                        few.insert(at, value);
                    } else {
                        let mut many: std::collections::HashSet<u64, foldhash::fast::RandomState> =
                            few.iter().copied().collect();
                        many.insert(value);
                        *self = DistinctSet::Many(many);
                    }
                }
            }
            DistinctSet::Many(many) => {
                many.insert(value);
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            DistinctSet::Empty => 0,
            DistinctSet::Few(few) => few.len(),
            DistinctSet::Many(many) => many.len(),
        }
    }

    #[cfg(test)]
    fn contains(&self, value: u64) -> bool {
        match self {
            DistinctSet::Empty => false,
            DistinctSet::Few(few) => few.binary_search(&value).is_ok(),
            DistinctSet::Many(many) => many.contains(&value),
        }
    }
}

/// One client on one host, for the scanner detectors.
#[derive(Default)]
struct ClientState {
    last_seen: i64,
    /// Paths answered 404 within the window (made at the first 404).
    not_found: Option<Box<DistinctWindow>>,
    /// The scanning tool its user agent names.
    tool: Option<&'static str>,
    /// The most distinct paths answered 404 within one window.
    burst: usize,
    /// Requests for paths no route is known for, and a few of them (masked).
    probes: u64,
    examples: Vec<String>,
}

/// Probed paths a scanner alert shows.
const SCANNER_EXAMPLES: usize = 5;

/// Entries a `DistinctWindow` keeps at most.
const DISTINCT_WINDOW_MAX: usize = 4096;

/// Hashes seen within a sliding time window (the newest `DISTINCT_WINDOW_MAX`), and how many of
/// them are distinct: counted as they come and go, so one more costs O(1) however full the
/// window is (a scanner's stream of 404s must not cost the core thread a sort each).
#[derive(Default)]
struct DistinctWindow {
    seen: VecDeque<(i64, u64)>,
    counts: HashMap<u64, u32>,
}

impl DistinctWindow {
    /// Adds `hash` seen at `ts`, forgets what is before `window_start`; returns how many
    /// distinct hashes the window holds.
    fn push(&mut self, ts: i64, hash: u64, window_start: i64) -> usize {
        self.seen.push_back((ts, hash));
        let n = self.counts.entry(hash).or_insert(0);
        *n = n.saturating_add(1);
        while self.seen.front().is_some_and(|(t, _)| *t < window_start) || self.seen.len() > DISTINCT_WINDOW_MAX {
            let Some((_, old)) = self.seen.pop_front() else { break };
            if let Some(n) = self.counts.get_mut(&old) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.counts.remove(&old);
                }
            }
        }
        self.counts.len()
    }
}

#[derive(Default)]
struct Rate {
    bucket: i64,
    count: u64,
    errors: u64,
    /// Completed buckets, and their totals, for the mean.
    buckets: u64,
    total: u64,
    total_errors: u64,
    top_client: HashMap<IpAddr, u64>,
}

/// Objects tracked per endpoint, at most.
const MAX_OBJECTS: usize = 4096;

/// One endpoint's objects: each with the first few principals that used it, and how many were
/// used by one principal only (kept as principals are added: counting them on every new share
/// walked up to a thousand entries each time).
#[derive(Default)]
struct EndpointObjects {
    users: HashMap<u64, Vec<u64>>,
    private: usize,
}

/// The detectors' state.
#[derive(Default)]
pub struct Behavior {
    pub thresholds: Thresholds,
    /// Seeds the keys of the two per-client maps below, which hold 64-bit hashes of (client,
    /// endpoint) and (client, host) rather than owned strings: a lookup then touches no key
    /// memory, where the inventory thread otherwise waits on a cache miss per string.
    keys: foldhash::fast::RandomState,
    pairs: HashMap<u64, PairState>,
    clients: HashMap<u64, ClientState>,
    /// What is kept per endpoint, by the endpoint's keyed hash (`endpoint_id`): one hash of the
    /// key and one lookup a request, not one per detector.
    endpoints: HashMap<u64, EndpointState>,
    /// Objects of others read, per (principal, endpoint) (hashed with `keys`): principals, not
    /// addresses, since many users can share one address.
    foreign: HashMap<u64, Shared>,
    /// The last client address of each principal, to name it in alerts raised by others' requests.
    principal_client: HashMap<u64, IpAddr>,
    /// Principals seen using administrative endpoints: their reads of others' objects are
    /// their role, not a bypass.
    privileged: BTreeSet<u64>,
    /// Clients already identified as scanners: their misses are not also enumeration.
    scanners: BTreeSet<std::net::IpAddr>,
}

/// The detectors' state for one endpoint.
struct EndpointState {
    /// Whether it takes logins ([`login_like`]), worked out once: lower-casing its path and a
    /// dozen searches in it were a fifth of this detector's time.
    login: bool,
    rate: Rate,
    /// The objects used and by whom (BOLA).
    objects: EndpointObjects,
}

fn alert(
    obs: &Observation,
    key: &EndpointKey,
    kind: &str,
    subtype: Option<&str>,
    severity: Severity,
    title: String,
    evidence: String,
) -> Alert {
    let mut a = Alert::occurrence(key, &obs.client.to_string(), obs.ts, kind, subtype, severity, title, evidence);
    a.example = Some(crate::alert::Exchange::of(obs, key));
    a
}

/// Whether [`Behavior`] may read this transaction's bodies: a POST that carries credentials (the
/// brute-force check counts the same answer to such requests on a login endpoint). No other
/// transaction's bodies are read once it is analysed, so a flow worker frees them at once.
pub fn reads_bodies(obs: &Observation) -> bool {
    obs.method.eq_ignore_ascii_case("POST") && sends_credentials(obs)
}

/// A request body, or an `Authorization` header (logouts also answer the same every time, but
/// send no credentials).
fn sends_credentials(obs: &Observation) -> bool {
    !obs.request_body.is_empty() || obs.request_header("authorization").is_some()
}

fn login_like(key: &EndpointKey) -> bool {
    if key.method != "POST" {
        return false;
    }
    let p = key.path.to_ascii_lowercase();
    ["login", "signin", "sign_in", "sign-in", "auth", "token", "session", "oauth"].iter().any(|w| p.contains(w))
        && !["logout", "signout", "sign_out", "sign-out"].iter().any(|w| p.contains(w))
}

/// Identifies the values of the template's parameters in this request's path (a hash of them
/// joined by `/`); `None` when the template has no parameter.
fn param_values(path: &str, template: &str) -> Option<u64> {
    let mut hash = None;
    let values = template.split('/').filter(|s| !s.is_empty()).zip(path.split('/').filter(|s| !s.is_empty()));
    for (_, value) in values.filter(|(t, _)| t.starts_with('{')) {
        hash = Some(match hash {
            None => stable_hash(value.as_bytes()),
            Some(h) => stable_hash_more(stable_hash_more(h, b"/"), value.as_bytes()),
        });
    }
    hash
}

impl Behavior {
    pub fn new(thresholds: Thresholds) -> Behavior {
        Behavior { thresholds, ..Behavior::default() }
    }

    /// Keeps the maps within `max_entries` by forgetting the least recently seen half.
    fn bound(&mut self) {
        let max = self.thresholds.max_entries.max(16);
        if self.pairs.len() > max {
            let mut times: Vec<i64> = self.pairs.values().map(|p| p.last_seen).collect();
            times.sort_unstable();
            if let Some(&cut) = times.get(times.len() / 2) {
                self.pairs.retain(|_, p| p.last_seen > cut);
            }
        }
        if self.clients.len() > max {
            let mut times: Vec<i64> = self.clients.values().map(|c| c.last_seen).collect();
            times.sort_unstable();
            if let Some(&cut) = times.get(times.len() / 2) {
                self.clients.retain(|_, c| c.last_seen > cut);
            }
        }
        if self.endpoints.len() > max {
            self.endpoints.clear();
        }
        if self.foreign.len() > max {
            self.foreign.clear();
        }
        if self.privileged.len() > max {
            self.privileged.clear();
        }
        if self.principal_client.len() > max {
            self.principal_client.clear();
        }
        if self.scanners.len() > max {
            self.scanners.clear();
        }
    }

    /// Whether the client sending `obs` is judged a scanner: by its user agent, or by the burst
    /// of missing paths it asked for already. Its requests then shape nothing in the inventory.
    pub fn is_scanner(&self, obs: &Observation) -> bool {
        self.is_scanner_as(obs.client, scanner_tool(obs))
    }

    /// [`Behavior::is_scanner`] with the request's [`scanner_tool`] worked out already (on a
    /// flow worker).
    pub fn is_scanner_as(&self, client: std::net::IpAddr, tool: Option<&'static str>) -> bool {
        tool.is_some() || self.scanners.contains(&client)
    }

    /// Looks at a request that probed `path` on `host` (no route is known for it): only the
    /// scanner detectors see it.
    pub fn observe_probe(&mut self, obs: &Observation, host: &str, path: &str) -> Vec<Alert> {
        let mut out = Vec::new();
        self.observe_scanning(obs, host, path, true, scanner_tool(obs), &mut out);
        self.bound();
        out
    }

    /// Scanners: by user agent, and by a burst of 404s over many paths (distinct `path`s). One
    /// alert per client and host, whatever gave it away, with its probes of the host.
    fn observe_scanning(
        &mut self,
        obs: &Observation,
        host: &str,
        path: &str,
        probe: bool,
        tool: Option<&'static str>,
        out: &mut Vec<Alert>,
    ) {
        let t = &self.thresholds;
        let status = obs.response.as_ref().map(|r| r.status);
        // At most u32::MAX seconds: far below i64::MAX microseconds.
        let window = i64::from(t.window_secs).saturating_mul(1_000_000);
        // Packet times are input: a window reaching before i64::MIN starts at i64::MIN.
        let window_start = obs.ts.saturating_sub(window);
        let id = self.keys.hash_one((&obs.client, host));
        if !probe && tool.is_none() && status != Some(404) {
            // Nothing a scanner detector counts: a client that never probed, missed or named a
            // tool gets no entry (behind a busy service, that is almost every client).
            if let Some(state) = self.clients.get_mut(&id) {
                state.last_seen = obs.ts;
            }
            return;
        }
        let state = self.clients.entry(id).or_default();
        state.last_seen = obs.ts;
        if probe {
            add_count(&mut state.probes, 1);
            if state.examples.len() < SCANNER_EXAMPLES {
                let example = crate::catalog::probe_example(path);
                if !state.examples.contains(&example) {
                    state.examples.push(example);
                }
            }
        }
        let mut fired = false;
        if let Some(tool) = tool {
            state.tool = Some(tool);
            fired = true;
        }
        if status == Some(404) {
            // Distinct paths, not values: walking one endpoint's ids is enumeration.
            let window = state.not_found.get_or_insert_with(Box::default);
            let distinct = window.push(obs.ts, stable_hash(path.as_bytes()), window_start);
            state.burst = state.burst.max(distinct);
            fired |= distinct >= t.scanner_404_paths;
        }
        if !fired {
            return;
        }
        let mut reasons = Vec::new();
        if let Some(tool) = state.tool {
            reasons.push(format!("user agent names {tool}"));
        }
        if state.burst >= t.scanner_404_paths {
            reasons.push(format!("{} distinct paths answered 404 within {} s", state.burst, t.window_secs));
        }
        let examples =
            if state.examples.is_empty() { String::new() } else { format!(", e.g. {}", state.examples.join(" ")) };
        let title = match state.tool {
            Some(tool) => format!("scanner ({tool}) against {host}"),
            None => format!("scanner against {host} (many missing paths)"),
        };
        let evidence = format!("{}; {} probes of paths no route answered{examples}", reasons.join("; "), state.probes);
        self.scanners.insert(obs.client);
        let host_key = EndpointKey { host: host.to_string(), method: "*".into(), path: "*".into() };
        out.push(alert(obs, &host_key, "scanner", None, Severity::Medium, title, evidence));
    }

    /// Looks at one request on the endpoint `key`; returns the alerts it raises (with `count` 1,
    /// to be aggregated).
    pub fn observe(&mut self, obs: &Observation, key: &EndpointKey) -> Vec<Alert> {
        let path = obs.normalized_path();
        self.observe_as(obs, key, &path, crate::auth::principal(&obs.request_headers), scanner_tool(obs))
    }

    /// [`Behavior::observe`] with the request's normalised path (the one `key`'s template was
    /// made from), its principal (`auth::principal`) and [`scanner_tool`] worked out already
    /// (on a flow worker).
    pub fn observe_as(
        &mut self,
        obs: &Observation,
        key: &EndpointKey,
        path: &str,
        principal: Option<u64>,
        tool: Option<&'static str>,
    ) -> Vec<Alert> {
        let t = self.thresholds;
        let mut out = Vec::new();
        let status = obs.response.as_ref().map(|r| r.status);
        let window = i64::from(t.window_secs).saturating_mul(1_000_000);
        let window_start = obs.ts.saturating_sub(window);
        self.observe_scanning(obs, &key.host, &key.path, false, tool, &mut out);
        // Seeded per process: no crafted key can share another endpoint's state.
        let endpoint_id = self.keys.hash_one(key);
        // Values are read from the path the template was made from, segment for segment.
        let values = param_values(path, &key.path);
        let is_scanner = self.scanners.contains(&obs.client);
        // Only enumeration (a path with parameters) and brute force (a login) need a pair's state:
        // other endpoints make no entry, however many clients call them.
        let endpoint = self.endpoints.entry(endpoint_id).or_insert_with(|| EndpointState {
            login: login_like(key),
            rate: Rate::default(),
            objects: EndpointObjects::default(),
        });
        let login = endpoint.login;
        if values.is_some() || login {
            let id = self.keys.hash_one((&obs.client, endpoint_id));
            let pair = self.pairs.entry(id).or_default();
            pair.last_seen = obs.ts;
            add_count(&mut pair.requests, 1);
            // Enumeration: many distinct values of a path parameter, mostly refused or missing.
            if let Some(values) = values {
                pair.values.insert(values, 4096);
                if matches!(status, Some(404 | 403)) {
                    add_count(&mut pair.not_found, 1);
                }
                let share = pair.not_found as f64 / pair.requests as f64;
                if !is_scanner
                    && pair.values.len() >= t.enumeration_values
                    && share >= t.enumeration_error_share
                    && matches!(status, Some(404 | 403))
                {
                    out.push(alert(
                        obs,
                        key,
                        "enumeration",
                        None,
                        Severity::Medium,
                        format!("enumeration of {} {} on {}", key.method, key.path, key.host),
                        format!("{} distinct values, {:.0}% answered 404/403", pair.values.len(), share * 100.0),
                    ));
                }
            }
            // Brute force: repeated failures on a login endpoint (401/403, or the same failure body).
            if login {
                let login = pair.login.get_or_insert_with(Box::default);
                // The same answer again and again to requests that carry credentials: a failure
                // page served with 200 (`reads_bodies` keeps these bodies).
                let same_body = obs.response.as_ref().filter(|_| sends_credentials(obs)).map_or(0, |r| {
                    let n = login.failure_bodies.entry(stable_hash(&r.body)).or_default();
                    add_count(n, 1);
                    *n
                });
                if login.failure_bodies.len() > 64 {
                    login.failure_bodies.clear();
                }
                if matches!(status, Some(401 | 403)) {
                    login.failures.push_back(obs.ts);
                }
                while login.failures.front().is_some_and(|ts| *ts < window_start) || login.failures.len() > 4096 {
                    login.failures.pop_front();
                }
                let threshold = t.brute_force_failures;
                if (matches!(status, Some(401 | 403)) && login.failures.len() >= threshold)
                    || same_body >= threshold as u64
                {
                    let evidence = if login.failures.len() >= threshold {
                        format!("{} failed attempts within {} s", login.failures.len(), t.window_secs)
                    } else {
                        format!("the same response body {same_body} times")
                    };
                    out.push(alert(
                        obs,
                        key,
                        "brute_force",
                        None,
                        Severity::High,
                        format!("brute force on {} {} on {}", key.method, key.path, key.host),
                        evidence,
                    ));
                }
            }
        }
        // BOLA: principals that share many objects with other principals on an endpoint whose
        // objects are otherwise private (each used by one principal). Sharing is counted for both
        // sides, whoever came first, so an attacker who reads an object before its owner does
        // still accumulates; shared resources (a product read by everyone) are not evidence.
        if let (Some(who), Some(object), Some(200..=299), "GET") = (principal, values, status, obs.method.as_str()) {
            self.principal_client.insert(who, obs.client);
            let EndpointObjects { users: by_object, private } = &mut endpoint.objects;
            let mut newly_shared: Vec<u64> = Vec::new();
            if by_object.len() < MAX_OBJECTS || by_object.contains_key(&object) {
                let users = by_object.entry(object).or_default();
                if !users.contains(&who) && users.len() < 4 {
                    users.push(who);
                    match users.len() {
                        1 => *private = private.saturating_add(1),
                        n => {
                            if n == 2 {
                                *private = private.saturating_sub(1);
                            }
                            newly_shared = users.clone();
                        }
                    }
                }
            }
            if !newly_shared.is_empty() {
                // Both at most MAX_OBJECTS.
                let total = by_object.len();
                let private_style = total >= 10 && private.saturating_mul(10) >= total.saturating_mul(7);
                for &q in &newly_shared {
                    let shared = self.foreign.entry(self.keys.hash_one((q, endpoint_id))).or_default();
                    shared.objects.insert(object, 4096);
                    for p in newly_shared.iter().filter(|p| **p != q) {
                        shared.partners.insert(*p, MAX_PARTNERS);
                    }
                    // The owner of a few objects shares them with one other principal; a
                    // principal using objects of several others is the one reaching across.
                    if private_style
                        && shared.objects.len() >= t.bola_objects
                        && shared.partners.len() >= 2
                        && !self.privileged.contains(&q)
                    {
                        let mut a = alert(obs, key, "bola", None, Severity::High, format!("object-level authorisation bypass on {} {} on {}", key.method, key.path, key.host), format!("one principal used {} objects of {} other principals, on an endpoint whose objects are private", shared.objects.len(), shared.partners.len()));
                        a.client = self.principal_client.get(&q).map(IpAddr::to_string).or(a.client);
                        out.push(a);
                    }
                }
            }
        }
        // Rate and error spikes against this endpoint's own baseline (10-second buckets).
        let rate = &mut endpoint.rate;
        let bucket = obs.ts.div_euclid(BUCKET_MICROS);
        if bucket != rate.bucket {
            if rate.count > 0 {
                let empty_buckets = bucket.saturating_sub(rate.bucket).saturating_sub(1).clamp(0, 1000) as u64;
                add_count(&mut rate.buckets, empty_buckets.saturating_add(1));
                add_count(&mut rate.total, rate.count);
                add_count(&mut rate.total_errors, rate.errors);
            }
            rate.bucket = bucket;
            rate.count = 0;
            rate.errors = 0;
            rate.top_client.clear();
        }
        add_count(&mut rate.count, 1);
        if status.is_some_and(|s| s >= 500) {
            add_count(&mut rate.errors, 1);
        }
        if rate.top_client.len() < 1024 {
            add_count(rate.top_client.entry(obs.client).or_default(), 1);
        }
        if rate.buckets >= BASELINE_BUCKETS {
            let mean = rate.total as f64 / rate.buckets as f64;
            if rate.count as f64 >= (mean * t.rate_multiplier).max(t.rate_min as f64)
                && rate.top_client.get(&obs.client).copied().unwrap_or(0).saturating_mul(2) >= rate.count
            {
                out.push(alert(
                    obs,
                    key,
                    "rate_anomaly",
                    None,
                    Severity::Medium,
                    format!("request rate spike on {} {} on {}", key.method, key.path, key.host),
                    format!("{} requests in 1 s against a mean of {mean:.2}", rate.count),
                ));
            }
            let mean_errors = rate.total_errors as f64 / rate.buckets as f64;
            if status.is_some_and(|s| s >= 500)
                && rate.errors as f64 >= (mean_errors * t.error_multiplier).max(t.error_min as f64)
            {
                out.push(alert(
                    obs,
                    key,
                    "error_spike",
                    None,
                    Severity::Medium,
                    format!("server error spike on {} {} on {}", key.method, key.path, key.host),
                    format!("{} errors in 1 s against a mean of {mean_errors:.2}", rate.errors),
                ));
            }
        }
        self.bound();
        out
    }
}

#[cfg(test)]
mod tests;
