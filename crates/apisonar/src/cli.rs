//! Command-line interface.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(name = "apisonar", version, about = "Passive API discovery and traffic analysis")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Read capture files (pcap or pcapng) and report the HTTP traffic in them.
    Analyze(AnalyzeArgs),
    /// The sensor daemon: capture from interfaces (a SPAN/mirror port) or replay files, keep the
    /// inventory and alerts in the store, serve /healthz and /metrics.
    Run(RunArgs),
    /// List the API endpoints discovered so far (from a store filled by `analyze --db`).
    Inventory(InventoryArgs),
    /// Export the inventory.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Pin, unpin or list path templates that automatic templating must follow.
    #[command(subcommand)]
    Template(TemplateCommand),
    /// Add, list or remove API specs (OpenAPI 3.0/3.1, Swagger 2.0) kept in the store.
    #[command(subcommand)]
    Spec(SpecCommand),
    /// List alerts, or change their state.
    Alerts(AlertsArgs),
    /// Serve the dashboard and the REST API on a store (HTTPS; see `--plain-http`).
    Serve(ServeArgs),
    /// Dashboard credentials: API tokens for scripts (`Authorization: Bearer TOKEN`), and a new
    /// admin password when it is lost.
    #[command(subcommand)]
    Token(TokenCommand),
}

/// How the dashboard is served (shared by `serve` and `run --listen`).
#[derive(Args, Debug, Clone)]
pub struct WebFlags {
    /// Serve plain HTTP instead of HTTPS (only behind a TLS-terminating proxy, or on loopback).
    #[arg(long)]
    pub plain_http: bool,
    /// TLS certificate chain (PEM); without it a self-signed certificate is made on first start
    /// and kept in the store directory.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DB)]
    pub db: PathBuf,
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8443")]
    pub listen: String,
    /// Configuration file (TOML; its `[web]` section: certificate, key, plain HTTP).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub web: WebFlags,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Make a new API token and print it (it is stored only as a hash).
    Create(TokenCreateArgs),
    /// List the API tokens: id, name, scopes, created, expires (never the tokens themselves).
    List(TokenListArgs),
    /// Remove API tokens by name or id; they are refused from then on.
    Revoke(TokenRevokeArgs),
    /// Give the dashboard's `admin` user a new random password (printed once) when it is lost;
    /// every signed-in session ends.
    ResetAdmin(StoreArgs),
}

#[derive(Args, Debug)]
pub struct TokenCreateArgs {
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DB)]
    pub db: PathBuf,
    /// What the token is for (shown in listings).
    #[arg(long, value_name = "NAME", default_value = "api")]
    pub name: String,
    /// What it may do: `read` (the API and pages), `metrics` (/metrics), `admin` (everything,
    /// changes included). Repeat or separate with commas.
    #[arg(long = "scope", value_name = "SCOPE", value_delimiter = ',', default_values_t = ["read".to_string(), "metrics".to_string()])]
    pub scopes: Vec<String>,
    /// When it stops working: a duration from now (`90d`, `12h`, `30m`) or an RFC 3339 time.
    #[arg(long, value_name = "WHEN")]
    pub expires: Option<String>,
}

#[derive(Args, Debug)]
pub struct TokenListArgs {
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DB)]
    pub db: PathBuf,
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

#[derive(Args, Debug)]
pub struct TokenRevokeArgs {
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DB)]
    pub db: PathBuf,
    /// A token's name (every token of that name) or id (from `token list`).
    pub token: String,
}

#[derive(Subcommand, Debug)]
pub enum SpecCommand {
    /// Add (or replace) a spec; the inventory is classified against it at once.
    Add(SpecAddArgs),
    /// List the stored specs.
    List(StoreArgs),
    /// Remove a spec by name.
    Remove(SpecRemoveArgs),
}

#[derive(Args, Debug)]
pub struct StoreArgs {
    /// Store directory.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DB)]
    pub db: PathBuf,
}

#[derive(Args, Debug)]
pub struct SpecAddArgs {
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DB)]
    pub db: PathBuf,
    /// The spec covers this host (instead of the hosts in its `servers` or `host`).
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// Name to store it under (default: the file name).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The spec file (YAML or JSON).
    pub file: PathBuf,
}

#[derive(Args, Debug)]
pub struct SpecRemoveArgs {
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DB)]
    pub db: PathBuf,
    /// Name of the spec (see `spec list`).
    pub name: String,
}

#[derive(Args, Debug)]
pub struct AlertsArgs {
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DB)]
    pub db: PathBuf,
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    /// Only alerts of this kind (`shadow_api`, `zombie_api`, ...).
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// Only alerts seen at or after this time (RFC 3339, e.g. 2026-11-30T00:00:00Z).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Mark this alert acknowledged.
    #[arg(long, value_name = "ID", conflicts_with = "resolve")]
    pub ack: Option<u64>,
    /// Mark this alert resolved.
    #[arg(long, value_name = "ID")]
    pub resolve: Option<u64>,
}

#[derive(Subcommand, Debug)]
pub enum TemplateCommand {
    /// Pin a template such as `/repos/{owner}/{repo}` (parameters in braces) or keep a literal
    /// path such as `/users/me` apart. Endpoints already stored that fit it are folded into it.
    Pin(TemplateArgs),
    /// Remove a pinned template.
    Unpin(TemplateArgs),
    /// List pinned templates.
    List(TemplateListArgs),
}

#[derive(Args, Debug)]
pub struct TemplateArgs {
    /// Store directory.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DB)]
    pub db: PathBuf,
    /// Only for this host (default: every host).
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// The template.
    pub template: String,
}

#[derive(Args, Debug)]
pub struct TemplateListArgs {
    /// Store directory.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DB)]
    pub db: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum ExportCommand {
    /// OpenAPI 3.1 documents, one per host.
    Openapi(ExportArgs),
    /// A Postman collection (v2.1): a folder per host and per tag, credentials as variables.
    Postman(PostmanArgs),
}

/// Which endpoints an export takes (the inventory's filters).
#[derive(Args, Debug, Clone)]
pub struct ExportFilter {
    /// Only endpoints in this state against the specs: documented, shadow, zombie, undocumented.
    #[arg(long, value_name = "STATE")]
    pub state: Option<String>,

    /// Only endpoints seen with this auth scheme (`none`, `bearer`, `jwt`...; a prefix).
    #[arg(long, value_name = "SCHEME")]
    pub auth: Option<String>,

    /// Only endpoints with sensitive data (`true`) or without (`false`).
    #[arg(long, value_name = "BOOL")]
    pub sensitive: Option<bool>,
}

#[derive(Args, Debug)]
pub struct PostmanArgs {
    /// Store directory.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DB)]
    pub db: PathBuf,

    /// Only this host (default: every host, a folder each).
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,

    #[command(flatten)]
    pub filter: ExportFilter,

    /// Write the collection to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Yaml,
    Json,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Store directory.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DB)]
    pub db: PathBuf,

    /// Only this host (required on standard output when the inventory has several).
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,

    #[arg(long, value_enum, default_value_t = ExportFormat::Yaml)]
    pub format: ExportFormat,

    #[command(flatten)]
    pub filter: ExportFilter,

    /// Write one file per host into this directory instead of standard output.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Where the store lives when `--db` is not given (for commands that read it).
pub const DEFAULT_DB: &str = "apisonar-data";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct InventoryArgs {
    /// Store directory.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DB)]
    pub db: PathBuf,

    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,

    /// Only endpoints of this host.
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,

    /// Only what appeared at or after TIME: new endpoints, and endpoints with a new query or form
    /// parameter, request or response field, or sensitive class, each saying what is new. TIME is
    /// RFC 3339 (2026-11-30T08:00:00Z) or a duration back from the newest traffic in the store
    /// (30m, 24h, 7d, 2w).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SummaryFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    /// Capture files, processed in the order given as one continuous capture.
    #[arg(required = true, value_name = "CAPTURE")]
    pub captures: Vec<PathBuf>,

    /// Write one JSON object per HTTP transaction to FILE ("-" for standard output). Query
    /// values that are credentials or personal data are masked.
    #[arg(long, value_name = "FILE")]
    pub transactions: Option<PathBuf>,

    /// Write request targets in `--transactions` exactly as sent, secrets in query strings
    /// included (for troubleshooting on captures you may read).
    #[arg(long, requires = "transactions")]
    pub raw_transactions: bool,

    /// Write one JSON object per TCP connection to FILE ("-" for standard output).
    #[arg(long, value_name = "FILE")]
    pub connections: Option<PathBuf>,

    /// Fill (or update) the API inventory in this store directory; running again merges.
    #[arg(long, value_name = "DIR")]
    pub db: Option<PathBuf>,

    /// With --db: also write every alert raised or updated as a JSON line to FILE ("-" for
    /// standard output), for a SIEM.
    #[arg(long, value_name = "FILE", requires = "db")]
    pub alerts: Option<PathBuf>,

    /// With --db: a detector threshold, NAME=VALUE (enumeration_values, enumeration_error_share,
    /// brute_force_failures, bola_objects, scanner_404_paths, rate_multiplier, rate_min,
    /// error_multiplier, error_min, window_secs, max_clients_per_alert). Repeatable.
    #[arg(long = "threshold", value_name = "NAME=VALUE", requires = "db")]
    pub thresholds: Vec<String>,

    /// With --db: an API spec to classify the traffic against, `FILE` or `HOST=FILE` (the spec then
    /// covers HOST); kept in the store. Repeatable.
    #[arg(long = "spec", value_name = "[HOST=]FILE", requires = "db")]
    pub specs: Vec<String>,

    /// With --db: forget endpoints not seen for this many days (of packet time, counted back
    /// from the newest traffic in the store).
    #[arg(long, value_name = "DAYS", requires = "db")]
    pub retention_days: Option<u32>,

    /// Write one JSON object per TLS handshake to FILE ("-" for standard output): SNI, ALPN,
    /// versions, ciphers, JA3/JA3S/JA4, certificate, and the weaknesses found.
    #[arg(long, value_name = "FILE")]
    pub tls: Option<PathBuf>,

    /// Flow worker threads (connections are spread by a symmetric hash of their addresses). With
    /// more than one, records come out in completion order across workers.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub workers: usize,

    /// Format of the summary (printed to standard error when standard output carries records).
    #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
    pub summary: SummaryFormat,

    /// Configuration file (TOML; see deploy/apisonar.toml for every key and its default).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub limits: LimitFlags,
}

/// Limits that have their own flags (every limit is in the configuration file).
#[derive(Args, Debug)]
pub struct LimitFlags {
    /// Body bytes kept per message for analysis (default 65536).
    #[arg(long, value_name = "BYTES")]
    pub body_sample_bytes: Option<usize>,

    /// Largest decoded (decompressed) body sample (default 262144).
    #[arg(long, value_name = "BYTES")]
    pub max_decoded_body_bytes: Option<usize>,

    /// Most TCP connections tracked at once (default 262144).
    #[arg(long, value_name = "N")]
    pub max_flows: Option<usize>,

    /// Seconds of packet time after which an idle connection is closed (default 300).
    #[arg(long, value_name = "SECS")]
    pub idle_timeout: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("source").args(["interfaces", "read"]).multiple(true)))]
pub struct RunArgs {
    /// Capture on this interface (repeatable; also `[capture] interfaces` in the config file).
    #[arg(short = 'i', long = "interface", value_name = "IFACE", conflicts_with = "read")]
    pub interfaces: Vec<String>,

    /// Replay capture files at full speed through the same pipeline instead of capturing.
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Vec<PathBuf>,

    /// BPF capture filter (tcpdump syntax), applied in the kernel.
    #[arg(long, value_name = "BPF")]
    pub filter: Option<String>,

    /// Store directory (default: `[run] db`, else ./apisonar-data).
    #[arg(long, value_name = "DIR")]
    pub db: Option<PathBuf>,

    /// An API spec to classify against, `FILE` or `HOST=FILE`; re-read on SIGHUP. Repeatable.
    #[arg(long = "spec", value_name = "[HOST=]FILE")]
    pub specs: Vec<String>,

    /// Serve the dashboard, the REST API, /healthz and /metrics on this address (e.g.
    /// 127.0.0.1:8443), over HTTPS unless --plain-http.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,

    #[command(flatten)]
    pub web: WebFlags,

    /// Configuration file (TOML; see deploy/apisonar.toml). Re-read on SIGHUP (thresholds).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Flow worker threads (default: the cores available).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,

    /// Bytes kept of each frame (default 65535).
    #[arg(long, value_name = "BYTES")]
    pub snaplen: Option<i32>,

    /// Kernel capture buffer per interface, MiB (default 32).
    #[arg(long, value_name = "MIB")]
    pub buffer_mib: Option<u32>,

    /// Do not put the interfaces in promiscuous mode.
    #[arg(long)]
    pub no_promisc: bool,

    /// Immediate mode: every frame is handed over at once.
    #[arg(long)]
    pub immediate: bool,

    /// A detector threshold, NAME=VALUE (as for `analyze`). Repeatable.
    #[arg(long = "threshold", value_name = "NAME=VALUE")]
    pub thresholds: Vec<String>,

    /// Also write every alert raised or updated as a JSON line to FILE ("-" for standard output).
    #[arg(long, value_name = "FILE")]
    pub alerts: Option<PathBuf>,

    /// Also write one JSON object per HTTP transaction to FILE (for troubleshooting). Query
    /// values that are credentials or personal data are masked.
    #[arg(long, value_name = "FILE")]
    pub transactions: Option<PathBuf>,

    /// Write request targets in `--transactions` exactly as sent, secrets included.
    #[arg(long, requires = "transactions")]
    pub raw_transactions: bool,

    /// Seconds between status lines in the log; 0 for none (default 60).
    #[arg(long, value_name = "SECS")]
    pub status_interval: Option<u64>,

    /// Log format (default text; logs go to standard error; level from APISONAR_LOG).
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,

    /// Switch to this user (and its group) once the interfaces and the listener are open.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,

    /// Forget endpoints not seen for this many days.
    #[arg(long, value_name = "DAYS")]
    pub retention_days: Option<u32>,

    /// Format of the summary printed at exit.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
    pub summary: SummaryFormat,

    /// Check the configuration, specs and interfaces, print the settings, and exit.
    #[arg(long)]
    pub check: bool,

    #[command(flatten)]
    pub limits: LimitFlags,
}

impl LimitFlags {
    /// The limits: defaults, then the configuration file, then flags.
    pub fn limits(&self, config: &crate::config::Config) -> apisonar_flow::Limits {
        let base = config.limits();
        apisonar_flow::Limits {
            body_sample_bytes: self.body_sample_bytes.unwrap_or(base.body_sample_bytes),
            max_decoded_body_bytes: self.max_decoded_body_bytes.unwrap_or(base.max_decoded_body_bytes),
            max_flows: self.max_flows.unwrap_or(base.max_flows),
            idle_timeout_secs: self.idle_timeout.unwrap_or(base.idle_timeout_secs),
            ..base
        }
    }
}
