//! What a notification says, per destination format: a generic JSON body, a Slack-compatible
//! body, an RFC 5424 syslog line, and a CEF event (for SIEMs, carried in a syslog line). Every
//! field comes from a stored alert, whose evidence is already masked; text from traffic (hosts,
//! paths, titles) is escaped as each format needs.

use apisonar_engine::{Alert, Severity};
use apisonar_web::views::AlertRecord;

/// The generic webhook body: the alert as the API shows it (`GET /api/v1/alerts/{id}`).
pub fn json_body(alert: &Alert) -> Vec<u8> {
    let body = serde_json::json!({ "source": "apisonar", "alert": AlertRecord::new(alert) });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Slack's `mrkdwn` treats `&`, `<` and `>` as markup.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A body for Slack incoming webhooks (and the chat tools that accept the same: a `text`, with
/// `blocks` for those that render them).
pub fn slack_body(alert: &Alert) -> Vec<u8> {
    let guidance = apisonar_engine::guidance::for_kind(&alert.kind);
    let owasp = guidance.owasp.map(|o| format!(" · {} {}", o.id, o.name)).unwrap_or_default();
    let text = format!(
        "[{}] {} ({}, {} occurrences, {})",
        alert.severity.as_str().to_ascii_uppercase(),
        slack_escape(&alert.title),
        alert.kind,
        alert.count,
        alert.state.as_str()
    );
    let detail = format!(
        "*{}*\n`{} {}{}` · {}{}\n{}",
        slack_escape(&alert.title),
        slack_escape(&alert.method),
        slack_escape(&alert.host),
        slack_escape(&alert.path),
        alert.kind,
        owasp,
        slack_escape(guidance.what_to_do)
    );
    let body = serde_json::json!({
        "text": text,
        "blocks": [ { "type": "section", "text": { "type": "mrkdwn", "text": detail } } ],
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Syslog severity (RFC 5424 section 6.2.1) of an alert severity.
fn syslog_severity(s: Severity) -> u8 {
    match s {
        Severity::Critical => 2,
        Severity::High => 3,
        Severity::Medium => 4,
        Severity::Low => 5,
        Severity::Info => 6,
    }
}

/// The local0 facility: the one set aside for local software.
const FACILITY_LOCAL0: u8 = 16;
/// The private enterprise number RFC 5612 reserves for documentation and examples; structured
/// data IDs need one.
const SD_ID: &str = "apisonar@32473";

/// A structured-data parameter value: `"`, `\` and `]` escaped (RFC 5424 section 6.3.3).
fn sd_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A header field: printable ASCII without spaces, at most `max` characters, `-` when empty.
fn header_field(text: &str, max: usize) -> String {
    let out: String = text.chars().filter(|c| c.is_ascii_graphic()).take(max).collect();
    if out.is_empty() {
        "-".into()
    } else {
        out
    }
}

/// Where a syslog line comes from: this machine's name and the process.
#[derive(Clone, Debug)]
pub struct Origin {
    pub hostname: String,
    pub pid: u32,
}

impl Origin {
    pub fn here() -> Origin {
        // Linux keeps the host name here; without it the header says `-`.
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_string();
        Origin { hostname, pid: std::process::id() }
    }
}

/// An RFC 5424 line: `<PRI>1 TIMESTAMP HOST apisonar PID KIND [apisonar@32473 ...] MSG`, with
/// `msg` as the message (the title, or a CEF event). `now` is microseconds since the epoch.
pub fn rfc5424(alert: &Alert, origin: &Origin, now: i64, msg: &str) -> String {
    let pri = u16::from(FACILITY_LOCAL0) * 8 + u16::from(syslog_severity(alert.severity));
    let time = chrono::DateTime::from_timestamp_micros(now)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_else(|| "-".into());
    let mut sd = format!(
        "[{SD_ID} id=\"{}\" kind=\"{}\" severity=\"{}\" state=\"{}\" host=\"{}\" method=\"{}\" path=\"{}\" count=\"{}\"",
        alert.id,
        sd_value(&alert.kind),
        alert.severity.as_str(),
        alert.state.as_str(),
        sd_value(&alert.host),
        sd_value(&alert.method),
        sd_value(&alert.path),
        alert.count
    );
    if let Some(subtype) = &alert.subtype {
        sd.push_str(&format!(" subtype=\"{}\"", sd_value(subtype)));
    }
    if let Some(client) = &alert.client {
        sd.push_str(&format!(" client=\"{}\"", sd_value(client)));
    }
    sd.push(']');
    format!(
        "<{pri}>1 {time} {} apisonar {} {} {sd} {}",
        header_field(&origin.hostname, 255),
        origin.pid,
        header_field(&alert.kind, 32),
        msg.replace(['\r', '\n'], " ")
    )
}

/// CEF severity (0 to 10) of an alert severity.
fn cef_severity(s: Severity) -> u8 {
    match s {
        Severity::Critical => 10,
        Severity::High => 8,
        Severity::Medium => 5,
        Severity::Low => 3,
        Severity::Info => 1,
    }
}

/// A CEF header field: `\` and `|` escaped, line breaks as spaces.
fn cef_header(text: &str) -> String {
    text.replace('\\', "\\\\").replace('|', "\\|").replace(['\r', '\n'], " ")
}

/// A CEF extension value: `\` and `=` escaped, line breaks as `\n` and `\r`.
fn cef_value(text: &str) -> String {
    text.replace('\\', "\\\\").replace('=', "\\=").replace('\n', "\\n").replace('\r', "\\r")
}

/// A CEF event: `CEF:0|apisonar|apisonar|VERSION|KIND|TITLE|SEVERITY|extensions`.
pub fn cef(alert: &Alert) -> String {
    let guidance = apisonar_engine::guidance::for_kind(&alert.kind);
    let mut ext = vec![
        format!("rt={}", alert.last_seen / 1000),
        format!("start={}", alert.first_seen / 1000),
        format!("cat={}", cef_value(&alert.kind)),
        format!("act={}", alert.state.as_str()),
        format!("dhost={}", cef_value(&alert.host)),
        format!("requestMethod={}", cef_value(&alert.method)),
        format!("request={}", cef_value(&alert.path)),
        format!("cnt={}", alert.count),
        format!("externalId={}", alert.id),
        format!("msg={}", cef_value(&alert.evidence)),
    ];
    if let Some(client) = alert.client.as_deref().filter(|c| c.parse::<std::net::IpAddr>().is_ok()) {
        ext.push(format!("src={client}"));
    }
    if let Some(subtype) = &alert.subtype {
        ext.push(format!("cs1Label=subtype cs1={}", cef_value(subtype)));
    }
    if let Some(o) = guidance.owasp {
        ext.push(format!("cs2Label=owasp cs2={}", cef_value(&format!("{} {}", o.id, o.name))));
    }
    format!(
        "CEF:0|apisonar|apisonar|{}|{}|{}|{}|{}",
        env!("CARGO_PKG_VERSION"),
        cef_header(&alert.kind),
        cef_header(&alert.title),
        cef_severity(alert.severity),
        ext.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use apisonar_engine::catalog::EndpointKey;

    fn alert() -> Alert {
        let key = EndpointKey { host: "shop.test".into(), method: "POST".into(), path: "/login|x=\"]".into() };
        let mut a = Alert::occurrence(
            &key,
            "10.0.0.7",
            1_764_000_000_000_000,
            "cleartext_credentials",
            Some("password"),
            Severity::High,
            "password sent in cleartext to POST /login on shop.test\nsecond line".into(),
            "server 10.0.0.2:80; password at request.form.password (…(9 chars))".into(),
        );
        a.id = 42;
        a
    }

    #[test]
    fn syslog_lines_follow_rfc_5424_with_escaped_structured_data() {
        let origin = Origin { hostname: "sensor 1".into(), pid: 77 };
        let line = rfc5424(&alert(), &origin, 1_764_000_000_123_456, "the title\nwith a break");
        assert_eq!(
            line,
            "<131>1 2025-11-24T16:00:00.123456Z sensor1 apisonar 77 cleartext_credentials \
             [apisonar@32473 id=\"42\" kind=\"cleartext_credentials\" severity=\"high\" state=\"open\" host=\"shop.test\" \
             method=\"POST\" path=\"/login|x=\\\"\\]\" count=\"1\" subtype=\"password\"] the title with a break"
        );
    }

    #[test]
    fn cef_events_escape_headers_and_extensions() {
        let event = cef(&alert());
        let version = env!("CARGO_PKG_VERSION");
        assert!(
            event.starts_with(&format!(
                "CEF:0|apisonar|apisonar|{version}|cleartext_credentials|password sent in cleartext to POST /login on shop.test second line|8|"
            )),
            "{event}"
        );
        assert!(event.contains(" request=/login|x\\=\"] "), "{event}");
        assert!(event.contains("rt=1764000000000 "), "{event}");
        assert!(event.contains(" cs2Label=owasp cs2=API2:2023 Broken Authentication"), "{event}");
        assert!(event.contains(" msg=server 10.0.0.2:80; password at request.form.password (…(9 chars)) "), "{event}");
        // Per-endpoint alerts name no client.
        assert!(!event.contains(" src="), "{event}");
    }

    #[test]
    fn chat_bodies_escape_markup_and_json_bodies_are_the_api_record() {
        let mut a = alert();
        a.title = "<script>&".into();
        let slack: serde_json::Value = serde_json::from_slice(&slack_body(&a)).unwrap_or_default();
        assert_eq!(slack["text"], "[HIGH] &lt;script&gt;&amp; (cleartext_credentials, 1 occurrences, open)");
        let detail = slack["blocks"][0]["text"]["text"].as_str().unwrap_or_default();
        assert!(detail.contains("API2:2023") && detail.starts_with("*&lt;script&gt;&amp;*"), "{detail}");
        let json: serde_json::Value = serde_json::from_slice(&json_body(&a)).unwrap_or_default();
        assert_eq!((json["source"].as_str(), json["alert"]["id"].as_u64()), (Some("apisonar"), Some(42)));
        assert_eq!(json["alert"]["guidance"]["owasp"]["id"], "API2:2023");
    }
}
