//! Notifications delivered to real local receivers: an HTTP server (the generic JSON and the
//! Slack-compatible webhook, with a first answer of 503 to make the sensor retry), a UDP
//! syslog listener (RFC 5424) and a TCP one (CEF, octet-counted). And a dead receiver: the run's
//! inventory and alerts are what they are without notifications, and what could not go out is
//! counted.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apisonar_tests::apisonar;

fn temp(name: &str) -> String {
    apisonar_tests::scratch("notify", name).to_string_lossy().into_owned()
}

/// One HTTP request as the receiver saw it.
#[derive(Clone, Debug)]
struct Request {
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

/// An HTTP/1.1 server on loopback that keeps every request; it answers 503 to the first
/// `refuse` requests for `/generic`, 200 to the rest.
fn http_receiver(refuse: usize) -> (u16, Arc<Mutex<Vec<Request>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = collecting(move |kept| {
        let mut answered = 0;
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            // Keep-alive: requests follow each other on one connection.
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let path = line.split(' ').nth(1).unwrap_or_default().to_string();
                let mut headers = Vec::new();
                loop {
                    let mut h = String::new();
                    reader.read_line(&mut h).unwrap();
                    let h = h.trim_end();
                    if h.is_empty() {
                        break;
                    }
                    let (n, v) = h.split_once(':').unwrap();
                    headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
                }
                let length: usize =
                    headers.iter().find(|(n, _)| n == "content-length").map_or(0, |(_, v)| v.parse().unwrap());
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let refused = path.starts_with("/generic") && answered < refuse;
                answered += usize::from(path.starts_with("/generic"));
                let status = if refused { "503 Service Unavailable" } else { "200 OK" };
                if !refused {
                    kept.lock().unwrap().push(Request { path, headers, body: String::from_utf8(body).unwrap() });
                }
                let mut out = &stream;
                let _ = out.write_all(format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n").as_bytes());
            }
        }
    });
    (port, seen)
}

/// What a receiver keeps, and the thread that fills it with `serve`.
fn collecting<T: Send + 'static>(serve: impl FnOnce(Arc<Mutex<Vec<T>>>) + Send + 'static) -> Arc<Mutex<Vec<T>>> {
    let seen: Arc<Mutex<Vec<T>>> = Arc::default();
    let kept = seen.clone();
    std::thread::spawn(move || serve(kept));
    seen
}

/// A UDP syslog listener: one message per datagram.
fn udp_receiver() -> (u16, Arc<Mutex<Vec<String>>>) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    let seen = collecting(move |kept| {
        let mut buf = vec![0; 65536];
        while let Ok(n) = socket.recv(&mut buf) {
            kept.lock().unwrap().push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    });
    (port, seen)
}

/// A TCP syslog listener reading octet-counted frames (`LEN SP MSG`, RFC 6587).
fn tcp_receiver() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = collecting(move |kept| {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            loop {
                let mut length = Vec::new();
                if reader.read_until(b' ', &mut length).unwrap_or(0) == 0 {
                    break;
                }
                let n: usize = String::from_utf8_lossy(&length).trim().parse().unwrap();
                let mut msg = vec![0; n];
                reader.read_exact(&mut msg).unwrap();
                kept.lock().unwrap().push(String::from_utf8(msg).unwrap());
            }
        }
    });
    (port, seen)
}

/// `analyze --db --config --alerts --summary json` of the shop capture: the summary and the
/// alert lines the run streamed.
fn analyze_with(config: &str, tag: &str) -> (serde_json::Value, Vec<serde_json::Value>, String) {
    let (db, config_file, alerts) =
        (temp(&format!("{tag}-db")), temp(&format!("{tag}.toml")), temp(&format!("{tag}-alerts")));
    std::fs::write(&config_file, config).unwrap();
    let out = apisonar(&[
        "analyze",
        "--db",
        &db,
        "--config",
        &config_file,
        "--alerts",
        &alerts,
        "--summary",
        "json",
        "captures/apis/fastapi-shop.pcap",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let lines = std::fs::read_to_string(&alerts).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (summary, lines, db)
}

/// Waits until `f` holds (receivers get the last messages just before the run ends).
fn eventually(f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn alerts_reach_webhooks_and_syslog_in_each_format() {
    let (http, requests) = http_receiver(1);
    let (udp, datagrams) = udp_receiver();
    let (tcp, frames) = tcp_receiver();
    let config = format!(
        r#"
[notify]
retries = 2

[[notify.webhook]]
url = "http://127.0.0.1:{http}/generic?key=hook-secret"

[[notify.webhook]]
url = "http://127.0.0.1:{http}/slack"
format = "slack"
min_severity = "high"
headers = ["Authorization: Bearer hook-token"]

[[notify.syslog]]
address = "127.0.0.1:{udp}"

[[notify.syslog]]
address = "127.0.0.1:{tcp}"
transport = "tcp"
format = "cef"
"#
    );
    let (summary, alerts, _) = analyze_with(&config, "live");
    let news = alerts.iter().filter(|a| a["severity"] != "info").count();
    let high = alerts.iter().filter(|a| a["severity"] == "high" || a["severity"] == "critical").count();
    assert!(news > 10 && high > 0, "{news} {high}");
    eventually(|| datagrams.lock().unwrap().len() >= news && frames.lock().unwrap().len() >= news);

    let requests = requests.lock().unwrap().clone();
    let generic: Vec<&Request> = requests.iter().filter(|r| r.path.starts_with("/generic")).collect();
    let slack: Vec<&Request> = requests.iter().filter(|r| r.path == "/slack").collect();
    assert_eq!(generic.len(), news, "one POST per alert the stream reported");
    let mut ids: Vec<u64> = generic
        .iter()
        .map(|r| serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["alert"]["id"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    let mut streamed: Vec<u64> =
        alerts.iter().filter(|a| a["severity"] != "info").map(|a| a["id"].as_u64().unwrap()).collect();
    streamed.sort_unstable();
    assert_eq!(ids, streamed);
    assert_eq!(slack.len(), high, "only high and critical");
    for r in &slack {
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert!(
            body["text"].as_str().unwrap().starts_with("[HIGH] ")
                || body["text"].as_str().unwrap().starts_with("[CRITICAL] ")
        );
        assert!(r.headers.contains(&("authorization".into(), "Bearer hook-token".into())), "{:?}", r.headers);
        assert!(r.headers.contains(&("content-type".into(), "application/json".into())));
    }

    let datagrams = datagrams.lock().unwrap().clone();
    assert_eq!(datagrams.len(), news);
    for d in &datagrams {
        let pri: u16 = d.strip_prefix('<').and_then(|r| r.split_once('>')).unwrap().0.parse().unwrap();
        assert!((128..=134).contains(&pri), "local0: {d}");
        assert!(d.contains(" apisonar ") && d.contains("[apisonar@32473 id=\""), "{d}");
        assert!(!d.contains("hunter2") && !d.contains("\n"), "{d}");
    }
    let frames = frames.lock().unwrap().clone();
    assert_eq!(frames.len(), news);
    for f in &frames {
        let cef = &f[f.find("CEF:0|apisonar|apisonar|").unwrap_or_else(|| panic!("{f}"))..];
        let severity: u8 = cef.split('|').nth(6).unwrap().parse().unwrap();
        assert!((1..=10).contains(&severity), "{cef}");
        assert!(cef.contains(" externalId=") && cef.contains(" dhost=127.0.0.1:8000 "), "{cef}");
    }

    // The summary counts them, names no webhook secret, and shows the retry after the 503.
    let n = &summary["notifications"];
    let text = n.to_string();
    assert!(!text.contains("hook-secret"), "{text}");
    let generic = &n[format!("webhook:http://127.0.0.1:{http}/generic")];
    assert_eq!(
        (generic["sent"].as_u64(), generic["failed"].as_u64(), generic["dropped"].as_u64()),
        (Some(news as u64), Some(0), Some(0))
    );
    assert!(generic["retries"].as_u64().unwrap() >= 1, "{n}");
    assert_eq!(n[format!("syslog:127.0.0.1:{tcp}")]["sent"].as_u64(), Some(news as u64), "{n}");
}

#[test]
fn a_dead_receiver_changes_nothing_but_its_counts() {
    // Ports nothing listens on (bound, then closed).
    let dead = || TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (web, syslog) = (dead(), dead());
    let config = format!(
        r#"
[notify]
queue = 4
retries = 1

[[notify.webhook]]
url = "http://127.0.0.1:{web}/hook"

[[notify.syslog]]
address = "127.0.0.1:{syslog}"
transport = "tcp"
"#
    );
    let (summary, alerts, db) = analyze_with(&config, "dead");
    let (plain, plain_alerts, plain_db) = analyze_with("", "plain");
    assert!(plain.get("notifications").is_none(), "{plain}");
    // The same inventory and alerts as without notifications.
    assert_eq!(summary["endpoints"], plain["endpoints"]);
    assert_eq!(summary["transactions"], plain["transactions"]);
    let kinds = |list: &[serde_json::Value]| {
        let mut k: Vec<String> = list.iter().map(|a| format!("{} {} {}", a["kind"], a["path"], a["count"])).collect();
        k.sort();
        k
    };
    assert_eq!(kinds(&alerts), kinds(&plain_alerts));
    // Stored alerts too (their masks differ: each store has its own key).
    let stored = |db: &str| {
        let list: Vec<serde_json::Value> =
            serde_json::from_slice(&apisonar(&["alerts", "--db", db, "--format", "json"]).stdout).unwrap();
        let mut facts: Vec<String> = list
            .iter()
            .map(|a| {
                format!("{} {} {} {} {} {}", a["kind"], a["subtype"], a["path"], a["count"], a["state"], a["severity"])
            })
            .collect();
        facts.sort();
        facts
    };
    assert_eq!(stored(&db), stored(&plain_db));
    // Nothing sent; everything the stream reported is counted as failed or dropped.
    let news = alerts.iter().filter(|a| a["severity"] != "info").count() as u64;
    for name in [format!("webhook:http://127.0.0.1:{web}/hook"), format!("syslog:127.0.0.1:{syslog}")] {
        let c = &summary["notifications"][&name];
        assert_eq!(c["sent"].as_u64(), Some(0), "{name}: {c}");
        assert_eq!(c["failed"].as_u64().unwrap() + c["dropped"].as_u64().unwrap(), news, "{name}: {c}");
        assert!(c["dropped"].as_u64().unwrap() > 0, "a queue of 4 overflows: {c}");
    }
}
