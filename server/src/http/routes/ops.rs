//! What orchestrators and monitoring read: `/health`, `/ready`, `/metrics`.

use axum::extract::State;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::http::AppState;
use crate::http::error::{Envelope, ErrorEnvelope, Result};
use crate::http::routes::recent::Answer;
use utoipa::ToSchema;

/// `/health`'s answer.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(example = "ok")]
    status: &'static str,
}

/// `/ready`'s answer.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// Always `ready`.
    #[schema(example = "ready")]
    status: &'static str,
    /// Items /search serves.
    items: usize,
    /// The store's data version the served snapshot was built from.
    data_version: i64,
    /// How the snapshots served so far were made.
    read_model: ReadModelUpdates,
}

/// How a process's snapshots were made: read whole, or brought forward by what the
/// store said each commit changed.
#[derive(Serialize, ToSchema)]
pub struct ReadModelUpdates {
    /// Snapshots read whole from the store, the first load included.
    rebuilds: u64,
    /// Snapshots brought forward by a change.
    brought_forward: u64,
    /// Items in the snapshot's delta, beside its base.
    delta_items: usize,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/health", tag = "operations", operation_id = "health",
    responses((status = 200, description = "The process is up", body = Envelope<Health>)))]
pub async fn health() -> axum::Json<Envelope<Health>> {
    Envelope::ok(Health { status: "ok" })
}

/// Readiness: the store answers and a snapshot is being served.
#[utoipa::path(get, path = "/ready", tag = "operations", operation_id = "ready",
    responses(
        (status = 200, description = "Ready to serve", body = Envelope<Readiness>),
        (status = 503, description = "The store is unavailable (the last snapshot is still served)", body = ErrorEnvelope),
    ))]
pub async fn ready(State(state): State<AppState>) -> Result<axum::Json<Envelope<Readiness>>> {
    state.store.ping().await?;
    let snapshot = state.read_model.snapshot();
    Ok(Envelope::ok(Readiness {
        status: "ready",
        items: snapshot.len(),
        data_version: snapshot.version(),
        read_model: {
            let updates = state.read_model.updates();
            ReadModelUpdates {
                rebuilds: updates.rebuilds,
                brought_forward: updates.brought_forward,
                delta_items: snapshot.delta_len(),
            }
        },
    }))
}

/// Prometheus metrics, with the read model's gauges taken at scrape time.
#[utoipa::path(get, path = "/metrics", tag = "operations", operation_id = "metrics",
    responses((status = 200, description = "The Prometheus text format", content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let version = state.read_model.snapshot().version();
    let pages = Arc::clone(&state.recent_pages);
    pages
        .metrics
        .get_or_render(version, || render_metrics(state))
        .await
        .into_response()
}

async fn render_metrics(state: AppState) -> Answer {
    let snapshot = state.read_model.snapshot();
    for (provider, count) in snapshot.counts_by_provider() {
        metrics::gauge!("boxoffice_items_served", "provider" => provider.to_string()).set(count as f64);
    }
    metrics::gauge!("boxoffice_data_version").set(snapshot.version() as f64);
    metrics::counter!("boxoffice_log_lines_dropped_total").absolute(crate::telemetry::dropped_lines());
    // The breaker and last success as the store keeps them: every process reports the
    // same, after a restart too.
    match state.engine.instances().await {
        Ok(instances) => {
            for instance in instances {
                let provider = instance.name.clone();
                metrics::gauge!("boxoffice_sync_circuit_state", "provider" => provider.clone())
                    .set(instance.circuit.as_gauge());
                metrics::gauge!("boxoffice_sync_running", "provider" => provider.clone())
                    .set(if instance.running { 1.0 } else { 0.0 });
                let so_far = instance.current.as_ref().map_or(0, |run| run.seen);
                metrics::gauge!("boxoffice_sync_records_so_far", "provider" => provider.clone())
                    .set(so_far as f64);
                if let Some(at) = instance.last_success {
                    metrics::gauge!("boxoffice_sync_last_success_timestamp_seconds", "provider" => provider)
                        .set(at.timestamp() as f64);
                }
            }
        }
        Err(error) => tracing::warn!(%error, "Cannot read the instances' state for /metrics."),
    }
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    Answer {
        status: StatusCode::OK,
        headers,
        body: crate::metrics::render().into(),
    }
}
