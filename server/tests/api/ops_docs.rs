//! docs/ops: the alert rules and the Grafana dashboard name only metrics the server
//! really exports, the rules pass `promtool check rules` and their unit tests
//! (`promtool test rules`), and every dashboard query is valid PromQL.
//!
//! promtool comes with Debian's `prometheus` package, which `make test` installs; a
//! test that needs it skips without it (and fails under `TEST_REQUIRE_SERVICES`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::helpers::*;

fn ops_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/ops")
}

fn read(name: &str) -> String {
    let path = ops_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn dashboard() -> Value {
    serde_json::from_str(&read("grafana-dashboard.json")).expect("the dashboard is JSON")
}

/// Every `expr` of the dashboard's panels.
fn dashboard_queries(dashboard: &Value) -> Vec<String> {
    fn collect(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(object) => {
                for (key, value) in object {
                    match (key.as_str(), value) {
                        ("expr", Value::String(expr)) => found.push(expr.clone()),
                        _ => collect(value, found),
                    }
                }
            }
            Value::Array(values) => values.iter().for_each(|value| collect(value, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    collect(&dashboard["panels"], &mut found);
    found
}

/// The names in `text` that look like Boxoffice's metrics.
fn metric_names(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("boxoffice_") || word.starts_with("http_request"))
        .map(str::to_owned)
        .collect()
}

/// The promtool to use: `$PROMTOOL`, else one on `PATH`.
fn promtool() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PROMTOOL") {
        return Some(PathBuf::from(path));
    }
    let found = Command::new("promtool").arg("--version").output().is_ok();
    found.then(|| PathBuf::from("promtool"))
}

fn run_promtool(promtool: &Path, args: &[&str]) -> String {
    let output = Command::new(promtool)
        .args(args)
        .current_dir(ops_dir())
        .output()
        .unwrap_or_else(|e| panic!("running {} {args:?}: {e}", promtool.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?}:\n{text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_and_the_alerts_use_only_metrics_the_server_exports() {
    // Make every metric exist: a request of each kind, and a sync.
    let db = TestDatabase::create(Backend::Sqlite).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    let (status, _) = app.sync().await;
    assert_eq!(status, 200);
    app.search(SCENARIO_WINDOW).await;
    let exposition = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    app.stop().await;
    let mut exported = BTreeSet::new();
    for line in exposition.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut words = rest.split_whitespace();
            let (Some(name), Some(kind)) = (words.next(), words.next()) else {
                continue;
            };
            exported.insert(name.to_owned());
            if kind == "histogram" || kind == "summary" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    exported.insert(format!("{name}{suffix}"));
                }
            }
        }
    }
    for name in [
        "http_requests_total",
        "http_request_duration_seconds",
        "boxoffice_sync_runs_total",
        "boxoffice_sync_records_total",
        "boxoffice_sync_last_success_timestamp_seconds",
        "boxoffice_sync_circuit_state",
        "boxoffice_items_served",
        "boxoffice_data_version",
    ] {
        assert!(exported.contains(name), "{name} is not exported:\n{exposition}");
    }

    let dashboard = dashboard();
    let queries = dashboard_queries(&dashboard).join("\n");
    let alerts = read("alerts.yml");
    for (file, text) in [("grafana-dashboard.json", &queries), ("alerts.yml", &alerts)] {
        let used = metric_names(text);
        let unknown: Vec<&String> = used.difference(&exported).collect();
        assert!(
            unknown.is_empty(),
            "{file} names metrics the server does not export: {unknown:?}"
        );
    }
    // Each metric is on the dashboard.
    let on_dashboard = metric_names(&queries);
    for name in [
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "boxoffice_sync_runs_total",
        "boxoffice_sync_records_total",
        "boxoffice_sync_last_success_timestamp_seconds",
        "boxoffice_sync_circuit_state",
        "boxoffice_items_served",
        "boxoffice_data_version",
    ] {
        assert!(on_dashboard.contains(name), "{name} has no panel");
    }
}

#[test]
fn the_dashboard_is_importable() {
    let dashboard = dashboard();
    assert_eq!(dashboard["uid"], "boxoffice");
    let panels = dashboard["panels"].as_array().expect("panels");
    let ids: BTreeSet<i64> = panels.iter().filter_map(|p| p["id"].as_i64()).collect();
    assert_eq!(ids.len(), panels.len(), "panel ids are unique");
    let variables: Vec<&str> = dashboard["templating"]["list"]
        .as_array()
        .expect("variables")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    for panel in panels.iter().filter(|p| p["type"] != "row") {
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{}", panel["title"]);
        assert!(
            panel["targets"].as_array().is_some_and(|t| !t.is_empty()),
            "{}",
            panel["title"]
        );
    }
    for query in dashboard_queries(&dashboard) {
        for variable in ["$job", "$instance"] {
            if query.contains(variable) {
                assert!(variables.contains(&&variable[1..]), "{variable} is not defined");
            }
        }
    }
}

#[test]
fn the_alert_rules_pass_promtool_and_their_unit_tests() {
    let Some(promtool) = promtool() else {
        skip(
            module_path!(),
            "promtool is missing (Debian's prometheus package; make test installs it, or set PROMTOOL)",
        );
        return;
    };
    let checked = run_promtool(&promtool, &["check", "rules", "alerts.yml"]);
    assert!(checked.contains("SUCCESS"), "{checked}");
    let tested = run_promtool(&promtool, &["test", "rules", "alerts.test.yml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");

    // Every dashboard query parses: promtool checks them as recording rules, with
    // Grafana's variables replaced by what they stand for.
    let dir = tempfile::tempdir().unwrap();
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (n, query) in dashboard_queries(&dashboard()).iter().enumerate() {
        let query = query
            .replace("$__rate_interval", "5m")
            .replace("$job", ".*")
            .replace("$instance", ".*");
        let quoted = serde_json::to_string(&query).unwrap();
        rules.push_str(&format!(
            "      - record: dashboard:query_{n}\n        expr: {quoted}\n"
        ));
    }
    let path = dir.path().join("dashboard-rules.yml");
    std::fs::write(&path, rules).unwrap();
    let checked = run_promtool(&promtool, &["check", "rules", path.to_str().unwrap()]);
    assert!(checked.contains("SUCCESS"), "{checked}");
}
