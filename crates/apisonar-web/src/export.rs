//! The discovered API taken out of the sensor: OpenAPI 3.1 documents (one per host; several
//! hosts as a zip of them) and Postman collections (v2.1), of the endpoints an inventory filter
//! selects. Shared by the REST API's download routes and `apisonar export`.

use std::collections::BTreeMap;

use apisonar_engine::{openapi, postman, Endpoint};
use apisonar_store::{Store, StoreError};

use crate::api::{matches_endpoint, EndpointQuery};
use crate::views::{self, EndpointRow};

/// The endpoints the filter selects (seen ones: orphans and TLS rows have no operation to
/// describe), sorted by host, path and method, with what the inventory says of each that the
/// catalog does not (its state against the specs, when it was seen).
pub struct Selection {
    pub endpoints: Vec<Endpoint>,
    notes: BTreeMap<(String, String, String), String>,
}

/// Why a selection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Since(#[from] views::SinceError),
}

impl Selection {
    pub fn read(store: &dyn Store, filter: &EndpointQuery) -> Result<Selection, SelectError> {
        let endpoints = store.endpoints()?;
        let rows = views::rows_of(store, endpoints.clone())?;
        let since = match filter.since.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(text) => Some(views::parse_since(text, views::newest_seen(&rows).unwrap_or(0))?),
            None => None,
        };
        let notes: BTreeMap<(String, String, String), String> = rows
            .iter()
            .filter(|r| r.seen.is_some() && r.method != "TLS" && matches_endpoint(r, filter))
            .filter(|r| since.is_none_or(|s| !r.new_since(s).is_empty()))
            .map(|r| ((r.host.clone(), r.method.clone(), r.path.clone()), note(r)))
            .collect();
        let mut endpoints: Vec<Endpoint> = endpoints
            .into_iter()
            .filter(|e| notes.contains_key(&(e.host.clone(), e.method.clone(), e.path.clone())))
            .collect();
        endpoints.sort_by(|a, b| (&a.host, &a.path, &a.method).cmp(&(&b.host, &b.path, &b.method)));
        Ok(Selection { endpoints, notes })
    }

    /// The hosts selected, sorted.
    pub fn hosts(&self) -> Vec<&str> {
        let mut hosts: Vec<&str> = self.endpoints.iter().map(|e| e.host.as_str()).collect();
        hosts.dedup();
        hosts
    }

    fn notes(&self, e: &Endpoint) -> String {
        self.notes.get(&(e.host.clone(), e.method.clone(), e.path.clone())).cloned().unwrap_or_default()
    }

    /// The OpenAPI document of one host.
    pub fn openapi(&self, host: &str) -> serde_json::Value {
        let refs: Vec<&Endpoint> = self.endpoints.iter().filter(|e| e.host == host).collect();
        openapi::document_with(host, &refs, &|e| self.notes(e))
    }

    /// One Postman collection of everything selected.
    pub fn postman(&self, name: &str) -> serde_json::Value {
        let refs: Vec<&Endpoint> = self.endpoints.iter().collect();
        postman::collection(name, &refs, &|e| self.notes(e))
    }
}

fn note(r: &EndpointRow) -> String {
    let mut out = format!("Inventory state: {} ({}).", r.state, r.state_reason);
    if let (Some(first), Some(last)) = (&r.first_seen, &r.last_seen) {
        out.push_str(&format!(" First seen {first}, last seen {last}."));
    }
    out
}

/// OpenAPI text formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Format::Yaml => "application/yaml",
            Format::Json => "application/json",
        }
    }

    /// The document as text, its top-level members in the order readers expect (`openapi`,
    /// `info`, ... `components` last) rather than alphabetical.
    pub fn render(self, doc: &serde_json::Value) -> String {
        const ORDER: [&str; 6] = ["openapi", "info", "servers", "tags", "paths", "components"];
        let Some(members) = doc.as_object() else { return String::new() };
        let mut keys: Vec<&String> = members.keys().collect();
        keys.sort_by_key(|k| ORDER.iter().position(|o| o == k).unwrap_or(ORDER.len()));
        let mut out = String::new();
        match self {
            Format::Json => {
                out.push('{');
                for (i, key) in keys.iter().enumerate() {
                    let value = serde_json::to_string_pretty(&members[key.as_str()]).unwrap_or_default();
                    out.push_str(if i == 0 { "\n  " } else { ",\n  " });
                    out.push_str(&serde_json::to_string(key).unwrap_or_default());
                    out.push_str(": ");
                    out.push_str(&value.replace('\n', "\n  "));
                }
                out.push_str("\n}\n");
            }
            Format::Yaml => {
                for key in keys {
                    let one: serde_json::Map<String, serde_json::Value> =
                        std::iter::once((key.clone(), members[key.as_str()].clone())).collect();
                    out.push_str(&crate::yaml::to_yaml(&serde_json::Value::Object(one)));
                }
            }
        }
        out
    }
}

/// A file name for a host's document: host names are text from traffic, so anything but
/// letters, digits, dots and dashes becomes `_`, and a name changed that way gets a hash of
/// the real one (two odd names may sanitise alike).
pub fn file_stem(host: &str) -> String {
    let safe: String = host
        .chars()
        .take(128)
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
        .collect();
    if safe == host && !safe.starts_with('.') && !safe.is_empty() {
        return safe;
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(host.as_bytes());
    let tag: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("{safe}-{tag}")
}

/// Why a zip could not be made: the format's 32-bit sizes or 16-bit counts would overflow.
#[derive(Debug, thiserror::Error)]
#[error("the export is too large for a zip file")]
pub struct TooLarge;

/// A zip archive of `files` (name, contents), stored without compression: one download for
/// the documents of every host, which any unzip reads.
pub fn zip(files: &[(String, Vec<u8>)]) -> Result<Vec<u8>, TooLarge> {
    fn u16_of(n: usize) -> Result<[u8; 2], TooLarge> {
        u16::try_from(n).map(u16::to_le_bytes).map_err(|_| TooLarge)
    }
    fn u32_of(n: usize) -> Result<[u8; 4], TooLarge> {
        u32::try_from(n).map(u32::to_le_bytes).map_err(|_| TooLarge)
    }
    // Version 2.0 needed, UTF-8 names, stored, 1980-01-01 00:00 (the documents carry their own times).
    const HEAD: [u8; 10] = [20, 0, 0, 8, 0, 0, 0, 0, 0x21, 0];
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in files {
        let offset = u32_of(out.len())?;
        let crc = crc32fast::hash(data).to_le_bytes();
        let mut sizes = Vec::with_capacity(12);
        sizes.extend_from_slice(&crc);
        sizes.extend_from_slice(&u32_of(data.len())?);
        sizes.extend_from_slice(&u32_of(data.len())?);
        let name_len = u16_of(name.len())?;
        out.extend_from_slice(&[0x50, 0x4b, 3, 4]);
        out.extend_from_slice(&HEAD);
        out.extend_from_slice(&sizes);
        out.extend_from_slice(&name_len);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        central.extend_from_slice(&[0x50, 0x4b, 1, 2, 20, 0]);
        central.extend_from_slice(&HEAD);
        central.extend_from_slice(&sizes);
        central.extend_from_slice(&name_len);
        // Extra field, comment, disk, internal and external attributes: none.
        central.extend_from_slice(&[0; 12]);
        central.extend_from_slice(&offset);
        central.extend_from_slice(name.as_bytes());
    }
    let (count, central_at, central_len) = (u16_of(files.len())?, u32_of(out.len())?, u32_of(central.len())?);
    out.extend_from_slice(&central);
    out.extend_from_slice(&[0x50, 0x4b, 5, 6, 0, 0, 0, 0]);
    out.extend_from_slice(&count);
    out.extend_from_slice(&count);
    out.extend_from_slice(&central_len);
    out.extend_from_slice(&central_at);
    out.extend_from_slice(&[0, 0]);
    Ok(out)
}

/// The OpenAPI documents of every selected host, one file each, in a zip.
pub fn openapi_zip(selection: &Selection, format: Format) -> Result<Vec<u8>, TooLarge> {
    let files: Vec<(String, Vec<u8>)> = selection
        .hosts()
        .into_iter()
        .map(|h| {
            (
                format!("{}.openapi.{}", file_stem(h), format.extension()),
                format.render(&selection.openapi(h)).into_bytes(),
            )
        })
        .collect();
    zip(&files)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn documents_start_with_openapi_and_info_and_read_back_the_same() {
        let doc = serde_json::json!({"paths": {"/a": {"get": {"x": [1, {"y": "z\nw"}]}}}, "openapi": "3.1.0",
            "info": {"title": "t"}, "components": {}, "x-extra": true});
        let json = Format::Json.render(&doc);
        assert!(json.starts_with("{\n  \"openapi\": \"3.1.0\",\n  \"info\": {"), "{json}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&json).unwrap(), doc);
        let yaml = Format::Yaml.render(&doc);
        assert!(yaml.starts_with("\"openapi\": \"3.1.0\"\n\"info\":\n"), "{yaml}");
        let back = apisonar_engine::spec::yaml_documents(&yaml).unwrap();
        assert_eq!(back, [doc]);
    }

    #[test]
    fn file_stems_are_plain_and_odd_names_stay_apart() {
        assert_eq!(file_stem("api.test-1"), "api.test-1");
        let (a, b) = (file_stem("a:80"), file_stem("a/80"));
        assert!(a.starts_with("a_80-") && b.starts_with("a_80-") && a != b, "{a} {b}");
        assert!(file_stem("..").starts_with("__-") || file_stem("..").starts_with("..-"), "{}", file_stem(".."));
        assert!(!file_stem("").is_empty());
    }

    #[test]
    fn a_zip_lists_its_files_where_the_central_directory_says() {
        let z = zip(&[("a.json".into(), b"{}\n".to_vec()), ("b.yaml".into(), b"x: 1\n".to_vec())]).unwrap();
        let end = z.len() - 22;
        assert_eq!(&z[end..end + 4], &[0x50, 0x4b, 5, 6]);
        assert_eq!(u16::from_le_bytes([z[end + 10], z[end + 11]]), 2);
        let central_at = u32::from_le_bytes([z[end + 16], z[end + 17], z[end + 18], z[end + 19]]) as usize;
        assert_eq!(&z[central_at..central_at + 4], &[0x50, 0x4b, 1, 2]);
        assert_eq!(&z[30..36], b"a.json");
        assert_eq!(&z[36..39], b"{}\n");
        let crc = u32::from_le_bytes([z[14], z[15], z[16], z[17]]);
        assert_eq!(crc, crc32fast::hash(b"{}\n"));
    }
}
