//! Record encoding: keys, and values as a format byte then JSON of the store's own record types.
//!
//! Format 2 (`v2.rs`, converted to and from the engine's types in `convert.rs`) is what this
//! version writes and reads; format 1 (`v1.rs`, the engine's types as they were) is only read, by
//! the migration of a version-1 store.

mod convert;
pub(crate) mod v1;
pub(crate) mod v2;

use serde::de::DeserializeOwned;
use serde::Serialize;

use apisonar_engine::tlsposture::TlsHost;
use apisonar_engine::{Alert, Endpoint, EndpointKey, Overflow, Spec};

use crate::{StoreError, TemplateOverride};

/// Leading byte of every value of a version-1 store: the engine's types as JSON.
pub(crate) const RECORD_FORMAT_V1: u8 = 1;
/// Leading byte of every value this version writes: a format-2 record as JSON.
pub(crate) const RECORD_FORMAT_V2: u8 = 2;

/// `host \0 method \0 path`: sorts by host, then method, then path.
pub(crate) fn endpoint_key(k: &EndpointKey) -> Vec<u8> {
    let mut out = Vec::with_capacity(k.host.len() + k.method.len() + k.path.len() + 2);
    out.extend_from_slice(k.host.as_bytes());
    out.push(0);
    out.extend_from_slice(k.method.as_bytes());
    out.push(0);
    out.extend_from_slice(k.path.as_bytes());
    out
}

/// `host \0 template` (empty host: every host).
pub(crate) fn override_key(o: &TemplateOverride) -> Vec<u8> {
    let mut out = o.host.clone().unwrap_or_default().into_bytes();
    out.push(0);
    out.extend_from_slice(o.template.as_bytes());
    out
}

/// A value the store keeps, and the record it is kept as.
pub(crate) trait Persisted: Sized {
    type Record: Serialize + DeserializeOwned + for<'a> From<&'a Self> + Into<Self>;
    /// What the record is, for error messages.
    const WHAT: &'static str;
}

impl Persisted for Endpoint {
    type Record = v2::EndpointRecord;
    const WHAT: &'static str = "endpoint";
}

impl Persisted for Alert {
    type Record = v2::AlertRecord;
    const WHAT: &'static str = "alert";
}

impl Persisted for Spec {
    type Record = v2::SpecRecord;
    const WHAT: &'static str = "spec";
}

impl Persisted for TlsHost {
    type Record = v2::TlsHostRecord;
    const WHAT: &'static str = "tls host";
}

impl Persisted for Overflow {
    type Record = v2::OverflowRecord;
    const WHAT: &'static str = "overflow";
}

impl Persisted for apisonar_engine::suppression::Suppression {
    type Record = v2::SuppressionRecord;
    const WHAT: &'static str = "suppression";
}

impl Persisted for TemplateOverride {
    type Record = v2::OverrideRecord;
    const WHAT: &'static str = "override";
}

/// A value as its format-2 record.
pub(crate) fn encode<T: Persisted>(value: &T) -> Result<Vec<u8>, StoreError> {
    encode_record(&T::Record::from(value))
}

/// A value from its format-2 record.
pub(crate) fn decode<T: Persisted>(bytes: &[u8]) -> Result<T, StoreError> {
    decode_record::<T::Record>(bytes, T::WHAT).map(Into::into)
}

pub(crate) fn encode_record<R: Serialize>(record: &R) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![RECORD_FORMAT_V2];
    serde_json::to_writer(&mut out, record).map_err(|err| StoreError::Io(err.to_string()))?;
    Ok(out)
}

pub(crate) fn decode_record<R: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<R, StoreError> {
    decode_format(bytes, RECORD_FORMAT_V2, what)
}

/// A record of format `format` (JSON after the format byte); any other format is damage.
pub(crate) fn decode_format<R: DeserializeOwned>(bytes: &[u8], format: u8, what: &str) -> Result<R, StoreError> {
    match bytes.split_first() {
        Some((&found, json)) if found == format => serde_json::from_slice(json)
            .map_err(|e| StoreError::Damaged(format!("{what} record (format {format}): {e}"))),
        Some((other, _)) => {
            Err(StoreError::Damaged(format!("{what} record: format {other} where format {format} was expected")))
        }
        None => Err(StoreError::Damaged(format!("empty {what} record"))),
    }
}
