//! SIGTERM on the real binary: the shutdown always ends within
//! `server.shutdown_timeout`, cancels every running sync (nothing of it is kept), and
//! tells an operator waiting on a sync that the service is shutting down.

use std::net::TcpListener as StdListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::helpers::*;

/// A provider that drips a feed's start, a byte every 200 ms for over a minute: a run
/// against it never finishes by itself within a test.
async fn dripping_provider() -> (String, boxoffice_testkit::MockFeedServer) {
    let mut body = b"<?xml version=\"1.0\"?><eventList><output>".to_vec();
    body.extend(std::iter::repeat_n(b' ', 300));
    let server = boxoffice_testkit::MockFeedServer::serving(
        "/feed",
        MockResponse::ok(body).drip(1, Duration::from_millis(200)),
    )
    .await;
    (server.url("/feed"), server)
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn write_config(dir: &Path, port: u16, feed_url: &str, enabled: bool) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    let toml = format!(
        r#"[server]
addr = "127.0.0.1:{port}"
shutdown_timeout = "2s"
[database]
url = "sqlite://{dir}/shutdown.db?mode=rwc"
[admin]
token = "{ADMIN_TOKEN}"
[archive]
dir = "{dir}/archive"
[log]
level = "info"
[providers.fever]
kind = "fever-xml"
enabled = {enabled}
url = "{feed_url}"
interval = "1h"
timeout = "60s"
deadline = "120s"
retries = 0
"#,
        dir = dir.display()
    );
    std::fs::write(&path, toml).unwrap();
    path
}

fn start(config: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_boxoffice"))
        .arg("--config")
        .arg(config)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting boxoffice")
}

async fn wait_until_serving(client: &reqwest::Client, base: &str) {
    for _ in 0..200 {
        if client.get(format!("{base}/health")).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not start");
}

fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits for the process to exit; its status and how long it took.
async fn wait_for_exit(mut child: Child, limit: Duration) -> (std::process::ExitStatus, Duration) {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, started.elapsed());
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("the process did not exit within {limit:?} of SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_cancels_an_operators_sync_and_exits_within_the_shutdown_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (feed_url, _feed) = dripping_provider().await;
    let port = free_port();
    let config = write_config(dir.path(), port, &feed_url, false);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let child = start(&config);
    wait_until_serving(&client, &base).await;

    // An operator waits on a sync of a provider that drips its body.
    let operator = tokio::spawn({
        let client = client.clone();
        let url = format!("{base}/admin/providers/fever/sync");
        async move {
            let response = client.post(url).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap_or(Value::Null))
        }
    });
    // And a client has sent half a request.
    let mut half = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    half.write_all(b"GET /search HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(!operator.is_finished(), "the dripping sync ended by itself");

    terminate(&child);
    let (status, body) = tokio::time::timeout(Duration::from_secs(3), operator)
        .await
        .expect("the operator was answered at once")
        .unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "shutting_down");
    let (exit, took) = wait_for_exit(child, Duration::from_secs(5)).await;
    assert!(exit.success(), "exit status {exit:?}");
    assert!(
        took <= Duration::from_millis(3500),
        "took {took:?} (shutdown_timeout is 2s)"
    );
    drop(half);

    // Nothing of the cancelled run was kept.
    let child = start(&config);
    wait_until_serving(&client, &base).await;
    let body: Value = client
        .get(format!("{base}/search"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["events"], serde_json::json!([]));
    terminate(&child);
    let (exit, _) = wait_for_exit(child, Duration::from_secs(5)).await;
    assert!(exit.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_cancels_a_scheduled_sync_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (feed_url, _feed) = dripping_provider().await;
    let port = free_port();
    // Enabled: the scheduled sync starts at start-up and drips.
    let config = write_config(dir.path(), port, &feed_url, true);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let child = start(&config);
    wait_until_serving(&client, &base).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    terminate(&child);
    let (exit, took) = wait_for_exit(child, Duration::from_secs(5)).await;
    assert!(exit.success(), "exit status {exit:?}");
    // Nothing but the sync was open: no need to wait for the deadline.
    assert!(took < Duration::from_secs(2), "took {took:?}");
}
