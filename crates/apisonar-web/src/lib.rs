//! apisonar-web: the HTTP face of the sensor, as an axum `Router` the binary serves.
//!
//! Owns: routes, response shapes and the Prometheus text rendering. For now `/healthz` and
//! `/metrics`; the dashboard and its API grow here.
//!
//! Must not know: pcap, sled, the wire or flow layers, sockets or TLS (the binary listens and
//! hands connections to the router); what it shows comes through the [`Sensor`] trait.

mod metrics;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

pub use metrics::{render_prometheus, Metric, MetricKind};

/// What the running sensor tells the web side.
pub trait Sensor: Send + Sync + 'static {
    /// Every counter and gauge, read at the time of the request.
    fn metrics(&self) -> Vec<Metric>;
    /// Whether capture and analysis are running; problems are named.
    fn health(&self) -> Health;
}

/// The answer of `/healthz`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Health {
    pub ok: bool,
    /// What is wrong, empty when healthy.
    pub problems: Vec<String>,
}

#[derive(Clone)]
pub struct AppState {
    pub sensor: Arc<dyn Sensor>,
}

/// Every route the sensor answers.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .fallback(not_found)
        .with_state(state)
}

async fn healthz(State(state): State<AppState>) -> Response {
    let health = state.sensor.health();
    let code = if health.ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = serde_json::json!({ "status": if health.ok { "ok" } else { "unhealthy" }, "problems": health.problems });
    (code, Json(body)).into_response()
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    let text = render_prometheus(&state.sensor.metrics());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(serde_json::json!({ "error": "not found" }))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    struct Fake {
        ok: bool,
    }

    impl Sensor for Fake {
        fn metrics(&self) -> Vec<Metric> {
            vec![Metric::counter("apisonar_packets_total", "Frames captured.")
                .sample(&[("interface", "eth0")], 42.0)
                .sample(&[("interface", "eth1")], 7.0)]
        }
        fn health(&self) -> Health {
            Health { ok: self.ok, problems: if self.ok { vec![] } else { vec!["capture on eth0 stopped".into()] } }
        }
    }

    async fn get(ok: bool, path: &str) -> (StatusCode, String, String) {
        let app = router(AppState { sensor: Arc::new(Fake { ok }) });
        let response = app.oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let content_type =
            response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, content_type, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn healthz_says_ok_or_names_the_problem() {
        let (status, _, body) = get(true, "/healthz").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("\"ok\""), "{body}");
        let (status, _, body) = get(false, "/healthz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("capture on eth0 stopped"), "{body}");
    }

    #[tokio::test]
    async fn metrics_are_prometheus_text() {
        let (status, content_type, body) = get(true, "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
        assert!(body.contains("# TYPE apisonar_packets_total counter\n"), "{body}");
        assert!(body.contains("apisonar_packets_total{interface=\"eth0\"} 42\n"), "{body}");
    }

    #[tokio::test]
    async fn unknown_paths_are_404() {
        let (status, _, _) = get(true, "/admin").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
