//! Templating cases as data: paths in (optionally with a response shape), templates out.

#![allow(clippy::indexing_slicing, clippy::unwrap_used)]

use super::*;
use std::sync::Arc;

/// Feeds every `(path, shape)` in order, then returns the final template of each path.
fn templates(input: &[(&str, Option<Shape>)]) -> Vec<String> {
    let mut t = Templater::new(TemplateConfig::default());
    for (path, shape) in input {
        t.template("h", path, *shape);
    }
    input.iter().map(|(path, shape)| t.template("h", path, *shape).template).collect()
}

fn check(input: &[(&str, Option<Shape>)], expect: &[&str]) {
    let got = templates(input);
    let mut unique: Vec<&str> = got.iter().map(String::as_str).collect();
    unique.sort();
    unique.dedup();
    let mut want: Vec<&str> = expect.to_vec();
    want.sort();
    assert_eq!(unique, want, "input {input:?}");
}

fn ok(path: &str) -> (&str, Option<Shape>) {
    (path, Some(1))
}

#[test]
fn typed_ids_become_parameters_at_once() {
    check(&[ok("/api/v1/users/42"), ok("/api/v1/users/7")], &["/api/v1/users/{user_id}"]);
    check(&[ok("/orders/3f2b8c1e-9d4a-4e6b-8f1c-2a7d5e9b0c1d/items")], &["/orders/{order_id}/items"]);
    check(&[ok("/things/507f1f77bcf86cd799439011")], &["/things/{thing_id}"]);
    check(&[ok("/reports/2024-01-31")], &["/reports/{date}"]);
}

#[test]
fn nested_resources() {
    check(
        &[ok("/users/1/orders/10"), ok("/users/2/orders/20"), ok("/users/3/orders")],
        &["/users/{user_id}/orders/{order_id}", "/users/{user_id}/orders"],
    );
    check(&[ok("/categories/5/entries/9")], &["/categories/{category_id}/entries/{entry_id}"]);
}

#[test]
fn static_sibling_beside_an_id_stays() {
    check(
        &[ok("/users/1"), ok("/users/2"), ok("/users/me"), ok("/users/export")],
        &["/users/{user_id}", "/users/me", "/users/export"],
    );
}

#[test]
fn usernames_merge_by_cardinality_but_statics_with_other_shapes_stay() {
    let mut input: Vec<(String, Option<Shape>)> = (0..30)
        .map(|i| {
            (
                format!("/users/by-name/user{}", ["ann", "bob", "cy", "dee", "eve"][i % 5].to_owned() + &"x".repeat(i)),
                Some(7),
            )
        })
        .collect();
    input.push(("/users/by-name/_debug".to_string(), Some(99)));
    input.push(("/users/by-name/search".to_string(), Some(55)));
    let refs: Vec<(&str, Option<Shape>)> = input.iter().map(|(p, s)| (p.as_str(), *s)).collect();
    check(&refs, &["/users/by-name/{by_name}", "/users/by-name/_debug", "/users/by-name/search"]);
}

#[test]
fn slugs_under_a_version_prefix() {
    let paths: Vec<String> =
        (0..20).map(|i| format!("/api/v2/posts/how-to-{i}-things-work-{}", "x".repeat(i % 3))).collect();
    let mut input: Vec<(&str, Option<Shape>)> = paths.iter().map(|p| (p.as_str(), Some(3))).collect();
    input.push(ok("/api/v1/posts/7"));
    check(&input, &["/api/v2/posts/{post}", "/api/v1/posts/{post_id}"]);
}

#[test]
fn ids_in_the_first_segment() {
    check(&[ok("/42/profile"), ok("/43/profile")], &["/{id}/profile"]);
}

#[test]
fn one_off_paths_are_not_merged() {
    let pages = [
        "/about", "/contact", "/pricing", "/blog", "/careers", "/login", "/logout", "/signup", "/health", "/metrics",
        "/status", "/docs", "/terms", "/privacy",
    ];
    let input: Vec<(&str, Option<Shape>)> = pages.iter().map(|p| (*p, Some(9))).collect();
    check(&input, &pages);
    let few = ["/api/users/list", "/api/users/search", "/api/users/export"];
    let input: Vec<(&str, Option<Shape>)> = few.iter().map(|p| (*p, Some(2))).collect();
    check(&input, &few);
}

#[test]
fn errors_merge_with_the_parameter() {
    let mut input: Vec<(String, Option<Shape>)> =
        (0..15).map(|i| (format!("/repos/acme/project-{i}x"), Some(4))).collect();
    input.push(("/repos/acme/no-such-project".into(), None));
    let refs: Vec<(&str, Option<Shape>)> = input.iter().map(|(p, s)| (p.as_str(), *s)).collect();
    check(&refs, &["/repos/acme/{acme}"]);
}

#[test]
fn known_templates_win_and_a_literal_beats_a_parameter() {
    let mut t = Templater::new(TemplateConfig::default());
    t.add_known(Some("h"), "/repos/{owner}/{repo}");
    t.add_known(Some("h"), "/repos/{owner}/settings");
    t.add_known(None, "/health/");
    assert_eq!(t.template("h", "/repos/acme/widgets", None).template, "/repos/{owner}/{repo}");
    assert_eq!(t.template("h", "/repos/acme/settings", None).template, "/repos/{owner}/settings");
    assert_eq!(t.template("other", "/health", None).template, "/health");
    let r = t.template("h", "/repos/acme/widgets", None);
    assert_eq!(r.params, vec![(Arc::from("owner"), SegmentKind::Word), (Arc::from("repo"), SegmentKind::Word)]);
}

#[test]
fn merges_report_renames_and_reasons() {
    let mut t = Templater::new(TemplateConfig { word_threshold: 2, ..TemplateConfig::default() });
    t.template("h", "/tags/red/items", Some(1));
    t.template("h", "/tags/green", Some(1));
    let r = t.template("h", "/tags/blue", Some(1));
    assert_eq!(r.template, "/tags/{tag}");
    assert!(r.renames.contains(&("/tags/red".to_string(), "/tags/{tag}".to_string())), "{:?}", r.renames);
    assert!(r.why.iter().any(|w| w.contains("3 distinct values")), "{:?}", r.why);
    assert_eq!(t.template("h", "/tags/red/items", Some(1)).template, "/tags/{tag}/items");
}

#[test]
fn hostile_paths_are_bounded() {
    let mut t = Templater::new(TemplateConfig::default());
    let deep = "/a".repeat(10_000);
    let r = t.template("h", &deep, None);
    assert_eq!(split_path(&r.template).len(), TemplateConfig::default().max_depth);
    for i in 0..5000 {
        t.template("h", &format!("/x/word{i}y"), None);
    }
    assert_eq!(t.template("h", "/x/another", None).template, "/x/{x}");
}

/// Feeds paths, runs the whole-trie pass, and returns the final templates.
fn consolidated(input: &[(&str, Option<Shape>)]) -> Vec<String> {
    let mut t = Templater::new(TemplateConfig::default());
    for (path, shape) in input {
        t.template("h", path, *shape);
    }
    t.consolidate();
    let mut out: Vec<String> = input.iter().map(|(path, shape)| t.template("h", path, *shape).template).collect();
    out.sort();
    out.dedup();
    out
}

const JSON_A: Option<Shape> = Some(0b101);
const JSON_B: Option<Shape> = Some(0b111);

#[test]
fn few_values_with_common_structure_merge() {
    let got = consolidated(&[
        ("/api/categories/audio/products", JSON_A),
        ("/api/categories/cables/products", JSON_A),
        ("/api/categories/garden/products", JSON_A),
        ("/api/categories/garden/products/7", JSON_B),
    ]);
    assert_eq!(got, vec!["/api/categories/{category}/products", "/api/categories/{category}/products/{product_id}"]);
}

#[test]
fn owner_and_repo_pairs_merge_level_by_level() {
    let mut input = Vec::new();
    let repos = [("acme", "api"), ("acme", "web"), ("zed", "tools"), ("mona", "hackday-1"), ("kirin", "notes")];
    let paths: Vec<String> = repos
        .iter()
        .flat_map(|(o, r)| {
            [format!("/repos/{o}/{r}/issues"), format!("/repos/{o}/{r}/branches"), format!("/repos/{o}/{r}")]
        })
        .collect();
    for p in &paths {
        input.push((p.as_str(), JSON_A));
    }
    let got = consolidated(&input);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.iter().all(|t| t.starts_with("/repos/{repo}/{")), "{got:?}");
}

#[test]
fn same_shaped_leaves_merge_but_a_few_statics_do_not() {
    let projects: Vec<String> =
        ["COMET", "MAPLE", "NOVA", "ORION", "TIDE", "HELIX"].iter().map(|p| format!("/v2/projects/{p}")).collect();
    let input: Vec<(&str, Option<Shape>)> = projects.iter().map(|p| (p.as_str(), JSON_A)).collect();
    assert_eq!(consolidated(&input), vec!["/v2/projects/{project}"]);
    let statics =
        consolidated(&[("/api/users/list", JSON_A), ("/api/users/archive", JSON_A), ("/api/users/export", JSON_A)]);
    assert_eq!(statics.len(), 3, "{statics:?}");
    let aliases = consolidated(&[
        ("/members/alice", JSON_A),
        ("/members/bob", JSON_A),
        ("/members/carol", JSON_A),
        ("/members/dave", JSON_A),
        ("/members/erin", JSON_A),
        ("/members/me", JSON_A),
    ]);
    assert_eq!(aliases, vec!["/members/me", "/members/{member}"]);
}

#[test]
fn a_pinned_prefix_carries_the_rest_of_the_path() {
    let mut t = Templater::new(TemplateConfig::default());
    t.add_known(Some("h"), "/repos/{owner}/{repo}");
    assert_eq!(t.template("h", "/repos/acme/api/issues/7", None).template, "/repos/{owner}/{repo}/issues/{issue_id}");
    assert_eq!(t.template("h", "/repos/acme/api/issues", None).template, "/repos/{owner}/{repo}/issues");
    assert_eq!(t.template("h", "/repos/acme/api", None).template, "/repos/{owner}/{repo}");
    assert_eq!(t.template("h", "/other/1", None).template, "/other/{other_id}");
}

#[test]
fn multi_byte_characters_anywhere_in_a_path_are_templated_without_panicking() {
    let mut t = Templater::new(TemplateConfig { word_threshold: 3, ..TemplateConfig::default() });
    t.add_known(Some("h"), "/known/{k}/x");
    for v in crate::test_values::all() {
        // As a segment after a plural word (parameter names come from it), as the plural word,
        // percent-encoded, and as a known template or one learned from an earlier run.
        let encoded: String = v.bytes().map(|b| format!("%{b:02X}")).collect();
        for path in
            [format!("/users/{v}/orders"), format!("/{v}/1"), format!("/files/{encoded}"), format!("/known/{v}/x")]
        {
            let out = t.template("h", &path, Some(1));
            assert!(out.template.starts_with('/'), "{path}: {out:?}");
            let _ = t.known_rewrite("h", &out.template);
        }
        assert_eq!(percent_decode(&encoded), v);
        t.learn(&v, &format!("/{v}/{{{v}}}"));
        t.add_known(Some(&v), &format!("/a/{v}/{{b}}"));
        let normal = normalize_template(&format!("/{v}//{v}/"));
        assert!(normal.starts_with('/') && !normal.contains("//") && normalize_template(&normal) == normal, "{normal}");
    }
    t.consolidate();
    // The ASCII paths still template as before.
    let mut ascii = Templater::new(TemplateConfig::default());
    assert_eq!(ascii.template("h", "/users/42/orders", Some(1)).template, "/users/{user_id}/orders");
}

#[test]
fn braces_and_controls_in_literal_segments_are_escaped() {
    // Braces, spaces and controls are not in route names: such segments are values.
    check(&[ok("/files/{x}"), ok("/a b/c}")], &["/files/{file}", "/{param}/{param2}"]);
    assert_eq!(escape_literal("plain-segment_1"), "plain-segment_1");
    assert_eq!(escape_literal("é{\u{7}"), "é%7B%07");
    // Every template the templater gives has braces only around parameter names.
    let mut t = Templater::new(TemplateConfig::default());
    for path in ["/{", "/}}{{", "/x/{id}", "/%7B/{a}{b}", "/{}/"] {
        let out = t.template("h", path, None).template;
        for seg in split_path(&out) {
            let inner = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
            let is_param =
                inner.is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
            assert!(is_param || !seg.contains(['{', '}']), "{path} -> {out}");
        }
    }
}

/// The one-pass split gives what splitting on `/` and escaping each segment gives, for paths
/// of any bytes (escapes, controls, the bytes either side of the visible ASCII range,
/// multi-byte characters, runs of slashes at either end).
#[test]
fn paths_split_in_one_pass_as_segment_by_segment() {
    let pieces =
        ["/", "//", "a", "v1", "{", "}", " ", "\u{7}", "\u{7f}", "~", "!", "é", "%7B", "\u{85}", "users", "42", "日本"];
    let mut rng = apisonar_testkit::workload::Rng::seeded(0x5eed);
    for _ in 0..5000 {
        let len = rng.below(9) as usize;
        let path: String = (0..len).map(|_| pieces[rng.below(pieces.len() as u64) as usize]).collect();
        let expected: Vec<std::borrow::Cow<'_, str>> =
            path.split('/').filter(|s| !s.is_empty()).map(escape_literal).collect();
        assert_eq!(escaped_segments(&path), expected, "{path:?}");
    }
}

#[test]
fn a_host_trie_stops_growing_at_its_node_budget() {
    let config = TemplateConfig { max_nodes_per_host: 200, ..TemplateConfig::default() };
    let mut t = Templater::new(config);
    // Fewer distinct words per position than merge by cardinality (60 first segments, 11 below
    // each): without the budget these would make 60 + 660 + 7260 nodes.
    let word = |n: usize, prefix: &str| {
        let letters: String = [n / 26, n % 26].iter().map(|d| char::from(b'a' + *d as u8)).collect();
        format!("{prefix}{letters}")
    };
    let mut paths = Vec::new();
    for a in 0..60 {
        for b in 0..11 {
            for c in 0..11 {
                paths.push(format!("/{}/{}/{}", word(a, "w"), word(b, "x"), word(c, "y")));
            }
        }
    }
    for (i, path) in paths.iter().enumerate() {
        t.template("h", path, None);
        if i % 512 == 0 {
            t.consolidate();
        }
    }
    t.consolidate();
    let templates: std::collections::BTreeSet<String> =
        paths.iter().map(|p| t.template("h", p, None).template).collect();
    let nodes = count_nodes(&t.hosts.get("h").unwrap().root);
    assert!(nodes <= 200 + 24, "{nodes} nodes");
    assert!(templates.len() < 400, "{} templates", templates.len());
    // Another host has its own budget.
    assert_eq!(t.template("other", "/admin-1/x", None).template, "/admin-1/x");
    // A segment too long to be a name is a value.
    let long = "a".repeat(MAX_LITERAL_BYTES + 1);
    assert!(t.template("third", &format!("/x/{long}"), None).template.starts_with("/x/{"));
}

#[test]
fn parameters_are_never_named_after_versions_or_generic_prefixes() {
    check(&[ok("/users/v1/42")], &["/users/v1/{user_id}"]);
    check(&[ok("/api/v2/7/orders")], &["/api/v2/{id}/orders"]);
    check(&[ok("/v1/5")], &["/v1/{id}"]);
}

#[test]
fn lookup_finds_known_routes_without_learning() {
    let mut t = Templater::new(TemplateConfig::default());
    t.template("h", "/users/1", Some(1));
    t.template("h", "/users/2/orders", Some(1));
    let hit = t.lookup("h", "/users/999").map(|x| x.template);
    assert_eq!(hit.as_deref(), Some("/users/{user_id}"));
    // A SQL injection in the id position is a value of the id: it targets that route.
    let attack = t.lookup("h", "/users/1%27%20OR%201%3D1--").map(|x| x.template);
    assert_eq!(attack.as_deref(), Some("/users/{user_id}"));
    assert_eq!(t.lookup("h", "/users/export").map(|x| x.template), None, "a new word is no known route");
    assert_eq!(t.lookup("h", "/.git/config").map(|x| x.template), None);
    assert_eq!(t.lookup("other", "/users/1").map(|x| x.template), None);
    // Nothing was learnt: a lookup of an unknown path leaves no trace.
    assert_eq!(t.lookup("h", "/.git/config").map(|x| x.template), None);
    assert!(t.has_established_prefix("h", "/users/export"));
    assert!(!t.has_established_prefix("h", "/admin/panel"));
    assert!(!t.has_established_prefix("h", "/users"), "a one-segment path has no prefix");
}
