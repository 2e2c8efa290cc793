//! What orchestrators and monitoring read: `/health`, `/ready`, `/metrics`.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::AppState;
use super::error::{Envelope, Result};

/// `/health`'s answer.
#[derive(Serialize)]
pub struct Health {
    status: &'static str,
}

/// `/ready`'s answer.
#[derive(Serialize)]
pub struct Readiness {
    status: &'static str,
    items: usize,
    data_version: i64,
}

/// `GET /health`: the process answers.
pub async fn health() -> axum::Json<Envelope<Health>> {
    Envelope::ok(Health { status: "ok" })
}

/// `GET /ready`: the store answers and a snapshot is being served.
pub async fn ready(State(state): State<AppState>) -> Result<axum::Json<Envelope<Readiness>>> {
    state.store.ping().await?;
    let snapshot = state.read_model.snapshot();
    Ok(Envelope::ok(Readiness {
        status: "ready",
        items: snapshot.len(),
        data_version: snapshot.version(),
    }))
}

/// `GET /metrics`, with the read model's gauges taken at scrape time.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let snapshot = state.read_model.snapshot();
    for (provider, count) in snapshot.counts_by_provider() {
        metrics::gauge!("boxoffice_items_served", "provider" => provider.to_string()).set(count as f64);
    }
    metrics::gauge!("boxoffice_data_version").set(snapshot.version() as f64);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        crate::metrics::render(),
    )
        .into_response()
}
