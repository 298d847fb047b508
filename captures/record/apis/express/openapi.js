'use strict';
// Hand-written OpenAPI 3.0 document of server.js (served at /openapi.json).
// server.js refuses to start if its routes and these operations differ.
const ref = (name) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
const err = (description) => json(ref('Error'), description);
const E401 = { 401: err('Requires authentication / bad credentials') };
const E403 = { 403: err('Forbidden') };
const E404 = { 404: err('Resource not found') };
const E422 = { 422: json(ref('ValidationError'), 'Validation failed') };
const pathParam = (name, schema, description) => ({ name, in: 'path', required: true, description, schema });
const query = (name, schema, description) => ({ name, in: 'query', required: false, description, schema });
const OWNER = pathParam('owner', { type: 'string', pattern: '^[A-Za-z0-9-]+$' }, 'Account (user or organization) that owns the repository');
const REPO = pathParam('repo', { type: 'string', pattern: '^[A-Za-z0-9._-]+$' }, 'Repository name');
const ISSUE = pathParam('issue_number', { type: 'integer', minimum: 1 }, 'Issue number within the repository');
const PAGING = [query('per_page', { type: 'integer', minimum: 1, maximum: 100, default: 30 }),
  query('page', { type: 'integer', minimum: 1, default: 1 })];
const body = (schema) => ({ required: true, content: { 'application/json': { schema } } });
const BEARER = [{ bearerAuth: [] }];
const str = { type: 'string' };
const dt = { type: 'string', format: 'date-time' };
const uri = { type: 'string', format: 'uri' };
const uuid = { type: 'string', format: 'uuid' };
const int = { type: 'integer' };
const bool = { type: 'boolean' };
const arr = (items) => ({ type: 'array', items });
const obj = (properties, required) => Object.assign({ type: 'object', properties }, required ? { required } : {});

module.exports = {
  openapi: '3.0.3',
  info: { title: 'CodeHost REST API', version: '3.12.4', description: 'Users, repositories, issues and gists of a small code hosting service.' },
  servers: [{ url: 'http://127.0.0.1:3000' }],
  tags: [{ name: 'auth' }, { name: 'users' }, { name: 'repos' }, { name: 'issues' }, { name: 'search' }, { name: 'gists' }, { name: 'orgs' }, { name: 'meta' }],
  paths: {
    '/api/v3/login': {
      post: { tags: ['auth'], operationId: 'login', summary: 'Exchange a password for a JWT (also sets the _ch_session cookie)',
        requestBody: body(ref('LoginRequest')),
        responses: { 200: Object.assign(json(ref('LoginResponse')), { headers: { 'Set-Cookie': { schema: str } } }), ...E401 } },
    },
    '/api/v3/users/me': {
      get: { tags: ['users'], operationId: 'getSessionUser', summary: 'The user of the browser session', security: [{ sessionCookie: [] }],
        responses: { 200: json(ref('User')), ...E401 } },
    },
    '/api/v3/users/{username}': {
      get: { tags: ['users'], operationId: 'getUser', parameters: [pathParam('username', str, 'Login of the user')],
        responses: { 200: json(ref('User')), ...E404 } },
    },
    '/api/v3/users/{username}/repos': {
      get: { tags: ['repos'], operationId: 'listUserRepos',
        parameters: [pathParam('username', str, 'Login of the user'), query('sort', { type: 'string', enum: ['created', 'pushed', 'full_name'] }), ...PAGING],
        responses: { 200: Object.assign(json(arr(ref('Repository'))), { headers: { Link: { schema: str } } }), ...E404 } },
    },
    '/api/v3/user/repos': {
      post: { tags: ['repos'], operationId: 'createRepo', security: BEARER, requestBody: body(ref('RepositoryCreate')),
        responses: { 201: json(ref('Repository'), 'Created'), ...E401, ...E422 } },
    },
    '/api/v3/repos/{owner}/{repo}': {
      get: { tags: ['repos'], operationId: 'getRepo', parameters: [OWNER, REPO], responses: { 200: json(ref('Repository')), ...E404 } },
      patch: { tags: ['repos'], operationId: 'updateRepo', security: BEARER, parameters: [OWNER, REPO], requestBody: body(ref('RepositoryUpdate')),
        responses: { 200: json(ref('Repository')), ...E401, ...E403, ...E404 } },
      delete: { tags: ['repos'], operationId: 'deleteRepo', security: BEARER, parameters: [OWNER, REPO],
        responses: { 204: { description: 'Deleted' }, ...E401, ...E403, ...E404 } },
    },
    '/api/v3/repos/{owner}/{repo}/issues': {
      get: { tags: ['issues'], operationId: 'listIssues',
        parameters: [OWNER, REPO, query('state', { type: 'string', enum: ['open', 'closed', 'all'], default: 'open' }),
          query('labels', str, 'Comma-separated label names'), query('sort', { type: 'string', enum: ['created', 'updated'] }),
          query('direction', { type: 'string', enum: ['asc', 'desc'] }), ...PAGING],
        responses: { 200: json(arr(ref('Issue'))), ...E404 } },
      post: { tags: ['issues'], operationId: 'createIssue', security: BEARER, parameters: [OWNER, REPO], requestBody: body(ref('IssueCreate')),
        responses: { 201: json(ref('Issue'), 'Created'), 400: err('Problems parsing JSON'), ...E401, ...E404, ...E422 } },
    },
    '/api/v3/repos/{owner}/{repo}/issues/{issue_number}': {
      get: { tags: ['issues'], operationId: 'getIssue', parameters: [OWNER, REPO, ISSUE], responses: { 200: json(ref('Issue')), ...E404 } },
      patch: { tags: ['issues'], operationId: 'updateIssue', security: BEARER, parameters: [OWNER, REPO, ISSUE], requestBody: body(ref('IssueUpdate')),
        responses: { 200: json(ref('Issue')), ...E401, ...E404, ...E422 } },
    },
    '/api/v3/repos/{owner}/{repo}/issues/{issue_number}/comments': {
      get: { tags: ['issues'], operationId: 'listIssueComments', parameters: [OWNER, REPO, ISSUE, ...PAGING],
        responses: { 200: json(arr(ref('IssueComment'))), ...E404 } },
      post: { tags: ['issues'], operationId: 'createIssueComment', security: BEARER, parameters: [OWNER, REPO, ISSUE],
        requestBody: body(obj({ body: str }, ['body'])),
        responses: { 201: json(ref('IssueComment'), 'Created'), ...E401, ...E404, ...E422 } },
    },
    '/api/v3/repos/{owner}/{repo}/commits/{sha}': {
      get: { tags: ['repos'], operationId: 'getCommit',
        parameters: [OWNER, REPO, pathParam('sha', { type: 'string', pattern: '^[0-9a-f]{7,40}$' }, 'Commit SHA-1 (full or abbreviated)')],
        responses: { 200: json(ref('Commit')), ...E404, 422: err('Not a commit SHA') } },
    },
    '/api/v3/repos/{owner}/{repo}/branches/{branch}': {
      get: { tags: ['repos'], operationId: 'getBranch', parameters: [OWNER, REPO, pathParam('branch', str, 'Branch name')],
        responses: { 200: json(ref('Branch')), ...E404 } },
    },
    '/api/v3/repos/{owner}/{repo}/branches/{branch}/protection': {
      put: { tags: ['repos'], operationId: 'updateBranchProtection', security: BEARER,
        parameters: [OWNER, REPO, pathParam('branch', str, 'Branch name')],
        requestBody: body(obj({ required_status_checks: obj({ strict: bool, contexts: arr(str) }),
          enforce_admins: bool, required_pull_request_reviews: obj({ required_approving_review_count: int }) })),
        responses: { 200: json(obj({ url: uri })), ...E401, ...E403, ...E404 } },
    },
    '/api/v3/search/repositories': {
      get: { tags: ['search'], operationId: 'searchRepos',
        parameters: [Object.assign(query('q', str, 'Search terms and qualifiers, e.g. "cli language:go"'), { required: true }),
          query('sort', { type: 'string', enum: ['stars', 'updated'] }), query('order', { type: 'string', enum: ['asc', 'desc'] }), ...PAGING],
        responses: { 200: json(obj({ total_count: int, incomplete_results: bool, items: arr(ref('Repository')) })), ...E422 } },
    },
    '/api/v3/gists/{gist_id}': {
      get: { tags: ['gists'], operationId: 'getGist', parameters: [pathParam('gist_id', uuid, 'Gist id')],
        responses: { 200: json(ref('Gist')), ...E404 } },
      delete: { tags: ['gists'], operationId: 'deleteGist', security: BEARER, parameters: [pathParam('gist_id', uuid, 'Gist id')],
        responses: { 204: { description: 'Deleted' }, ...E401, ...E403, ...E404 } },
    },
    '/api/v3/orgs/{org}/members': {
      get: { tags: ['orgs'], operationId: 'listOrgMembers', security: [{ apiKey: [] }],
        parameters: [pathParam('org', { type: 'string', pattern: '^[a-z0-9-]+$' }, 'Organization slug'),
          query('role', { type: 'string', enum: ['all', 'admin', 'member'] }), ...PAGING],
        responses: { 200: json(arr(ref('OrgMember'))), ...E401, ...E403, ...E404 } },
    },
    '/api/v3/admin/stats': {
      get: { tags: ['meta'], operationId: 'adminStats', security: [{ basicAuth: [] }], responses: { 200: json(ref('AdminStats')), ...E401 } },
    },
    '/api/v3/meta': {
      get: { tags: ['meta'], operationId: 'meta', responses: { 200: json(ref('Meta')) } },
    },
  },
  components: {
    securitySchemes: {
      bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      sessionCookie: { type: 'apiKey', in: 'cookie', name: '_ch_session' },
      apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      basicAuth: { type: 'http', scheme: 'basic' },
    },
    schemas: {
      Error: obj({ message: str, documentation_url: uri }, ['message']),
      ValidationError: obj({ message: str, documentation_url: uri, errors: arr(obj({ resource: str, field: str, code: str })) }, ['message', 'errors']),
      LoginRequest: obj({ login: str, password: { type: 'string', format: 'password' } }, ['login', 'password']),
      LoginResponse: obj({ token: str, token_type: { type: 'string', enum: ['bearer'] }, expires_at: dt, user: ref('User') }, ['token', 'user']),
      User: obj({ login: str, id: int, node_id: uuid, type: str, name: str, email: { type: 'string', format: 'email' },
        avatar_url: uri, html_url: uri, company: { type: 'string', nullable: true }, public_repos: int, followers: int,
        created_at: dt, site_admin: bool }, ['login', 'id']),
      Repository: obj({ id: int, node_id: uuid, name: str, full_name: str, owner: obj({ login: str, html_url: uri }), private: bool,
        description: { type: 'string', nullable: true }, html_url: uri, clone_url: uri, homepage: { type: 'string', format: 'uri', nullable: true },
        language: str, default_branch: str, stargazers_count: int, forks_count: int, open_issues_count: int, topics: arr(str),
        created_at: dt, pushed_at: dt, recent_branches: arr(str), security_and_analysis: { type: 'object', additionalProperties: true } }, ['id', 'name', 'full_name']),
      RepositoryCreate: obj({ name: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,100}$' }, description: str,
        homepage: uri, private: bool, auto_init: bool, topics: arr(str) }, ['name']),
      RepositoryUpdate: obj({ description: str, homepage: uri, private: bool, default_branch: str, topics: arr(str),
        security_and_analysis: obj({ secret_scanning: obj({ status: { type: 'string', enum: ['enabled', 'disabled'] } }) }) }),
      Issue: obj({ id: int, number: int, title: str, body: { type: 'string', nullable: true }, state: { type: 'string', enum: ['open', 'closed'] },
        state_reason: { type: 'string', nullable: true }, labels: arr(str), assignees: arr(str), user: str, comments: int,
        milestone: { type: 'integer', nullable: true }, html_url: uri, created_at: dt, updated_at: dt }, ['id', 'number', 'title', 'state']),
      IssueCreate: obj({ title: str, body: str, labels: arr(str), assignees: arr(str), milestone: int }, ['title']),
      IssueUpdate: obj({ title: str, body: str, state: { type: 'string', enum: ['open', 'closed'] },
        state_reason: { type: 'string', enum: ['completed', 'not_planned', 'reopened'] }, labels: arr(str), assignees: arr(str) }),
      IssueComment: obj({ id: int, node_id: uuid, user: str, body: str, html_url: uri, created_at: dt }),
      Commit: obj({ sha: str, html_url: uri,
        commit: obj({ message: str, author: obj({ name: str, email: { type: 'string', format: 'email' }, date: dt }) }),
        stats: obj({ additions: int, deletions: int }), parents: arr(obj({ sha: str })) }),
      Branch: obj({ name: str, commit: obj({ sha: str, url: uri }), protected: bool }),
      Gist: obj({ id: uuid, owner: str, description: str, public: bool, html_url: uri,
        files: { type: 'object', additionalProperties: obj({ size: int, language: str }) }, created_at: dt }),
      OrgMember: obj({ login: str, role: { type: 'string', enum: ['admin', 'member'] }, email: { type: 'string', format: 'email' },
        last_seen_ip: { type: 'string', format: 'ipv4' }, joined_at: dt }),
      AdminStats: obj({ repos: obj({ total_repos: int, fork_repos: int }), users: obj({ total_users: int, admin_users: int, suspended_users: int }),
        issues: obj({ total_issues: int }), server: obj({ hostname: str, ip: { type: 'string', format: 'ipv4' }, version: str, booted_at: dt }) }),
      Meta: obj({ verifiable_password_authentication: bool, installed_version: str,
        hooks: arr({ type: 'string', format: 'ipv4' }), web: arr({ type: 'string', format: 'ipv4' }), api: arr({ type: 'string', format: 'ipv4' }) }),
    },
  },
};
