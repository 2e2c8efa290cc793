//! /docs: Swagger UI, served from this server under its Content-Security-Policy,
//! rendered by headless Chromium: the policy must let its own scripts run.

use crate::browser::{chromium, run_chromium};
use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_render_every_operation_in_headless_chromium_under_their_csp() {
    let Some(binary) = chromium() else {
        skip(module_path!(), crate::browser::NO_CHROMIUM);
        return;
    };
    let db = TestDatabase::create(Backend::Sqlite).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual("http://127.0.0.1:9/feed")).await;
    let page = app
        .client
        .get(format!("{}/docs/", app.address))
        .send()
        .await
        .unwrap();
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("script-src 'self'"), "{policy}");

    // The operations are drawn by Swagger UI's script from /openapi.json: with the
    // script blocked, the DOM holds none of them.
    let dom = run_chromium(
        binary,
        vec!["--dump-dom".into(), "--virtual-time-budget=10000".into()],
        format!("{}/docs/", app.address),
    )
    .await;
    let (_, document) = app.get("/openapi.json").await;
    for path in document["paths"].as_object().unwrap().keys() {
        assert!(
            dom.contains(&format!("data-path=\"{path}\"")),
            "Swagger UI did not draw {path}: {}",
            &dom[..dom.len().min(2000)]
        );
    }
    app.stop().await;
    db.drop_now().await;
}
