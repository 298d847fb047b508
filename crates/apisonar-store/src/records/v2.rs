//! Record format 2: the store's own types, written as format byte 2 then JSON.
//!
//! These types are the disk format, and nothing else is: the engine's types reach them only
//! through the conversions in `convert.rs`, so an engine change is a change there. Once released,
//! a type here does not change shape; a new shape is a new format with a migration (as `v1.rs`
//! is migrated to this one).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One endpoint: (host, method, path template) and everything seen of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct EndpointRecord {
    pub host: String,
    pub method: String,
    pub path: String,
    pub hits: u64,
    /// Microseconds since the Unix epoch (packet time).
    pub first_seen: i64,
    pub last_seen: i64,
    pub clients: ClientSetRecord,
    pub status_codes: BTreeMap<u16, u64>,
    pub latency: HistogramRecord,
    pub request_bytes: SizeRecord,
    pub response_bytes: SizeRecord,
    pub request_content_types: BTreeMap<String, u64>,
    pub response_content_types: BTreeMap<String, u64>,
    pub path_params: BTreeMap<String, ParamRecord>,
    pub query_params: BTreeMap<String, ParamRecord>,
    pub form_fields: BTreeMap<String, ParamRecord>,
    pub request_schema: Option<SchemaRecord>,
    pub response_schemas: BTreeMap<u16, SchemaRecord>,
    pub auth: Vec<AuthCountRecord>,
    pub cleartext: u64,
    pub encrypted: u64,
    /// Hits by protocol ("http/1", "h2"); absent in records written before HTTP/2 was read.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub protocols: BTreeMap<String, u64>,
    /// For a gRPC method; absent otherwise (and in records written before gRPC was read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<GrpcRecord>,
    /// GraphQL operations and JSON-RPC methods by label; absent when none (and in older records).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub operations: BTreeMap<String, OperationRecord>,
    /// The messages of a WebSocket endpoint; absent otherwise (and in older records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub websocket: Option<WebSocketRecord>,
    /// By location: classes with counts and the last mask, never a value.
    pub sensitive: BTreeMap<String, SensitiveRecord>,
    pub why: Vec<String>,
    /// Hits per hour (hours since the epoch).
    pub hourly: BTreeMap<i64, u64>,
    /// An undocumented route a spec template matches only through a parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_apart: Option<KeptApartRecord>,
}

/// Message counts, kinds, bytes and JSON schemas of a WebSocket endpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct WebSocketRecord {
    pub client_messages: u64,
    pub server_messages: u64,
    pub kinds: BTreeMap<String, u64>,
    pub bytes: u64,
    pub client_schema: Option<SchemaRecord>,
    pub server_schema: Option<SchemaRecord>,
    pub last_seen: i64,
}

/// One GraphQL operation or JSON-RPC method of an endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OperationRecord {
    pub style: String,
    pub kind: String,
    pub hits: u64,
    pub errors: u64,
    pub introspection: u64,
    pub root_fields: BTreeSet<String>,
    pub variables: BTreeMap<String, String>,
    pub first_seen: i64,
    pub last_seen: i64,
}

/// A gRPC method's statuses (by name) and the most messages seen in one request and response.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GrpcRecord {
    pub statuses: BTreeMap<String, u64>,
    pub max_request_messages: u32,
    pub max_response_messages: u32,
}

/// The spec template a route was kept apart from, and why.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KeptApartRecord {
    pub template: String,
    pub reason: String,
}

/// Distinct clients: address hashes while few, HyperLogLog registers beyond.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ClientSetRecord {
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub hashes: BTreeSet<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registers: Vec<u8>,
}

/// Log-scale latency histogram: bucket number -> count.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HistogramRecord {
    pub count: u64,
    pub buckets: BTreeMap<u16, u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SizeRecord {
    pub count: u64,
    pub min: u64,
    pub max: u64,
    pub total: u64,
}

/// A query, form or path parameter: how often it was carried, and the types of its values.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ParamRecord {
    pub count: u64,
    pub types: BTreeMap<String, u64>,
    /// When it was first carried (microseconds since the epoch); 0 in records written before.
    #[serde(default)]
    pub first_seen: i64,
}

/// An inferred JSON schema (recursive through `properties` and `items`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct SchemaRecord {
    pub samples: u64,
    pub types: TypeCountsRecord,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub formats: BTreeMap<FormatRecord, u64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, SchemaRecord>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub objects: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Box<SchemaRecord>>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub truncated: u64,
    /// When this part was first seen (microseconds since the epoch); 0: no time (also in
    /// records written before it was kept).
    #[serde(default, skip_serializing_if = "is_zero_time")]
    pub first_seen: i64,
}

fn is_zero_time(t: &i64) -> bool {
    *t == 0
}

/// How often each JSON type was seen; a type never seen is left out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TypeCountsRecord {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub null: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub boolean: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub integer: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub number: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub string: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub array: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub object: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum FormatRecord {
    Email,
    Uuid,
    DateTime,
    Date,
    Ipv4,
    Ipv6,
    Uri,
}

/// An auth scheme with how often it was seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AuthCountRecord {
    pub scheme: AuthSchemeRecord,
    pub count: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum AuthSchemeRecord {
    None,
    Basic,
    Bearer,
    Jwt { alg: String, iss: Option<String> },
    ApiKeyHeader { name: String },
    ApiKeyQuery { name: String },
    SessionCookie { name: String },
    Other { name: String },
}

/// Sensitive data at one location.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SensitiveRecord {
    pub classes: BTreeMap<DataClassRecord, u64>,
    pub mask: String,
    /// When each class was first seen here (microseconds since the epoch); a class missing from
    /// it (records written before) is as old as its endpoint.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub first_seen: BTreeMap<DataClassRecord, i64>,
}

/// What a sensitive value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DataClassRecord {
    Password,
    BasicAuth,
    BearerToken,
    Jwt,
    JwtAlgNone,
    ApiKey,
    CloudAccessKey,
    SourceHostToken,
    PaymentProviderKey,
    PrivateKey,
    SessionCookie,
    Email,
    Phone,
    CardNumber,
    Iban,
    UsSsn,
    SpanishDni,
    DutchBsn,
    BrazilCpf,
}

/// One alert (its id is also its key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AlertRecord {
    pub id: u64,
    pub kind: String,
    pub subtype: Option<String>,
    pub severity: SeverityRecord,
    pub title: String,
    pub host: String,
    pub method: String,
    pub path: String,
    pub client: Option<String>,
    pub count: u64,
    pub first_seen: i64,
    pub last_seen: i64,
    pub state: AlertStateRecord,
    pub evidence: String,
    #[serde(default)]
    pub clients: ClientSetRecord,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub top_clients: Vec<ClientCountRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<ExchangeRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<StateChangeRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub comments: Vec<CommentRecord>,
}

/// An alert's masked example exchange.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ExchangeRecord {
    pub request: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response: Vec<String>,
}

/// A state change of an alert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StateChangeRecord {
    pub at: i64,
    pub by: String,
    pub state: AlertStateRecord,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A comment on an alert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CommentRecord {
    pub at: i64,
    pub by: String,
    pub text: String,
}

/// An alert suppression rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SuppressionRecord {
    pub id: u64,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    pub reason: String,
    pub created_by: String,
    pub created_at: i64,
    pub suppressed: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_suppressed: Option<i64>,
}

/// A client of an alert and its occurrences.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ClientCountRecord {
    pub client: String,
    pub count: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SeverityRecord {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum AlertStateRecord {
    Open,
    Acknowledged,
    Resolved,
}

/// An imported API specification, reduced to its operations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SpecRecord {
    pub name: String,
    pub title: String,
    pub format: String,
    pub hosts: Vec<String>,
    pub operations: Vec<SpecOperationRecord>,
    /// A GraphQL SDL's root fields; absent for OpenAPI and Swagger specs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graphql: Option<GraphqlRootsRecord>,
}

/// The root fields a GraphQL schema offers, by operation kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GraphqlRootsRecord {
    pub query: BTreeSet<String>,
    pub mutation: BTreeSet<String>,
    pub subscription: BTreeSet<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SpecOperationRecord {
    pub method: String,
    pub path: String,
    pub deprecated: bool,
    pub params: Vec<SpecParamRecord>,
    pub request_content_types: Vec<String>,
    pub request_fields: Option<BTreeSet<String>>,
    pub responses: Vec<String>,
    pub response_content_types: Vec<String>,
    pub response_fields: Option<BTreeSet<String>>,
    pub security: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SpecParamRecord {
    pub name: String,
    pub location: String,
    pub required: bool,
}

/// Everything seen of TLS for one server name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TlsHostRecord {
    pub host: String,
    pub sessions: u64,
    pub first_seen: i64,
    pub last_seen: i64,
    pub servers: BTreeSet<String>,
    pub versions: BTreeMap<String, u64>,
    pub ciphers: BTreeMap<String, u64>,
    pub alpn: BTreeMap<String, u64>,
    pub ja3: BTreeSet<String>,
    pub ja4: BTreeSet<String>,
    pub ja3s: BTreeSet<String>,
    pub certificate: Option<TlsCertificateRecord>,
    pub weaknesses: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TlsCertificateRecord {
    pub subject: String,
    pub issuer: String,
    pub not_before: i64,
    pub not_after: i64,
    pub key: String,
}

/// Traffic of one host that the inventory's caps kept out, by reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OverflowRecord {
    pub host: String,
    pub counts: BTreeMap<OverflowReasonRecord, u64>,
    pub first_seen: i64,
    pub last_seen: i64,
    /// Probed paths kept as examples.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OverflowReasonRecord {
    Hosts,
    Endpoints,
    Methods,
    TlsHosts,
    Alerts,
    Probes,
}

/// A template pinned by a user; no host: every host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OverrideRecord {
    pub host: Option<String>,
    pub template: String,
}
