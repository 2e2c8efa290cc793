//! The admin API: `Authorization: Bearer <admin.token>` on every route (see
//! `auth.rs`). Every answer is `Cache-Control: no-store`.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use boxoffice_core::registry::InstanceName;
use boxoffice_core::store::QuarantinedRecord;
use boxoffice_core::sync::InstanceStatus;
use boxoffice_core::{RunStatus, SyncError, SyncReport};
use serde::{Deserialize, Serialize};
use tracing::warn;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::http::AppState;
use crate::http::error::{ApiError, Envelope, ErrorEnvelope, Result};
use crate::http::extract::{BodyBytes, PathParam, QueryPairs};
use crate::http::middleware::auth::Admin;

/// `data` of a sync's answer.
#[derive(Serialize, ToSchema)]
pub struct ReportAnswer {
    /// The run's report.
    pub report: SyncReport,
}

/// `data` of the list of instances.
#[derive(Serialize, ToSchema)]
pub struct ProvidersAnswer {
    /// Every configured instance, by name.
    pub providers: Vec<InstanceStatus>,
}

/// `data` of a switch.
#[derive(Serialize, ToSchema)]
pub struct ProviderAnswer {
    /// The instance as it is now.
    pub provider: Option<InstanceStatus>,
}

/// `data` of the quarantine.
#[derive(Serialize, ToSchema)]
pub struct RejectsAnswer {
    /// Rejected records, newest first.
    pub rejects: Vec<QuarantinedRecord>,
}

/// `data` of the run history.
#[derive(Serialize, ToSchema)]
pub struct RunsAnswer {
    /// Run reports, newest first.
    pub runs: Vec<SyncReport>,
}

/// The body of `PATCH /admin/providers/{name}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderPatch {
    /// Whether the instance syncs on schedule (its data stays served either way).
    pub enabled: bool,
}

/// `data` of a sync started without waiting.
#[derive(Serialize, ToSchema)]
pub struct RunAccepted {
    /// The run's id.
    pub run_id: Uuid,
    /// `running`.
    pub status: RunStatus,
    /// Where the run is seen: `/admin/providers/{name}/runs/{run_id}`.
    pub location: String,
}

/// `data` of one run.
#[derive(Serialize, ToSchema)]
pub struct RunAnswer {
    /// The run's report, running or finished; while it runs, `seen`, `rejected`,
    /// `bytes` and `pages` are its figures so far.
    pub run: SyncReport,
}

/// `data` of a retirement.
#[derive(Serialize, ToSchema)]
pub struct RetiredAnswer {
    /// The instance whose items were retired.
    pub provider: String,
    /// Items taken out of the store and of search.
    pub retired: u64,
    /// Whether the instance is still configured (its next sync would bring its
    /// items back).
    pub configured: bool,
}

/// Runs a sync now. By default answers with the report when the run is done; with
/// `wait=false`, answers 202 at once with the run's id and `Location`, where the run
/// is seen running, then finished with its report.
#[utoipa::path(post, path = "/admin/providers/{name}/sync", tag = "admin", operation_id = "syncProvider",
    params(
        ("name" = String, Path, description = "The provider instance's name"),
        ("wait" = Option<bool>, Query, description = "false: answer 202 at once instead of waiting for the report (default true)"),
    ),
    responses(
        (status = 200, description = "The run committed (succeeded or partial)", body = Envelope<ReportAnswer>),
        (status = 202, description = "The run started (wait=false); `Location` says where to see it", body = Envelope<RunAccepted>,
            headers(("Location" = String, description = "/admin/providers/{name}/runs/{run_id}"))),
        (status = 400, description = "A malformed wait", body = ErrorEnvelope),
        (status = 401, description = "No or a wrong bearer token", body = ErrorEnvelope),
        (status = 403, description = "The admin API is disabled (no token configured)", body = ErrorEnvelope),
        (status = 404, description = "No instance has this name", body = ErrorEnvelope),
        (status = 409, description = "A run of this instance is already going on", body = ErrorEnvelope),
        (status = 502, description = "The run failed; `data.report` says why", body = ErrorEnvelope),
        (status = 503, description = "The service is shutting down; the run was cancelled", body = ErrorEnvelope),
    ),
    security(("adminToken" = [])))]
pub async fn sync_now(
    _: Admin,
    State(state): State<AppState>,
    PathParam(name): PathParam<String>,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    if !QueryPairs::new(query.as_deref()).flag("wait", true)? {
        let run_id = state.engine.start(&name).await.map_err(sync_error)?;
        let location = format!("/admin/providers/{name}/runs/{run_id}");
        let mut response = (
            StatusCode::ACCEPTED,
            Envelope::ok(RunAccepted {
                run_id,
                status: RunStatus::Running,
                location: location.clone(),
            }),
        )
            .into_response();
        if let Ok(value) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, value);
        }
        return Ok(response);
    }
    // The run goes on if the caller goes away (only shutdown cancels it).
    let report = state.engine.run(&name).await.map_err(sync_error)?;
    // Answer once what the run committed is served.
    if let Err(error) = state.read_model.refresh().await {
        warn!(%error, "Sync committed but the read model could not be refreshed yet.");
    }
    match report.status {
        RunStatus::Succeeded | RunStatus::Partial => {
            Ok(Envelope::ok(ReportAnswer { report }).into_response())
        }
        RunStatus::Failed | RunStatus::Running => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "provider_failed",
            report.error.clone().unwrap_or_else(|| "the sync failed".into()),
        )
        .with_data(ReportAnswer { report })),
    }
}

/// One run of the instance: running (as long as its process is alive), or finished
/// with its report.
#[utoipa::path(get, path = "/admin/providers/{name}/runs/{run_id}", tag = "admin", operation_id = "getRun",
    params(
        ("name" = String, Path, description = "The provider instance's name"),
        ("run_id" = Uuid, Path, description = "The run's id"),
    ),
    responses(
        (status = 200, description = "The run", body = Envelope<RunAnswer>),
        (status = 400, description = "The run id is not a UUID", body = ErrorEnvelope),
        (status = 401, description = "No or a wrong bearer token", body = ErrorEnvelope),
        (status = 403, description = "The admin API is disabled", body = ErrorEnvelope),
        (status = 404, description = "No such run of this instance", body = ErrorEnvelope),
    ),
    security(("adminToken" = [])))]
pub async fn get_run(
    _: Admin,
    State(state): State<AppState>,
    PathParam((name, run_id)): PathParam<(String, String)>,
) -> Result<Json<Envelope<RunAnswer>>> {
    let run_id = Uuid::parse_str(&run_id).map_err(|_| {
        ApiError::bad_request("invalid_parameter", format!("run id {run_id:?} is not a UUID"))
    })?;
    let run = state
        .store
        .run(&name, run_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("{name:?} has no run {run_id}")))?;
    let run = state.engine.with_live_figures(run);
    Ok(Envelope::ok(RunAnswer { run }))
}

/// Retires an instance's items: takes every item of `name` out of the store and out of
/// search (a removed or renamed instance's items would otherwise stay searchable for
/// good). Logged and counted. Nothing else ever deletes items.
#[utoipa::path(delete, path = "/admin/providers/{name}/items", tag = "admin", operation_id = "retireItems",
    // The pattern spells registry::InstanceName for clients (a test holds them together).
    params(("name" = String, Path, pattern = "^[a-z0-9_-]{1,64}$",
        description = "The provider instance's name, configured or not (any more)")),
    responses(
        (status = 200, description = "Retired; `retired` counts the items", body = Envelope<RetiredAnswer>),
        (status = 400, description = "Not an instance name", body = ErrorEnvelope),
        (status = 401, description = "No or a wrong bearer token", body = ErrorEnvelope),
        (status = 403, description = "The admin API is disabled", body = ErrorEnvelope),
        (status = 409, description = "A sync of the instance is running (`sync_running`): nothing was retired; retry when it has ended", body = ErrorEnvelope),
    ),
    security(("adminToken" = [])))]
pub async fn retire_items(
    _: Admin,
    State(state): State<AppState>,
    PathParam(name): PathParam<String>,
) -> Result<Json<Envelope<RetiredAnswer>>> {
    let name: String = InstanceName::parse(name)
        .map_err(|invalid| ApiError::bad_request("invalid_parameter", invalid.to_string()))?
        .into();
    let retired = state.engine.retire(&name).await?;
    let configured = state.engine.has_instance(&name);
    warn!(provider = %name, retired, configured, "Items retired by an operator.");
    if let Err(error) = state.read_model.refresh().await {
        warn!(%error, "Items retired but the read model could not be refreshed yet.");
    }
    Ok(Envelope::ok(RetiredAnswer {
        provider: name,
        retired,
        configured,
    }))
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

fn unknown_instance(name: &str) -> ApiError {
    ApiError::not_found(format!("no provider instance is named {name:?}"))
}

/// Every configured instance with its schedule, switch, breaker and last run.
#[utoipa::path(get, path = "/admin/providers", tag = "admin", operation_id = "listProviders",
    responses(
        (status = 200, description = "The instances", body = Envelope<ProvidersAnswer>),
        (status = 401, description = "No or a wrong bearer token", body = ErrorEnvelope),
        (status = 403, description = "The admin API is disabled", body = ErrorEnvelope),
    ),
    security(("adminToken" = [])))]
pub async fn list_providers(
    _: Admin,
    State(state): State<AppState>,
) -> Result<Json<Envelope<ProvidersAnswer>>> {
    // Switches set through another instance count too.
    state.engine.refresh_toggles().await?;
    Ok(Envelope::ok(ProvidersAnswer {
        providers: state.engine.instances().await?,
    }))
}

/// Switches an instance's scheduled syncs on or off, for every process and across
/// restarts (the configuration's `enabled` is only the default).
#[utoipa::path(patch, path = "/admin/providers/{name}", tag = "admin", operation_id = "patchProvider",
    params(("name" = String, Path, description = "The provider instance's name")),
    request_body = ProviderPatch,
    responses(
        (status = 200, description = "Switched", body = Envelope<ProviderAnswer>),
        (status = 400, description = "The body is not {\"enabled\": true|false}", body = ErrorEnvelope),
        (status = 401, description = "No or a wrong bearer token", body = ErrorEnvelope),
        (status = 403, description = "The admin API is disabled", body = ErrorEnvelope),
        (status = 404, description = "No instance has this name", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
    ),
    security(("adminToken" = [])))]
pub async fn patch_provider(
    _: Admin,
    State(state): State<AppState>,
    PathParam(name): PathParam<String>,
    BodyBytes(body): BodyBytes,
) -> Result<Json<Envelope<ProviderAnswer>>> {
    if !state.engine.has_instance(&name) {
        return Err(unknown_instance(&name));
    }
    let patch: ProviderPatch = serde_json::from_slice(&body).map_err(|error| {
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
    let provider = state
        .engine
        .instances()
        .await?
        .into_iter()
        .find(|i| i.name == name);
    Ok(Envelope::ok(ProviderAnswer { provider }))
}

/// The quarantine: records of the instance that could not be mapped, newest first,
/// with their raw element.
#[utoipa::path(get, path = "/admin/providers/{name}/rejects", tag = "admin", operation_id = "listRejects",
    params(
        ("name" = String, Path, description = "The provider instance's name"),
        ("limit" = Option<u64>, Query, description = "At most this many (1-1000, default 100)", minimum = 1, maximum = 1000),
    ),
    responses(
        (status = 200, description = "The rejected records", body = Envelope<RejectsAnswer>),
        (status = 400, description = "A malformed limit", body = ErrorEnvelope),
        (status = 401, description = "No or a wrong bearer token", body = ErrorEnvelope),
        (status = 403, description = "The admin API is disabled", body = ErrorEnvelope),
        (status = 404, description = "No instance has this name", body = ErrorEnvelope),
    ),
    security(("adminToken" = [])))]
pub async fn list_rejects(
    _: Admin,
    State(state): State<AppState>,
    PathParam(name): PathParam<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Envelope<RejectsAnswer>>> {
    if !state.engine.has_instance(&name) {
        return Err(unknown_instance(&name));
    }
    let limit = QueryPairs::new(query.as_deref()).limit("limit", 100, 1000)?;
    let rejects = state.store.rejects(&name, limit).await?;
    Ok(Envelope::ok(RejectsAnswer { rejects }))
}

/// The latest run reports of the instance, newest first.
#[utoipa::path(get, path = "/admin/providers/{name}/runs", tag = "admin", operation_id = "listRuns",
    params(
        ("name" = String, Path, description = "The provider instance's name"),
        ("limit" = Option<u64>, Query, description = "At most this many (1-500, default 20)", minimum = 1, maximum = 500),
    ),
    responses(
        (status = 200, description = "The reports", body = Envelope<RunsAnswer>),
        (status = 400, description = "A malformed limit", body = ErrorEnvelope),
        (status = 401, description = "No or a wrong bearer token", body = ErrorEnvelope),
        (status = 403, description = "The admin API is disabled", body = ErrorEnvelope),
        (status = 404, description = "No instance has this name", body = ErrorEnvelope),
    ),
    security(("adminToken" = [])))]
pub async fn list_runs(
    _: Admin,
    State(state): State<AppState>,
    PathParam(name): PathParam<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Envelope<RunsAnswer>>> {
    let limit = QueryPairs::new(query.as_deref()).limit("limit", 20, 500)?;
    if !state.engine.has_instance(&name) {
        return Err(unknown_instance(&name));
    }
    let runs = state.store.runs(&name, limit).await?;
    Ok(Envelope::ok(RunsAnswer { runs }))
}
