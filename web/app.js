// apisonar dashboard: a small single-page app over /api/v1. Every value from the API is put in
// the page as text (textContent), never as HTML: traffic is attacker-controlled.
"use strict";

let csrf = null;
const view = () => document.getElementById("view");

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

async function api(path, options = {}) {
  const headers = Object.assign({ Accept: "application/json" }, options.headers || {});
  if (options.method && options.method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  const response = await fetch("/api/v1" + path, Object.assign({}, options, { headers, credentials: "same-origin" }));
  if (response.status === 401) {
    location.href = "/login";
    throw new Error("signed out");
  }
  const text = await response.text();
  const body = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error((body && (body.detail || body.error)) || response.statusText);
  return body;
}

function show(...nodes) {
  const v = view();
  v.replaceChildren(...nodes.flat(Infinity).filter((n) => n !== null && n !== undefined));
}

function fail(e) {
  show(h("p", { class: "error", role: "alert" }, "Could not load: " + e.message));
}

const fmt = new Intl.NumberFormat();
const num = (n) => fmt.format(n || 0);
const pct = (x) => (100 * (x || 0)).toFixed(1) + " %";
const when = (s) => (s ? s.replace("T", " ").replace(/\.\d+Z$/, "Z") : "–");
// First and last seen of an inventory row: null for an orphan (documented, never seen).
const seenAt = (s) => (s ? when(s) : "never");

// How an inventory row's traffic travelled: none for an orphan; a TLS-only row is sessions to a
// server name with no HTTP seen, not an endpoint.
function transport(e) {
  if (e.encrypted === null) return badge("never seen", "none");
  if (e.tls_only) return badge("TLS only (no HTTP seen)", "tls-only");
  return e.cleartext_hits > 0 ? badge("cleartext", "bad") : badge("TLS", "ok");
}

function badge(text, kind) {
  return h("span", { class: "badge " + (kind || text) }, text);
}

// A risk score with its level as the badge's colour and words (not colour alone).
function riskBadge(score, level) {
  return h("span", { class: `badge risk-${level}`, title: `risk ${level}` }, `${score} ${level}`);
}

function card(title, value, note) {
  return h("section", { class: "card" }, h("h3", {}, title), h("p", { class: "big" }, value), note ? h("p", { class: "muted" }, note) : null);
}

// Overview --------------------------------------------------------------------------------

function chart(points) {
  const ns = "http://www.w3.org/2000/svg";
  const width = 720, height = 160, pad = 24;
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height + pad}`);
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "Requests per hour");
  const max = Math.max(1, ...points.map((p) => p[1]));
  // At most 24 units per bar: a few hours of traffic should not become one wide block.
  const bar = points.length ? Math.min(24, width / points.length) : width;
  points.forEach(([hour, n], i) => {
    const r = document.createElementNS(ns, "rect");
    const bh = Math.max(1, (n / max) * height);
    r.setAttribute("x", (i * bar + 1).toFixed(1));
    r.setAttribute("y", (height - bh).toFixed(1));
    r.setAttribute("width", Math.max(1, bar - 2).toFixed(1));
    r.setAttribute("height", bh.toFixed(1));
    const t = document.createElementNS(ns, "title");
    t.textContent = `${when(hour)}: ${num(n)} requests`;
    r.append(t);
    svg.append(r);
  });
  if (points.length) {
    const first = when(points[0][0]).slice(0, 16), last = when(points[points.length - 1][0]).slice(0, 16);
    // Labels at both ends when the bars are wide enough to keep them apart; else one under the start.
    const labels = points.length * bar >= 260 ? [[first, 0, "start"], [last, Math.min(width, points.length * bar), "end"]]
      : [[points.length > 1 ? `${first} to ${last.slice(11)}` : first, 0, "start"]];
    for (const [text, x, anchor] of labels) {
      const label = document.createElementNS(ns, "text");
      label.setAttribute("x", x);
      label.setAttribute("y", height + 16);
      label.setAttribute("text-anchor", anchor);
      label.textContent = text;
      svg.append(label);
    }
  }
  return svg;
}

// Requests that made no endpoint: probes (no route answered them; every public host gets these)
// and, in a warning, traffic over the inventory's caps.
function notCatalogued(overflow) {
  const host = (x) => x.host === "*" ? "(hosts not in the inventory)" : x.host;
  const probed = overflow.filter((x) => x.counts.probes);
  const capped = overflow.filter((x) => Object.keys(x.counts).some((k) => k !== "probes"));
  const sum = (xs, f) => xs.reduce((n, x) => n + f(x), 0);
  const capsOf = (x) => Object.entries(x.counts).filter(([k]) => k !== "probes");
  return [
    probed.length ? h("section", { class: "panel" },
      h("h2", {}, "Probed paths"),
      h("p", {}, `${num(sum(probed, (x) => x.counts.probes))} requests for paths no route answered (scanners, broken links, guesses). They made no endpoint; their clients are checked for scanning.`),
      table(["Host", "Requests", "Examples"], probed.map((x) => [host(x), num(x.counts.probes), (x.examples || []).join(" ")]))) : null,
    capped.length ? h("section", { class: "panel warning", role: "status" },
      h("h2", {}, "Not catalogued: over the caps"),
      h("p", {}, `${num(sum(capped, (x) => sum(capsOf(x), ([, v]) => v)))} requests were over the inventory's caps ([inventory] in the configuration) and were counted here instead of becoming endpoints.`),
      table(["Host", "Requests", "Caps reached"], capped.map((x) => [host(x),
        num(sum(capsOf(x), ([, v]) => v)),
        capsOf(x).map(([k, v]) => `${k} ${num(v)}`).join(", ")]))) : null,
  ];
}

async function overview() {
  const o = await api("/overview");
  const states = ["documented", "shadow", "zombie", "orphan", "undocumented"];
  const severities = ["critical", "high", "medium", "low", "info"];
  const openAlerts = severities.reduce((n, s) => n + (o.open_alerts_by_severity[s] || 0), 0);
  show(
    h("h1", {}, "Overview"),
    h("div", { class: "cards" },
      card("Endpoints", num(o.endpoints), `${num(o.hosts)} hosts`),
      card("Requests", num(o.hits), o.capturing ? "capturing now" : "from the store"),
      card("Unencrypted", pct(o.unencrypted_share), `${num(o.cleartext_hits)} requests without TLS`),
      card("Open alerts", num(openAlerts), `${num(o.alerts)} in all`)),
    h("section", { class: "panel" }, h("h2", {}, "Endpoints by state"),
      h("ul", { class: "legend" }, states.map((s) =>
        h("li", {}, h("a", { href: `#/inventory?state=${s}` }, badge(s), " ", num(o.by_state[s])))))),
    h("section", { class: "panel", id: "riskiest" }, h("h2", {}, "Riskiest endpoints"),
      o.riskiest.length
        ? [table(["Risk", "Endpoint", "State", "Why"], o.riskiest.map((r) => [riskBadge(r.risk.score, r.risk.level),
            h("a", { href: "#/endpoint/" + r.id }, `${r.method} ${r.host}${r.path}`), badge(r.state),
            r.risk.reasons.map((x) => x.detail).join("; ")])),
          h("p", {}, h("a", { href: "#/inventory?sort=risk&order=desc" }, "All endpoints by risk"))]
        : h("p", { class: "muted" }, "No endpoint shows a risk yet.")),
    h("section", { class: "panel" }, h("h2", {}, "Open alerts by severity"),
      h("ul", { class: "legend" }, severities.map((s) =>
        h("li", {}, h("a", { href: `#/alerts?state=open&severity=${s}` }, badge(s), " ", num(o.open_alerts_by_severity[s])))))),
    h("section", { class: "panel" }, h("h2", {}, "Requests over time (per hour)"),
      o.requests_per_hour.length ? chart(o.requests_per_hour) : h("p", { class: "muted" }, "No traffic yet.")),
    notCatalogued(o.overflow),
  );
}

// Tables ----------------------------------------------------------------------------------

function params() {
  const q = location.hash.split("?")[1] || "";
  return new URLSearchParams(q);
}

function go(base, p) {
  for (const [k, v] of [...p.entries()]) if (v === "") p.delete(k);
  const q = p.toString();
  location.hash = base + (q ? "?" + q : "");
}

function select(name, label, options, current, onchange) {
  const id = "f-" + name;
  return h("label", { for: id }, label + " ",
    h("select", { id, name, onchange },
      options.map(([value, text]) => h("option", { value, selected: value === (current || "") }, text))));
}

function pager(base, p, page) {
  const pages = Math.max(1, Math.ceil(page.total / page.per_page));
  const to = (n) => () => { p.set("page", n); go(base, p); };
  return h("nav", { class: "pager", "aria-label": "Pages" },
    h("button", { type: "button", disabled: page.page <= 1, onclick: to(page.page - 1) }, "Previous"),
    ` Page ${page.page} of ${pages} (${num(page.total)}) `,
    h("button", { type: "button", disabled: page.page >= pages, onclick: to(page.page + 1) }, "Next"));
}

function sortHeader(base, p, key, label) {
  const active = (p.get("sort") || "host") === key;
  const desc = active && p.get("order") === "desc";
  const button = h("button", { type: "button", class: "sort", onclick: () => {
    p.set("sort", key);
    p.set("order", active && !desc ? "desc" : "asc");
    p.delete("page");
    go(base, p);
  } }, label, active ? (desc ? " ▼" : " ▲") : "");
  return h("th", { scope: "col", "aria-sort": active ? (desc ? "descending" : "ascending") : "none" }, button);
}

async function inventory() {
  const p = params();
  const [page, hosts] = await Promise.all([api("/endpoints?" + p.toString()), api("/hosts")]);
  const change = (name) => (e) => { p.set(name, e.target.value); p.delete("page"); go("#/inventory", p); };
  const search = h("input", { type: "search", id: "f-q", name: "q", value: p.get("q") || "", placeholder: "host or path", "aria-label": "Search" });
  const since = p.get("since");
  const rows = page.items.map((e) => {
    const link = "#/endpoint/" + e.id;
    return h("tr", { tabindex: 0, "data-href": link, onkeydown: (ev) => { if (ev.key === "Enter") location.hash = link; } },
      h("td", {}, e.host),
      h("td", {}, h("code", {}, e.method)),
      h("td", {}, h("a", { href: link }, e.path)),
      h("td", {}, badge(e.state)),
      h("td", {}, riskBadge(e.risk, e.risk_level)),
      h("td", { class: "num" }, num(e.hits)),
      h("td", {}, e.auth.length ? e.auth.join(", ") : "none"),
      h("td", {}, transport(e)),
      h("td", { class: "protocols" }, (e.protocols || []).map((x) => badge(x, "proto"))),
      h("td", {}, e.sensitive.join(", ")),
      h("td", {}, seenAt(e.last_seen)),
      since ? h("td", { class: "new" }, (e.new || []).join(", ")) : null);
  });
  show(
    h("h1", {}, "Inventory"),
    h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); p.set("q", search.value); p.delete("page"); go("#/inventory", p); } },
      search, h("button", { type: "submit" }, "Search"),
      select("host", "Host", [["", "all"], ...hosts.map((x) => [x.host, x.host])], p.get("host"), change("host")),
      select("state", "State", [["", "all"], ...["documented", "shadow", "zombie", "orphan", "undocumented"].map((s) => [s, s])], p.get("state"), change("state")),
      select("auth", "Auth", [["", "any"], ["none", "none"], ["basic", "basic"], ["bearer", "bearer"], ["jwt", "jwt"], ["api_key", "api key"], ["session_cookie", "session cookie"]], p.get("auth"), change("auth")),
      select("encrypted", "Encrypted", [["", "any"], ["true", "all over TLS"], ["false", "cleartext seen"]], p.get("encrypted"), change("encrypted")),
      select("sensitive", "Sensitive data", [["", "any"], ["true", "yes"], ["false", "no"]], p.get("sensitive"), change("sensitive")),
      select("protocol", "Protocol", [["", "any"], ["http/1", "HTTP/1"], ["h2", "HTTP/2"], ["grpc", "gRPC"], ["graphql", "GraphQL"], ["jsonrpc", "JSON-RPC"], ["mcp", "MCP"], ["websocket", "WebSocket"]], p.get("protocol"), change("protocol")),
      // Counted back from the newest traffic in the store (under live capture, now).
      select("since", "New since", [["", "any time"], ["1h", "last hour"], ["24h", "last 24 h"], ["7d", "last 7 days"]], since, change("since"))),
    exportLinks(p),
    h("table", { class: "data" },
      h("caption", {}, since ? `${num(page.total)} endpoints new or with something new` : `${num(page.total)} endpoints`),
      h("thead", {}, h("tr", {},
        sortHeader("#/inventory", p, "host", "Host"), sortHeader("#/inventory", p, "method", "Method"),
        sortHeader("#/inventory", p, "path", "Path"), sortHeader("#/inventory", p, "state", "State"),
        sortHeader("#/inventory", p, "risk", "Risk"), sortHeader("#/inventory", p, "hits", "Hits"), h("th", { scope: "col" }, "Auth"),
        h("th", { scope: "col" }, "Transport"), h("th", { scope: "col" }, "Protocol"), h("th", { scope: "col" }, "Sensitive"),
        sortHeader("#/inventory", p, "last_seen", "Last seen"),
        since ? h("th", { scope: "col" }, "New") : null)),
      h("tbody", {}, rows)),
    pager("#/inventory", p, page));
}

// Downloads of what the inventory filters select: OpenAPI per host (a zip of one document per
// host when no host is chosen) and a Postman collection.
function exportLinks(p, label = "Download what is listed: ") {
  const q = new URLSearchParams(p);
  for (const k of ["sort", "order", "page", "per_page"]) q.delete(k);
  const url = (kind, extra) => {
    const all = new URLSearchParams(q);
    for (const [k, v] of Object.entries(extra)) all.set(k, v);
    return `/api/v1/export/${kind}?${all.toString()}`;
  };
  const what = q.get("host") ? "" : " (zip, a document per host)";
  return h("nav", { class: "export", "aria-label": "Export" }, label,
    h("a", { href: url("openapi", { format: "yaml" }), download: "", id: "export-openapi-yaml" }, `OpenAPI YAML${what}`), " · ",
    h("a", { href: url("openapi", { format: "json" }), download: "", id: "export-openapi-json" }, `OpenAPI JSON${what}`), " · ",
    h("a", { href: url("postman", {}), download: "", id: "export-postman" }, "Postman collection"));
}

function kv(pairs) {
  return h("dl", { class: "kv" }, pairs.filter(([, v]) => v !== null && v !== undefined && v !== "").flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function table(headers, rows) {
  return h("table", { class: "data" },
    h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))));
}

async function endpoint(id) {
  const [e, filed] = await Promise.all([api("/endpoints/" + encodeURIComponent(id)),
    api(`/alerts?endpoint=${encodeURIComponent(id)}&per_page=100`)]);
  const us = (v) => (v === null || v === undefined ? "–" : (v / 1000).toFixed(1) + " ms");
  const sensitive = Object.entries(e.sensitive || {}).map(([where, f]) =>
    [where, Object.entries(f.classes).map(([c, n]) => `${c} (${num(n)}, first ${when((f.first_seen || {})[c])})`).join(", "), h("code", {}, f.mask)]);
  const transportText = e.encrypted === null ? "none: never seen"
    : e.tls_only ? "TLS only (no HTTP seen): encrypted sessions to this server name; no endpoint behind them is known"
    : e.cleartext_hits > 0 ? `${num(e.cleartext_hits)} requests in cleartext` : "all requests over TLS";
  const drift = e.drift ? Object.entries(e.drift).filter(([, v]) => Array.isArray(v) ? v.length : v) : [];
  show(
    h("p", {}, h("a", { href: "#/inventory" }, "← Inventory")),
    h("h1", {}, h("code", {}, e.method), " ", e.path),
    e.first_seen && !e.tls_only ? exportLinks(new URLSearchParams({ host: e.host }), `Download the API of ${e.host}: `) : null,
    kv([["Host", e.host], ["State", badge(e.state)], ["Why this state", e.state_reason], ["Spec", e.spec], ["Operation", e.operation],
      ["Hits", num(e.hits)], ["Clients", num(e.clients)], ["First seen", seenAt(e.first_seen)], ["Last seen", seenAt(e.last_seen)],
      ["Auth", e.auth.length ? e.auth.join(", ") : "none"],
      ["Transport", transportText],
      ["Protocol", (e.protocols || []).join(", ") || "–"],
      ["Latency", `p50 ${us(e.latency.p50_us)}, p95 ${us(e.latency.p95_us)}, p99 ${us(e.latency.p99_us)}`]]),
    e.grpc ? [h("h2", {}, "gRPC operation"), kv([["Service", h("code", {}, e.grpc.service)], ["Method", h("code", {}, e.grpc.method)],
      ["Streaming", e.grpc.kind.replace("_", " ")],
      ["Messages", `up to ${num(e.grpc.max_request_messages)} per request, ${num(e.grpc.max_response_messages)} per response`]]),
      table(["grpc-status", "Calls"], Object.entries(e.grpc.statuses).map(([s, n]) => [s, num(n)]))] : null,
    e.websocket ? [h("h2", {}, "WebSocket messages"),
      kv([["From clients", num(e.websocket.client_messages)], ["From the server", num(e.websocket.server_messages)],
        ["Kinds", Object.entries(e.websocket.kinds).map(([k, n]) => `${k} ${num(n)}`).join(", ")],
        ["Bytes", num(e.websocket.bytes)], ["Last message", when(e.websocket.last_seen)]]),
      e.websocket.client_schema ? [h("h3", {}, "Client messages"), h("pre", { tabindex: 0 }, JSON.stringify(e.websocket.client_schema, null, 2))] : null,
      e.websocket.server_schema ? [h("h3", {}, "Server messages"), h("pre", { tabindex: 0 }, JSON.stringify(e.websocket.server_schema, null, 2))] : null] : null,
    (e.operations || []).length ? [h("h2", {}, "Operations"),
      table(["Operation", "Style", "State", "Calls", "Errors", "Root fields", "Variables", "Last seen"],
        e.operations.map((o) => [h("code", {}, o.label), o.style, o.state ? h("span", { title: o.state_reason || "" }, badge(o.state)) : "–",
          num(o.hits), num(o.errors), o.root_fields.join(", "), o.variables.join(", "), when(o.last_seen)]))] : null,
    h("h2", {}, "Alerts"),
    filed.items.length ? h("table", { class: "data", id: "endpoint-alerts" },
      h("thead", {}, h("tr", {}, ["Severity", "Title", "OWASP", "State", "Count", "Last seen"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, filed.items.map((a) => h("tr", {}, h("td", {}, badge(a.severity)),
        h("td", {}, h("a", { href: "#/alert/" + a.id }, a.title)), h("td", {}, a.guidance.owasp ? a.guidance.owasp.id : "–"),
        h("td", {}, badge(a.state)), h("td", { class: "num" }, num(a.count)), h("td", {}, when(a.last_seen))))))
      : h("p", { class: "muted" }, "No alerts on this endpoint."),
    h("h2", {}, "Risk"),
    h("p", {}, riskBadge(e.risk.score, e.risk.level)),
    e.risk.reasons.length ? table(["Reason", "Points", "What showed it"], e.risk.reasons.map((r) => [r.reason.replace("_", " "), num(r.points), r.detail]))
      : h("p", { class: "muted" }, "Nothing seen makes this endpoint risky."),
    h("h2", {}, "Why it was templated so"),
    (e.why || []).length ? h("ul", {}, e.why.map((w) => h("li", {}, w))) : h("p", { class: "muted" }, "Literal path: no segment was turned into a parameter."),
    h("h2", {}, "Parameters"), e.params.length ? table(["Name", "In", "Type", "Seen", "First seen"], e.params.map((x) => [x.name, x.in, x.type, num(x.count), when(x.first_seen)])) : h("p", { class: "muted" }, "None."),
    h("h2", {}, "Status codes"), table(["Status", "Count"], Object.entries(e.status_codes).map(([s, n]) => [s, num(n)])),
    h("h2", {}, "Sensitive data (masked)"), sensitive.length ? table(["Where", "Classes", "Mask"], sensitive) : h("p", { class: "muted" }, "None seen."),
    drift.length ? [h("h2", {}, "Drift from the spec"), kv(drift.map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : String(v)]))] : null,
    h("h2", {}, "Schemas"),
    e.request_schema ? [h("h3", {}, "Request"), h("pre", { tabindex: 0 }, JSON.stringify(e.request_schema, null, 2))] : null,
    Object.entries(e.response_schemas || {}).map(([s, sc]) => [h("h3", {}, "Response " + s), h("pre", { tabindex: 0 }, JSON.stringify(sc, null, 2))]),
    e.tls ? [h("h2", {}, "TLS"), h("pre", { tabindex: 0 }, JSON.stringify(e.tls, null, 2))] : null);
}

async function alerts() {
  const p = params();
  const page = await api("/alerts?" + p.toString());
  const change = (name) => (e) => { p.set(name, e.target.value); p.delete("page"); go("#/alerts", p); };
  const rows = page.items.map((a) => {
    const link = "#/alert/" + a.id;
    return h("tr", { tabindex: 0, onkeydown: (ev) => { if (ev.key === "Enter") location.hash = link; } },
      h("td", {}, badge(a.severity)), h("td", {}, h("a", { href: link }, a.title)), h("td", {}, a.kind + (a.subtype ? " / " + a.subtype : "")),
      h("td", {}, `${a.method} ${a.host}${a.path}`), h("td", {}, clientsOf(a)), h("td", { class: "num" }, num(a.count)),
      h("td", {}, badge(a.state)), h("td", {}, a.assignee || "–"), h("td", {}, when(a.last_seen)));
  });
  show(
    h("h1", {}, "Alerts"),
    h("form", { class: "filters", onsubmit: (e) => e.preventDefault() },
      select("state", "State", [["", "all"], ["open", "open"], ["acknowledged", "acknowledged"], ["resolved", "resolved"]], p.get("state"), change("state")),
      select("severity", "Severity", [["", "all"], ...["critical", "high", "medium", "low", "info"].map((s) => [s, s])], p.get("severity"), change("severity")),
      select("kind", "Kind", [["", "all"], ...["cleartext_credentials", "cleartext_sensitive_data", "sensitive_data_exposure", "shadow_api", "zombie_api", "injection_attempt", "enumeration", "brute_force", "bola", "scanner", "rate_anomaly", "error_spike", "weak_tls", "graphql_introspection"].map((k) => [k, k])], p.get("kind"), change("kind"))),
    h("table", { class: "data" }, h("caption", {}, `${num(page.total)} alerts`),
      h("thead", {}, h("tr", {}, ["Severity", "Title", "Kind", "Endpoint", "Clients", "Count", "State", "Assigned", "Last seen"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows)),
    pager("#/alerts", p, page),
    h("p", {}, h("a", { href: "#/rules", id: "rules-link" }, "Suppression rules")));
}

// An alert about one client names it; one about an endpoint says how many clients it groups.
function clientsOf(a) {
  if (a.client) return a.client === "*" ? "many (past the per-alert limit)" : a.client;
  return a.clients === 1 && a.top_clients.length ? a.top_clients[0].client : `${num(a.clients)} clients`;
}

// A JSON body for a change.
const send = (method, body) => ({ method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

async function alert(id) {
  const a = await api("/alerts/" + encodeURIComponent(id));
  const act = (what, options = { method: "POST" }) => async () => {
    try {
      await api(`/alerts/${a.id}/${what}`, options);
      await alert(id);
    } catch (e) { fail(e); }
  };
  const g = a.guidance;
  const assignee = h("input", { id: "assignee", name: "assignee", value: a.assignee || "", maxlength: 100, autocomplete: "off" });
  const comment = h("textarea", { id: "comment", name: "comment", rows: 3, maxlength: 2000 });
  const occurrenceClient = a.client && a.client !== "*" ? a.client : (a.clients === 1 && a.top_clients.length ? a.top_clients[0].client : null);
  const scopes = [
    a.endpoint_id ? ["endpoint", `this endpoint (${a.method} ${a.path})`] : null,
    occurrenceClient ? ["client", `this client (${occurrenceClient})`] : null,
    ["host", `this host (${a.host})`],
  ].filter(Boolean);
  const scope = h("select", { id: "mute-scope", name: "scope" }, scopes.map(([v, t]) => h("option", { value: v }, t)));
  const expiry = h("select", { id: "mute-expires", name: "expires" },
    [["1d", "for a day"], ["7d", "for 7 days"], ["30d", "for 30 days"], ["", "until removed"]].map(([v, t]) => h("option", { value: v }, t)));
  const reason = h("input", { id: "mute-reason", name: "reason", maxlength: 2000, autocomplete: "off" });
  const mute = async (e) => {
    e.preventDefault();
    const rule = { kind: a.kind, expires: expiry.value || undefined, reason: reason.value };
    if (scope.value === "endpoint") rule.endpoint_id = a.endpoint_id;
    else if (scope.value === "client") rule.client = occurrenceClient;
    else rule.host = a.host;
    try {
      await api("/suppressions", send("POST", rule));
      location.hash = "#/rules";
    } catch (err) { fail(err); }
  };
  show(
    h("p", {}, h("a", { href: "#/alerts" }, "← Alerts")),
    h("h1", {}, a.title),
    kv([["Severity", badge(a.severity)], ["State", badge(a.state)], ["Kind", a.kind + (a.subtype ? " / " + a.subtype : "")],
      ["OWASP API Top 10", g.owasp ? `${g.owasp.id} ${g.owasp.name}` : "–"],
      ["Endpoint", a.endpoint_id ? h("a", { href: "#/endpoint/" + a.endpoint_id, id: "alert-endpoint" }, `${a.method} ${a.host}${a.path}`) : `${a.host} (whole host)`],
      ["Clients", clientsOf(a)], ["Occurrences", num(a.count)],
      ["First seen", when(a.first_seen)], ["Last seen", when(a.last_seen)], ["Assigned to", a.assignee || "nobody"]]),
    h("section", { class: "panel", id: "guidance" }, h("h2", {}, "Why it matters"), h("p", {}, g.why),
      h("h2", {}, "What to do"), h("p", {}, g.what_to_do)),
    a.top_clients.length > 1 ? [h("h2", {}, "Top clients"),
      table(["Client", "Occurrences"], a.top_clients.map((c) => [c.client, num(c.count)]))] : null,
    h("h2", {}, "Evidence (masked)"), h("pre", { id: "evidence", tabindex: 0 }, a.evidence),
    a.example ? [h("h2", {}, "Example exchange (masked)"),
      h("pre", { id: "example", tabindex: 0 }, [...a.example.request, "", ...a.example.response].join("\n"))] : null,
    a.samples.length > 1 ? [h("h2", {}, "Other occurrences (masked)"),
      h("ul", { class: "samples" }, a.samples.filter((x) => x !== a.evidence).map((x) => h("li", {}, h("code", {}, x))))] : null,
    h("div", { class: "actions" },
      h("button", { type: "button", id: "ack", disabled: a.state !== "open", onclick: act("ack") }, "Acknowledge"),
      h("button", { type: "button", id: "resolve", disabled: a.state === "resolved", onclick: act("resolve") }, "Resolve"),
      h("button", { type: "button", id: "reopen", disabled: a.state === "open", onclick: act("reopen") }, "Reopen")),
    h("form", { class: "filters", id: "assign-form", onsubmit: (e) => { e.preventDefault(); act("assign", send("POST", { assignee: assignee.value }))(); } },
      h("label", { for: "assignee" }, "Assign to "), assignee, h("button", { type: "submit" }, "Assign")),
    h("h2", {}, "History"),
    a.history.length ? h("ol", { id: "history" }, a.history.map((x) =>
      h("li", {}, `${when(x.at)}: ${x.state} by ${x.by}`, x.note ? ` (${x.note})` : "")))
      : h("p", { class: "muted" }, "No state change yet."),
    h("h2", {}, "Comments"),
    a.comments.length ? h("ul", { id: "comments" }, a.comments.map((c) => h("li", {}, h("strong", {}, c.by), ` ${when(c.at)}: `, c.text)))
      : h("p", { class: "muted" }, "No comments."),
    h("form", { class: "stack", id: "comment-form", onsubmit: (e) => { e.preventDefault(); if (comment.value.trim()) act("comments", send("POST", { text: comment.value }))(); } },
      h("label", { for: "comment" }, "Add a comment"), comment, h("button", { type: "submit" }, "Comment")),
    h("h2", {}, "Mute this kind of alert"),
    h("form", { class: "filters", id: "mute-form", onsubmit: mute },
      h("label", { for: "mute-scope" }, "For "), scope, h("label", { for: "mute-expires" }, "How long "), expiry,
      h("label", { for: "mute-reason" }, "Why "), reason, h("button", { type: "submit" }, "Mute")));
}

// Suppression rules: what each mutes, until when, and how much it dropped.
async function rules() {
  const list = await api("/suppressions");
  const remove = (id) => async () => {
    try { await api(`/suppressions/${id}`, { method: "DELETE" }); await rules(); } catch (e) { fail(e); }
  };
  const scope = (r) => [r.endpoint_id ? h("a", { href: "#/endpoint/" + r.endpoint_id }, `${r.method} ${r.host}${r.path}`) : r.host ? `host ${r.host}` : null,
    r.client ? `client ${r.client}` : null].filter(Boolean).flatMap((x, i) => (i ? [", ", x] : [x]));
  show(
    h("p", {}, h("a", { href: "#/alerts" }, "← Alerts")),
    h("h1", {}, "Suppression rules"),
    h("p", { class: "muted" }, "Occurrences a rule matches are dropped before they become alerts, and counted on the rule. Mute an alert kind from an alert's page."),
    list.length ? h("table", { class: "data", id: "rules" }, h("caption", {}, list.length === 1 ? "1 rule" : `${num(list.length)} rules`),
      h("thead", {}, h("tr", {}, ["Kind", "Scope", "Expires", "Reason", "By", "Suppressed", "Latest", ""].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, list.map((r) => h("tr", {},
        h("td", {}, r.kind), h("td", {}, scope(r)),
        h("td", {}, r.expires ? when(r.expires) + (r.active ? "" : " (expired)") : "never"),
        h("td", {}, r.reason || "–"), h("td", {}, r.created_by), h("td", { class: "num" }, num(r.suppressed)),
        h("td", {}, when(r.last_suppressed)),
        h("td", {}, h("button", { type: "button", onclick: remove(r.id), "aria-label": `Remove rule ${r.id}` }, "Remove"))))))
      : h("p", { class: "muted" }, "No rules."));
}

async function specs() {
  const list = await api("/specs");
  const file = h("input", { type: "file", id: "spec-file", accept: ".json,.yaml,.yml", required: true });
  const host = h("input", { id: "spec-host", placeholder: "every host in the spec" });
  const message = h("p", { role: "status" });
  const upload = async (e) => {
    e.preventDefault();
    const f = file.files[0];
    if (!f) return;
    try {
      const q = new URLSearchParams({ name: f.name });
      if (host.value) q.set("host", host.value);
      const r = await api("/specs?" + q.toString(), { method: "POST", body: await f.text(), headers: { "Content-Type": "application/octet-stream" } });
      message.textContent = `Stored ${r.name} (${r.operations} operations).`;
      await specs();
    } catch (err) {
      message.textContent = "Refused: " + err.message;
      message.className = "error";
    }
  };
  const remove = (name) => async () => {
    if (!confirm(`Remove ${name}?`)) return;
    try { await api("/specs/" + encodeURIComponent(name), { method: "DELETE" }); await specs(); } catch (e) { fail(e); }
  };
  show(
    h("h1", {}, "Specs"),
    h("form", { class: "filters", onsubmit: upload },
      h("label", { for: "spec-file" }, "OpenAPI or Swagger file "), file,
      h("label", { for: "spec-host" }, " Host "), host,
      h("button", { type: "submit" }, "Upload")),
    message,
    list.length ? table(["Name", "Title", "Format", "Hosts", "Operations", "Documented", "Shadow", "Zombie", "Orphan", "Drifting", ""],
      list.map((s) => [s.name, s.title, s.format, s.hosts.length ? s.hosts.join(", ") : "every host", num(s.operations),
        h("a", { href: "#/inventory?state=documented" }, num(s.documented)), h("a", { href: "#/inventory?state=shadow" }, num(s.shadow)),
        h("a", { href: "#/inventory?state=zombie" }, num(s.zombie)), h("a", { href: "#/inventory?state=orphan" }, num(s.orphan)), num(s.drifting),
        h("button", { type: "button", onclick: remove(s.name) }, "Remove")]))
      : h("p", { class: "muted" }, "No specs yet: every endpoint is undocumented until one is uploaded."));
}

async function sensor() {
  const s = await api("/status");
  if (!s.capturing) {
    show(h("h1", {}, "Sensor"), h("p", {}, "This dashboard serves a store; no capture runs in this process (start `apisonar run --listen` for live figures)."));
    return;
  }
  const m = s.metrics || {};
  const value = (name, labels) => {
    const samples = m[name] || [];
    return samples.filter((x) => Object.entries(labels || {}).every(([k, v]) => x.labels[k] === v)).reduce((n, x) => n + x.value, 0);
  };
  const sources = (m.apisonar_capture_packets_total || []).map((x) => x.labels.source);
  show(
    h("h1", {}, "Sensor"),
    h("p", {}, s.health.ok ? badge("healthy", "ok") : badge("unhealthy", "bad"), " ", s.health.problems.join("; ")),
    h("div", { class: "cards" },
      card("Frames", num(value("apisonar_capture_packets_total")), `${num(value("apisonar_capture_bytes_total"))} bytes`),
      card("Dropped", num(value("apisonar_dropped_packets_total")), "kernel, interface and queue"),
      card("Active flows", num(value("apisonar_flows_active")), `${num(value("apisonar_workers"))} workers`),
      card("Memory", (value("process_resident_memory_bytes") / 1048576).toFixed(1) + " MiB", `up ${Math.round(value("apisonar_uptime_seconds"))} s`),
      card("Analysis errors", num(value("apisonar_anomalies_total", { kind: "analysis_panic" })), "transactions skipped by a caught panic")),
    table(["Source", "Frames", "Kernel drops", "Interface drops", "Queue drops", "Running"], sources.map((src) => [src,
      num(value("apisonar_capture_packets_total", { source: src })),
      num(value("apisonar_dropped_packets_total", { source: src, reason: "kernel" })),
      num(value("apisonar_dropped_packets_total", { source: src, reason: "interface" })),
      num(value("apisonar_dropped_packets_total", { source: src, reason: "queue_full" })),
      value("apisonar_capture_running", { source: src }) ? "yes" : "no"])),
    h("h2", {}, "Limits hit"),
    table(["Limit", "Count"], (m.apisonar_limit_hits_total || []).map((x) => [x.labels.limit, num(x.value)])));
}

// Routing ---------------------------------------------------------------------------------

async function route() {
  const path = location.hash.replace(/^#/, "").split("?")[0] || "/";
  for (const a of document.querySelectorAll("nav a")) {
    const target = a.getAttribute("href").replace(/^#/, "");
    if ((target === "/" && path === "/") || (target !== "/" && path.startsWith(target))) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  try {
    let m;
    if (path === "/") await overview();
    else if (path === "/inventory") await inventory();
    else if ((m = path.match(/^\/endpoint\/([0-9a-f]+)$/))) await endpoint(m[1]);
    else if (path === "/alerts") await alerts();
    else if ((m = path.match(/^\/alert\/(\d+)$/))) await alert(m[1]);
    else if (path === "/rules") await rules();
    else if (path === "/specs") await specs();
    else if (path === "/sensor") await sensor();
    else show(h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/" }, "Overview")));
  } catch (e) {
    fail(e);
  }
}

async function start() {
  try {
    csrf = (await api("/session")).csrf;
  } catch (e) {
    return;
  }
  document.getElementById("logout").addEventListener("submit", async (e) => {
    e.preventDefault();
    await fetch("/logout", { method: "POST", headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" });
    location.href = "/login";
  });
  window.addEventListener("hashchange", route);
  await route();
}

document.addEventListener("DOMContentLoaded", start);
