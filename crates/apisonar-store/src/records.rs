//! Record encoding: keys and versioned values.

use apisonar_engine::{Endpoint, EndpointKey};

use crate::StoreError;

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
