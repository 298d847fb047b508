//! Record encoding: keys and versioned values.

use apisonar_engine::{Endpoint, EndpointKey};

use crate::{StoreError, TemplateOverride};

/// Leading byte of every value: the encoding of what follows (1 = JSON).
const RECORD_FORMAT_JSON: u8 = 1;

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

pub(crate) fn encode_endpoint(e: &Endpoint) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![RECORD_FORMAT_JSON];
    serde_json::to_writer(&mut out, e).map_err(|err| StoreError::Io(err.to_string()))?;
    Ok(out)
}

pub(crate) fn decode_endpoint(bytes: &[u8]) -> Result<Endpoint, StoreError> {
    match bytes.split_first() {
        Some((&RECORD_FORMAT_JSON, json)) => {
            serde_json::from_slice(json).map_err(|e| StoreError::Damaged(format!("endpoint record: {e}")))
        }
        Some((other, _)) => Err(StoreError::Damaged(format!("unknown record format {other}"))),
        None => Err(StoreError::Damaged("empty record".into())),
    }
}

/// `host \0 template` (empty host: every host).
pub(crate) fn override_key(o: &TemplateOverride) -> Vec<u8> {
    let mut out = o.host.clone().unwrap_or_default().into_bytes();
    out.push(0);
    out.extend_from_slice(o.template.as_bytes());
    out
}

pub(crate) fn encode_override(o: &TemplateOverride) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![RECORD_FORMAT_JSON];
    serde_json::to_writer(&mut out, o).map_err(|err| StoreError::Io(err.to_string()))?;
    Ok(out)
}

pub(crate) fn decode_override(bytes: &[u8]) -> Result<TemplateOverride, StoreError> {
    match bytes.split_first() {
        Some((&RECORD_FORMAT_JSON, json)) => {
            serde_json::from_slice(json).map_err(|e| StoreError::Damaged(format!("override record: {e}")))
        }
        _ => Err(StoreError::Damaged("override record format".into())),
    }
}

/// Any versioned JSON record.
pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![RECORD_FORMAT_JSON];
    serde_json::to_writer(&mut out, value).map_err(|err| StoreError::Io(err.to_string()))?;
    Ok(out)
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&RECORD_FORMAT_JSON, json)) => {
            serde_json::from_slice(json).map_err(|e| StoreError::Damaged(format!("{what} record: {e}")))
        }
        _ => Err(StoreError::Damaged(format!("{what} record format"))),
    }
}
