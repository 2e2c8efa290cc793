//! GET /status: an operator's page, rendered on the server. One table row per provider
//! instance with its switch, schedule, breaker, last run (from the store: every
//! process shows the same), its rejects linked to the quarantine, a chart of its last
//! 20 runs and the items it serves. Plain HTML with inline CSS and SVG: no script, no
//! external asset; it refreshes itself every 30 s. Written with maud, which escapes
//! every value spliced in: only the style sheet goes in as it is.

use std::sync::LazyLock;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use boxoffice_core::sync::{CircuitState, InstanceStatus};
use boxoffice_core::{StoreError, SyncReport};
use chrono::{DateTime, SecondsFormat, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::http::AppState;
use crate::http::routes::recent::Answer;

mod chart;

/// How many runs each instance's chart shows.
const CHART_RUNS: u64 = 20;

/// The operators' page: each provider instance's switch, schedule, breaker, last run,
/// its quarantine and the items it serves, with a chart of its last 20 runs; the same
/// in every process (the state comes from the store). Rendered on the server, no script.
#[utoipa::path(get, path = "/status", tag = "operations", operation_id = "statusPage",
    responses(
        (status = 200, description = "An HTML page", content_type = "text/html", body = String),
        (status = 503, description = "The store is unavailable: the page says so", content_type = "text/html", body = String),
    ))]
pub async fn status_page(State(state): State<AppState>) -> Response {
    let version = state.read_model.snapshot().version();
    let pages = std::sync::Arc::clone(&state.recent_pages);
    pages
        .status
        .get_or_render(version, || render(state))
        .await
        .into_response()
}

async fn render(state: AppState) -> Answer {
    let snapshot = state.read_model.snapshot();
    let counts = snapshot.counts_by_provider();
    let mut page = Page {
        items: snapshot.len(),
        version: snapshot.version(),
        rows: Vec::new(),
        generated_at: Utc::now(),
        unavailable: None,
    };
    match rows(&state, &counts).await {
        Ok(rows) => page.rows = rows,
        Err(error) => {
            tracing::warn!(%error, "The status page cannot read the store.");
            page.unavailable = Some(error.to_string());
        }
    }
    let status = if page.unavailable.is_some() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::CONTENT_SECURITY_POLICY, content_security_policy().clone());
    Answer {
        status,
        headers,
        body: page.render().into(),
    }
}

async fn rows(state: &AppState, counts: &[(std::sync::Arc<str>, usize)]) -> Result<Vec<Row>, StoreError> {
    let mut rows = Vec::new();
    for instance in state.engine.instances().await? {
        let served = counts
            .iter()
            .find(|(name, _)| **name == *instance.name)
            .map_or(0, |(_, count)| *count);
        let runs = state.store.runs(&instance.name, CHART_RUNS).await?;
        rows.push(Row::new(instance, served, runs));
    }
    Ok(rows)
}

/// The page runs no script and loads nothing: its policy allows only its own inline
/// style sheet, by hash.
fn content_security_policy() -> &'static HeaderValue {
    static POLICY: LazyLock<HeaderValue> = LazyLock::new(|| {
        use base64::Engine as _;
        use sha2::Digest as _;
        let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(STYLE.as_bytes()));
        let policy = format!(
            "default-src 'none'; style-src 'sha256-{hash}'; img-src data:; base-uri 'none'; \
             form-action 'none'; frame-ancestors 'none'"
        );
        HeaderValue::from_str(&policy).unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
    });
    &POLICY
}

/// What the page shows of one instance.
struct Row {
    instance: InstanceStatus,
    served: usize,
    runs: Vec<SyncReport>,
}

impl Row {
    fn new(instance: InstanceStatus, served: usize, runs: Vec<SyncReport>) -> Self {
        Self {
            instance,
            served,
            runs,
        }
    }
}

struct Page {
    items: usize,
    version: i64,
    rows: Vec<Row>,
    generated_at: DateTime<Utc>,
    /// Why the instances could not be read, when the store is unavailable.
    unavailable: Option<String>,
}

const STYLE: &str = "\
:root{color-scheme:light;--fg:#1f2933;--muted:#616e7c;--line:#e4e7eb;--head:#f5f7fa;\
--ok:#0b6e4f;--ok-bg:#e3f9e5;--bad:#b42318;--bad-bg:#fde8e8;--off-bg:#eef0f3;--run:#1d4ed8;--run-bg:#e0ebff;--warn:#8a5a00;--warn-bg:#fff4d6}\
*{box-sizing:border-box}\
body{margin:0;padding:28px 32px;font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;\
color:var(--fg);background:#fff}\
h1{margin:0 0 4px;font-size:26px;font-weight:650}\
.summary{margin:0 0 24px;color:var(--muted)}\
.summary strong{color:var(--fg);font-variant-numeric:tabular-nums}\
main{max-width:1400px}\
.scroll{overflow-x:auto}\
table{border-collapse:collapse;width:100%;font-size:13.5px}\
caption{text-align:left;font-weight:600;font-size:17px;padding:0 0 8px}\
th,td{padding:8px 9px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}\
thead th{background:var(--head);font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);\
border-bottom:2px solid var(--line);white-space:nowrap;vertical-align:bottom}\
thead th small{display:block;font-size:11px;text-transform:none;letter-spacing:0;font-weight:400;white-space:normal}\
td.name,td.kind,td.when{white-space:nowrap}\
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}\
td.name{font-weight:600}\
code,.mono{font-family:ui-monospace,'SFMono-Regular',Menlo,Consolas,'DejaVu Sans Mono',monospace;font-size:13px}\
.badge{display:inline-block;padding:1px 9px;border-radius:999px;font-size:12.5px;font-weight:600;white-space:nowrap}\
.succeeded{color:var(--ok);background:var(--ok-bg)}\
.failed{color:var(--bad);background:var(--bad-bg)}\
.partial{color:var(--warn);background:var(--warn-bg)}\
.never,.no{color:var(--muted);background:var(--off-bg)}\
.yes{color:var(--ok);background:var(--ok-bg)}\
.closed{color:var(--ok);background:var(--ok-bg)}\
.open{color:var(--bad);background:var(--bad-bg)}\
.half-open{color:var(--warn);background:var(--warn-bg)}\
.alert{padding:10px 14px;border-radius:6px;color:var(--bad);background:var(--bad-bg);margin:0 0 20px}\
td.chart{min-width:230px}\
svg.runs{display:block;background:var(--head);border-radius:3px}\
a.rejects{color:var(--warn);font-weight:600}\
.running{color:var(--run);background:var(--run-bg)}\
.idle{color:var(--muted)}\
.counts{white-space:nowrap}\
.counts span{color:var(--muted)}\
td.error{color:var(--bad);min-width:14em;max-width:30em;overflow-wrap:break-word}\
td.error.err-partial{color:var(--warn)}\
thead th.wrap{white-space:normal}\
.muted{color:var(--muted)}\
nav{margin-top:28px;padding-top:14px;border-top:1px solid var(--line);color:var(--muted)}\
nav a{color:var(--run);margin-right:18px;text-decoration:none}\
nav a:hover{text-decoration:underline}\
";

impl Page {
    fn render(&self) -> String {
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    meta http-equiv="refresh" content="30";
                    title { "Boxoffice status" }
                    style { (PreEscaped(STYLE)) }
                }
                body { main {
                    h1 { "Boxoffice status" }
                    p.summary {
                        "Items served: " strong #items { (self.items) }
                        " · data version " strong id="data-version" { (self.version) }
                        " · page generated " (rfc3339(self.generated_at)) " (refreshes every 30\u{a0}s)"
                    }
                    @if let Some(reason) = &self.unavailable {
                        p.alert #unavailable {
                            "The store is unavailable: " (reason) ". /search keeps serving the last snapshot."
                        }
                    }
                    div.scroll { table #providers {
                        caption { "Provider instances" }
                        thead { tr {
                            th { "Name" } th { "Kind" } th { "Switch" } th { "Schedule" } th { "Circuit" }
                            th { "Running" } th { "Last run" } th { "When (UTC)" }
                            th.num { "Counts" small { "seen / inserted / updated / unchanged / rejected" } }
                            th { "Error" }
                            th.wrap { "Last 20 runs" small { "bar: duration, dot: records seen" } }
                            th.num.wrap { "Items served" }
                        } }
                        tbody {
                            @if self.rows.is_empty() && self.unavailable.is_none() {
                                tr { td.muted colspan="12" { "No provider instance is configured." } }
                            }
                            @for row in &self.rows { (render_row(row)) }
                        }
                    } }
                    nav {
                        a href="/docs/" { "API docs" }
                        a href="/openapi.json" { "OpenAPI document" }
                        a href="/metrics" { "Metrics" }
                    }
                } }
            }
        }
        .into_string()
    }
}

fn render_row(row: &Row) -> Markup {
    let instance = &row.instance;
    let (switch_class, switch) = if instance.enabled {
        ("yes", "on")
    } else {
        ("no", "off")
    };
    let (running_class, running) = if instance.running {
        ("badge running", "running")
    } else {
        ("idle", "no")
    };
    let circuit = match instance.circuit {
        CircuitState::Closed => "closed",
        CircuitState::Open => "open",
        CircuitState::HalfOpen => "half-open",
    };
    html! {
        tr data-provider=(instance.name) {
            td.name { (instance.name) }
            td.kind { code { (instance.kind) } }
            td { span class={ "badge " (switch_class) } { (switch) } }
            td { "every " (humantime::format_duration(instance.interval).to_string()) }
            td { span class={ "badge " (circuit) } { (circuit) } }
            td {
                span class=(running_class) { (running) }
                // How far the run going on has got, beside its badge.
                @if let Some(run) = &instance.current {
                    " " span class="so-far" {
                        "page " (run.pages) ", " (run.seen) " records (" (run.rejected) " rejected), "
                        (run.bytes) " bytes"
                    }
                }
            }
            @match &instance.last_report {
                None => {
                    td { span.badge.never { "never" } }
                    td.muted { "—" }
                    td.muted.num { "—" }
                    td {}
                }
                Some(run) => {
                    @let status = run.status.as_str();
                    @let when = rfc3339(run.finished_at);
                    td { span class={ "badge " (status) } { (status) } }
                    td.mono.when { time datetime=(when) { (when) } }
                    td.counts.num {
                        (run.seen) " " span { "/" } " " (run.inserted) " " span { "/" } " "
                        (run.updated) " " span { "/" } " " (run.unchanged) " " span { "/" } " "
                        @if run.rejected > 0 {
                            a.rejects href={ "/admin/providers/" (instance.name) "/rejects" }
                                title="the quarantine (admin token)" { (run.rejected) }
                        } @else {
                            "0"
                        }
                    }
                    @if let Some(error) = &run.error {
                        td class={ "error err-" (status) } { (error) }
                    } @else {
                        td {}
                    }
                }
            }
            td.chart { (chart::runs_chart(&row.runs)) }
            td.num { (row.served) }
        }
    }
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn instance(name: &str, last_report: Option<SyncReport>) -> InstanceStatus {
        InstanceStatus {
            name: name.to_owned(),
            kind: "fever-xml",
            enabled: true,
            interval: Duration::from_secs(300),
            running: false,
            circuit: CircuitState::Closed,
            consecutive_failures: 0,
            last_success: None,
            last_report,
            current: None,
        }
    }

    fn page(rows: Vec<Row>, unavailable: Option<&str>) -> String {
        Page {
            items: 7,
            version: 42,
            rows,
            generated_at: Utc::now(),
            unavailable: unavailable.map(str::to_owned),
        }
        .render()
    }

    #[test]
    fn every_dynamic_string_is_escaped() {
        let mut failed = SyncReport::started("x");
        failed.status = boxoffice_core::RunStatus::Failed;
        failed.seen = 1;
        failed.rejected = 1;
        failed.error = Some("<b>bad</b> & \"worse\"".to_owned());
        let name = "a\"><script>x</script>";
        let html = page(
            vec![Row::new(instance(name, Some(failed.clone())), 7, vec![failed])],
            Some("<i>down</i>"),
        );
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<b>") && !html.contains("<i>"), "{html}");
        assert!(html.contains("data-provider=\"a&quot;&gt;&lt;script&gt;x&lt;/script&gt;\""));
        assert!(html.contains("&lt;b&gt;bad&lt;/b&gt; &amp; &quot;worse&quot;"));
        assert!(html.contains(">failed<"));
        assert!(html.contains("id=\"unavailable\""));
    }

    #[test]
    fn a_row_tells_switch_schedule_circuit_never_run_and_its_rejects_link_to_the_quarantine() {
        let html = page(vec![Row::new(instance("fever", None), 7, Vec::new())], None);
        assert!(html.contains("<tr data-provider=\"fever\">"));
        assert!(html.contains("every 5m") && html.contains(">on<") && html.contains(">closed<"));
        assert!(html.contains(">never<") && html.contains("no run yet"));
        assert!(html.contains("href=\"/docs/\"") && html.contains("href=\"/openapi.json\""));
        let mut partial = SyncReport::started("fever");
        partial.status = boxoffice_core::RunStatus::Partial;
        partial.rejected = 2;
        let html = page(
            vec![Row::new(
                instance("fever", Some(partial.clone())),
                7,
                vec![partial],
            )],
            None,
        );
        assert!(html.contains("href=\"/admin/providers/fever/rejects\""), "{html}");
        assert!(html.contains("<svg class=\"runs\""));
    }
}
