//! GraphQL SDL as a spec: the root fields a schema offers (`Query`, `Mutation`, `Subscription`,
//! or the types its `schema { ... }` names, with `extend type` too). Operations whose root
//! fields are not in it are shadow operations.

use std::collections::BTreeSet;

use apollo_parser::cst;

use crate::operations::text_of;
use serde::{Deserialize, Serialize};

use super::{err, Spec, SpecError};

/// Root fields by operation kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphqlRoots {
    pub query: BTreeSet<String>,
    pub mutation: BTreeSet<String>,
    pub subscription: BTreeSet<String>,
}

impl GraphqlRoots {
    /// The root fields of operations of `kind` (`query`, `mutation`, `subscription`).
    pub fn fields(&self, kind: &str) -> Option<&BTreeSet<String>> {
        match kind {
            "query" => Some(&self.query),
            "mutation" => Some(&self.mutation),
            "subscription" => Some(&self.subscription),
            _ => None,
        }
    }
}

/// Root fields kept per kind.
const MAX_ROOT_FIELDS: usize = 4096;

/// True when `text` reads as GraphQL SDL rather than OpenAPI (by its name, or its first word).
pub(super) fn looks_like_sdl(name: &str, text: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    if [".graphql", ".graphqls", ".gql", ".sdl"].iter().any(|ext| lower.ends_with(ext)) {
        return true;
    }
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_default();
    ["type", "schema", "extend", "scalar", "enum", "input", "interface", "union", "directive", "\"\"\""]
        .contains(&first)
}

/// Parses an SDL document into a spec that covers every host (or those given with it).
pub(super) fn parse(name: &str, text: &str) -> Result<Spec, SpecError> {
    let tree = apollo_parser::Parser::new(text).recursion_limit(64).token_limit(500_000).parse();
    if let Some(e) = tree.errors().next() {
        let line = text.get(..e.index().min(text.len())).map_or(0, |t| t.lines().count().max(1));
        return Err(err(format!("line {line}"), format!("GraphQL SDL: {}", e.message())));
    }
    let doc = tree.document();
    let mut roots =
        [("query", "Query".to_string()), ("mutation", "Mutation".into()), ("subscription", "Subscription".into())];
    let schema_ops = doc.definitions().filter_map(|d| match d {
        cst::Definition::SchemaDefinition(s) => Some(s.root_operation_type_definitions().collect::<Vec<_>>()),
        cst::Definition::SchemaExtension(s) => Some(s.root_operation_type_definitions().collect::<Vec<_>>()),
        _ => None,
    });
    for def in schema_ops.flatten() {
        let (Some(kind), Some(ty)) = (def.operation_type(), def.named_type()) else { continue };
        let kind = text_of(&kind);
        if let Some(slot) = roots.iter_mut().find(|(k, _)| *k == kind) {
            slot.1 = text_of(&ty);
        }
    }
    let mut out = GraphqlRoots::default();
    for d in doc.definitions() {
        let (type_name, fields) = match d {
            cst::Definition::ObjectTypeDefinition(t) => (t.name(), t.fields_definition()),
            cst::Definition::ObjectTypeExtension(t) => (t.name(), t.fields_definition()),
            _ => continue,
        };
        let (Some(type_name), Some(fields)) = (type_name, fields) else { continue };
        let type_name = text_of(&type_name);
        let Some((kind, _)) = roots.iter().find(|(_, t)| *t == type_name) else { continue };
        let Some(set) = (match *kind {
            "query" => Some(&mut out.query),
            "mutation" => Some(&mut out.mutation),
            "subscription" => Some(&mut out.subscription),
            _ => None,
        }) else {
            continue;
        };
        for f in fields.field_definitions() {
            if let Some(n) = f.name() {
                if set.len() < MAX_ROOT_FIELDS {
                    set.insert(text_of(&n));
                }
            }
        }
    }
    if out.query.is_empty() && out.mutation.is_empty() && out.subscription.is_empty() {
        return Err(err("document", "GraphQL SDL without a Query, Mutation or Subscription type"));
    }
    Ok(Spec {
        name: name.to_string(),
        title: name.to_string(),
        format: "graphql sdl".into(),
        hosts: Vec::new(),
        operations: Vec::new(),
        graphql: Some(out),
    })
}

/// Whether an operation of `kind` with `root_fields` is in the schema: `Some(true)`
/// documented, `Some(false)` a shadow operation (the fields it asks for that the schema lacks),
/// `None` when the kind says nothing (persisted, invalid).
pub fn documents(roots: &GraphqlRoots, kind: &str, root_fields: &BTreeSet<String>) -> Option<Vec<String>> {
    let offered = roots.fields(kind)?;
    // Introspection fields are part of every schema.
    Some(root_fields.iter().filter(|f| !f.starts_with("__") && !offered.contains(*f)).cloned().collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn root_fields_come_from_the_schema_roots_and_their_extensions() {
        let sdl = "\"\"\"The shop\"\"\"\nschema { query: Root mutation: Changes }\n\
                   type Root { user(id: ID!): User  orders(first: Int): [Order] }\n\
                   extend type Root { me: User }\n\
                   type Changes { addOrder(input: OrderInput!): Order }\n\
                   type Query { notTheRoot: Int }\n\
                   type User { id: ID! }\ntype Order { id: ID! }\ninput OrderInput { sku: String }";
        let spec = parse("shop.graphql", sdl).unwrap();
        let roots = spec.graphql.unwrap();
        assert_eq!(roots.query, ["me", "orders", "user"].map(String::from).into());
        assert_eq!(roots.mutation, ["addOrder"].map(String::from).into());
        assert!(spec.hosts.is_empty() && spec.operations.is_empty());
        let fields = |f: &[&str]| f.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(documents(&roots, "query", &fields(&["user", "__schema"])), Some(vec![]));
        assert_eq!(documents(&roots, "mutation", &fields(&["dropAll"])), Some(vec!["dropAll".into()]));
        assert_eq!(documents(&roots, "persisted", &fields(&[])), None);
    }

    #[test]
    fn what_is_not_sdl_or_has_no_root_is_refused_with_a_place() {
        assert!(looks_like_sdl("x.gql", "") && looks_like_sdl("spec", "# c\ntype Query { a: Int }"));
        assert!(!looks_like_sdl("openapi.yaml", "openapi: 3.1.0"));
        let e = parse("bad.graphql", "type Query {\n  a: Int\n  b(: Int }").unwrap_err();
        assert!(e.place.starts_with("line "), "{e}");
        assert!(parse("types.graphql", "type User { id: ID }").is_err());
        assert!(crate::spec::parse("s.graphql", "type Query { a: Int }").is_ok());
    }
}
