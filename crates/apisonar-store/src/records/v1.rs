//! Record format 1 (schema version 1), read only to migrate it: the engine's own types as JSON.
//!
//! Format 1 was whatever serde made of the engine's structs when it was written. That shape is
//! fixed here, independently of the engine, so that the migration keeps reading it after the
//! engine changes. Most of it is exactly the shape of format 2 (same fields, names, enum
//! spellings and defaults), so those records are read with the format-2 types, which never change
//! once released either. What differs is spelled out: an endpoint's `sensitive` and `hourly`
//! could be missing (records older than those fields), and its auth counts were the scheme's
//! tagged fields flattened next to the count (`{"scheme":"jwt","alg":"HS256","iss":null,"count":3}`).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::v2::{
    AlertRecord, AuthCountRecord, AuthSchemeRecord, ClientSetRecord, EndpointRecord, HistogramRecord, OverflowRecord,
    OverrideRecord, ParamRecord, SchemaRecord, SensitiveRecord, SizeRecord, SpecRecord, TlsHostRecord,
};

pub(crate) type AlertV1 = AlertRecord;
pub(crate) type SpecV1 = SpecRecord;
pub(crate) type TlsHostV1 = TlsHostRecord;
pub(crate) type OverflowV1 = OverflowRecord;
pub(crate) type OverrideV1 = OverrideRecord;

#[derive(Debug, Deserialize)]
pub(crate) struct EndpointV1 {
    host: String,
    method: String,
    path: String,
    hits: u64,
    first_seen: i64,
    last_seen: i64,
    clients: ClientSetRecord,
    status_codes: BTreeMap<u16, u64>,
    latency: HistogramRecord,
    request_bytes: SizeRecord,
    response_bytes: SizeRecord,
    request_content_types: BTreeMap<String, u64>,
    response_content_types: BTreeMap<String, u64>,
    path_params: BTreeMap<String, ParamRecord>,
    query_params: BTreeMap<String, ParamRecord>,
    form_fields: BTreeMap<String, ParamRecord>,
    request_schema: Option<SchemaRecord>,
    response_schemas: BTreeMap<u16, SchemaRecord>,
    auth: Vec<AuthCountV1>,
    cleartext: u64,
    encrypted: u64,
    #[serde(default)]
    sensitive: BTreeMap<String, SensitiveRecord>,
    why: Vec<String>,
    #[serde(default)]
    hourly: BTreeMap<i64, u64>,
}

#[derive(Debug, Deserialize)]
struct AuthCountV1 {
    #[serde(flatten)]
    scheme: AuthSchemeV1,
    count: u64,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "scheme", rename_all = "snake_case")]
enum AuthSchemeV1 {
    None,
    Basic,
    Bearer,
    Jwt { alg: String, iss: Option<String> },
    ApiKeyHeader { name: String },
    ApiKeyQuery { name: String },
    SessionCookie { name: String },
    Other { name: String },
}

impl From<EndpointV1> for EndpointRecord {
    fn from(e: EndpointV1) -> Self {
        EndpointRecord {
            host: e.host,
            method: e.method,
            path: e.path,
            hits: e.hits,
            first_seen: e.first_seen,
            last_seen: e.last_seen,
            clients: e.clients,
            status_codes: e.status_codes,
            latency: e.latency,
            request_bytes: e.request_bytes,
            response_bytes: e.response_bytes,
            request_content_types: e.request_content_types,
            response_content_types: e.response_content_types,
            path_params: e.path_params,
            query_params: e.query_params,
            form_fields: e.form_fields,
            request_schema: e.request_schema,
            response_schemas: e.response_schemas,
            auth: e.auth.into_iter().map(AuthCountRecord::from).collect(),
            cleartext: e.cleartext,
            encrypted: e.encrypted,
            protocols: BTreeMap::new(),
            grpc: None,
            operations: BTreeMap::new(),
            websocket: None,
            sensitive: e.sensitive,
            why: e.why,
            hourly: e.hourly,
            kept_apart: None,
        }
    }
}

impl From<AuthCountV1> for AuthCountRecord {
    fn from(a: AuthCountV1) -> Self {
        let scheme = match a.scheme {
            AuthSchemeV1::None => AuthSchemeRecord::None,
            AuthSchemeV1::Basic => AuthSchemeRecord::Basic,
            AuthSchemeV1::Bearer => AuthSchemeRecord::Bearer,
            AuthSchemeV1::Jwt { alg, iss } => AuthSchemeRecord::Jwt { alg, iss },
            AuthSchemeV1::ApiKeyHeader { name } => AuthSchemeRecord::ApiKeyHeader { name },
            AuthSchemeV1::ApiKeyQuery { name } => AuthSchemeRecord::ApiKeyQuery { name },
            AuthSchemeV1::SessionCookie { name } => AuthSchemeRecord::SessionCookie { name },
            AuthSchemeV1::Other { name } => AuthSchemeRecord::Other { name },
        };
        AuthCountRecord { scheme, count: a.count }
    }
}
