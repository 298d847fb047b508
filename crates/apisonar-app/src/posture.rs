//! Specs and the inventory: templates follow every spec operation, and shadow/zombie alerts are
//! raised or updated from what is stored.

use apisonar_engine::{Alert, AlertMerge, Catalog, Spec};
use apisonar_store::{Store, StoreError};

/// Makes the catalog's templates follow every spec operation (a spec's static segment beats a
/// parameter; specified parameters group traffic as the spec does).
pub fn apply_specs(catalog: &mut Catalog, specs: &[Spec]) {
    for spec in specs {
        let templates: Vec<String> = spec.operations.iter().map(|o| o.path.clone()).collect();
        // What the operations answer first: pinning keeps apart stored routes that differ.
        let hosts: Vec<Option<&str>> =
            if spec.hosts.is_empty() { vec![None] } else { spec.hosts.iter().map(|h| Some(h.as_str())).collect() };
        for op in &spec.operations {
            for host in &hosts {
                catalog.document_responses(*host, op);
            }
        }
        if spec.hosts.is_empty() {
            catalog.pin_all(None, &templates);
        } else {
            for host in &spec.hosts {
                catalog.pin_all(Some(host), &templates);
            }
        }
    }
}

/// Raises or updates a shadow/zombie alert for every endpoint that is one against the stored
/// specs; returns the alerts that are new or whose state or severity changed (what the alert
/// stream reports: a count that grows is not news).
pub(crate) fn sync_posture_alerts(store: &dyn Store) -> Result<Vec<Alert>, StoreError> {
    let specs = store.specs()?;
    if specs.is_empty() {
        return Ok(Vec::new());
    }
    // A shadow or zombie endpoint someone muted stays out of the alerts (its state in the
    // inventory does not change).
    let rules = store.suppressions()?;
    let now = crate::alert_policy::wall_micros();
    let muted = |a: &Alert| {
        let key = apisonar_engine::EndpointKey { host: a.host.clone(), method: a.method.clone(), path: a.path.clone() };
        rules.iter().any(|r| r.matches(&a.kind, &key, "", now))
    };
    let mut changed = Vec::new();
    for e in store.endpoints()? {
        let verdict = apisonar_engine::posture::classify(&specs, &e);
        let mut drafts: Vec<Alert> = apisonar_engine::alert::posture_alert(&e, &verdict).into_iter().collect();
        for (label, op) in &e.operations {
            if let Some((apisonar_engine::State::Shadow, reason)) =
                apisonar_engine::posture::operation_state(&specs, &e, op)
            {
                drafts.push(apisonar_engine::alert::shadow_operation_alert(&e, label, op, &reason));
            }
        }
        for draft in drafts.into_iter().filter(|d| !muted(d)) {
            let up = store.upsert_alert(&draft, AlertMerge::Replace)?;
            if up.is_news() {
                changed.push(up.alert);
            }
        }
    }
    Ok(changed)
}
