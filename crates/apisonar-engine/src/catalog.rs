//! The endpoint catalog: one record per (host, method, path template), built from observations
//! and merged across runs.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::auth::{self, AuthScheme};
use crate::json::Json;
use crate::observation::Observation;
use crate::params::{decoded_pairs, multipart_fields, typed, ParamInfo};
use crate::schema::Schema;
use crate::segment::SegmentKind;
use crate::sensitive::{self, Finding};
use crate::stats::{add_count, ClientSet, Histogram, SizeStats};
use crate::template::{Shape, TemplateConfig, Templated, Templater};

mod apart;
mod news;
mod sampling;

#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use sampling::check_record_templates;
pub use sampling::ResponseSampler;

pub use apart::{KeptApart, MAX_KEPT_APART_PER_HOST};
pub use news::{new_since, Appearance};

/// Bodies are parsed for schemas on the first `SCHEMA_FULL_SAMPLES` hits of an endpoint, then
/// on one hit in `SCHEMA_SAMPLE_EVERY`: schemas settle quickly, and parsing is the engine's cost.
const SCHEMA_FULL_SAMPLES: u64 = 64;
const SCHEMA_SAMPLE_EVERY: u64 = 16;

/// Most parameters (query, form) tracked per endpoint, and statuses with their own schema.
pub(crate) const MAX_PARAMS: usize = 64;
pub(crate) const MAX_SCHEMA_STATUSES: usize = 16;

/// Identifies an endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EndpointKey {
    pub host: String,
    pub method: String,
    pub path: String,
}

/// An [`EndpointKey`] made of borrowed parts, to look one up without building it. It hashes as
/// the key does (the derived `Hash` writes each field as a `str`).
#[derive(Hash)]
struct KeyParts<'a> {
    host: &'a str,
    method: &'a str,
    path: &'a str,
}

impl hashbrown::Equivalent<EndpointKey> for KeyParts<'_> {
    fn equivalent(&self, key: &EndpointKey) -> bool {
        self.path == key.path && self.method == key.method && self.host == key.host
    }
}

/// Sensitive data seen at one location of an endpoint's messages.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensitiveField {
    pub classes: BTreeMap<sensitive::Class, u64>,
    pub mask: String,
    /// When each class was first seen here (microseconds since the epoch, packet time). A class
    /// without one (a record written before this was kept) is as old as its endpoint.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub first_seen: BTreeMap<sensitive::Class, i64>,
}

impl SensitiveField {
    /// `n` more values of `class`, at `ts`.
    pub fn add(&mut self, class: sensitive::Class, n: u64, ts: i64) {
        let known = self.classes.contains_key(&class).then(|| self.first_seen.get(&class).copied().unwrap_or(0));
        self.first_seen.insert(class, known.map_or(ts, |t| t.min(ts)));
        add_count(self.classes.entry(class).or_default(), n);
    }

    /// Folds another record of the same location into this one (its mask is the newer).
    pub fn merge(&mut self, o: &SensitiveField) {
        for (class, n) in &o.classes {
            let theirs = o.first_seen.get(class).copied().unwrap_or(0);
            let earliest = match self.classes.get_mut(class) {
                Some(count) => {
                    add_count(count, *n);
                    self.first_seen.get(class).copied().unwrap_or(0).min(theirs)
                }
                None => {
                    self.classes.insert(*class, *n);
                    theirs
                }
            };
            self.first_seen.insert(*class, earliest);
        }
        self.mask.clone_from(&o.mask);
    }
}

/// Most sensitive-data locations tracked per endpoint.
pub(crate) const MAX_SENSITIVE_LOCATIONS: usize = 64;

/// What one observation produced: the endpoint it was filed under and the sensitive data in it.
#[derive(Debug, Default)]
pub struct Recorded {
    /// The endpoint; for a probe, the host as a whole (`*`, `*`).
    pub key: EndpointKey,
    pub findings: Vec<Finding>,
    /// A probe: a request for a path no route is known for, with no evidence of one (an error
    /// answer, or a scanner's request). Its normalised path; it made no endpoint.
    pub probe: Option<String>,
    /// Who the request speaks for ([`auth::principal`]).
    pub principal: Option<u64>,
    /// The request asked a GraphQL schema for itself (introspection).
    pub introspection: bool,
}

/// Whether an answer shows that a route exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Evidence {
    /// A success or a redirect.
    Route,
    /// An authentication challenge (401, 403): a route if it is under an established prefix.
    Challenge,
    /// No answer was captured: evidence only on a host that never answers in this capture (a
    /// one-way tap, or a mirror that loses the return path), where requests are all there is.
    Unanswered,
    /// An error (404, 405, 400, 422, 5xx...).
    Nothing,
}

/// What [`Catalog::hold_check`] decided.
pub enum HoldCheck {
    /// Hold the transaction back a little (see [`Catalog::is_tentative`]).
    Hold,
    /// Record it now, on this route (`None`: a cap keeps it out; the record counts that).
    Merge(Option<Routed>),
}

/// A route found by [`Catalog::hold_check`], for [`Catalog::record_routed`].
pub struct Routed(Route);

/// Where an observation goes.
enum Route {
    /// A route exists: template the path (learning from it) and count it there.
    New,
    /// A hit of an endpoint the catalog has, under this template.
    Known(Templated),
    /// No route known and no evidence of one.
    Probe,
}

fn evidence(obs: &Observation) -> Evidence {
    match obs.response.as_ref().map(|r| r.status) {
        None => Evidence::Unanswered,
        // 101: the server switched protocols (WebSocket) for this very path.
        Some(101 | 200..=399) => Evidence::Route,
        Some(401 | 403) => Evidence::Challenge,
        Some(_) => Evidence::Nothing,
    }
}

/// How often an auth scheme was seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthCount {
    #[serde(flatten)]
    pub scheme: AuthScheme,
    pub count: u64,
}

/// Everything known about one endpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub host: String,
    pub method: String,
    /// Path template, parameters written `{name}`.
    pub path: String,
    pub hits: u64,
    /// Microseconds since the Unix epoch (packet time).
    pub first_seen: i64,
    pub last_seen: i64,
    pub clients: ClientSet,
    pub status_codes: BTreeMap<u16, u64>,
    /// From the first request byte to the last response byte, microseconds.
    pub latency: Histogram,
    pub request_bytes: SizeStats,
    pub response_bytes: SizeStats,
    pub request_content_types: BTreeMap<String, u64>,
    pub response_content_types: BTreeMap<String, u64>,
    pub path_params: BTreeMap<String, ParamInfo>,
    pub query_params: BTreeMap<String, ParamInfo>,
    pub form_fields: BTreeMap<String, ParamInfo>,
    pub request_schema: Option<Schema>,
    /// JSON response schemas by status code.
    pub response_schemas: BTreeMap<u16, Schema>,
    pub auth: Vec<AuthCount>,
    pub cleartext: u64,
    pub encrypted: u64,
    /// Hits by protocol (`Protocol::as_str`, and `grpc` for gRPC calls). Empty in records from
    /// before HTTP/2 was read, which were all HTTP/1.
    #[serde(default)]
    pub protocols: BTreeMap<String, u64>,
    /// For a gRPC method: statuses and message counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<GrpcStats>,
    /// GraphQL operations and JSON-RPC (MCP) methods called through this endpoint, by label
    /// (`query GetUser`, `tools/call get_weather`), at most `MAX_OPERATIONS_PER_ENDPOINT`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub operations: BTreeMap<String, OperationStats>,
    /// For a WebSocket endpoint (its upgrade request): the messages that followed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub websocket: Option<WebSocketStats>,
    /// Sensitive data by location (`request.json.password`): classes with counts and the last
    /// mask. Never the values.
    #[serde(default)]
    pub sensitive: BTreeMap<String, SensitiveField>,
    /// Why the path was templated the way it is.
    pub why: Vec<String>,
    /// Hits per hour (key: hours since the epoch, packet time), the newest `HOURLY_BUCKETS`.
    #[serde(default)]
    pub hourly: BTreeMap<i64, u64>,
    /// Set when a spec template matches this path through a parameter but the answers differ:
    /// an undocumented route kept apart from the documented one (see `catalog/apart.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_apart: Option<KeptApart>,
}

/// Operations kept per endpoint: a client inventing operation names cannot grow one without end.
pub const MAX_OPERATIONS_PER_ENDPOINT: usize = 256;
/// Root fields and variables kept per operation.
const MAX_OPERATION_FIELDS: usize = 32;

/// What the calls of one GraphQL operation or JSON-RPC method showed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationStats {
    /// `graphql`, `jsonrpc` or `mcp`.
    pub style: String,
    /// `query`, `mutation`, `subscription`, `persisted`; `request`, `notification`.
    pub kind: String,
    pub hits: u64,
    /// Calls the answer said failed (GraphQL `errors`, JSON-RPC `error`).
    pub errors: u64,
    /// Calls that asked for the GraphQL schema.
    pub introspection: u64,
    pub root_fields: BTreeSet<String>,
    /// Variable name to declared type.
    pub variables: BTreeMap<String, String>,
    pub first_seen: i64,
    pub last_seen: i64,
}

impl OperationStats {
    pub fn merge(&mut self, o: &OperationStats) {
        merge_seen((&mut self.first_seen, &mut self.last_seen, self.hits), (o.first_seen, o.last_seen, o.hits));
        add_count(&mut self.hits, o.hits);
        add_count(&mut self.errors, o.errors);
        add_count(&mut self.introspection, o.introspection);
        self.keep_fields(&o.root_fields, &o.variables);
    }

    fn add(&mut self, op: &crate::operations::Operation, ts: i64) {
        if self.hits == 0 {
            self.style = op.style.map_or("", |s| s.as_str()).to_string();
            self.kind = op.kind.to_string();
        }
        merge_seen((&mut self.first_seen, &mut self.last_seen, self.hits), (ts, ts, 1));
        add_count(&mut self.hits, 1);
        add_count(&mut self.errors, u64::from(op.error));
        add_count(&mut self.introspection, u64::from(op.introspection));
        self.keep_fields(&op.root_fields, op.variables.iter().map(|(n, t)| (n, t)));
    }

    /// Root fields and variable types, within `MAX_OPERATION_FIELDS` each (a known variable
    /// takes its latest type); nothing is copied that is already there.
    fn keep_fields<'a>(
        &mut self,
        root_fields: impl IntoIterator<Item = &'a String>,
        variables: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) {
        for f in root_fields {
            if self.root_fields.len() < MAX_OPERATION_FIELDS && !self.root_fields.contains(f) {
                self.root_fields.insert(f.clone());
            }
        }
        for (n, t) in variables {
            if (self.variables.len() < MAX_OPERATION_FIELDS || self.variables.contains_key(n))
                && self.variables.get(n) != Some(t)
            {
                self.variables.insert(n.clone(), t.clone());
            }
        }
    }
}

/// First and last seen of a record with `hits` so far, merged with another's (`first`, `last`,
/// `hits`): a record without hits takes the other's first sighting.
fn merge_seen(mine: (&mut i64, &mut i64, u64), other: (i64, i64, u64)) {
    let (first, last, hits) = mine;
    let (o_first, o_last, o_hits) = other;
    if hits == 0 {
        *first = o_first;
    } else if o_hits > 0 {
        *first = (*first).min(o_first);
    }
    *last = (*last).max(o_last);
}

/// The messages of an endpoint's WebSocket connections.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WebSocketStats {
    pub client_messages: u64,
    pub server_messages: u64,
    /// Messages by kind (`text`, `binary`, `close`, `ping`, `pong`).
    pub kinds: BTreeMap<String, u64>,
    /// Payload bytes on the wire.
    pub bytes: u64,
    /// Schemas of the JSON text messages each side sent.
    pub client_schema: Option<Schema>,
    pub server_schema: Option<Schema>,
    pub last_seen: i64,
}

impl WebSocketStats {
    pub fn merge(&mut self, o: &WebSocketStats) {
        add_count(&mut self.client_messages, o.client_messages);
        add_count(&mut self.server_messages, o.server_messages);
        add_counts(&mut self.kinds, &o.kinds);
        add_count(&mut self.bytes, o.bytes);
        merge_schema(&mut self.client_schema, o.client_schema.as_ref());
        merge_schema(&mut self.server_schema, o.server_schema.as_ref());
        self.last_seen = self.last_seen.max(o.last_seen);
    }
}

/// A `101` to `Upgrade: websocket`: the endpoint is a WebSocket's.
fn opens_websocket(obs: &Observation) -> bool {
    obs.response.as_ref().is_some_and(|r| r.status == 101)
        && obs.request_header("upgrade").is_some_and(|u| u.trim().eq_ignore_ascii_case("websocket"))
}

fn merge_schema(into: &mut Option<Schema>, one: Option<&Schema>) {
    merge_option(into, one, Schema::merge);
}

/// Merges `from` into `into`, or takes a copy of it when `into` has none.
fn merge_option<T: Clone>(into: &mut Option<T>, from: Option<&T>, merge: impl Fn(&mut T, &T)) {
    match (into.as_mut(), from) {
        (Some(a), Some(b)) => merge(a, b),
        (None, Some(b)) => *into = Some(b.clone()),
        _ => {}
    }
}

/// Merges `from` into `into` key by key; a key `into` lacks is added while it holds fewer than
/// `cap` (a cap reached keeps what is there and drops the new).
fn merge_capped<K: Ord + Clone, V: Clone>(
    into: &mut BTreeMap<K, V>,
    from: &BTreeMap<K, V>,
    cap: usize,
    merge: impl Fn(&mut V, &V),
) {
    for (k, v) in from {
        let room = into.len() < cap;
        match into.get_mut(k) {
            Some(mine) => merge(mine, v),
            None if room => {
                into.insert(k.clone(), v.clone());
            }
            None => {}
        }
    }
}

/// What a worker learns from one WebSocket message alone.
#[derive(Clone, Debug)]
pub struct MessageFacts {
    from_client: bool,
    kind: &'static str,
    wire_len: u64,
    schema: Option<Schema>,
    findings: Vec<Finding>,
}

impl MessageFacts {
    /// A text message is read as JSON when it parses (its schema and sensitive values, at
    /// `message.client.json...`), else as one text value (`message.client.text`).
    pub fn new(obs: &crate::observation::MessageObservation, key: &sensitive::MaskKey) -> MessageFacts {
        let side = if obs.from_client { "message.client" } else { "message.server" };
        let mut findings = sensitive::Findings::new(key);
        let mut schema = None;
        if obs.kind == "text" {
            // Read as the bodies are: strings borrowed, the documents `Value` reads.
            match Json::parse(&obs.payload) {
                Some(v) => {
                    sensitive::scan_json(&v, &format!("{side}.json"), &mut findings);
                    schema = Some(Schema::of_at(&v, obs.ts));
                }
                None => {
                    let text = serde_json::Value::String(String::from_utf8_lossy(&obs.payload).into_owned());
                    sensitive::scan_json(&text, &format!("{side}.text"), &mut findings);
                }
            }
        }
        MessageFacts {
            from_client: obs.from_client,
            kind: obs.kind,
            wire_len: obs.wire_len,
            schema,
            findings: findings.into_vec(),
        }
    }

    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }
}

/// What the gRPC calls of one method showed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrpcStats {
    /// Calls by `grpc-status` name (`OK`, `NOT_FOUND`...; `none` when the answer had none).
    pub statuses: BTreeMap<String, u64>,
    /// The most messages seen in one request and in one response: more than one makes the
    /// method client-, server- or bidirectional streaming.
    pub max_request_messages: u32,
    pub max_response_messages: u32,
}

impl GrpcStats {
    pub fn merge(&mut self, o: &GrpcStats) {
        add_counts(&mut self.statuses, &o.statuses);
        self.max_request_messages = self.max_request_messages.max(o.max_request_messages);
        self.max_response_messages = self.max_response_messages.max(o.max_response_messages);
    }

    /// The streaming kind the traffic shows: `unary`, `client_streaming`, `server_streaming`
    /// or `bidi_streaming` (a stream that carried one message looks unary).
    pub fn kind(&self) -> &'static str {
        match (self.max_request_messages > 1, self.max_response_messages > 1) {
            (false, false) => "unary",
            (true, false) => "client_streaming",
            (false, true) => "server_streaming",
            (true, true) => "bidi_streaming",
        }
    }
}

/// Hours of per-endpoint traffic history kept (a week).
pub const HOURLY_BUCKETS: usize = 168;

const MICROS_PER_HOUR: i64 = 3_600_000_000;

fn count_hour(hourly: &mut BTreeMap<i64, u64>, hour: i64, n: u64) {
    add_count(hourly.entry(hour).or_insert(0), n);
    while hourly.len() > HOURLY_BUCKETS {
        hourly.pop_first();
    }
}

impl Endpoint {
    /// Counts sensitive findings at their locations (new locations while there is room), each
    /// location keeping the latest mask.
    fn add_findings(&mut self, findings: &[sensitive::Finding], ts: i64) {
        for f in findings {
            let room = self.sensitive.len() < MAX_SENSITIVE_LOCATIONS;
            let field = match self.sensitive.get_mut(&*f.location) {
                Some(field) => field,
                None if room => self.sensitive.entry(f.location.to_string()).or_default(),
                None => continue,
            };
            field.add(f.class, u64::from(f.count), ts);
            // The mask's buffer is kept: most findings repeat the mask they had.
            if *field.mask != *f.mask {
                field.mask.clear();
                field.mask.push_str(&f.mask);
            }
        }
    }

    /// The top-level fields of its successful (2xx) JSON answers.
    pub fn success_fields(&self) -> BTreeSet<String> {
        self.response_schemas
            .iter()
            .filter(|(status, _)| (200..300).contains(*status))
            .flat_map(|(_, s)| s.top_level_fields().cloned())
            .collect()
    }

    pub fn key(&self) -> EndpointKey {
        EndpointKey { host: self.host.clone(), method: self.method.clone(), path: self.path.clone() }
    }

    /// Folds another record of the same endpoint (another run, or a renamed template) into this.
    pub fn merge(&mut self, o: &Endpoint) {
        if self.kept_apart.is_none() {
            self.kept_apart.clone_from(&o.kept_apart);
        }
        merge_seen((&mut self.first_seen, &mut self.last_seen, self.hits), (o.first_seen, o.last_seen, o.hits));
        add_count(&mut self.hits, o.hits);
        for (hour, n) in &o.hourly {
            count_hour(&mut self.hourly, *hour, *n);
        }
        self.clients.merge(&o.clients);
        add_counts(&mut self.status_codes, &o.status_codes);
        self.latency.merge(&o.latency);
        self.request_bytes.merge(&o.request_bytes);
        self.response_bytes.merge(&o.response_bytes);
        add_counts(&mut self.request_content_types, &o.request_content_types);
        add_counts(&mut self.response_content_types, &o.response_content_types);
        merge_params(&mut self.path_params, &o.path_params);
        merge_params(&mut self.query_params, &o.query_params);
        merge_params(&mut self.form_fields, &o.form_fields);
        match (&mut self.request_schema, &o.request_schema) {
            (Some(a), Some(b)) => a.merge(b),
            (None, Some(b)) => self.request_schema = Some(b.clone()),
            _ => {}
        }
        merge_capped(&mut self.response_schemas, &o.response_schemas, MAX_SCHEMA_STATUSES, Schema::merge);
        for a in &o.auth {
            self.count_auth(&a.scheme, a.count);
        }
        add_count(&mut self.cleartext, o.cleartext);
        add_count(&mut self.encrypted, o.encrypted);
        add_counts(&mut self.protocols, &o.protocols);
        merge_capped(&mut self.operations, &o.operations, MAX_OPERATIONS_PER_ENDPOINT, OperationStats::merge);
        merge_option(&mut self.websocket, o.websocket.as_ref(), WebSocketStats::merge);
        merge_option(&mut self.grpc, o.grpc.as_ref(), GrpcStats::merge);
        merge_capped(&mut self.sensitive, &o.sensitive, MAX_SENSITIVE_LOCATIONS, SensitiveField::merge);
        for w in &o.why {
            if !self.why.contains(w) && self.why.len() < 16 {
                self.why.push(w.clone());
            }
        }
    }

    fn count_auth(&mut self, scheme: &AuthScheme, n: u64) {
        let room = self.auth.len() < 16;
        match self.auth.iter_mut().find(|a| &a.scheme == scheme) {
            Some(a) => add_count(&mut a.count, n),
            None if room => self.auth.push(AuthCount { scheme: scheme.clone(), count: n }),
            None => {}
        }
    }

    /// Latency percentile in microseconds.
    pub fn latency_quantile(&self, q: f64) -> Option<i64> {
        self.latency.quantile(q)
    }
}

fn add_counts<K: Ord + Clone>(into: &mut BTreeMap<K, u64>, from: &BTreeMap<K, u64>) {
    for (k, n) in from {
        add_count(into.entry(k.clone()).or_default(), *n);
    }
}

fn merge_params(into: &mut BTreeMap<String, ParamInfo>, from: &BTreeMap<String, ParamInfo>) {
    merge_capped(into, from, MAX_PARAMS, ParamInfo::merge);
}

fn content_type(headers: &crate::observation::Headers) -> Option<Cow<'static, str>> {
    /// Types most messages carry: named without a copy.
    const COMMON: [&str; 8] = [
        "application/json",
        "text/html",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "application/grpc",
        "text/event-stream",
        "application/octet-stream",
    ];
    let v = headers.get("content-type")?;
    let main = crate::observation::before_any(v, b";").trim();
    let main = crate::observation::first_chars(main, 100);
    if main.is_empty() {
        return None;
    }
    Some(match COMMON.iter().find(|c| c.eq_ignore_ascii_case(main)) {
        Some(common) => Cow::Borrowed(*common),
        None => Cow::Owned(main.to_ascii_lowercase()),
    })
}

/// An answer's body as a value, and where its findings are said to be: gRPC messages, the JSON
/// data of Server-Sent Events, or JSON (its strings borrowed from the body: an answer analysed
/// in full holds a string for every value, and a `Value`'s map and copies were half of that
/// analysis).
fn response_value<'b>(grpc: bool, content_type: Option<&str>, body: &'b [u8]) -> Option<(Json<'b>, &'static str)> {
    if grpc {
        return crate::grpc::body_value(body).map(|v| (Json::owned(v), "response.grpc"));
    }
    if content_type == Some("text/event-stream") {
        let mut events = crate::operations::sse_values(body);
        return match events.len() {
            0 => None,
            1 => events.pop().map(|v| (Json::owned(v), "response.sse")),
            _ => Some((Json::owned(serde_json::Value::Array(events)), "response.sse")),
        };
    }
    parse_json(content_type, body).map(|v| (v, "response.json"))
}

/// A body as JSON, when it is (its strings borrowed).
fn parse_json<'b>(content_type: Option<&str>, body: &'b [u8]) -> Option<Json<'b>> {
    looks_json(content_type, body).then(|| Json::parse(body)).flatten()
}

/// Whether a body is worth parsing as JSON: its content type says so, or it opens like it.
fn looks_json(content_type: Option<&str>, body: &[u8]) -> bool {
    let looks = content_type.is_some_and(|c| c.contains("json"))
        || matches!(body.iter().find(|b| !b.is_ascii_whitespace()), Some(b'{' | b'['));
    looks && !body.is_empty()
}

/// Counts one more `key` in `counts`, copying the key only the first time it is seen.
fn count_key(counts: &mut BTreeMap<String, u64>, key: &str) {
    match counts.get_mut(key) {
        Some(n) => add_count(n, 1),
        None => {
            counts.insert(key.to_string(), 1);
        }
    }
}

/// Summarises a successful response for templating (errors say nothing about the endpoint).
fn response_shape(status: u16, content_type: Option<&str>, json: Option<&Json<'_>>) -> Option<Shape> {
    if !(200..300).contains(&status) {
        return None;
    }
    let ct_hash = crate::stats::stable_hash(content_type.unwrap_or_default().as_bytes());
    // The low bit marks shapes of JSON bodies (see `template::is_json_shape`).
    Some(match json {
        Some(v) => ((ct_hash ^ Schema::shape_of(v).rotate_left(1)) << 1) | 1,
        None => ct_hash << 1,
    })
}

/// What a batch of observations changed, for the store writer.
#[derive(Clone, Debug, Default)]
pub struct Changes {
    /// Endpoints to write (their full current record).
    pub upserts: Vec<Endpoint>,
    /// Endpoints folded into another by templating, or past retention, to delete.
    pub removed: Vec<EndpointKey>,
    /// Endpoints refiled under another key by templating (a rename or a merge), in the order it
    /// happened: whatever belongs to `from` (its alerts) now belongs to `to`.
    pub moved: Vec<EndpointMove>,
    /// Traffic over the inventory's caps since the last changes, to add to the stored counts.
    pub overflow: Vec<Overflow>,
}

/// One endpoint refiled under another key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointMove {
    pub from: EndpointKey,
    pub to: EndpointKey,
}

/// Where each moved endpoint ends up after every move in order (a chain A to B to C sends A's
/// alerts to C).
pub fn final_keys(moves: &[EndpointMove]) -> HashMap<EndpointKey, EndpointKey> {
    let mut next: HashMap<&EndpointKey, &EndpointKey> = HashMap::new();
    for m in moves {
        next.insert(&m.from, &m.to);
    }
    next.keys()
        .map(|from| {
            let mut to = *from;
            // At most one step per move: a cycle stops where it started over.
            for _ in 0..moves.len() {
                match next.get(to) {
                    Some(n) if *n != *from => to = n,
                    _ => break,
                }
            }
            ((*from).clone(), to.clone())
        })
        .filter(|(from, to)| from != to)
        .collect()
}

/// How big the inventory may grow. Over a cap, traffic is counted in an [`Overflow`] record
/// (per host, or under [`OTHER_HOSTS`] when the host itself is over the cap) instead of making
/// new records: memory stays bounded and nothing is dropped silently.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InventoryLimits {
    /// Hosts with endpoints.
    pub max_hosts: usize,
    pub max_endpoints_per_host: usize,
    /// Distinct methods per host (random methods would otherwise make endpoints of their own).
    pub max_methods_per_host: usize,
    /// Templating trie nodes per host (see `TemplateConfig::max_nodes_per_host`).
    pub max_template_nodes_per_host: usize,
    /// Server names with a TLS record.
    pub max_tls_hosts: usize,
    /// Alerts in the store.
    pub max_alerts: usize,
}

impl Default for InventoryLimits {
    fn default() -> Self {
        InventoryLimits {
            max_hosts: 5_000,
            max_endpoints_per_host: 2_000,
            max_methods_per_host: 16,
            max_template_nodes_per_host: 20_000,
            max_tls_hosts: 10_000,
            max_alerts: 50_000,
        }
    }
}

/// The overflow record of traffic on hosts beyond `max_hosts`.
pub const OTHER_HOSTS: &str = "*";

/// Why traffic was not catalogued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverflowReason {
    Hosts,
    Endpoints,
    Methods,
    TlsHosts,
    Alerts,
    /// Requests for paths with no evidence of a route (error answers, scanners): not a cap, but
    /// traffic kept out of the inventory all the same.
    Probes,
}

impl OverflowReason {
    pub const ALL: [OverflowReason; 6] = [
        OverflowReason::Hosts,
        OverflowReason::Endpoints,
        OverflowReason::Methods,
        OverflowReason::TlsHosts,
        OverflowReason::Alerts,
        OverflowReason::Probes,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OverflowReason::Hosts => "hosts",
            OverflowReason::Endpoints => "endpoints",
            OverflowReason::Methods => "methods",
            OverflowReason::TlsHosts => "tls_hosts",
            OverflowReason::Alerts => "alerts",
            OverflowReason::Probes => "probes",
        }
    }
}

/// Traffic of one host (or of `OTHER_HOSTS`) that a cap kept out of the inventory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overflow {
    pub host: String,
    /// Requests (or TLS handshakes, or alert occurrences) not catalogued, by reason.
    pub counts: BTreeMap<OverflowReason, u64>,
    pub first_seen: i64,
    pub last_seen: i64,
    /// A few of the probed paths (normalised, without query strings, cut to 120 characters).
    pub examples: Vec<String>,
}

/// Probed paths kept as examples per host, and how much of each.
pub const MAX_PROBE_EXAMPLES: usize = 8;
const MAX_PROBE_EXAMPLE_CHARS: usize = 120;

/// A probed path as kept for people to read: segments that are secrets or personal data (a key,
/// a token, an e-mail address, a card number, a long hex or base64 value) become `{class}`, and
/// the whole is cut to `MAX_PROBE_EXAMPLE_CHARS`.
pub(crate) fn probe_example(path: &str) -> String {
    let masked: Vec<String> = crate::template::split_path(path)
        .into_iter()
        .map(|segment| {
            let decoded = crate::template::percent_decode(segment);
            if let Some(class) = crate::sensitive::classify_field("", &decoded).first() {
                return format!("{{{}}}", class.as_str());
            }
            match crate::segment::classify(&decoded) {
                kind @ (SegmentKind::Token | SegmentKind::Hex | SegmentKind::Uuid | SegmentKind::Email) => {
                    format!("{{{}}}", kind.as_str())
                }
                _ => segment.to_string(),
            }
        })
        .collect();
    format!("/{}", masked.join("/")).chars().take(MAX_PROBE_EXAMPLE_CHARS).collect()
}

impl Overflow {
    pub fn total(&self) -> u64 {
        self.counts.values().fold(0, |a, b| a.saturating_add(*b))
    }

    /// Adds `n` occurrences for `reason` at `ts`.
    pub fn count(&mut self, reason: OverflowReason, n: u64, ts: i64) {
        if self.counts.is_empty() {
            self.first_seen = ts;
            self.last_seen = ts;
        }
        add_count(self.counts.entry(reason).or_default(), n);
        self.first_seen = self.first_seen.min(ts);
        self.last_seen = self.last_seen.max(ts);
    }

    /// Folds another record of the same host into this one.
    pub fn merge(&mut self, o: &Overflow) {
        for (reason, n) in &o.counts {
            self.count(*reason, *n, o.first_seen);
        }
        self.last_seen = self.last_seen.max(o.last_seen);
        for e in &o.examples {
            if self.examples.len() < MAX_PROBE_EXAMPLES && !self.examples.contains(e) {
                self.examples.push(e.clone());
            }
        }
    }
}

/// The catalog of every endpoint seen.
/// The templater's whole-trie pass runs this often (observations), and before changes are taken.
const CONSOLIDATE_EVERY: u64 = 512;

#[derive(Debug, Default)]
pub struct Catalog {
    templater: Templater,
    limits: InventoryLimits,
    observed: u64,
    /// Hashed: looked up several times a transaction (a tree compared host, method and path
    /// strings at every step). What needs an order sorts: `endpoints()`, renames by path.
    endpoints: hashbrown::HashMap<EndpointKey, Endpoint, foldhash::fast::RandomState>,
    /// Per host: endpoints, and the methods they use (for the caps).
    /// (Looked up by host for every request: foldhash, randomly seeded, rather than SipHash.)
    hosts: HashMap<String, HostCount, foldhash::fast::RandomState>,
    /// Hosts seen answering (at most `max_hosts`): their unanswered requests are no evidence.
    answering: HashSet<String, foldhash::fast::RandomState>,
    /// Endpoints changed since the last `take_changes` (hashed: looked up for every request;
    /// handed out in key order).
    dirty: HashSet<EndpointKey, foldhash::fast::RandomState>,
    removed: BTreeSet<EndpointKey>,
    /// Refilings since the last `take_changes`, in order.
    moved: Vec<EndpointMove>,
    /// Overflow since the last `take_changes`, by host.
    overflow: BTreeMap<String, Overflow>,
    /// Overflow since this catalog was made, by reason (for counters).
    overflow_totals: BTreeMap<OverflowReason, u64>,
    /// What specs document that their operations answer.
    documented: apart::Documented,
    /// Routes kept apart from spec templates, per host (bounded).
    kept_apart: HashMap<String, usize>,
}

#[derive(Debug, Default)]
struct HostCount {
    endpoints: usize,
    /// Endpoints per method.
    methods: BTreeMap<String, usize>,
    /// The host's endpoints as (path, method), in order: a rename finds the paths under a
    /// prefix here.
    paths: BTreeSet<(String, String)>,
}

/// The part of recording an observation that needs no catalog state: content types, parsed JSON
/// bodies, the response shape and every sensitive-data finding. Made where the transaction is
/// (a flow worker), so the thread that owns the catalog only merges.
#[derive(Debug, Clone, Default)]
pub struct TransactionFacts {
    resp_ct: Option<Cow<'static, str>>,
    /// The JSON response body's schema as one sample: much smaller than the parsed body (no
    /// values, one schema for all items of an array), and it is what the catalog merges.
    /// Boxed, as the request's: most transactions have neither (their answers' facts are
    /// reused), and the facts are moved a few times on their way to the catalog.
    resp_schema: Option<Box<Schema>>,
    shape: Option<Shape>,
    req_ct: Option<Cow<'static, str>>,
    /// The schema of a JSON request body (not for forms).
    req_schema: Option<Box<Schema>>,
    /// A worker's sampler chose which request bodies get a schema (`req_schema` is then merged
    /// as given; otherwise the catalog samples them itself).
    req_sampled: bool,
    findings: Vec<sensitive::Finding>,
    /// The response body was analysed in full because the worker's sampler is still learning
    /// its shape: its schema is merged whatever the endpoint's own sampling says, so no new
    /// field is missed.
    resp_learning: bool,
    request: RequestFacts,
    grpc: Option<crate::grpc::GrpcFacts>,
    /// GraphQL operations or JSON-RPC methods in the request, with their outcome.
    operations: Vec<crate::operations::Operation>,
    /// The request belongs to an MCP session (its header says so, whatever its body).
    mcp_session: bool,
}

/// What the request line and headers say, read once where the transaction is: the thread that
/// owns the catalog is the sensor's one serial stage, so it only looks these up.
#[derive(Debug, Clone, Default)]
struct RequestFacts {
    /// [`Observation::endpoint_host`].
    host: String,
    /// The method, at most 32 characters.
    method: String,
    /// [`Observation::normalized_path`].
    path: String,
    query: Vec<(String, &'static str)>,
    /// Form fields (URL-encoded or multipart) with their value kinds.
    form: Vec<(String, &'static str)>,
    auth: Vec<AuthScheme>,
    /// [`auth::principal`].
    principal: Option<u64>,
    /// [`crate::behavior::scanner_tool`].
    scanner_tool: Option<&'static str>,
}

impl RequestFacts {
    /// `query` and `form` are the request's decoded query and URL-encoded form pairs (decoded
    /// once: the sensitive-data scan reads their values).
    fn of(
        obs: &Observation,
        req_ct: Option<&str>,
        query: &[(String, String)],
        form: &[(String, String)],
        agents: Option<&mut crate::behavior::AgentMemory>,
        mut authorizations: Option<&mut auth::AuthMemory>,
    ) -> RequestFacts {
        let form = match req_ct {
            Some(ct) if ct.starts_with("multipart/form-data") => {
                multipart_fields(&obs.request_body, MAX_PARAMS).into_iter().map(|name| (name, "string")).collect()
            }
            _ => typed(form),
        };
        RequestFacts {
            host: obs.endpoint_host(),
            method: crate::observation::first_chars(&obs.method, 32).to_string(),
            path: obs.normalized_path().into_owned(),
            auth: auth::classify_with(&obs.request_headers, query, authorizations.as_deref_mut()),
            principal: auth::principal_with(&obs.request_headers, authorizations),
            scanner_tool: match agents {
                Some(memory) => memory.scanner_tool(obs),
                None => crate::behavior::scanner_tool(obs),
            },
            // Filled in by `TransactionFacts::make` once the pairs are no longer read, moving
            // their names rather than copying them.
            query: Vec::new(),
            form,
        }
    }
}

impl TransactionFacts {
    /// The scanner the request's user agent names ([`crate::behavior::scanner_tool`]).
    pub fn scanner_tool(&self) -> Option<&'static str> {
        self.request.scanner_tool
    }

    /// Reads a byte of each piece of memory the catalog reads first when it records these
    /// facts (the request's host, method and path; each finding's location and mask; the query
    /// and form names), and returns them summed. Made on another thread, they are not in this core's
    /// caches: touched for a whole batch before it is recorded, their cache misses overlap
    /// instead of stalling one after the other.
    pub fn touch(&self) -> u64 {
        let first = |text: &str| u64::from(text.as_bytes().first().copied().unwrap_or(0));
        let request = &self.request;
        let mut sum = first(&request.host).wrapping_add(first(&request.method)).wrapping_add(first(&request.path));
        for f in &self.findings {
            sum = sum.wrapping_add(first(&f.location)).wrapping_add(first(&f.mask));
        }
        for (name, _) in request.query.iter().chain(&request.form) {
            sum = sum.wrapping_add(first(name));
        }
        sum
    }

    /// The request's path as templated: normalised, without the query (empty once a probe's
    /// record took it).
    pub fn path(&self) -> &str {
        &self.request.path
    }

    /// The sensitive data found in the transaction (headers, query, bodies), masked.
    pub fn findings(&self) -> &[sensitive::Finding] {
        &self.findings
    }

    /// Everything analysed in full. `key` keys the hashes in the masks of sensitive findings
    /// (see `sensitive::MaskKey`).
    pub fn new(obs: &Observation, key: &sensitive::MaskKey) -> TransactionFacts {
        TransactionFacts::make(obs, key, None).0
    }

    /// As [`TransactionFacts::new`], but the response body is analysed in full only while
    /// `sampler` is learning its shape (see `sampling`).
    pub fn sampled(obs: &Observation, key: &sensitive::MaskKey, sampler: &mut ResponseSampler) -> TransactionFacts {
        TransactionFacts::make(obs, key, Some(sampler)).0
    }

    /// [`TransactionFacts::sampled`], with the request body parsed as JSON if it was (the
    /// injection search reads it too: parsed once).
    pub fn sampled_with_request_json<'o>(
        obs: &'o Observation,
        key: &sensitive::MaskKey,
        sampler: &mut ResponseSampler,
    ) -> (TransactionFacts, Option<Json<'o>>) {
        TransactionFacts::make(obs, key, Some(sampler))
    }

    fn make<'o>(
        obs: &'o Observation,
        key: &sensitive::MaskKey,
        mut sampler: Option<&mut ResponseSampler>,
    ) -> (TransactionFacts, Option<Json<'o>>) {
        let resp_ct = obs.response.as_ref().and_then(|r| content_type(&r.headers));
        let req_ct = content_type(&obs.request_headers);
        let query = obs.query().map(|q| decoded_pairs(q, MAX_PARAMS)).unwrap_or_default();
        let form = match req_ct.as_deref() {
            Some("application/x-www-form-urlencoded") => {
                decoded_pairs(&String::from_utf8_lossy(&obs.request_body), MAX_PARAMS)
            }
            _ => Vec::new(),
        };
        let (agents, authorizations) = match sampler.as_deref_mut() {
            Some(s) => (Some(&mut s.agents), Some(&mut s.authorizations)),
            None => (None, None),
        };
        let mut request = RequestFacts::of(obs, req_ct.as_deref(), &query, &form, agents, authorizations);
        // Sensitive data is looked for in every request, header and query string.
        let mut findings = sensitive::Findings::new(key);
        let clean = sampler.as_deref_mut().map(|s| &mut s.clean_fields);
        sensitive::scan_headers_with(&obs.request_headers, "request.header", &mut findings, clean);
        sensitive::scan_pairs(&query, "request.query", &mut findings);
        let path_route = sampler.as_deref().map(|s| s.path_route(obs));
        // A sampler samples request schemas; without one every body gets one.
        let schema_wanted = |sampler: &mut Option<&mut ResponseSampler>| match (sampler.as_deref_mut(), path_route) {
            (Some(s), Some(route)) => s.request_schema_wanted(route, req_ct.as_deref()),
            _ => true,
        };
        let mut req_schema = None;
        let mut req_json = None;
        let grpc = crate::grpc::is_grpc(req_ct.as_deref()).then(|| crate::grpc::GrpcFacts {
            request_messages: crate::grpc::message_count(&obs.request_body),
            response_messages: obs.response.as_ref().map_or(0, |r| crate::grpc::message_count(&r.body)),
            status: obs.response.as_ref().and_then(|r| crate::grpc::status(&r.headers, &r.body)),
        });
        match req_ct.as_deref() {
            Some("application/x-www-form-urlencoded") => {
                sensitive::scan_pairs(&form, "request.form", &mut findings);
            }
            _ if grpc.is_some() => {
                if let Some(v) = crate::grpc::body_value(&obs.request_body) {
                    sensitive::scan_json(&v, "request.grpc", &mut findings);
                    req_schema = schema_wanted(&mut sampler).then(|| Box::new(Schema::of_at(&v, obs.ts)));
                }
            }
            ct => {
                if let Some(v) = parse_json(ct, &obs.request_body) {
                    sensitive::scan_json(&v, "request.json", &mut findings);
                    req_schema = schema_wanted(&mut sampler).then(|| Box::new(Schema::of_at(&v, obs.ts)));
                    req_json = Some(v);
                }
            }
        }
        if let Some(r) = &obs.response {
            let clean = sampler.as_deref_mut().map(|s| &mut s.clean_fields);
            sensitive::scan_headers_with(&r.headers, "response.header", &mut findings, clean);
        }
        // A JSON-RPC or GraphQL body is read as a `Value`; no other has an operation.
        let operation_json =
            req_json.as_ref().filter(|v| crate::operations::may_name_operations(v)).map(Json::to_value);
        let mut operations = crate::operations::of_request(
            &request.path,
            req_ct.as_deref(),
            &obs.request_headers,
            &obs.request_body,
            operation_json.as_ref(),
            &query,
            sampler.as_deref_mut().map(|s| &mut s.documents),
        );
        request.query = crate::params::typed_owned(query);
        let mcp_session = crate::operations::is_mcp_session(&obs.request_headers);
        // The answer of an operation says whether it failed: read even when the body's facts
        // are otherwise reused, parsed once.
        let mut answer = None;
        if !operations.is_empty() {
            answer = obs.response.as_ref().and_then(|r| response_value(grpc.is_some(), resp_ct.as_deref(), &r.body));
            if let Some((v, _)) = &answer {
                crate::operations::read_outcome(&mut operations, &[v.to_value()]);
            }
        }
        let plan = match (sampler.as_deref_mut(), path_route) {
            (Some(s), Some(route)) => s.plan(obs, route, resp_ct.as_deref(), &mut findings),
            _ => sampling::Plan::Analyse(None),
        };
        let ticket = match plan {
            sampling::Plan::Reuse(shape) => {
                let findings = findings.into_vec();
                let facts = TransactionFacts {
                    resp_ct,
                    resp_schema: None,
                    shape,
                    req_ct,
                    req_schema,
                    req_sampled: path_route.is_some(),
                    findings,
                    resp_learning: false,
                    request,
                    grpc,
                    operations,
                    mcp_session,
                };
                return (facts, req_json);
            }
            sampling::Plan::Analyse(ticket) => ticket,
        };
        // The response body is parsed once, for templating, its schema and sensitive data.
        let resp_value = match answer {
            Some(a) => Some(a),
            None => obs.response.as_ref().and_then(|r| response_value(grpc.is_some(), resp_ct.as_deref(), &r.body)),
        };
        let (resp_json, resp_place) = match resp_value {
            Some((v, place)) => (Some(v), place),
            None => (None, "response.json"),
        };
        let shape =
            obs.response.as_ref().and_then(|r| response_shape(r.status, resp_ct.as_deref(), resp_json.as_ref()));
        let before_body = findings.len();
        if let Some(v) = &resp_json {
            sensitive::scan_json(v, resp_place, &mut findings);
        }
        let resp_schema = resp_json.as_ref().map(|v| Box::new(Schema::of_at(v, obs.ts)));
        let findings = findings.into_vec();
        if let (Some(sampler), Some(ticket)) = (sampler, ticket) {
            let body_findings: Vec<sensitive::Finding> = findings.iter().skip(before_body).cloned().collect();
            let summary = {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                shape.hash(&mut h);
                resp_schema.as_deref().map(Schema::structure_hash).hash(&mut h);
                let mut places: Vec<(sensitive::Class, &str)> =
                    body_findings.iter().map(|f| (f.class, &*f.location)).collect();
                places.sort();
                places.hash(&mut h);
                h.finish()
            };
            let facts = sampling::AnswerFacts { shape, findings: body_findings, summary, keyed: Vec::new() };
            sampler.learn(ticket, facts, resp_place);
        }
        let facts = TransactionFacts {
            resp_ct,
            resp_schema,
            shape,
            req_ct,
            req_schema,
            req_sampled: path_route.is_some(),
            findings,
            resp_learning: ticket.is_some(),
            request,
            grpc,
            operations,
            mcp_session,
        };
        (facts, req_json)
    }
}

impl Catalog {
    pub fn new(config: TemplateConfig) -> Catalog {
        Catalog::with_limits(config, InventoryLimits::default())
    }

    /// A catalog with these caps (`limits.max_template_nodes_per_host` overrides the config's).
    pub fn with_limits(config: TemplateConfig, limits: InventoryLimits) -> Catalog {
        let config = TemplateConfig { max_nodes_per_host: limits.max_template_nodes_per_host, ..config };
        Catalog { templater: Templater::new(config), limits, ..Catalog::default() }
    }

    pub fn limits(&self) -> &InventoryLimits {
        &self.limits
    }

    pub fn templater_mut(&mut self) -> &mut Templater {
        &mut self.templater
    }

    /// Loads endpoints persisted by an earlier run; their templates seed the templater. (A
    /// store filled under larger caps is loaded whole: caps apply to what is new.)
    pub fn load(&mut self, endpoints: impl IntoIterator<Item = Endpoint>) {
        for e in endpoints {
            self.templater.learn(&e.host, &e.path);
            if e.kept_apart.is_some() {
                self.repin_kept_apart(&e.host, &e.path);
            }
            self.insert(e);
        }
    }

    /// Adds a new endpoint record (its key must not be in the catalog yet) and counts it.
    fn insert(&mut self, e: Endpoint) {
        let count = self.hosts.entry(e.host.clone()).or_default();
        count.endpoints = count.endpoints.saturating_add(1);
        let m = count.methods.entry(e.method.clone()).or_default();
        *m = m.saturating_add(1);
        count.paths.insert((e.path.clone(), e.method.clone()));
        self.endpoints.insert(e.key(), e);
    }

    /// Takes an endpoint record out and uncounts it.
    fn take(&mut self, key: &EndpointKey) -> Option<Endpoint> {
        let e = self.endpoints.remove(key)?;
        if let Some(count) = self.hosts.get_mut(&key.host) {
            count.endpoints = count.endpoints.saturating_sub(1);
            if let Some(m) = count.methods.get_mut(&key.method) {
                *m = m.saturating_sub(1);
                if *m == 0 {
                    count.methods.remove(&key.method);
                }
            }
            count.paths.remove(&(e.path.clone(), e.method.clone()));
            if count.endpoints == 0 {
                self.hosts.remove(&key.host);
            }
        }
        Some(e)
    }

    /// Counts traffic that a cap kept out, under `host`'s record.
    pub fn count_overflow(&mut self, host: &str, reason: OverflowReason, ts: i64) {
        // Records exist only for hosts in the catalog and for OTHER_HOSTS: bounded by max_hosts.
        let host = if self.hosts.contains_key(host) { host } else { OTHER_HOSTS };
        let record = self
            .overflow
            .entry(host.to_string())
            .or_insert_with(|| Overflow { host: host.to_string(), ..Overflow::default() });
        record.count(reason, 1, ts);
        add_count(self.overflow_totals.entry(reason).or_default(), 1);
    }

    /// Overflow counted since this catalog was made, by reason.
    pub fn overflow_totals(&self) -> &BTreeMap<OverflowReason, u64> {
        &self.overflow_totals
    }

    /// Which cap, if any, keeps a request on `host` with `method` out before it is templated.
    fn admits(&self, host: &str, method: &str) -> Result<(), OverflowReason> {
        match self.hosts.get(host) {
            None if self.hosts.len() >= self.limits.max_hosts => Err(OverflowReason::Hosts),
            // The method is looked up only on a host at its limit (this runs twice a transaction).
            Some(c) if c.methods.len() >= self.limits.max_methods_per_host && !c.methods.contains_key(method) => {
                Err(OverflowReason::Methods)
            }
            _ => Ok(()),
        }
    }

    /// Deletes endpoints last seen before `cutoff` (retention); returns how many. The store
    /// deletes them with the next changes.
    pub fn prune(&mut self, cutoff: i64) -> usize {
        let mut old: Vec<EndpointKey> =
            self.endpoints.iter().filter(|(_, e)| e.last_seen < cutoff).map(|(k, _)| k.clone()).collect();
        old.sort_unstable();
        for key in &old {
            self.take(key);
            self.dirty.remove(key);
            self.removed.insert(key.clone());
        }
        old.len()
    }

    pub fn len(&self) -> usize {
        self.endpoints.len()
    }

    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// When the endpoint seen last was seen (0 with none); no order needed, so nothing sorted.
    pub fn last_seen(&self) -> i64 {
        self.endpoints.values().map(|e| e.last_seen).max().unwrap_or(0)
    }

    /// Every endpoint, in key order (host, method, path).
    pub fn endpoints(&self) -> impl Iterator<Item = &Endpoint> {
        let mut all: Vec<(&EndpointKey, &Endpoint)> = self.endpoints.iter().collect();
        all.sort_unstable_by(|a, b| a.0.cmp(b.0));
        all.into_iter().map(|(_, e)| e)
    }

    pub fn get(&self, key: &EndpointKey) -> Option<&Endpoint> {
        self.endpoints.get(key)
    }

    /// Where a request for `path` goes on what the catalog knows now (see [`Catalog::record`]).
    fn route(&self, host: &str, method: &str, path: &str, evidence: Evidence, from_scanner: bool) -> Route {
        let proven = !from_scanner
            && match evidence {
                Evidence::Route => true,
                Evidence::Challenge => self.templater.has_established_prefix(host, path),
                Evidence::Unanswered => !self.answering.contains(host),
                Evidence::Nothing => false,
            };
        if proven {
            return Route::New;
        }
        match self.templater.lookup(host, path) {
            // A spec (or a pin) says the route exists, whoever asked and whatever it answered.
            Some(t) if t.known => Route::New,
            Some(t) if self.endpoints.contains_key(&KeyParts { host, method, path: &t.template }) => Route::Known(t),
            _ => Route::Probe,
        }
    }

    /// Whether what [`Catalog::record`] would do with `obs` now may still change with traffic not
    /// seen yet: it would be a probe, or an endpoint on an authentication challenge alone (the
    /// client may turn out to be a scanner). A caller that sees transactions only roughly in
    /// order holds those back a little.
    pub fn is_tentative(&self, obs: &Observation, facts: &TransactionFacts, from_scanner: bool) -> bool {
        matches!(self.hold_check(obs, facts, from_scanner), HoldCheck::Hold)
    }

    /// [`Catalog::is_tentative`], with the route it found for a transaction that is not held:
    /// recorded right after, with nothing recorded in between, it need not be routed again
    /// ([`Catalog::record_routed`]; routing walks the templater's trie).
    pub fn hold_check(&self, obs: &Observation, facts: &TransactionFacts, from_scanner: bool) -> HoldCheck {
        let RequestFacts { host, method, path, .. } = &facts.request;
        if self.admits(host, method).is_err() {
            return HoldCheck::Merge(None);
        }
        let evidence = evidence(obs);
        let route = self.route(host, method, path, evidence, from_scanner);
        let hold = match route {
            Route::Probe => true,
            Route::New => evidence == Evidence::Challenge,
            Route::Known(_) => false,
        };
        if hold {
            HoldCheck::Hold
        } else {
            HoldCheck::Merge(Some(Routed(route)))
        }
    }

    /// Records one observation whose stateless part was done already (on another thread);
    /// `None` when a cap kept it out (it is counted as overflow).
    ///
    /// A path becomes an endpoint only with evidence that a route exists: a success or redirect
    /// answer, an authentication challenge under an established prefix, a spec (or pinned)
    /// template, or a request with no answer on a host never seen answering (a one-way tap).
    /// Without it (error answers, and everything a `from_scanner` client sends) the request
    /// counts as a hit of a known route it fits (a 404 for a missing user is a hit of
    /// `/users/{id}`), or else as a probe of the host: it makes no endpoint and teaches the
    /// templater nothing.
    pub fn record(
        &mut self,
        obs: &Observation,
        mut prepared: TransactionFacts,
        from_scanner: bool,
    ) -> Option<Recorded> {
        self.record_from(obs, &mut prepared, from_scanner)
    }

    /// [`Catalog::record_routed`] without a route found before.
    pub fn record_from(
        &mut self,
        obs: &Observation,
        prepared: &mut TransactionFacts,
        from_scanner: bool,
    ) -> Option<Recorded> {
        self.record_routed(obs, prepared, from_scanner, None)
    }

    /// [`Catalog::record`], taking from `prepared` only what it keeps (the endpoint's host and
    /// method, the findings): the rest stays where it is, to be freed with it by whoever made
    /// it (a flow worker), and no copy of the facts is made. `routed`: the route
    /// [`Catalog::hold_check`] found for it just before (nothing recorded since), if any.
    pub fn record_routed(
        &mut self,
        obs: &Observation,
        prepared: &mut TransactionFacts,
        from_scanner: bool,
        routed: Option<Routed>,
    ) -> Option<Recorded> {
        if let Err(reason) = self.admits(&prepared.request.host, &prepared.request.method) {
            self.count_overflow(&prepared.request.host, reason, obs.ts);
            return None;
        }
        let host = std::mem::take(&mut prepared.request.host);
        let method = std::mem::take(&mut prepared.request.method);
        let findings = std::mem::take(&mut prepared.findings);
        let TransactionFacts {
            resp_ct,
            resp_schema,
            shape,
            req_ct,
            req_schema,
            req_sampled,
            findings: _,
            resp_learning,
            request,
            grpc,
            operations,
            mcp_session,
        } = &*prepared;
        let RequestFacts { host: _, method: _, path, query, form, auth, principal, scanner_tool: _ } = request;
        let (shape, req_sampled, resp_learning, principal) = (*shape, *req_sampled, *resp_learning, *principal);
        let evidence = evidence(obs);
        if evidence != Evidence::Unanswered
            && self.answering.len() < self.limits.max_hosts
            && !self.answering.contains(&host)
        {
            self.answering.insert(host.clone());
        }
        let mut kept_apart = None;
        let route = match grpc {
            // A gRPC path names a method (`/package.Service/Method`): nothing in it is a
            // parameter. UNIMPLEMENTED says the server has no such method.
            Some(g) if g.status == Some(crate::grpc::UNIMPLEMENTED) => Route::Probe,
            Some(_) => Route::Known(Templated {
                template: path.to_owned(),
                params: Vec::new(),
                renames: Vec::new(),
                why: vec!["gRPC method: /package.Service/Method names the operation, nothing is templated".into()],
                known: false,
            }),
            None => match routed {
                Some(Routed(route)) => route,
                None => self.route(&host, &method, path, evidence, from_scanner),
            },
        };
        let templated = match route {
            Route::New => {
                let mut t = self.templater.template(&host, path, shape);
                // A word a spec parameter matches, answering like another route, is one.
                let success = obs.response.as_ref().is_some_and(|r| (200..300).contains(&r.status));
                let apart = (t.known && success).then(|| {
                    let answer = || apart::answer_shape(resp_ct.as_deref(), resp_schema.as_deref());
                    self.keep_apart(&host, &method, path, &t.template, answer)
                });
                if let Some((_, apart)) = apart.flatten() {
                    t = self.templater.template(&host, path, shape);
                    t.why = vec![format!("kept apart from {}: {}", apart.template, apart.reason).into()];
                    kept_apart = Some(apart);
                }
                for (old, new) in &t.renames {
                    self.rename(&host, old, new);
                }
                add_count(&mut self.observed, 1);
                if self.observed.is_multiple_of(CONSOLIDATE_EVERY) {
                    self.consolidate();
                }
                t
            }
            Route::Known(t) => t,
            Route::Probe => {
                self.count_probe(&host, path, obs.ts);
                let key = EndpointKey { host, method: "*".into(), path: "*".into() };
                // Taken, not copied: a scanner's flood is nearly all probes.
                let probe = Some(std::mem::take(&mut prepared.request.path));
                return Some(Recorded { key, findings, probe, principal, introspection: false });
            }
        };
        let Templated { template, params, why, .. } = templated;
        let key = EndpointKey { host, method, path: template };
        // Nearly every transaction is of an endpoint already known: one lookup for those.
        let e = match self.endpoints.get_mut(&key) {
            Some(e) => e,
            None => {
                let on_host = self.hosts.get(&key.host).map_or(0, |c| c.endpoints);
                if on_host >= self.limits.max_endpoints_per_host {
                    self.count_overflow(&key.host, OverflowReason::Endpoints, obs.ts);
                    return None;
                }
                self.insert(Endpoint {
                    host: key.host.clone(),
                    method: key.method.clone(),
                    path: key.path.clone(),
                    first_seen: obs.ts,
                    ..Endpoint::default()
                });
                self.endpoints.get_mut(&key)?
            }
        };
        if !self.removed.is_empty() {
            self.removed.remove(&key);
        }
        // Most hits are of an endpoint already waiting to be written: no key copy for those.
        if !self.dirty.contains(&key) {
            self.dirty.insert(key.clone());
        }
        if e.kept_apart.is_none() {
            e.kept_apart = kept_apart;
        }
        add_count(&mut e.hits, 1);
        count_hour(&mut e.hourly, obs.ts.div_euclid(MICROS_PER_HOUR), 1);
        e.first_seen = e.first_seen.min(obs.ts);
        e.last_seen = e.last_seen.max(obs.ts);
        e.clients.add_addr(obs.client);
        for w in why {
            if e.why.len() >= 16 {
                break;
            }
            if !e.why.iter().any(|known| **known == *w) {
                e.why.push(w.to_string());
            }
        }
        for (name, kind) in params {
            match e.path_params.get_mut(&*name) {
                Some(param) => param.add(kind.as_str(), obs.ts),
                None => e.path_params.entry(name.to_string()).or_default().add(kind.as_str(), obs.ts),
            }
        }
        if obs.encrypted {
            add_count(&mut e.encrypted, 1);
        } else {
            add_count(&mut e.cleartext, 1);
        }
        count_key(&mut e.protocols, obs.protocol.as_str());
        let mut styles: Vec<&'static str> = operations.iter().filter_map(|o| o.style.map(|s| s.as_str())).collect();
        if *mcp_session {
            styles.push(crate::operations::Style::Mcp.as_str());
        }
        if opens_websocket(obs) {
            styles.push("websocket");
        }
        styles.sort_unstable();
        styles.dedup();
        for style in styles {
            count_key(&mut e.protocols, style);
        }
        for op in operations {
            let room = e.operations.len() < MAX_OPERATIONS_PER_ENDPOINT;
            let stats = match e.operations.get_mut(&op.label) {
                Some(s) => s,
                None if room => e.operations.entry(op.label.clone()).or_default(),
                None => continue,
            };
            stats.add(op, obs.ts);
        }
        if let Some(g) = grpc {
            count_key(&mut e.protocols, "grpc");
            let stats = e.grpc.get_or_insert_with(GrpcStats::default);
            count_key(&mut stats.statuses, g.status.map_or("none", crate::grpc::status_name));
            stats.max_request_messages = stats.max_request_messages.max(g.request_messages);
            stats.max_response_messages = stats.max_response_messages.max(g.response_messages);
        }
        let sample_bodies = e.hits <= SCHEMA_FULL_SAMPLES || e.hits.is_multiple_of(SCHEMA_SAMPLE_EVERY);
        // Request side.
        e.request_bytes.add(obs.request_body_len);
        if let Some(ct) = &req_ct {
            count_key(&mut e.request_content_types, ct);
        }
        for (params, pairs) in [(&mut e.query_params, query), (&mut e.form_fields, form)] {
            for (name, t) in pairs {
                // A name is copied only for a new parameter (the pairs go back to the worker).
                if let Some(p) = params.get_mut(name) {
                    p.add(t, obs.ts);
                } else if params.len() < MAX_PARAMS {
                    params.entry(name.clone()).or_default().add(t, obs.ts);
                }
            }
        }
        if let Some(one) = req_schema.as_deref().filter(|_| req_sampled || sample_bodies) {
            e.request_schema.get_or_insert_with(Schema::default).merge(one);
        }
        e.add_findings(&findings, obs.ts);
        for scheme in auth {
            e.count_auth(scheme, 1);
        }
        // Response side.
        if let Some(r) = &obs.response {
            add_count(e.status_codes.entry(r.status).or_default(), 1);
            e.latency.add(r.latency_micros);
            e.response_bytes.add(r.body_len);
            if let Some(ct) = &resp_ct {
                count_key(&mut e.response_content_types, ct);
            }
            let sample_response = sample_bodies || resp_learning || !e.response_schemas.contains_key(&r.status);
            if let Some(one) = resp_schema.as_deref().filter(|_| sample_response) {
                if e.response_schemas.len() < MAX_SCHEMA_STATUSES || e.response_schemas.contains_key(&r.status) {
                    e.response_schemas.entry(r.status).or_default().merge(one);
                }
            }
        }
        let introspection = operations.iter().any(|o| o.introspection);
        Some(Recorded { key, findings, probe: None, principal, introspection })
    }

    /// Adds one WebSocket message to the endpoint whose upgrade request opened its connection.
    /// False when the endpoint is gone (pruned or renamed since).
    pub fn record_message(&mut self, key: &EndpointKey, facts: &MessageFacts, ts: i64) -> bool {
        let Some(e) = self.endpoints.get_mut(key) else { return false };
        let ws = e.websocket.get_or_insert_with(WebSocketStats::default);
        add_count(if facts.from_client { &mut ws.client_messages } else { &mut ws.server_messages }, 1);
        count_key(&mut ws.kinds, facts.kind);
        add_count(&mut ws.bytes, facts.wire_len);
        ws.last_seen = ws.last_seen.max(ts);
        let schema = if facts.from_client { &mut ws.client_schema } else { &mut ws.server_schema };
        merge_schema(schema, facts.schema.as_ref());
        e.add_findings(&facts.findings, ts);
        if !self.dirty.contains(key) {
            self.dirty.insert(key.clone());
        }
        true
    }

    /// Counts a probe of `host` (kept with a few example paths, at most `MAX_PROBE_EXAMPLES`).
    fn count_probe(&mut self, host: &str, path: &str, ts: i64) {
        self.count_overflow(host, OverflowReason::Probes, ts);
        let host = if self.hosts.contains_key(host) { host } else { OTHER_HOSTS };
        if let Some(record) = self.overflow.get_mut(host) {
            if record.examples.len() < MAX_PROBE_EXAMPLES {
                let example = probe_example(path);
                if !record.examples.contains(&example) {
                    record.examples.push(example);
                }
            }
        }
    }

    /// Folds every endpoint of `host` whose path is `old` or lies under it into `new`.
    fn rename(&mut self, host: &str, old: &str, new: &str) {
        let under = format!("{old}/");
        let Some(count) = self.hosts.get(host) else { return };
        // Paths under a prefix are next to each other in order.
        let mut moved: Vec<EndpointKey> = count
            .paths
            .range((old.to_string(), String::new())..)
            .take_while(|(path, _)| path.starts_with(old))
            .filter(|(path, _)| path == old || path.starts_with(&under))
            .map(|(path, method)| EndpointKey { host: host.to_string(), method: method.clone(), path: path.clone() })
            .collect();
        // In key order, as they were moved when the endpoints were kept in that order.
        moved.sort_unstable();
        for key in moved {
            let path = format!("{new}{}", key.path.get(old.len()..).unwrap_or_default());
            self.move_endpoint(key, path, None);
        }
    }

    /// Files the endpoint `key` under `path`, folding it into an existing one there.
    fn move_endpoint(&mut self, key: EndpointKey, path: String, why: Option<String>) {
        let Some(mut e) = self.take(&key) else { return };
        e.path = path;
        e.path_params.clear();
        if let Some(w) = why {
            e.why = vec![w];
        }
        let new_key = e.key();
        match self.endpoints.get_mut(&new_key) {
            Some(existing) => existing.merge(&e),
            None => self.insert(e),
        }
        self.dirty.remove(&key);
        self.dirty.insert(new_key.clone());
        if key != new_key {
            self.moved.push(EndpointMove { from: key.clone(), to: new_key });
        }
        self.removed.insert(key);
    }

    /// Pins a template (a user override, or later a spec operation): paths that fit it take it,
    /// before any automatic templating, and no automatic pass changes it. Endpoints already in
    /// the catalog whose template fits it are folded into it.
    pub fn pin(&mut self, host: Option<&str>, template: &str) -> usize {
        self.pin_all(host, &[template.to_string()])
    }

    /// Pins several templates at once (a spec's operations): each stored endpoint follows the
    /// best of all of them, so a spec's `/users/me` keeps its own endpoint beside `/users/{id}`.
    pub fn pin_all(&mut self, host: Option<&str>, templates: &[String]) -> usize {
        for t in templates {
            self.templater.add_known(host, &crate::template::normalize_template(t));
        }
        let mut moved: Vec<(EndpointKey, String)> = self
            .endpoints
            .keys()
            .filter(|k| host.is_none_or(|h| crate::spec::same_host(h, &k.host)))
            .filter_map(|k| self.templater.known_rewrite(&k.host, &k.path).map(|new| (k.clone(), new)))
            .collect();
        moved.sort_unstable();
        let mut count: usize = 0;
        for (key, path) in moved {
            if let Some((literal, apart)) = self.keep_stored_apart(&key, &path) {
                let why = format!("kept apart from {}: {}", apart.template, apart.reason);
                if literal != key.path {
                    self.move_endpoint(key.clone(), literal.clone(), None);
                }
                let kept = EndpointKey { path: literal, ..key };
                if let Some(e) = self.endpoints.get_mut(&kept) {
                    e.why = vec![why];
                    e.kept_apart = Some(apart);
                    self.dirty.insert(kept);
                }
                continue;
            }
            self.move_endpoint(key, path, Some("follows a pinned or specified template".to_string()));
            count = count.saturating_add(1);
        }
        count
    }

    /// Runs the templater's whole-trie pass and applies the renames it finds.
    pub fn consolidate(&mut self) {
        for (host, old, new) in self.templater.consolidate() {
            self.rename(&host, &old, &new);
        }
    }

    /// Takes what changed since the last call.
    pub fn take_changes(&mut self) -> Changes {
        self.consolidate();
        let mut changed: Vec<EndpointKey> = std::mem::take(&mut self.dirty).into_iter().collect();
        changed.sort_unstable();
        let upserts = changed.into_iter().filter_map(|k| self.endpoints.get(&k).cloned()).collect();
        let removed =
            std::mem::take(&mut self.removed).into_iter().filter(|k| !self.endpoints.contains_key(k)).collect();
        let overflow = std::mem::take(&mut self.overflow).into_values().collect();
        let moved = std::mem::take(&mut self.moved);
        Changes { upserts, removed, moved, overflow }
    }
}

#[cfg(test)]
mod tests;
