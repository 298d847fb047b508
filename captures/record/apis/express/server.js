'use strict';
// Code hosting API (Express 5 on Node's http server) used to record
// captures/apis/express-codehost.pcap. Run: node server.js PORT
//
// The OpenAPI document is hand-written (openapi.js) and served at
// /openapi.json. At start-up the server compares the routes registered on
// the Express router with the document's operations and refuses to start if
// they differ, so the spec describes exactly what the app implements.
// All data comes from a fixed seed, so every run serves the same content.
//
// Auth: POST /api/v3/login returns an HS256 JWT (made with node:crypto) and
// sets the _ch_session cookie; writes need the Bearer JWT, /users/me the
// cookie, /orgs/{org}/members an X-API-Key, /admin/stats HTTP Basic.
const crypto = require('node:crypto');
const express = require('express');
const spec = require('./openapi');

const SECRET = 'apisonar-codehost-hs256-secret-key-03';
const ISSUED_AT = 1705320000; // fixed: reproducible tokens
const EXPIRES_AT = 1893456000;
const API_KEYS = { 'chk_live_51f0e2d9a8b7c6d5e4f3a2b1': 'scim-sync' };
const BASIC = ['siteadmin', 'St4ts-only!'];
const EPOCH = Date.UTC(2024, 0, 15, 12, 0, 0);
const P = '/api/v3';
const BASE = 'https://code.example.com';

// ------------------------------------------------------------------ data
function mulberry32(a) {
  return () => {
    a |= 0; a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = mulberry32(20240115);
const pick = (a) => a[Math.floor(rnd() * a.length)];
const range = (lo, hi) => lo + Math.floor(rnd() * (hi - lo));
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const uuid4 = () => {
  const b = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) b[i] = range(0, 256);
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};
const sha1 = (s) => crypto.createHash('sha1').update(s).digest('hex');

const LOGINS = ['octocat', 'mona-lisa', 'hubot', 'defunkt', 'mojombo', 'pjhyett', 'wycats', 'ezmobius',
  'ivey', 'evanphx', 'vanpelt', 'wayneeseguin', 'brynary', 'kevinclark', 'technoweenie', 'macournoyer',
  'takeo', 'caged', 'topfunky', 'anotherjesse', 'roland', 'lukas', 'fanvsfan', 'tomtt', 'railsjitsu',
  'nitay', 'kevwil', 'KirinDave', 'jamesgolick', 'atmos', 'errfree', 'mojodna', 'bmizerany', 'jnewland',
  'joshknowles', 'hornbeck', 'jwhitmire', 'elbowdonkey', 'reinh', 'timocratic', 'bs', 'rsanheim'];
const ORGS = ['acme-corp', 'open-tools', 'data-lab', 'infra-team'];
const USERS = {};
LOGINS.forEach((login, i) => {
  USERS[login] = {
    login, id: 1000 + i * 17, node_id: uuid4(), type: 'User', name: login.replace(/-/g, ' '),
    email: `${login.toLowerCase()}@users.code.example.com`,
    avatar_url: `https://avatars.code.example.com/u/${1000 + i * 17}?v=4`,
    html_url: `${BASE}/${login}`, company: i % 3 ? pick(ORGS) : null,
    public_repos: 0, followers: range(0, 5000),
    created_at: iso(EPOCH - range(100, 4000) * 86400000), password: `pw-${login}`,
    site_admin: i === 0,
  };
});
const REPO_NAMES = ['api-server', 'dotfiles', 'website', 'cli', 'sdk-python', 'sdk-go', 'docs', 'infra',
  'terraform-modules', 'design-system', 'mobile-app', 'data-pipeline', 'ml-models', 'benchmarks', 'playground'];
const REPOS = {}; // "owner/name" -> repo
const ISSUES = {}; // "owner/name" -> [issue]
const COMMENTS = {}; // "owner/name#n" -> [comment]
let nextRepoId = 5000;
function addRepo(owner, name, extra) {
  const full = `${owner}/${name}`;
  const r = Object.assign({
    id: nextRepoId++, node_id: uuid4(), name, full_name: full, owner: owner, private: false,
    description: `${name.replace(/-/g, ' ')} by ${owner}`, html_url: `${BASE}/${full}`,
    clone_url: `${BASE}/${full}.git`, homepage: null, language: pick(['Go', 'Python', 'TypeScript', 'Rust', 'Ruby']),
    default_branch: 'main', stargazers_count: range(0, 3000), forks_count: range(0, 300), open_issues_count: 0,
    topics: [], created_at: iso(EPOCH - range(10, 2000) * 86400000), pushed_at: iso(EPOCH - range(0, 900) * 60000),
    branches: ['main', 'develop', `release-${range(1, 4)}.${range(0, 9)}`,
      pick(['feature-login', 'fix-ci', 'hotfix-cve-2024', 'docs-update', 'renovate-lockfile', 'wip-search', 'perf-cache'])],
  }, extra || {});
  REPOS[full] = r;
  ISSUES[full] = [];
  if (USERS[owner]) USERS[owner].public_repos++;
  return r;
}
function addIssue(full, author, data) {
  const list = ISSUES[full];
  const number = list.length + 1;
  const is = Object.assign({
    id: 90000 + Object.values(ISSUES).reduce((n, l) => n + l.length, 0), number, title: '', body: null,
    state: 'open', labels: [], assignees: [], user: author, comments: 0, milestone: null,
    html_url: `${BASE}/${full}/issues/${number}`, created_at: iso(EPOCH + number * 3600000), updated_at: iso(EPOCH + number * 3600000 + 60000),
  }, data);
  list.push(is);
  COMMENTS[`${full}#${number}`] = [];
  REPOS[full].open_issues_count = list.filter((i) => i.state === 'open').length;
  return is;
}
const ISSUE_WORDS = ['Crash on startup', 'Typo in README', 'Add ARM64 builds', 'Flaky test in CI', 'Support proxies',
  'Memory leak in worker', 'Docs: install on Windows', 'Bump dependencies', 'Dark mode', 'Timeout too short'];
for (const login of LOGINS) {
  for (const name of REPO_NAMES.slice(0, range(1, 4))) addRepo(login, pick([name, `${name}-${login.slice(0, 3).toLowerCase()}`]));
}
for (const org of ORGS) for (const name of REPO_NAMES.slice(range(0, 6), range(8, 15))) addRepo(org, name);
const GISTS = {};
for (let i = 0; i < 30; i++) {
  const id = uuid4();
  const owner = pick(LOGINS);
  GISTS[id] = { id, owner, description: `snippet ${i}`, public: rnd() < 0.8, html_url: `${BASE}/gist/${id}`,
    files: { [`snippet${i}.${pick(['py', 'sh', 'js', 'md'])}`]: { size: range(50, 3000), language: pick(['Python', 'Shell', 'JavaScript', 'Markdown']) } },
    created_at: iso(EPOCH - range(1, 700) * 86400000) };
}
const GIST_IDS = Object.keys(GISTS);
for (const full of Object.keys(REPOS)) {
  for (let i = 0, n = (REPOS[full].owner in USERS) ? range(0, 12) : range(10, 45); i < n; i++) {
    addIssue(full, pick(LOGINS), { title: pick(ISSUE_WORDS), state: rnd() < 0.7 ? 'open' : 'closed',
      labels: rnd() < 0.5 ? [pick(['bug', 'enhancement', 'good first issue', 'docs'])] : [],
      body: rnd() < 0.4 ? `Steps to reproduce: ${BASE}/gist/${pick(GIST_IDS)}` : null });
  }
}
const ORG_MEMBERS = {};
for (const org of ORGS) {
  ORG_MEMBERS[org] = LOGINS.filter(() => rnd() < 0.3).map((login) => ({
    login, role: rnd() < 0.2 ? 'admin' : 'member', email: USERS[login].email,
    last_seen_ip: `198.18.${range(0, 256)}.${range(1, 255)}`, joined_at: iso(EPOCH - range(5, 900) * 86400000),
  }));
}
const SESSIONS = {};

// ------------------------------------------------------------------ auth
const b64url = (buf) => Buffer.from(buf).toString('base64url');
function signJwt(claims) {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  const sig = b64url(crypto.createHmac('sha256', SECRET).update(`${head}.${body}`).digest());
  return `${head}.${body}.${sig}`;
}
function verifyJwt(tok) {
  const parts = tok.split('.');
  if (parts.length !== 3) return null;
  const want = b64url(crypto.createHmac('sha256', SECRET).update(`${parts[0]}.${parts[1]}`).digest());
  if (want.length !== parts[2].length || !crypto.timingSafeEqual(Buffer.from(want), Buffer.from(parts[2]))) return null;
  const c = JSON.parse(Buffer.from(parts[1], 'base64url').toString());
  if (c.aud !== 'codehost-api' || c.exp < Date.now() / 1000) return null;
  return c;
}
function fail(res, status, message, extra) {
  const doc = `https://docs.code.example.com/rest#${status}`;
  return res.status(status).json(Object.assign({ message, documentation_url: doc }, extra || {}));
}
function bearer(req, res, next) {
  const h = req.get('authorization') || '';
  const claims = h.startsWith('Bearer ') ? verifyJwt(h.slice(7)) : null;
  if (!claims || !USERS[claims.sub]) {
    res.set('WWW-Authenticate', 'Bearer realm="codehost"');
    return fail(res, 401, h ? 'Bad credentials' : 'Requires authentication');
  }
  req.user = USERS[claims.sub];
  next();
}
function cookieSession(req, res, next) {
  const m = /(?:^|;\s*)_ch_session=([^;]+)/.exec(req.get('cookie') || '');
  const login = m && SESSIONS[m[1]];
  if (!login) return fail(res, 401, 'Requires authentication');
  req.user = USERS[login];
  next();
}
function apiKey(req, res, next) {
  const k = req.get('x-api-key');
  if (!k) return fail(res, 401, 'X-API-Key header required');
  if (!API_KEYS[k]) return fail(res, 403, 'Invalid API key');
  next();
}
function basic(req, res, next) {
  const h = req.get('authorization') || '';
  const [u, p] = h.startsWith('Basic ') ? Buffer.from(h.slice(6), 'base64').toString().split(':') : [];
  if (u !== BASIC[0] || p !== BASIC[1]) {
    res.set('WWW-Authenticate', 'Basic realm="site admin"');
    return fail(res, 401, 'Requires authentication');
  }
  next();
}

// --------------------------------------------------------------- helpers
const publicUser = (u) => { const { password, ...rest } = u; return rest; };
const publicRepo = (r) => Object.assign({}, r, { owner: { login: r.owner, html_url: `${BASE}/${r.owner}` }, branches: undefined,
  recent_branches: r.branches });
function paginate(req, res, rows, def = 30) {
  const perPage = Math.min(Math.max(parseInt(req.query.per_page || def, 10) || def, 1), 100);
  const page = Math.max(parseInt(req.query.page || '1', 10) || 1, 1);
  const last = Math.max(1, Math.ceil(rows.length / perPage));
  if (page < last) {
    const u = new URL(req.originalUrl, BASE);
    u.searchParams.set('page', page + 1);
    res.set('Link', `<${BASE}${u.pathname}${u.search}>; rel="next"`);
  }
  return rows.slice((page - 1) * perPage, page * perPage);
}
function repoOr404(req, res) {
  const r = REPOS[`${req.params.owner}/${req.params.repo}`];
  if (!r) fail(res, 404, 'Not Found');
  return r;
}
function issueOr404(req, res) {
  const r = repoOr404(req, res);
  if (!r) return null;
  const is = ISSUES[r.full_name][parseInt(req.params.issue_number, 10) - 1];
  if (!is) fail(res, 404, 'Not Found');
  return is;
}
function validation(res, errors) {
  return fail(res, 422, 'Validation Failed', { errors });
}
const NAME_RE = /^[A-Za-z0-9._-]{1,100}$/;

// ---------------------------------------------------------------- routes
const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.use(express.json({ limit: '100kb' }));

app.get('/openapi.json', (req, res) => res.json(spec));

app.post(`${P}/login`, (req, res) => {
  const { login, password } = req.body || {};
  const u = USERS[login];
  if (!u || u.password !== password) return fail(res, 401, 'Incorrect username or password.');
  const sid = sha1(`${login}:${Object.keys(SESSIONS).length}`).slice(0, 32);
  SESSIONS[sid] = login;
  res.cookie('_ch_session', sid, { httpOnly: true, sameSite: 'lax', path: '/', secure: false });
  res.json({ token: signJwt({ sub: login, aud: 'codehost-api', iss: BASE, scope: 'repo user', iat: ISSUED_AT, exp: EXPIRES_AT }),
    token_type: 'bearer', expires_at: iso(EXPIRES_AT * 1000), user: publicUser(u) });
});

app.get(`${P}/users/me`, cookieSession, (req, res) => res.json(publicUser(req.user)));

app.get(`${P}/users/:username`, (req, res) => {
  const u = USERS[req.params.username];
  return u ? res.json(publicUser(u)) : fail(res, 404, 'Not Found');
});

app.get(`${P}/users/:username/repos`, (req, res) => {
  if (!USERS[req.params.username]) return fail(res, 404, 'Not Found');
  const sort = req.query.sort || 'full_name';
  const rows = Object.values(REPOS).filter((r) => r.owner === req.params.username)
    .sort((a, b) => (sort === 'created' ? b.created_at.localeCompare(a.created_at)
      : sort === 'pushed' ? b.pushed_at.localeCompare(a.pushed_at) : a.full_name.localeCompare(b.full_name)));
  res.json(paginate(req, res, rows).map(publicRepo));
});

app.post(`${P}/user/repos`, bearer, (req, res) => {
  const b = req.body || {};
  if (typeof b.name !== 'string' || !NAME_RE.test(b.name)) return validation(res, [{ resource: 'Repository', field: 'name', code: 'invalid' }]);
  if (REPOS[`${req.user.login}/${b.name}`]) return validation(res, [{ resource: 'Repository', field: 'name', code: 'already_exists' }]);
  const r = addRepo(req.user.login, b.name, { description: b.description || null, private: !!b.private,
    homepage: b.homepage || null, topics: b.topics || [], created_at: iso(EPOCH + 86400000), pushed_at: iso(EPOCH + 86400000) });
  if (b.auto_init) r.default_branch = 'main';
  res.status(201).location(`${P}/repos/${r.full_name}`).json(publicRepo(r));
});

app.get(`${P}/repos/:owner/:repo`, (req, res) => {
  const r = repoOr404(req, res);
  if (r) res.json(publicRepo(r));
});

app.patch(`${P}/repos/:owner/:repo`, bearer, (req, res) => {
  const r = repoOr404(req, res);
  if (!r) return;
  if (r.owner !== req.user.login && !req.user.site_admin) return fail(res, 403, 'Must have admin rights to Repository.');
  const b = req.body || {};
  for (const k of ['description', 'homepage', 'private', 'default_branch', 'topics']) if (k in b) r[k] = b[k];
  if (b.security_and_analysis) r.security_and_analysis = b.security_and_analysis;
  res.json(publicRepo(r));
});

app.delete(`${P}/repos/:owner/:repo`, bearer, (req, res) => {
  const r = repoOr404(req, res);
  if (!r) return;
  if (r.owner !== req.user.login) return fail(res, 403, 'Must have admin rights to Repository.');
  delete REPOS[r.full_name];
  res.status(204).end();
});

app.get(`${P}/repos/:owner/:repo/issues`, (req, res) => {
  const r = repoOr404(req, res);
  if (!r) return;
  const state = req.query.state || 'open';
  const labels = req.query.labels ? req.query.labels.split(',') : [];
  let rows = ISSUES[r.full_name].filter((i) => (state === 'all' || i.state === state) && labels.every((l) => i.labels.includes(l)));
  if (req.query.sort === 'updated') rows = rows.slice().sort((a, b) => b.updated_at.localeCompare(a.updated_at));
  if (req.query.direction === 'asc') rows = rows.slice().reverse();
  res.json(paginate(req, res, rows));
});

app.post(`${P}/repos/:owner/:repo/issues`, bearer, (req, res) => {
  const r = repoOr404(req, res);
  if (!r) return;
  const b = req.body || {};
  if (typeof b.title !== 'string' || !b.title.trim()) return validation(res, [{ resource: 'Issue', field: 'title', code: 'missing_field' }]);
  const is = addIssue(r.full_name, req.user.login, { title: b.title, body: b.body || null, labels: b.labels || [],
    assignees: b.assignees || [], milestone: b.milestone || null });
  res.status(201).location(`${P}/repos/${r.full_name}/issues/${is.number}`).json(is);
});

app.get(`${P}/repos/:owner/:repo/issues/:issue_number`, (req, res) => {
  const is = issueOr404(req, res);
  if (is) res.json(is);
});

app.patch(`${P}/repos/:owner/:repo/issues/:issue_number`, bearer, (req, res) => {
  const is = issueOr404(req, res);
  if (!is) return;
  const b = req.body || {};
  if ('state' in b && !['open', 'closed'].includes(b.state)) return validation(res, [{ resource: 'Issue', field: 'state', code: 'invalid' }]);
  for (const k of ['title', 'body', 'state', 'labels', 'assignees', 'state_reason']) if (k in b) is[k] = b[k];
  is.updated_at = iso(Date.parse(is.updated_at) + 3600000);
  res.json(is);
});

app.get(`${P}/repos/:owner/:repo/issues/:issue_number/comments`, (req, res) => {
  const is = issueOr404(req, res);
  if (is) res.json(paginate(req, res, COMMENTS[`${req.params.owner}/${req.params.repo}#${is.number}`]));
});

app.post(`${P}/repos/:owner/:repo/issues/:issue_number/comments`, bearer, (req, res) => {
  const is = issueOr404(req, res);
  if (!is) return;
  const b = req.body || {};
  if (typeof b.body !== 'string' || !b.body) return validation(res, [{ resource: 'IssueComment', field: 'body', code: 'missing_field' }]);
  const list = COMMENTS[`${req.params.owner}/${req.params.repo}#${is.number}`];
  const c = { id: 700000 + list.length + is.id * 10, node_id: uuid4(), user: req.user.login, body: b.body,
    html_url: `${is.html_url}#issuecomment-${700000 + list.length}`, created_at: iso(EPOCH + 7200000 + list.length * 1000) };
  list.push(c);
  is.comments = list.length;
  res.status(201).json(c);
});

app.get(`${P}/repos/:owner/:repo/commits/:sha`, (req, res) => {
  const r = repoOr404(req, res);
  if (!r) return;
  if (!/^[0-9a-f]{7,40}$/.test(req.params.sha)) return fail(res, 422, 'No commit found for SHA: ' + req.params.sha);
  const author = pick(LOGINS);
  res.json({ sha: req.params.sha.padEnd(40, '0'), html_url: `${r.html_url}/commit/${req.params.sha}`,
    commit: { message: 'Update ' + pick(['README.md', 'main.go', 'setup.py', 'Cargo.toml']),
      author: { name: author, email: USERS[author].email, date: iso(EPOCH - range(0, 1000) * 60000) } },
    stats: { additions: range(0, 300), deletions: range(0, 100) },
    parents: [{ sha: sha1(req.params.sha) }] });
});

app.get(`${P}/repos/:owner/:repo/branches/:branch`, (req, res) => {
  const r = repoOr404(req, res);
  if (!r) return;
  if (!r.branches.includes(req.params.branch)) return fail(res, 404, 'Branch not found');
  res.json({ name: req.params.branch, commit: { sha: sha1(`${r.full_name}@${req.params.branch}`), url: `${r.html_url}/tree/${req.params.branch}` },
    protected: req.params.branch === 'main' });
});

app.put(`${P}/repos/:owner/:repo/branches/:branch/protection`, bearer, (req, res) => {
  const r = repoOr404(req, res);
  if (!r) return;
  if (r.owner !== req.user.login) return fail(res, 403, 'Must have admin rights to Repository.');
  res.json({ url: `${r.html_url}/branches/${req.params.branch}/protection`, ...req.body });
});

app.get(`${P}/search/repositories`, (req, res) => {
  const q = (req.query.q || '').toLowerCase();
  if (!q) return validation(res, [{ resource: 'Search', field: 'q', code: 'missing' }]);
  const terms = q.split(/\s+/).filter((t) => !t.includes(':'));
  const lang = (/language:(\w+)/.exec(q) || [])[1];
  let rows = Object.values(REPOS).filter((r) => terms.every((t) => r.full_name.toLowerCase().includes(t))
    && (!lang || r.language.toLowerCase() === lang));
  if (req.query.sort === 'stars') rows = rows.slice().sort((a, b) => b.stargazers_count - a.stargazers_count);
  if (req.query.order === 'asc') rows.reverse();
  const items = paginate(req, res, rows, 10).map(publicRepo);
  res.json({ total_count: rows.length, incomplete_results: false, items });
});

app.get(`${P}/gists/:gist_id`, (req, res) => {
  const g = GISTS[req.params.gist_id];
  return g ? res.json(g) : fail(res, 404, 'Not Found');
});

app.delete(`${P}/gists/:gist_id`, bearer, (req, res) => {
  const g = GISTS[req.params.gist_id];
  if (!g) return fail(res, 404, 'Not Found');
  if (g.owner !== req.user.login) return fail(res, 403, 'Forbidden');
  delete GISTS[g.id];
  res.status(204).end();
});

app.get(`${P}/orgs/:org/members`, apiKey, (req, res) => {
  const m = ORG_MEMBERS[req.params.org];
  if (!m) return fail(res, 404, 'Not Found');
  const role = req.query.role;
  res.json(paginate(req, res, m.filter((x) => !role || role === 'all' || x.role === role)));
});

app.get(`${P}/admin/stats`, basic, (req, res) => {
  res.json({ repos: { total_repos: Object.keys(REPOS).length, fork_repos: 12 },
    users: { total_users: LOGINS.length, admin_users: 1, suspended_users: 0 },
    issues: { total_issues: Object.values(ISSUES).reduce((n, l) => n + l.length, 0) },
    server: { hostname: 'code-01.example.com', ip: '192.0.2.10', version: '3.12.4', booted_at: iso(EPOCH - 86400000 * 3) } });
});

app.get(`${P}/meta`, (req, res) => {
  res.json({ verifiable_password_authentication: true, installed_version: '3.12.4',
    hooks: ['192.0.2.20', '192.0.2.21'], web: ['192.0.2.10'], api: ['192.0.2.10'] });
});

// JSON errors for unknown routes and bad bodies (Express's default is HTML)
app.use((req, res) => fail(res, 404, 'Not Found'));
app.use((err, req, res, next) => fail(res, err.status || 500, err.type === 'entity.parse.failed' ? 'Problems parsing JSON' : 'Server Error'));

// --------------------------------------------- spec <-> routes self-check
function registeredOps() {
  const ops = [];
  for (const layer of app.router.stack) {
    if (!layer.route || layer.route.path === '/openapi.json') continue;
    const path = layer.route.path.replace(/:(\w+)/g, '{$1}');
    for (const m of Object.keys(layer.route.methods)) if (m !== '_all') ops.push(`${m.toUpperCase()} ${path}`);
  }
  return ops.sort();
}
const specOps = Object.entries(spec.paths).flatMap(([p, item]) => Object.keys(item)
  .filter((m) => ['get', 'put', 'post', 'delete', 'patch'].includes(m)).map((m) => `${m.toUpperCase()} ${p}`)).sort();
if (JSON.stringify(registeredOps()) !== JSON.stringify(specOps)) {
  console.error('routes and openapi.js differ:\n routes: %s\n spec:   %s', registeredOps().join(', '), specOps.join(', '));
  process.exit(1);
}

const server = app.listen(parseInt(process.argv[2] || '3000', 10), '127.0.0.1');
server.keepAliveTimeout = 30000;
