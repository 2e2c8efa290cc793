//! The access log of the real binary: one line per request, at `info`, with the method
//! label, the route pattern (never the raw path), the status, the duration and the
//! request id; none with `log.access = false`.

use serde_json::Value;

use crate::helpers::*;
use crate::process::{ServerProcess, client, write_server_config};

/// The access-log lines of a JSON log.
fn access_lines(stderr: &str) -> Vec<Value> {
    stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["target"] == "boxoffice::access")
        .collect()
}

async fn send(client: &reqwest::Client, method: &str, url: &str, request_id: &str) -> u16 {
    client
        .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url)
        .header("x-request-id", request_id)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"))
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_is_one_line_with_its_route_pattern_never_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_server_config(dir.path(), "http://127.0.0.1:9/feed", "format = \"json\"", "");
    let server = ServerProcess::start(&config, &[]).await;
    let client = client();
    let base = &server.base;
    let requests = [
        (
            "GET",
            format!("{base}/search?{SCENARIO_WINDOW}"),
            "access-search",
            "/search",
            200,
        ),
        (
            "GET",
            format!("{base}/events/6f1c1b34-3c0a-5a43-9a2f-0d9d5e2f0a11"),
            "access-event",
            "/events/{id}",
            404,
        ),
        (
            "GET",
            format!("{base}/no/such/secret-path"),
            "access-unmatched",
            "unmatched",
            404,
        ),
        (
            "BREW",
            format!("{base}/search"),
            "access-odd-method",
            "/search",
            405,
        ),
        (
            "GET",
            format!("{base}/admin/providers"),
            "access-admin",
            "/admin/providers",
            401,
        ),
    ];
    for (method, url, id, _, status) in &requests {
        assert_eq!(send(&client, method, url, id).await, *status, "{method} {url}");
    }
    let (exit, stderr) = server.stop().await;
    assert!(exit.success(), "{stderr}");

    let lines = access_lines(&stderr);
    for (method, _, id, route, status) in &requests {
        let mine: Vec<&Value> = lines.iter().filter(|line| line["request_id"] == *id).collect();
        assert_eq!(mine.len(), 1, "one line for {id}:\n{stderr}");
        let line = mine[0];
        assert_eq!(line["level"], "INFO", "{line}");
        let label = if *method == "BREW" { "other" } else { method };
        assert_eq!(line["method"], label, "{line}");
        assert_eq!(line["route"], *route, "{line}");
        assert_eq!(line["status"], *status, "{line}");
        assert!(line["duration_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{line}");
    }
    // Nothing a client chose is logged but the (checked) request id.
    for line in &lines {
        let text = line.to_string();
        assert!(
            !text.contains("secret-path") && !text.contains("6f1c1b34") && !text.contains("BREW"),
            "{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_line_is_written_with_the_access_log_off() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_server_config(
        dir.path(),
        "http://127.0.0.1:9/feed",
        "format = \"json\"\naccess = false",
        "",
    );
    let server = ServerProcess::start(&config, &[]).await;
    let client = client();
    let status = send(&client, "GET", &format!("{}/health", server.base), "quiet-1").await;
    assert_eq!(status, 200);
    let (exit, stderr) = server.stop().await;
    assert!(exit.success(), "{stderr}");
    assert!(stderr.contains("Serving."), "the log is on: {stderr}");
    assert!(access_lines(&stderr).is_empty(), "{stderr}");
    assert!(!stderr.contains("quiet-1"), "{stderr}");
}
