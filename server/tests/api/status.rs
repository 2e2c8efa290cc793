//! GET /status: the operator's page, over plain HTTP and rendered by headless Chromium.

use std::time::{Duration, Instant};

use crate::browser::{artifacts_dir, chromium, run_chromium};
use crate::helpers::*;

/// A server over SQLite whose `fever` instance has synced `response_1.xml` once.
async fn synced_app() -> (TestDatabase, MockProvider, TestApp) {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    let (status, report) = app.sync().await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["inserted"], 3, "{report}");
    // The read model is rebuilt after the commit; wait until it serves the items.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, ready) = app.get("/ready").await;
        if ready["data"]["items"] == 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the read model never served 3 items: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (db, feed, app)
}

/// The `<tr data-provider="NAME">…</tr>` of `html`.
fn provider_row<'a>(html: &'a str, name: &str) -> &'a str {
    let start = html
        .find(&format!("<tr data-provider=\"{name}\""))
        .unwrap_or_else(|| panic!("no row for {name} in {html}"));
    let end = html[start..]
        .find("</tr>")
        .unwrap_or_else(|| panic!("the {name} row never ends"));
    &html[start..start + end]
}

#[tokio::test]
async fn the_status_page_lists_each_provider_with_its_last_run() {
    let (db, _feed, app) = synced_app().await;

    let response = app
        .client
        .get(format!("{}/status", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = response.text().await.unwrap();

    assert!(html.contains("Boxoffice status"));
    assert!(html.contains("<table id=\"providers\""), "{html}");
    assert!(html.contains("data-provider=\"fever\""), "{html}");
    assert!(html.contains("id=\"items\">3<"), "total items served: {html}");
    let row = provider_row(&html, "fever");
    for needle in [
        ">fever<",
        "fever-xml",
        ">no<",
        "every 1h",
        "succeeded",
        "3 <span>/</span> 3 <span>/</span> 0 <span>/</span> 0 <span>/</span> 0",
    ] {
        assert!(row.contains(needle), "{needle:?} not in {row}");
    }
    assert!(row.ends_with("<td class=\"num\">3</td>"), "items served: {row}");
    assert!(html.contains("href=\"/docs/\"") && html.contains("href=\"/openapi.json\""));
    assert!(
        html.contains("href=\"/metrics\""),
        "the page links to the metrics"
    );
    assert!(!html.contains("<script"), "the page needs no script");
    assert!(
        !html.contains("https://"),
        "the page loads nothing from elsewhere"
    );

    let (status, openapi) = app.get("/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(openapi["paths"]["/status"]["get"]["operationId"], "statusPage");
    app.stop().await;
    db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_renders_in_headless_chromium() {
    let Some(binary) = chromium() else {
        skip(module_path!(), crate::browser::NO_CHROMIUM);
        return;
    };
    let (db, feed, app) = synced_app().await;
    // A history worth a chart: a partial run and a failed one after the first.
    feed.serve_fixture("response_2.xml");
    assert_eq!(app.sync().await.1["status"], "partial");
    feed.serve(MockResponse::status(404));
    app.sync().await;
    let url = format!("{}/status", app.address);

    let dom = run_chromium(binary.clone(), vec!["--dump-dom".into()], url.clone()).await;
    let row = provider_row(&dom, "fever");
    assert_eq!(row.matches("<rect").count(), 3, "one bar per run: {row}");
    assert!(
        row.contains("class=\"run partial\"") && row.contains("class=\"run failed\""),
        "{row}"
    );
    assert!(dom.contains("<table id=\"providers\""), "{dom}");
    let row = provider_row(&dom, "fever");
    assert!(row.contains("succeeded") && row.contains("fever-xml"), "{row}");

    let png = artifacts_dir().join("status.png");
    let _ = std::fs::remove_file(&png);
    run_chromium(
        binary,
        vec![
            format!("--screenshot={}", png.display()),
            "--window-size=1600,600".into(),
            "--hide-scrollbars".into(),
        ],
        url,
    )
    .await;
    let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("reading {}: {e}", png.display()));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is no PNG",
        png.display()
    );
    assert!(
        bytes.len() > 5 * 1024,
        "{} is only {} bytes: a blank page?",
        png.display(),
        bytes.len()
    );
    app.stop().await;
    db.drop_now().await;
}
