//! Long work shows its progress: the command line's bar on a terminal (and none in a
//! pipe, the report unchanged), and a running run's figures so far through the admin
//! API, `/status` and `/metrics`, in this process and, by the heartbeat, in another.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::*;

/// A generated Fever feed of `base_events` × 2 sessions.
fn feed(base_events: usize) -> Vec<u8> {
    generated_feed(base_events, 2, 2)
}

/// `boxoffice --config <config> sync --provider fever` under a pseudo-terminal (`script`
/// gives the command one): what the terminal showed, and the standard output.
fn sync_on_a_terminal(config: &std::path::Path, out: &std::path::Path, env: &[(&str, &str)]) -> String {
    let command = format!(
        "{} --config {} sync --provider fever > {}",
        env!("CARGO_BIN_EXE_boxoffice"),
        config.display(),
        out.display()
    );
    let mut script = std::process::Command::new("script");
    script.args(["-qec", &command, "/dev/null"]);
    crate::process::with_clean_environment(&mut script, env);
    let output = script
        .stdin(Stdio::null())
        .output()
        .expect("running script (util-linux), which gives the command a terminal");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What a report says, without what differs from run to run.
fn comparable(report: &Value) -> Value {
    let mut report = report.clone();
    for key in ["run_id", "started_at", "finished_at"] {
        report.as_object_mut().map(|object| object.remove(key));
    }
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_on_a_terminal_draws_a_bar_and_in_a_pipe_none_with_the_same_report() {
    let provider =
        MockProvider::start(MockResponse::ok(feed(40)).drip(4096, Duration::from_millis(100))).await;
    // A token in the feed's query: never on the terminal.
    let url = format!("{}?token=s3cret-feed-token", provider.url);
    let piped_dir = tempfile::tempdir().unwrap();
    let piped_config = crate::process::write_server_config(piped_dir.path(), &url, "", "");
    let piped = crate::process::run(
        &[
            "--config",
            &piped_config.to_string_lossy(),
            "sync",
            "--provider",
            "fever",
        ],
        &[],
        piped_dir.path(),
    );
    assert!(piped.status.success());
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(!stderr.contains("sync fever:"), "a bar in a pipe: {stderr}");
    let piped_report: Value = serde_json::from_slice(&piped.stdout).unwrap();

    let terminal_dir = tempfile::tempdir().unwrap();
    let terminal_config = crate::process::write_server_config(terminal_dir.path(), &url, "", "");
    let out = terminal_dir.path().join("report.json");
    let shown = sync_on_a_terminal(&terminal_config, &out, &[]);
    assert!(
        shown.contains("sync fever:") && shown.contains("records ("),
        "no bar:\n{shown}"
    );
    assert!(!shown.contains("s3cret") && !shown.contains("token="), "{shown}");
    let terminal_report: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(comparable(&terminal_report), comparable(&piped_report));

    // NO_COLOR and --quiet: no bar on the terminal either.
    let quiet_dir = tempfile::tempdir().unwrap();
    let quiet_config = crate::process::write_server_config(quiet_dir.path(), &url, "", "");
    let no_color = sync_on_a_terminal(
        &quiet_config,
        &quiet_dir.path().join("a.json"),
        &[("NO_COLOR", "1")],
    );
    assert!(!no_color.contains("sync fever:"), "{no_color}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_run_shows_growing_figures_on_the_admin_api_status_and_metrics() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    // About 94 KB in 12 chunks over 1.4 s, within the helpers' 2 s timeout.
    let provider =
        MockProvider::start(MockResponse::ok(feed(100)).drip(8192, Duration::from_millis(120))).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&provider.url)).await;
    let (status, accepted) = app
        .admin(
            reqwest::Method::POST,
            "/admin/providers/fever/sync?wait=false",
            None,
        )
        .await;
    assert_eq!(status, axum::http::StatusCode::ACCEPTED, "{accepted}");
    let location = accepted["data"]["location"].as_str().unwrap().to_owned();
    let started = Instant::now();
    let mut seen_bytes = Vec::new();
    let mut status_page = String::new();
    let mut gauge = None;
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the run did not finish"
        );
        let (_, body) = app.admin(reqwest::Method::GET, &location, None).await;
        let run = &body["data"]["run"];
        if run["status"] != "running" {
            break;
        }
        seen_bytes.push(run["bytes"].as_u64().unwrap_or_default());
        if status_page.is_empty() && run["seen"].as_u64().unwrap_or_default() > 0 {
            status_page = app
                .client
                .get(format!("{}/status", app.address))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
        }
        let metrics = app
            .client
            .get(format!("{}/metrics", app.address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if let Some(line) = metrics
            .lines()
            .find(|l| l.starts_with("boxoffice_sync_records_so_far{provider=\"fever\"}"))
        {
            let value: f64 = line.rsplit(' ').next().unwrap_or("0").parse().unwrap_or(0.0);
            if value > 0.0 {
                gauge = Some(value);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let growing: Vec<u64> = seen_bytes
        .windows(2)
        .filter(|w| w[1] > w[0])
        .map(|w| w[1])
        .collect();
    assert!(
        growing.len() >= 2,
        "the figures did not grow while the run went on: {seen_bytes:?}"
    );
    assert!(
        status_page.contains("so-far") && status_page.contains(" records ("),
        "/status showed no figures beside \"running\":\n{status_page}"
    );
    assert!(gauge.is_some(), "no records_so_far gauge while the run went on");
    let (_, done) = app.admin(reqwest::Method::GET, &location, None).await;
    assert_eq!(done["data"]["run"]["status"], "succeeded", "{done}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_sees_the_figures_of_the_heartbeat() {
    crate::skip_without_postgres!();
    let db = TestDatabase::create(Backend::Postgres).await;
    // About 187 KB over 5 s: more than two heartbeats.
    let provider =
        MockProvider::start(MockResponse::ok(feed(200)).drip(8192, Duration::from_millis(220))).await;
    let mut config = config_for(&db.url, &AppOptions::manual(&provider.url));
    if let Some(fever) = config.providers.get_mut("fever") {
        fever.timeout = Duration::from_secs(30);
    }
    let syncing = TestApp::spawn_config(config).await;
    let other = TestApp::spawn(&db.url, AppOptions::manual(&provider.url)).await;
    let (_, accepted) = syncing
        .admin(
            reqwest::Method::POST,
            "/admin/providers/fever/sync?wait=false",
            None,
        )
        .await;
    let location = accepted["data"]["location"].as_str().unwrap().to_owned();
    let started = Instant::now();
    let mut figures = Vec::new();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the run did not finish"
        );
        let (_, body) = other.admin(reqwest::Method::GET, &location, None).await;
        let run = &body["data"]["run"];
        if run["status"] != "running" {
            break;
        }
        figures.push(run["seen"].as_u64().unwrap_or_default());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    figures.dedup();
    assert!(
        figures.iter().filter(|seen| **seen > 0).count() >= 2,
        "the other process saw no growing figures: {figures:?}"
    );
    let (_, done) = other.admin(reqwest::Method::GET, &location, None).await;
    assert_eq!(done["data"]["run"]["status"], "succeeded", "{done}");
    syncing.stop().await;
    other.stop().await;
    db.drop_now().await;
}
