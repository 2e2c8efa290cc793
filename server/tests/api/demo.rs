//! `make demo` (`boxoffice demo`): the three recorded responses replayed in order into
//! a throwaway store, the challenge's example answered as the README shows it, and
//! Ctrl-C leaving nothing behind.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::process::{ServerProcess, client};

/// The README's demo request (the path of its `curl` line) and the answer it shows.
fn documented() -> (String, Value) {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let start = readme
        .find("curl 'http://127.0.0.1:8000")
        .expect("the README shows the demo request");
    let line = &readme[start..readme[start..].find('\n').map_or(readme.len(), |end| start + end)];
    let path = line
        .trim_start_matches("curl 'http://127.0.0.1:8000")
        .trim_end_matches('\'')
        .to_owned();
    let block = &readme[start..];
    let json_start = block.find("```json\n").expect("the README shows the answer") + "```json\n".len();
    let json_end = json_start + block[json_start..].find("```").unwrap();
    (path, serde_json::from_str(&block[json_start..json_end]).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_replays_the_recorded_responses_and_answers_as_the_readme_shows() {
    let (path, answer) = documented();
    assert_eq!(
        path,
        boxoffice_server::demo::EXAMPLE_QUERY,
        "the README shows another request"
    );
    let server = ServerProcess::start_with(&["demo", "--addr", "127.0.0.1:0", "--pause", "100ms"], &[]).await;
    let started = Instant::now();
    while !server.stderr().contains("every response is synced") {
        assert!(started.elapsed() < Duration::from_secs(30), "{}", server.stderr());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // One response per sync, in order, then the last one again: not modified.
    let synced: Vec<String> = server
        .stderr()
        .lines()
        .filter(|line| line.contains("Demo: synced recorded response"))
        .map(|line| {
            let field = |name: &str| {
                line.split(&format!("{name}="))
                    .nth(1)
                    .and_then(|rest| rest.split(' ').next())
                    .unwrap_or("?")
                    .to_owned()
            };
            format!(
                "{} {} {}",
                field("response"),
                field("status"),
                field("not_modified")
            )
        })
        .collect();
    assert_eq!(
        synced,
        [
            "1 \"succeeded\" false",
            "2 \"partial\" false",
            "3 \"partial\" false",
            "3 \"succeeded\" true"
        ]
    );
    let served: Value = client()
        .get(format!("{}{path}", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, answer, "the README shows another answer");
    let status = client()
        .get(format!("{}/status", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        status.contains("fever") && status.contains("succeeded"),
        "{status}"
    );

    let store = server
        .stderr()
        .lines()
        .find(|line| line.contains("Demo: the three recorded"))
        .and_then(|line| line.split("store=").nth(1))
        .map(|store| store.trim().to_owned())
        .expect("the demo names its store");
    assert!(std::path::Path::new(&store).exists());
    let (exit, stderr) = server.stop_with("INT").await;
    assert!(exit.success(), "{stderr}");
    assert!(
        !std::path::Path::new(&store).exists(),
        "Ctrl-C left {store} behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_cannot_be_reached_at_start_up_is_explained_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\naddr = \"127.0.0.1:0\"\n[database]\nurl = \"sqlite://{dir}/b.db?mode=rwc\"\n\
             [archive]\ndir = \"{dir}/archive\"\n[log]\nlevel = \"info\"\n\
             [providers.fever]\nkind = \"fever-xml\"\nurl = \"http://127.0.0.1:9/api/events\"\n\
             interval = \"1s\"\nretries = 0\ntimeout = \"2s\"\n",
            dir = dir.path().display()
        ),
    )
    .unwrap();
    let server = ServerProcess::start(&config, &[]).await;
    let started = Instant::now();
    while !server.stderr().contains("make demo") {
        assert!(started.elapsed() < Duration::from_secs(20), "{}", server.stderr());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Later failures of the same provider do not repeat it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, stderr) = server.stop().await;
    let notices: Vec<&str> = stderr.lines().filter(|line| line.contains("make demo")).collect();
    assert_eq!(notices.len(), 1, "{stderr}");
    assert!(
        notices[0].contains("/search stays empty until") && notices[0].contains("providers.fever.url"),
        "{}",
        notices[0]
    );
}
