//! The admin API: `Authorization: Bearer <admin.token>` on every route (see
//! `auth.rs`). Every answer is `Cache-Control: no-store`.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use boxoffice_core::{RunStatus, SyncError};
use serde_json::{Value, json};
use tracing::warn;

use super::AppState;
use super::auth::Admin;
use super::error::{ApiError, Result};
use super::extract::{BodyBytes, PathParam};

/// `POST /admin/providers/{name}/sync`: runs a sync now and answers with its report
/// when it is done: 200 succeeded, 502 failed, 404 unknown name, 409 already running.
pub async fn sync_now(
    _: Admin,
    State(state): State<AppState>,
    PathParam(name): PathParam<String>,
) -> Result<(StatusCode, Json<Value>)> {
    // The run goes on if the caller goes away: an operator's sync is not cancelled
    // by a dropped connection.
    let engine = std::sync::Arc::clone(&state.engine);
    let run = tokio::spawn(async move { engine.run(&name).await });
    let report = run.await.map_err(ApiError::internal)?.map_err(sync_error)?;
    // Answer once what the run committed is served.
    if let Err(error) = state.read_model.refresh().await {
        warn!(%error, "Sync committed but the read model could not be refreshed yet.");
    }
    let data = json!({ "report": report });
    match report.status {
        RunStatus::Succeeded | RunStatus::Partial => {
            Ok((StatusCode::OK, Json(json!({ "data": data, "error": null }))))
        }
        RunStatus::Failed => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "provider_failed",
            report.error.clone().unwrap_or_else(|| "the sync failed".into()),
        )
        .with_data(data)),
    }
}

fn sync_error(error: SyncError) -> ApiError {
    match error {
        SyncError::UnknownProvider(_) => ApiError::not_found(error.to_string()),
        SyncError::AlreadyRunning(_) => ApiError::new(StatusCode::CONFLICT, "conflict", error.to_string()),
        SyncError::NothingToReplay(_) => ApiError::not_found(error.to_string()),
        SyncError::Aborted(_) => ApiError::internal(error),
        SyncError::ShuttingDown(_) => ApiError::shutting_down(error.to_string()),
    }
}

/// `GET /admin/providers`: every instance with its state.
pub async fn list_providers(_: Admin, State(state): State<AppState>) -> Result<Json<Value>> {
    // Switches set through another instance count too.
    state.engine.refresh_toggles().await?;
    Ok(Json(
        json!({ "data": { "providers": state.engine.instances() }, "error": null }),
    ))
}

/// `PATCH /admin/providers/{name}` with `{"enabled": bool}`: switches scheduled syncs
/// on or off, for every instance and across restarts (the configuration's `enabled`
/// is only the default).
pub async fn patch_provider(
    _: Admin,
    State(state): State<AppState>,
    PathParam(name): PathParam<String>,
    BodyBytes(body): BodyBytes,
) -> Result<Json<Value>> {
    if !state.engine.has_instance(&name) {
        return Err(ApiError::not_found(format!(
            "no provider instance is named {name:?}"
        )));
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Patch {
        enabled: bool,
    }
    let patch: Patch = serde_json::from_slice(&body).map_err(|error| {
        ApiError::bad_request(
            "invalid_body",
            format!("expected {{\"enabled\": true|false}}: {error}"),
        )
    })?;
    state.store.set_provider_enabled(&name, patch.enabled).await?;
    state
        .engine
        .set_enabled(&name, patch.enabled)
        .map_err(sync_error)?;
    let instance = state.engine.instances().into_iter().find(|i| i.name == name);
    Ok(Json(json!({ "data": { "provider": instance }, "error": null })))
}

/// `GET /admin/providers/{name}/rejects?limit=N`: the quarantine, newest first.
pub async fn list_rejects(
    _: Admin,
    State(state): State<AppState>,
    PathParam(name): PathParam<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>> {
    if !state.engine.has_instance(&name) {
        return Err(ApiError::not_found(format!(
            "no provider instance is named {name:?}"
        )));
    }
    let limit = parse_limit(query.as_deref(), 100)?;
    let rejects = state.store.rejects(&name, limit).await?;
    Ok(Json(json!({ "data": { "rejects": rejects }, "error": null })))
}

fn parse_limit(query: Option<&str>, default: u64) -> Result<u64> {
    let mut limit = default;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if key == "limit" {
            limit = value
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_parameter",
                        format!("limit {value:?} is not a number from 1 to 1000"),
                    )
                })?;
        }
    }
    Ok(limit)
}

/// `GET /admin/providers/{name}/runs?limit=N`: the latest run reports, newest first.
pub async fn list_runs(
    _: Admin,
    State(state): State<AppState>,
    PathParam(name): PathParam<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>> {
    let mut limit = 20;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if key == "limit" {
            limit = value
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=500).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_parameter",
                        format!("limit {value:?} is not a number from 1 to 500"),
                    )
                })?;
        }
    }
    if !state
        .engine
        .instances()
        .iter()
        .any(|instance| instance.name == name)
    {
        return Err(ApiError::not_found(format!(
            "no provider instance is named {name:?}"
        )));
    }
    let runs = state.store.runs(&name, limit).await?;
    Ok(Json(json!({ "data": { "runs": runs }, "error": null })))
}
