//! GET /status: an operator's page, rendered on the server. One table row per provider
//! instance with its schedule, its last run in this process and the items it has served.
//! Plain HTML with inline CSS: no script, no external asset; it refreshes itself every 30 s.

use std::fmt::Write as _;
use std::sync::LazyLock;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use boxoffice_core::sync::InstanceStatus;
use chrono::{DateTime, SecondsFormat, Utc};

use super::AppState;

/// Whether the page links to `/metrics`: only when the router serves such a route.
const LINK_METRICS: bool = true;

/// The operators' page: each provider instance's schedule, switch, last run and items
/// served, rendered on the server (no script).
#[utoipa::path(get, path = "/status", tag = "operations", operation_id = "statusPage",
    responses((status = 200, description = "An HTML page", content_type = "text/html", body = String)))]
pub async fn status_page(State(state): State<AppState>) -> Response {
    let snapshot = state.read_model.snapshot();
    let counts = snapshot.counts_by_provider();
    let rows: Vec<Row> = state
        .engine
        .instances()
        .into_iter()
        .map(|instance| {
            let served = counts
                .iter()
                .find(|(name, _)| **name == *instance.name)
                .map_or(0, |(_, count)| *count);
            Row::new(instance, served)
        })
        .collect();
    let page = Page {
        items: snapshot.len(),
        version: snapshot.version(),
        rows,
        generated_at: Utc::now(),
        link_metrics: LINK_METRICS,
    };
    (
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::CONTENT_SECURITY_POLICY, content_security_policy().clone()),
        ],
        Html(page.render()),
    )
        .into_response()
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

/// Escapes text for an HTML element's content or a quoted attribute value.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What the page shows of one run.
struct LastRun {
    /// `succeeded`, `failed`, or whatever else [`RunStatus::as_str`] names.
    ///
    /// [`RunStatus::as_str`]: boxoffice_core::sync::RunStatus::as_str
    status: &'static str,
    finished_at: DateTime<Utc>,
    seen: u64,
    inserted: u64,
    updated: u64,
    unchanged: u64,
    rejected: u64,
    error: Option<String>,
}

/// What the page shows of one instance.
struct Row {
    name: String,
    kind: String,
    enabled: bool,
    interval: Duration,
    running: bool,
    last_run: Option<LastRun>,
    served: usize,
}

impl Row {
    fn new(instance: InstanceStatus, served: usize) -> Self {
        Self {
            last_run: instance.last_report.map(|report| LastRun {
                status: report.status.as_str(),
                finished_at: report.finished_at,
                seen: report.seen,
                inserted: report.inserted,
                updated: report.updated,
                unchanged: report.unchanged,
                rejected: report.rejected,
                error: report.error,
            }),
            name: instance.name,
            kind: instance.kind.to_owned(),
            enabled: instance.enabled,
            interval: instance.interval,
            running: instance.running,
            served,
        }
    }
}

struct Page {
    items: usize,
    version: i64,
    rows: Vec<Row>,
    generated_at: DateTime<Utc>,
    link_metrics: bool,
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
        let mut html = String::with_capacity(4096 + self.rows.len() * 1024);
        html.push_str(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta http-equiv=\"refresh\" content=\"30\">\n<title>Boxoffice status</title>\n<style>",
        );
        html.push_str(STYLE);
        html.push_str("</style>\n</head>\n<body>\n<main>\n<h1>Boxoffice status</h1>\n");
        let _ = writeln!(
            html,
            "<p class=\"summary\">Items served: <strong id=\"items\">{}</strong> \
             &middot; data version <strong id=\"data-version\">{}</strong> \
             &middot; page generated {} (refreshes every 30&nbsp;s)</p>",
            self.items,
            self.version,
            rfc3339(self.generated_at),
        );
        html.push_str(
            "<div class=\"scroll\">\n<table id=\"providers\">\n<caption>Provider instances</caption>\n<thead><tr>\
             <th>Name</th><th>Kind</th><th>Enabled</th><th>Schedule</th><th>Running</th>\
             <th>Last run</th><th>When (UTC)</th>\
             <th class=\"num\">Counts<small>seen / inserted / updated / unchanged / rejected</small></th>\
             <th>Error</th><th class=\"num wrap\">Items served</th></tr></thead>\n<tbody>\n",
        );
        if self.rows.is_empty() {
            html.push_str(
                "<tr><td colspan=\"10\" class=\"muted\">No provider instance is configured.</td></tr>\n",
            );
        }
        for row in &self.rows {
            render_row(&mut html, row);
        }
        html.push_str("</tbody>\n</table>\n</div>\n<nav><a href=\"/docs/\">API docs</a><a href=\"/openapi.json\">OpenAPI document</a>");
        if self.link_metrics {
            html.push_str("<a href=\"/metrics\">Metrics</a>");
        }
        html.push_str("</nav>\n</main>\n</body>\n</html>\n");
        html
    }
}

fn render_row(html: &mut String, row: &Row) {
    let name = escape_html(&row.name);
    let (enabled_class, enabled) = if row.enabled { ("yes", "yes") } else { ("no", "no") };
    let (running_class, running) = if row.running {
        ("badge running", "running")
    } else {
        ("idle", "no")
    };
    let _ = write!(
        html,
        "<tr data-provider=\"{name}\"><td class=\"name\">{name}</td><td class=\"kind\"><code>{kind}</code></td>\
         <td><span class=\"badge {enabled_class}\">{enabled}</span></td>\
         <td>every {interval}</td><td><span class=\"{running_class}\">{running}</span></td>",
        kind = escape_html(&row.kind),
        interval = escape_html(&humantime::format_duration(row.interval).to_string()),
    );
    match &row.last_run {
        None => html.push_str(
            "<td><span class=\"badge never\">never</span></td><td class=\"muted\">&mdash;</td>\
             <td class=\"muted num\">&mdash;</td><td></td>",
        ),
        Some(run) => {
            let status = escape_html(run.status);
            let when = rfc3339(run.finished_at);
            let _ = write!(
                html,
                "<td><span class=\"badge {status}\">{status}</span></td>\
                 <td class=\"mono when\"><time datetime=\"{when}\">{when}</time></td>\
                 <td class=\"counts num\">{} <span>/</span> {} <span>/</span> {} <span>/</span> {} \
                 <span>/</span> {}</td>",
                run.seen, run.inserted, run.updated, run.unchanged, run.rejected,
            );
            match run.error.as_deref() {
                Some(error) => {
                    let _ = write!(
                        html,
                        "<td class=\"error err-{status}\">{}</td>",
                        escape_html(error)
                    );
                }
                None => html.push_str("<td></td>"),
            }
        }
    }
    let _ = writeln!(html, "<td class=\"num\">{}</td></tr>", row.served);
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_html_escapes_the_five_special_characters() {
        assert_eq!(escape_html("<>&\"'"), "&lt;&gt;&amp;&quot;&#39;");
        assert_eq!(
            escape_html("<script>alert('x & \"y\"')</script>"),
            "&lt;script&gt;alert(&#39;x &amp; &quot;y&quot;&#39;)&lt;/script&gt;"
        );
        assert_eq!(escape_html("plain text, ünïcode"), "plain text, ünïcode");
        assert_eq!(escape_html(""), "");
    }

    fn row(name: &str, last_run: Option<LastRun>) -> Row {
        Row {
            name: name.to_owned(),
            kind: "fever-xml".to_owned(),
            enabled: true,
            interval: Duration::from_secs(300),
            running: false,
            last_run,
            served: 7,
        }
    }

    fn page(rows: Vec<Row>, link_metrics: bool) -> String {
        Page {
            items: 7,
            version: 42,
            rows,
            generated_at: Utc::now(),
            link_metrics,
        }
        .render()
    }

    #[test]
    fn every_dynamic_string_is_escaped() {
        let failed = LastRun {
            status: "failed",
            finished_at: Utc::now(),
            seen: 1,
            inserted: 0,
            updated: 0,
            unchanged: 0,
            rejected: 1,
            error: Some("<b>bad</b> & \"worse\"".to_owned()),
        };
        let html = page(vec![row("a\"><script>x</script>", Some(failed))], false);
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(html.contains("data-provider=\"a&quot;&gt;&lt;script&gt;x&lt;/script&gt;\""));
        assert!(html.contains("&lt;b&gt;bad&lt;/b&gt; &amp; &quot;worse&quot;"));
        assert!(html.contains(">failed<"));
    }

    #[test]
    fn a_row_tells_schedule_and_never_run_and_metrics_is_linked_only_when_served() {
        let html = page(vec![row("fever", None)], false);
        assert!(html.contains("<tr data-provider=\"fever\">"));
        assert!(html.contains("every 5m"));
        assert!(html.contains(">never<"));
        assert!(html.contains("href=\"/docs/\"") && html.contains("href=\"/openapi.json\""));
        assert!(!html.contains("/metrics"));
        assert!(page(Vec::new(), true).contains("href=\"/metrics\""));
    }
}
