//! Conversions between the engine's types and the store's records (format 2).
//!
//! Every engine struct is destructured without `..` and every record is built field by field,
//! so a field added to (or removed from) an engine type stops this file from compiling: an
//! engine change is a change here, never silently a change of the disk format. Both directions
//! are exact (`engine -> record -> engine` gives an equal value; see the tests).

use std::collections::BTreeMap;

use apisonar_engine::auth::AuthScheme;
use apisonar_engine::catalog::{AuthCount, GrpcStats, OperationStats, SensitiveField, WebSocketStats};
use apisonar_engine::params::ParamInfo;
use apisonar_engine::schema::{Format, Schema, TypeCounts};
use apisonar_engine::sensitive::Class;
use apisonar_engine::spec::graphql::GraphqlRoots;
use apisonar_engine::spec::SpecParam;
use apisonar_engine::stats::{ClientSet, Histogram, SizeStats};
use apisonar_engine::suppression::Suppression;
use apisonar_engine::tlsposture::{TlsCertificate, TlsHost};
use apisonar_engine::{
    Alert, AlertState, Endpoint, KeptApart, Overflow, OverflowReason, Severity, Spec, SpecOperation,
};

use super::v2::*;
use crate::TemplateOverride;

/// A map's values as records.
fn records<K: Ord + Clone, A, B: for<'a> From<&'a A>>(map: &BTreeMap<K, A>) -> BTreeMap<K, B> {
    map.iter().map(|(k, v)| (k.clone(), B::from(v))).collect()
}

/// A map's records as values.
fn values<K: Ord, A, B: From<A>>(map: BTreeMap<K, A>) -> BTreeMap<K, B> {
    map.into_iter().map(|(k, v)| (k, B::from(v))).collect()
}

impl From<&Endpoint> for EndpointRecord {
    fn from(e: &Endpoint) -> Self {
        let Endpoint {
            host,
            method,
            path,
            hits,
            first_seen,
            last_seen,
            clients,
            status_codes,
            latency,
            request_bytes,
            response_bytes,
            request_content_types,
            response_content_types,
            path_params,
            query_params,
            form_fields,
            request_schema,
            response_schemas,
            auth,
            cleartext,
            encrypted,
            protocols,
            grpc,
            operations,
            websocket,
            sensitive,
            why,
            hourly,
            kept_apart,
        } = e;
        EndpointRecord {
            host: host.clone(),
            method: method.clone(),
            path: path.clone(),
            hits: *hits,
            first_seen: *first_seen,
            last_seen: *last_seen,
            clients: clients.into(),
            status_codes: status_codes.clone(),
            latency: latency.into(),
            request_bytes: request_bytes.into(),
            response_bytes: response_bytes.into(),
            request_content_types: request_content_types.clone(),
            response_content_types: response_content_types.clone(),
            path_params: records(path_params),
            query_params: records(query_params),
            form_fields: records(form_fields),
            request_schema: request_schema.as_ref().map(SchemaRecord::from),
            response_schemas: records(response_schemas),
            auth: auth.iter().map(AuthCountRecord::from).collect(),
            cleartext: *cleartext,
            encrypted: *encrypted,
            protocols: protocols.clone(),
            grpc: grpc.as_ref().map(|g| {
                let GrpcStats { statuses, max_request_messages, max_response_messages } = g;
                GrpcRecord {
                    statuses: statuses.clone(),
                    max_request_messages: *max_request_messages,
                    max_response_messages: *max_response_messages,
                }
            }),
            operations: records(operations),
            websocket: websocket.as_ref().map(|w| {
                let WebSocketStats {
                    client_messages,
                    server_messages,
                    kinds,
                    bytes,
                    client_schema,
                    server_schema,
                    last_seen,
                } = w;
                WebSocketRecord {
                    client_messages: *client_messages,
                    server_messages: *server_messages,
                    kinds: kinds.clone(),
                    bytes: *bytes,
                    client_schema: client_schema.as_ref().map(SchemaRecord::from),
                    server_schema: server_schema.as_ref().map(SchemaRecord::from),
                    last_seen: *last_seen,
                }
            }),
            sensitive: records(sensitive),
            why: why.clone(),
            hourly: hourly.clone(),
            kept_apart: kept_apart
                .as_ref()
                .map(|k| KeptApartRecord { template: k.template.clone(), reason: k.reason.clone() }),
        }
    }
}

impl From<EndpointRecord> for Endpoint {
    fn from(r: EndpointRecord) -> Self {
        Endpoint {
            host: r.host,
            method: r.method,
            path: r.path,
            hits: r.hits,
            first_seen: r.first_seen,
            last_seen: r.last_seen,
            clients: r.clients.into(),
            status_codes: r.status_codes,
            latency: r.latency.into(),
            request_bytes: r.request_bytes.into(),
            response_bytes: r.response_bytes.into(),
            request_content_types: r.request_content_types,
            response_content_types: r.response_content_types,
            path_params: values(r.path_params),
            query_params: values(r.query_params),
            form_fields: values(r.form_fields),
            request_schema: r.request_schema.map(Schema::from),
            response_schemas: values(r.response_schemas),
            auth: r.auth.into_iter().map(AuthCount::from).collect(),
            cleartext: r.cleartext,
            encrypted: r.encrypted,
            protocols: r.protocols,
            grpc: r.grpc.map(|g| GrpcStats {
                statuses: g.statuses,
                max_request_messages: g.max_request_messages,
                max_response_messages: g.max_response_messages,
            }),
            operations: values(r.operations),
            websocket: r.websocket.map(|w| WebSocketStats {
                client_messages: w.client_messages,
                server_messages: w.server_messages,
                kinds: w.kinds,
                bytes: w.bytes,
                client_schema: w.client_schema.map(Schema::from),
                server_schema: w.server_schema.map(Schema::from),
                last_seen: w.last_seen,
            }),
            sensitive: values(r.sensitive),
            why: r.why,
            hourly: r.hourly,
            kept_apart: r.kept_apart.map(|k| KeptApart { template: k.template, reason: k.reason }),
        }
    }
}

impl From<&OperationStats> for OperationRecord {
    fn from(o: &OperationStats) -> Self {
        let OperationStats { style, kind, hits, errors, introspection, root_fields, variables, first_seen, last_seen } =
            o;
        OperationRecord {
            style: style.clone(),
            kind: kind.clone(),
            hits: *hits,
            errors: *errors,
            introspection: *introspection,
            root_fields: root_fields.clone(),
            variables: variables.clone(),
            first_seen: *first_seen,
            last_seen: *last_seen,
        }
    }
}

impl From<OperationRecord> for OperationStats {
    fn from(r: OperationRecord) -> Self {
        OperationStats {
            style: r.style,
            kind: r.kind,
            hits: r.hits,
            errors: r.errors,
            introspection: r.introspection,
            root_fields: r.root_fields,
            variables: r.variables,
            first_seen: r.first_seen,
            last_seen: r.last_seen,
        }
    }
}

impl From<&ClientSet> for ClientSetRecord {
    fn from(c: &ClientSet) -> Self {
        let ClientSet { hashes, registers } = c;
        ClientSetRecord { hashes: hashes.clone(), registers: registers.clone() }
    }
}

impl From<ClientSetRecord> for ClientSet {
    fn from(r: ClientSetRecord) -> Self {
        ClientSet { hashes: r.hashes, registers: r.registers }
    }
}

impl From<&Histogram> for HistogramRecord {
    fn from(h: &Histogram) -> Self {
        let Histogram { count, buckets } = h;
        HistogramRecord { count: *count, buckets: buckets.clone() }
    }
}

impl From<HistogramRecord> for Histogram {
    fn from(r: HistogramRecord) -> Self {
        Histogram { count: r.count, buckets: r.buckets }
    }
}

impl From<&SizeStats> for SizeRecord {
    fn from(s: &SizeStats) -> Self {
        let SizeStats { count, min, max, total } = *s;
        SizeRecord { count, min, max, total }
    }
}

impl From<SizeRecord> for SizeStats {
    fn from(r: SizeRecord) -> Self {
        SizeStats { count: r.count, min: r.min, max: r.max, total: r.total }
    }
}

impl From<&ParamInfo> for ParamRecord {
    fn from(p: &ParamInfo) -> Self {
        let ParamInfo { count, types, first_seen } = p;
        ParamRecord { count: *count, types: types.clone(), first_seen: *first_seen }
    }
}

impl From<ParamRecord> for ParamInfo {
    fn from(r: ParamRecord) -> Self {
        ParamInfo { count: r.count, types: r.types, first_seen: r.first_seen }
    }
}

impl From<&Schema> for SchemaRecord {
    fn from(s: &Schema) -> Self {
        let Schema { samples, types, formats, properties, objects, items, truncated, first_seen } = s;
        SchemaRecord {
            samples: *samples,
            types: types.into(),
            formats: formats.iter().map(|(f, n)| (FormatRecord::from(*f), *n)).collect(),
            properties: records(properties),
            objects: *objects,
            items: items.as_deref().map(|i| Box::new(SchemaRecord::from(i))),
            truncated: *truncated,
            first_seen: *first_seen,
        }
    }
}

impl From<SchemaRecord> for Schema {
    fn from(r: SchemaRecord) -> Self {
        Schema {
            samples: r.samples,
            types: r.types.into(),
            formats: r.formats.into_iter().map(|(f, n)| (Format::from(f), n)).collect(),
            properties: values(r.properties),
            objects: r.objects,
            items: r.items.map(|i| Box::new(Schema::from(*i))),
            truncated: r.truncated,
            first_seen: r.first_seen,
        }
    }
}

impl From<&TypeCounts> for TypeCountsRecord {
    fn from(t: &TypeCounts) -> Self {
        TypeCountsRecord {
            null: t.get("null"),
            boolean: t.get("boolean"),
            integer: t.get("integer"),
            number: t.get("number"),
            string: t.get("string"),
            array: t.get("array"),
            object: t.get("object"),
        }
    }
}

impl From<TypeCountsRecord> for TypeCounts {
    fn from(r: TypeCountsRecord) -> Self {
        let TypeCountsRecord { null, boolean, integer, number, string, array, object } = r;
        let mut t = TypeCounts::default();
        for (ty, n) in [
            ("null", null),
            ("boolean", boolean),
            ("integer", integer),
            ("number", number),
            ("string", string),
            ("array", array),
            ("object", object),
        ] {
            t.add(ty, n);
        }
        t
    }
}

impl From<Format> for FormatRecord {
    fn from(f: Format) -> Self {
        match f {
            Format::Email => FormatRecord::Email,
            Format::Uuid => FormatRecord::Uuid,
            Format::DateTime => FormatRecord::DateTime,
            Format::Date => FormatRecord::Date,
            Format::Ipv4 => FormatRecord::Ipv4,
            Format::Ipv6 => FormatRecord::Ipv6,
            Format::Uri => FormatRecord::Uri,
        }
    }
}

impl From<FormatRecord> for Format {
    fn from(f: FormatRecord) -> Self {
        match f {
            FormatRecord::Email => Format::Email,
            FormatRecord::Uuid => Format::Uuid,
            FormatRecord::DateTime => Format::DateTime,
            FormatRecord::Date => Format::Date,
            FormatRecord::Ipv4 => Format::Ipv4,
            FormatRecord::Ipv6 => Format::Ipv6,
            FormatRecord::Uri => Format::Uri,
        }
    }
}

impl From<&AuthCount> for AuthCountRecord {
    fn from(a: &AuthCount) -> Self {
        let AuthCount { scheme, count } = a;
        AuthCountRecord { scheme: scheme.into(), count: *count }
    }
}

impl From<AuthCountRecord> for AuthCount {
    fn from(r: AuthCountRecord) -> Self {
        AuthCount { scheme: r.scheme.into(), count: r.count }
    }
}

impl From<&AuthScheme> for AuthSchemeRecord {
    fn from(s: &AuthScheme) -> Self {
        match s {
            AuthScheme::None => AuthSchemeRecord::None,
            AuthScheme::Basic => AuthSchemeRecord::Basic,
            AuthScheme::Bearer => AuthSchemeRecord::Bearer,
            AuthScheme::Jwt { alg, iss } => AuthSchemeRecord::Jwt { alg: alg.clone(), iss: iss.clone() },
            AuthScheme::ApiKeyHeader { name } => AuthSchemeRecord::ApiKeyHeader { name: name.clone() },
            AuthScheme::ApiKeyQuery { name } => AuthSchemeRecord::ApiKeyQuery { name: name.clone() },
            AuthScheme::SessionCookie { name } => AuthSchemeRecord::SessionCookie { name: name.clone() },
            AuthScheme::Other { name } => AuthSchemeRecord::Other { name: name.clone() },
        }
    }
}

impl From<AuthSchemeRecord> for AuthScheme {
    fn from(r: AuthSchemeRecord) -> Self {
        match r {
            AuthSchemeRecord::None => AuthScheme::None,
            AuthSchemeRecord::Basic => AuthScheme::Basic,
            AuthSchemeRecord::Bearer => AuthScheme::Bearer,
            AuthSchemeRecord::Jwt { alg, iss } => AuthScheme::Jwt { alg, iss },
            AuthSchemeRecord::ApiKeyHeader { name } => AuthScheme::ApiKeyHeader { name },
            AuthSchemeRecord::ApiKeyQuery { name } => AuthScheme::ApiKeyQuery { name },
            AuthSchemeRecord::SessionCookie { name } => AuthScheme::SessionCookie { name },
            AuthSchemeRecord::Other { name } => AuthScheme::Other { name },
        }
    }
}

impl From<&SensitiveField> for SensitiveRecord {
    fn from(f: &SensitiveField) -> Self {
        let SensitiveField { classes, mask, first_seen } = f;
        SensitiveRecord {
            classes: classes.iter().map(|(c, n)| (DataClassRecord::from(*c), *n)).collect(),
            mask: mask.clone(),
            first_seen: first_seen.iter().map(|(c, t)| (DataClassRecord::from(*c), *t)).collect(),
        }
    }
}

impl From<SensitiveRecord> for SensitiveField {
    fn from(r: SensitiveRecord) -> Self {
        SensitiveField {
            classes: r.classes.into_iter().map(|(c, n)| (Class::from(c), n)).collect(),
            mask: r.mask,
            first_seen: r.first_seen.into_iter().map(|(c, t)| (Class::from(c), t)).collect(),
        }
    }
}

impl From<Class> for DataClassRecord {
    fn from(c: Class) -> Self {
        match c {
            Class::Password => DataClassRecord::Password,
            Class::BasicAuth => DataClassRecord::BasicAuth,
            Class::BearerToken => DataClassRecord::BearerToken,
            Class::Jwt => DataClassRecord::Jwt,
            Class::JwtAlgNone => DataClassRecord::JwtAlgNone,
            Class::ApiKey => DataClassRecord::ApiKey,
            Class::CloudAccessKey => DataClassRecord::CloudAccessKey,
            Class::SourceHostToken => DataClassRecord::SourceHostToken,
            Class::PaymentProviderKey => DataClassRecord::PaymentProviderKey,
            Class::PrivateKey => DataClassRecord::PrivateKey,
            Class::SessionCookie => DataClassRecord::SessionCookie,
            Class::Email => DataClassRecord::Email,
            Class::Phone => DataClassRecord::Phone,
            Class::CardNumber => DataClassRecord::CardNumber,
            Class::Iban => DataClassRecord::Iban,
            Class::UsSsn => DataClassRecord::UsSsn,
            Class::SpanishDni => DataClassRecord::SpanishDni,
            Class::DutchBsn => DataClassRecord::DutchBsn,
            Class::BrazilCpf => DataClassRecord::BrazilCpf,
        }
    }
}

impl From<DataClassRecord> for Class {
    fn from(c: DataClassRecord) -> Self {
        match c {
            DataClassRecord::Password => Class::Password,
            DataClassRecord::BasicAuth => Class::BasicAuth,
            DataClassRecord::BearerToken => Class::BearerToken,
            DataClassRecord::Jwt => Class::Jwt,
            DataClassRecord::JwtAlgNone => Class::JwtAlgNone,
            DataClassRecord::ApiKey => Class::ApiKey,
            DataClassRecord::CloudAccessKey => Class::CloudAccessKey,
            DataClassRecord::SourceHostToken => Class::SourceHostToken,
            DataClassRecord::PaymentProviderKey => Class::PaymentProviderKey,
            DataClassRecord::PrivateKey => Class::PrivateKey,
            DataClassRecord::SessionCookie => Class::SessionCookie,
            DataClassRecord::Email => Class::Email,
            DataClassRecord::Phone => Class::Phone,
            DataClassRecord::CardNumber => Class::CardNumber,
            DataClassRecord::Iban => Class::Iban,
            DataClassRecord::UsSsn => Class::UsSsn,
            DataClassRecord::SpanishDni => Class::SpanishDni,
            DataClassRecord::DutchBsn => Class::DutchBsn,
            DataClassRecord::BrazilCpf => Class::BrazilCpf,
        }
    }
}

impl From<&Alert> for AlertRecord {
    fn from(a: &Alert) -> Self {
        let Alert {
            id,
            kind,
            subtype,
            severity,
            title,
            host,
            method,
            path,
            client,
            count,
            first_seen,
            last_seen,
            state,
            evidence,
            clients,
            top_clients,
            samples,
            example,
            history,
            assignee,
            comments,
        } = a;
        AlertRecord {
            id: *id,
            kind: kind.clone(),
            subtype: subtype.clone(),
            severity: (*severity).into(),
            title: title.clone(),
            host: host.clone(),
            method: method.clone(),
            path: path.clone(),
            client: client.clone(),
            count: *count,
            first_seen: *first_seen,
            last_seen: *last_seen,
            state: (*state).into(),
            evidence: evidence.clone(),
            clients: clients.into(),
            top_clients: top_clients
                .iter()
                .map(|c| ClientCountRecord { client: c.client.clone(), count: c.count })
                .collect(),
            samples: samples.clone(),
            example: example
                .as_ref()
                .map(|e| ExchangeRecord { request: e.request.clone(), response: e.response.clone() }),
            history: history
                .iter()
                .map(|h| StateChangeRecord { at: h.at, by: h.by.clone(), state: h.state.into(), note: h.note.clone() })
                .collect(),
            assignee: assignee.clone(),
            comments: comments
                .iter()
                .map(|c| CommentRecord { at: c.at, by: c.by.clone(), text: c.text.clone() })
                .collect(),
        }
    }
}

impl From<AlertRecord> for Alert {
    fn from(r: AlertRecord) -> Self {
        Alert {
            id: r.id,
            kind: r.kind,
            subtype: r.subtype,
            severity: r.severity.into(),
            title: r.title,
            host: r.host,
            method: r.method,
            path: r.path,
            client: r.client,
            count: r.count,
            first_seen: r.first_seen,
            last_seen: r.last_seen,
            state: r.state.into(),
            evidence: r.evidence,
            clients: r.clients.into(),
            top_clients: r
                .top_clients
                .into_iter()
                .map(|c| apisonar_engine::alert::ClientCount { client: c.client, count: c.count })
                .collect(),
            samples: r.samples,
            example: r.example.map(|e| apisonar_engine::alert::Exchange { request: e.request, response: e.response }),
            history: r
                .history
                .into_iter()
                .map(|h| apisonar_engine::alert::StateChange {
                    at: h.at,
                    by: h.by,
                    state: h.state.into(),
                    note: h.note,
                })
                .collect(),
            assignee: r.assignee,
            comments: r
                .comments
                .into_iter()
                .map(|c| apisonar_engine::alert::Comment { at: c.at, by: c.by, text: c.text })
                .collect(),
        }
    }
}

impl From<&Suppression> for SuppressionRecord {
    fn from(s: &Suppression) -> Self {
        let Suppression {
            id,
            kind,
            host,
            method,
            path,
            client,
            expires,
            reason,
            created_by,
            created_at,
            suppressed,
            last_suppressed,
        } = s;
        SuppressionRecord {
            id: *id,
            kind: kind.clone(),
            host: host.clone(),
            method: method.clone(),
            path: path.clone(),
            client: client.clone(),
            expires: *expires,
            reason: reason.clone(),
            created_by: created_by.clone(),
            created_at: *created_at,
            suppressed: *suppressed,
            last_suppressed: *last_suppressed,
        }
    }
}

impl From<SuppressionRecord> for Suppression {
    fn from(r: SuppressionRecord) -> Self {
        Suppression {
            id: r.id,
            kind: r.kind,
            host: r.host,
            method: r.method,
            path: r.path,
            client: r.client,
            expires: r.expires,
            reason: r.reason,
            created_by: r.created_by,
            created_at: r.created_at,
            suppressed: r.suppressed,
            last_suppressed: r.last_suppressed,
        }
    }
}

impl From<Severity> for SeverityRecord {
    fn from(s: Severity) -> Self {
        match s {
            Severity::Info => SeverityRecord::Info,
            Severity::Low => SeverityRecord::Low,
            Severity::Medium => SeverityRecord::Medium,
            Severity::High => SeverityRecord::High,
            Severity::Critical => SeverityRecord::Critical,
        }
    }
}

impl From<SeverityRecord> for Severity {
    fn from(s: SeverityRecord) -> Self {
        match s {
            SeverityRecord::Info => Severity::Info,
            SeverityRecord::Low => Severity::Low,
            SeverityRecord::Medium => Severity::Medium,
            SeverityRecord::High => Severity::High,
            SeverityRecord::Critical => Severity::Critical,
        }
    }
}

impl From<AlertState> for AlertStateRecord {
    fn from(s: AlertState) -> Self {
        match s {
            AlertState::Open => AlertStateRecord::Open,
            AlertState::Acknowledged => AlertStateRecord::Acknowledged,
            AlertState::Resolved => AlertStateRecord::Resolved,
        }
    }
}

impl From<AlertStateRecord> for AlertState {
    fn from(s: AlertStateRecord) -> Self {
        match s {
            AlertStateRecord::Open => AlertState::Open,
            AlertStateRecord::Acknowledged => AlertState::Acknowledged,
            AlertStateRecord::Resolved => AlertState::Resolved,
        }
    }
}

impl From<&Spec> for SpecRecord {
    fn from(s: &Spec) -> Self {
        let Spec { name, title, format, hosts, operations, graphql } = s;
        SpecRecord {
            name: name.clone(),
            title: title.clone(),
            format: format.clone(),
            hosts: hosts.clone(),
            operations: operations.iter().map(SpecOperationRecord::from).collect(),
            graphql: graphql.as_ref().map(|g| {
                let GraphqlRoots { query, mutation, subscription } = g;
                GraphqlRootsRecord {
                    query: query.clone(),
                    mutation: mutation.clone(),
                    subscription: subscription.clone(),
                }
            }),
        }
    }
}

impl From<SpecRecord> for Spec {
    fn from(r: SpecRecord) -> Self {
        Spec {
            name: r.name,
            title: r.title,
            format: r.format,
            hosts: r.hosts,
            operations: r.operations.into_iter().map(SpecOperation::from).collect(),
            graphql: r.graphql.map(|g| GraphqlRoots {
                query: g.query,
                mutation: g.mutation,
                subscription: g.subscription,
            }),
        }
    }
}

impl From<&SpecOperation> for SpecOperationRecord {
    fn from(o: &SpecOperation) -> Self {
        let SpecOperation {
            method,
            path,
            deprecated,
            params,
            request_content_types,
            request_fields,
            responses,
            response_content_types,
            response_fields,
            security,
        } = o;
        SpecOperationRecord {
            method: method.clone(),
            path: path.clone(),
            deprecated: *deprecated,
            params: params.iter().map(SpecParamRecord::from).collect(),
            request_content_types: request_content_types.clone(),
            request_fields: request_fields.clone(),
            responses: responses.clone(),
            response_content_types: response_content_types.clone(),
            response_fields: response_fields.clone(),
            security: security.clone(),
        }
    }
}

impl From<SpecOperationRecord> for SpecOperation {
    fn from(r: SpecOperationRecord) -> Self {
        SpecOperation {
            method: r.method,
            path: r.path,
            deprecated: r.deprecated,
            params: r.params.into_iter().map(SpecParam::from).collect(),
            request_content_types: r.request_content_types,
            request_fields: r.request_fields,
            responses: r.responses,
            response_content_types: r.response_content_types,
            response_fields: r.response_fields,
            security: r.security,
        }
    }
}

impl From<&SpecParam> for SpecParamRecord {
    fn from(p: &SpecParam) -> Self {
        let SpecParam { name, location, required } = p;
        SpecParamRecord { name: name.clone(), location: location.clone(), required: *required }
    }
}

impl From<SpecParamRecord> for SpecParam {
    fn from(r: SpecParamRecord) -> Self {
        SpecParam { name: r.name, location: r.location, required: r.required }
    }
}

impl From<&TlsHost> for TlsHostRecord {
    fn from(h: &TlsHost) -> Self {
        let TlsHost {
            host,
            sessions,
            first_seen,
            last_seen,
            servers,
            versions,
            ciphers,
            alpn,
            ja3,
            ja4,
            ja3s,
            certificate,
            weaknesses,
        } = h;
        TlsHostRecord {
            host: host.clone(),
            sessions: *sessions,
            first_seen: *first_seen,
            last_seen: *last_seen,
            servers: servers.clone(),
            versions: versions.clone(),
            ciphers: ciphers.clone(),
            alpn: alpn.clone(),
            ja3: ja3.clone(),
            ja4: ja4.clone(),
            ja3s: ja3s.clone(),
            certificate: certificate.as_ref().map(TlsCertificateRecord::from),
            weaknesses: weaknesses.clone(),
        }
    }
}

impl From<TlsHostRecord> for TlsHost {
    fn from(r: TlsHostRecord) -> Self {
        TlsHost {
            host: r.host,
            sessions: r.sessions,
            first_seen: r.first_seen,
            last_seen: r.last_seen,
            servers: r.servers,
            versions: r.versions,
            ciphers: r.ciphers,
            alpn: r.alpn,
            ja3: r.ja3,
            ja4: r.ja4,
            ja3s: r.ja3s,
            certificate: r.certificate.map(TlsCertificate::from),
            weaknesses: r.weaknesses,
        }
    }
}

impl From<&TlsCertificate> for TlsCertificateRecord {
    fn from(c: &TlsCertificate) -> Self {
        let TlsCertificate { subject, issuer, not_before, not_after, key } = c;
        TlsCertificateRecord {
            subject: subject.clone(),
            issuer: issuer.clone(),
            not_before: *not_before,
            not_after: *not_after,
            key: key.clone(),
        }
    }
}

impl From<TlsCertificateRecord> for TlsCertificate {
    fn from(r: TlsCertificateRecord) -> Self {
        TlsCertificate {
            subject: r.subject,
            issuer: r.issuer,
            not_before: r.not_before,
            not_after: r.not_after,
            key: r.key,
        }
    }
}

impl From<&Overflow> for OverflowRecord {
    fn from(o: &Overflow) -> Self {
        let Overflow { host, counts, first_seen, last_seen, examples } = o;
        OverflowRecord {
            host: host.clone(),
            counts: counts.iter().map(|(r, n)| (OverflowReasonRecord::from(*r), *n)).collect(),
            first_seen: *first_seen,
            last_seen: *last_seen,
            examples: examples.clone(),
        }
    }
}

impl From<OverflowRecord> for Overflow {
    fn from(r: OverflowRecord) -> Self {
        Overflow {
            host: r.host,
            counts: r.counts.into_iter().map(|(reason, n)| (OverflowReason::from(reason), n)).collect(),
            first_seen: r.first_seen,
            last_seen: r.last_seen,
            examples: r.examples,
        }
    }
}

impl From<OverflowReason> for OverflowReasonRecord {
    fn from(r: OverflowReason) -> Self {
        match r {
            OverflowReason::Hosts => OverflowReasonRecord::Hosts,
            OverflowReason::Endpoints => OverflowReasonRecord::Endpoints,
            OverflowReason::Methods => OverflowReasonRecord::Methods,
            OverflowReason::TlsHosts => OverflowReasonRecord::TlsHosts,
            OverflowReason::Alerts => OverflowReasonRecord::Alerts,
            OverflowReason::Probes => OverflowReasonRecord::Probes,
        }
    }
}

impl From<OverflowReasonRecord> for OverflowReason {
    fn from(r: OverflowReasonRecord) -> Self {
        match r {
            OverflowReasonRecord::Hosts => OverflowReason::Hosts,
            OverflowReasonRecord::Endpoints => OverflowReason::Endpoints,
            OverflowReasonRecord::Methods => OverflowReason::Methods,
            OverflowReasonRecord::TlsHosts => OverflowReason::TlsHosts,
            OverflowReasonRecord::Alerts => OverflowReason::Alerts,
            OverflowReasonRecord::Probes => OverflowReason::Probes,
        }
    }
}

impl From<&TemplateOverride> for OverrideRecord {
    fn from(o: &TemplateOverride) -> Self {
        let TemplateOverride { host, template } = o;
        OverrideRecord { host: host.clone(), template: template.clone() }
    }
}

impl From<OverrideRecord> for TemplateOverride {
    fn from(r: OverrideRecord) -> Self {
        TemplateOverride { host: r.host, template: r.template }
    }
}

#[cfg(test)]
mod tests;
