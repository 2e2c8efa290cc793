//! The `boxoffice` binary's commands.

use std::process::Command;

use crate::helpers::*;

fn boxoffice(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_boxoffice"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("running boxoffice")
}

fn write_config(
    dir: &std::path::Path,
    database_url: &str,
    feed_url: &str,
    extra: &str,
) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    let toml = format!(
        "[archive]\ndir = \"{}/archive\"\n[database]\nurl = \"{database_url}\"\n[providers.fever]\nkind = \"fever-xml\"\nurl = \"{feed_url}\"\ntimeout = \"2s\"\n{extra}",
        dir.display()
    );
    std::fs::write(&path, toml).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_prints_the_report_and_migrate_and_providers_work() {
    let dir = tempfile::tempdir().unwrap();
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let database_url = format!("sqlite://{}/cli.db?mode=rwc", dir.path().display());
    let config = write_config(dir.path(), &database_url, &feed.url, "");

    let output = tokio::task::spawn_blocking({
        let config = config.clone();
        move || boxoffice(&config, &["migrate"])
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let output = tokio::task::spawn_blocking({
        let config = config.clone();
        move || boxoffice(&config, &["sync", "--provider", "fever"])
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["provider"], "fever");
    assert_eq!(report["status"], "succeeded");
    assert_eq!(report["inserted"], 3);

    // The payload was archived: replay re-maps it without the provider.
    let payload = report["payload"].as_str().unwrap_or_default().to_owned();
    assert_eq!(payload.len(), 64, "{report}");
    drop(feed);
    let output = tokio::task::spawn_blocking({
        let config = config.clone();
        move || boxoffice(&config, &["replay", "--provider", "fever"])
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let replay: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(replay["replayed_from"], payload.as_str());
    assert_eq!(replay["unchanged"], 3);

    let output = boxoffice(&config, &["providers"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert!(
        text.contains("fever-xml") && text.contains("fever  kind=fever-xml"),
        "{text}"
    );
}

#[test]
fn a_bad_config_stops_start_up_naming_each_key() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}/cli.db?mode=rwc", dir.path().display());
    let config = write_config(
        dir.path(),
        &database_url,
        "ftp://example.invalid/feed",
        "interval = \"soon\"\n[providers.other]\nkind = \"nope\"\n",
    );
    let output = boxoffice(&config, &["serve"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("providers.fever.interval"), "{stderr}");

    let config = write_config(
        dir.path(),
        &database_url,
        "ftp://example.invalid/feed",
        "[providers.other]\nkind = \"nope\"\n",
    );
    let output = boxoffice(&config, &["serve"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("providers.fever.url"), "{stderr}");
    assert!(
        stderr.contains("providers.other.kind") && stderr.contains("fever-xml"),
        "{stderr}"
    );

    let output = boxoffice(&config, &["check-config"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("providers.fever.url") && stderr.contains("providers.other.kind"),
        "{stderr}"
    );
    let good = write_config(dir.path(), &database_url, "http://127.0.0.1:9/feed", "");
    let output = boxoffice(&good, &["check-config"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("configuration OK: 1 provider instance(s): fever")
    );

    let output = boxoffice(&dir.path().join("missing.toml"), &["serve"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("missing.toml"));
}

#[test]
fn environment_variables_override_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}/cli.db?mode=rwc", dir.path().display());
    let config = write_config(dir.path(), &database_url, "http://127.0.0.1:9/feed", "");
    let output = Command::new(env!("CARGO_BIN_EXE_boxoffice"))
        .arg("--config")
        .arg(&config)
        .arg("providers")
        .env("BOXOFFICE_PROVIDERS__FEVER__ENABLED", "false")
        .env("BOXOFFICE_PROVIDERS__FEVER__INTERVAL", "1h")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("enabled=false interval=1h"), "{text}");
}

#[test]
fn an_unreachable_store_at_start_up_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "postgres://postgres@127.0.0.1:1/nowhere",
        "http://127.0.0.1:9/feed",
        "",
    );
    let started = std::time::Instant::now();
    let output = boxoffice(&config, &["serve"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("connecting to the store at postgres://postgres@127.0.0.1:1/nowhere"),
        "{stderr}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retire_counts_first_and_deletes_only_with_yes() {
    let dir = tempfile::tempdir().unwrap();
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let database_url = format!("sqlite://{}/cli.db?mode=rwc", dir.path().display());
    let config = write_config(dir.path(), &database_url, &feed.url, "");
    let run = |args: &'static [&'static str]| {
        let config = config.clone();
        tokio::task::spawn_blocking(move || boxoffice(&config, args))
    };
    assert!(
        run(&["sync", "--provider", "fever"])
            .await
            .unwrap()
            .status
            .success()
    );
    let dry = run(&["retire", "--provider", "fever"]).await.unwrap();
    assert!(!dry.status.success());
    let said = String::from_utf8_lossy(&dry.stderr);
    assert!(said.contains("3 item(s)") && said.contains("--yes"), "{said}");
    let done = run(&["retire", "--provider", "fever", "--yes"]).await.unwrap();
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    let told = String::from_utf8_lossy(&done.stdout);
    assert!(told.contains("retired 3 item(s) of fever"), "{told}");
    let again = run(&["retire", "--provider", "fever", "--yes"]).await.unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("retired 0 item(s)"));
}

#[test]
fn providers_lists_the_kinds_when_an_instance_misses_its_secret_and_check_config_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}/cli.db?mode=rwc", dir.path().display());
    let config = write_config(
        dir.path(),
        &database_url,
        "https://provider.example/feed.xml",
        "[providers.fever.headers]\nX-Api-Key = { env = \"BOXOFFICE_TEST_SURELY_UNSET_KEY\" }\n",
    );
    let output = boxoffice(&config, &["providers"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for kind in ["fever-xml", "ical", "json"] {
        assert!(text.contains(&format!("  {kind}  ")), "{kind} not listed: {text}");
    }
    assert!(text.contains("BOXOFFICE_TEST_SURELY_UNSET_KEY"), "{text}");

    let output = boxoffice(&config, &["check-config"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("providers.fever.headers.X-Api-Key")
            && stderr.contains("BOXOFFICE_TEST_SURELY_UNSET_KEY"),
        "{stderr}"
    );
}
