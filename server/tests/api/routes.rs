//! Health, readiness, the OpenAPI document, the docs and the contract's 400s.

use axum::http::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn malformed_search_parameters_are_400s_that_say_what_was_wrong() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual("http://127.0.0.1:9/feed")).await;
    for (query, needle) in [
        ("starts_at=yesterday", "starts_at"),
        ("ends_at=2021-13-01T00:00:00Z", "ends_at"),
        ("starts_at=2021-02-01", "starts_at"),
        (
            "starts_at=2022-01-01T00:00:00Z&ends_at=2021-01-01T00:00:00Z",
            "after",
        ),
    ] {
        let (status, body) = app.get(&format!("/search?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["data"], serde_json::Value::Null);
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{query}: {message}");
        assert!(body["error"]["code"].is_string());
    }
    // Without bounds, and with an empty store: an empty list, not an error.
    let (status, body) = app.get("/search").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, serde_json::json!({"data": {"events": []}, "error": null}));
    app.stop().await;
}

#[tokio::test]
async fn health_ready_docs_and_openapi_are_served() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual("http://127.0.0.1:9/feed")).await;
    let (status, body) = app.get("/health").await;
    assert_eq!(
        (status, body["data"]["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, body) = app.get("/ready").await;
    assert_eq!(
        (status, body["data"]["status"].as_str()),
        (StatusCode::OK, Some("ready"))
    );

    let (status, openapi) = app.get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let paths = openapi["paths"].as_object().cloned().unwrap_or_default();
    for route in [
        "/search",
        "/events/{id}",
        "/health",
        "/ready",
        "/admin/providers",
        "/admin/providers/{name}/sync",
        "/admin/providers/{name}/runs",
        "/admin/providers/{name}/rejects",
        "/admin/providers/{name}",
        "/metrics",
        "/status",
    ] {
        assert!(paths.contains_key(route), "{route} is not documented");
    }
    // The public contract is served as published (openapi.rs embeds docs/api/search-api.yaml).
    let search = &openapi["paths"]["/search"]["get"];
    assert_eq!(search["operationId"], "searchEvents");
    let names: Vec<_> = search["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].clone())
        .collect();
    assert_eq!(
        names[..2],
        ["starts_at", "ends_at"],
        "the contract's parameters come first, unchanged"
    );
    assert_eq!(
        openapi["components"]["schemas"]["EventSummary"]["required"],
        serde_json::json!([
            "id",
            "title",
            "start_date",
            "start_time",
            "end_date",
            "end_time",
            "min_price",
            "max_price"
        ])
    );

    let response = app.client.get(format!("{}/", app.address)).send().await.unwrap();
    assert!(response.status().is_redirection());
    assert_eq!(response.headers()["location"], "/docs/");
    let docs = app
        .client
        .get(format!("{}/docs/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "the docs page is Swagger UI");
    assert!(
        !html.contains("https://"),
        "the docs page loads nothing from a CDN"
    );
    app.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_envelope() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual("http://127.0.0.1:9/feed")).await;
    let (status, body) = app.get("/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    let response = app
        .client
        .post(format!("{}/search", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    let response = app
        .client
        .get(format!("{}/search", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert!(response.headers().contains_key("x-request-id"));
    app.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_per_route_and_runs_per_provider() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    app.sync().await;
    app.search("").await;
    let text = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("http_requests_total{route=\"/search\""), "{text}");
    assert!(
        text.contains("http_request_duration_seconds_bucket{route=\"/search\""),
        "{text}"
    );
    assert!(
        text.contains("boxoffice_sync_runs_total{provider=\"fever\",status=\"succeeded\"}"),
        "{text}"
    );
    assert!(
        text.contains("boxoffice_sync_records_total{provider=\"fever\",outcome=\"inserted\"}"),
        "{text}"
    );
    assert!(
        text.contains("boxoffice_sync_circuit_state{provider=\"fever\"} 0"),
        "{text}"
    );
    assert!(
        text.contains("boxoffice_items_served{provider=\"fever\"} 3"),
        "{text}"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_oversized_query_string_is_refused() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual("http://127.0.0.1:9/feed")).await;
    let (status, body) = app.get(&format!("/search?pad={}", "x".repeat(4000))).await;
    assert_eq!(status, StatusCode::URI_TOO_LONG);
    assert_eq!(body["error"]["code"], "query_too_long");
    app.stop().await;
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after_when_on() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let options = AppOptions {
        server_toml: "[server.rate_limit]\nenabled = true\nper_second = 1.0\nburst = 3\n".into(),
        ..AppOptions::manual("http://127.0.0.1:9/feed")
    };
    let app = TestApp::spawn(&db.url, options).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let response = app
            .client
            .get(format!("{}/search", app.address))
            .send()
            .await
            .unwrap();
        if response.status() == 429 {
            assert!(response.headers().contains_key("retry-after"));
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "rate_limited");
            statuses.push(429);
        } else {
            statuses.push(response.status().as_u16());
        }
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    app.stop().await;
}

/// Whether every part of `published` is in `served` unchanged: objects may gain keys,
/// arrays may gain items after the published ones (parameters, for the extensions).
fn contains(served: &serde_json::Value, published: &serde_json::Value, at: &str) -> Result<(), String> {
    use serde_json::Value;
    match (served, published) {
        (Value::Object(served), Value::Object(published)) => published.iter().try_for_each(|(key, value)| {
            let inner = served.get(key).ok_or_else(|| format!("{at}/{key} is missing"))?;
            contains(inner, value, &format!("{at}/{key}"))
        }),
        (Value::Array(served), Value::Array(published)) => {
            if served.len() < published.len() {
                return Err(format!("{at} lost items"));
            }
            published
                .iter()
                .zip(served)
                .enumerate()
                .try_for_each(|(index, (published, served))| {
                    contains(served, published, &format!("{at}[{index}]"))
                })
        }
        (served, published) if served == published => Ok(()),
        (served, published) => Err(format!("{at} is {served}, the contract says {published}")),
    }
}

#[tokio::test]
async fn the_document_serves_the_published_search_contract_unchanged() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual("http://127.0.0.1:9/feed")).await;
    let (_, served) = app.get("/openapi.json").await;
    let contract = boxoffice_server::http::routes::openapi::contract();
    assert_eq!(
        served["openapi"], "3.0.3",
        "the contract's nullable needs OpenAPI 3.0"
    );
    contains(
        &served["paths"]["/search"],
        &contract["paths"]["/search"],
        "/search",
    )
    .unwrap_or_else(|difference| panic!("{difference}"));
    for (name, schema) in contract["components"]["schemas"].as_object().unwrap() {
        assert_eq!(&served["components"]["schemas"][name], schema, "schema {name}");
    }
    // And the comparison itself notices a change.
    let mut changed = served["paths"]["/search"].clone();
    changed["get"]["parameters"][0]["name"] = "from".into();
    assert!(contains(&changed, &contract["paths"]["/search"], "/search").is_err());
    app.stop().await;
}

#[tokio::test]
async fn every_documented_operation_is_answered_by_its_route() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual("http://127.0.0.1:9/feed")).await;
    let (_, document) = app.get("/openapi.json").await;
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.len() >= 11, "{:?}", paths.keys());
    for (path, item) in paths {
        let concrete = path
            .replace("{id}", "68cc90c3-bfc1-575a-ba2e-d96babb06e90")
            .replace("{name}", "fever");
        for method in item.as_object().unwrap().keys() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let mut request = app
                .client
                .request(method.clone(), format!("{}{concrete}", app.address))
                .bearer_auth(ADMIN_TOKEN);
            if method == reqwest::Method::PATCH {
                request = request.json(&serde_json::json!({"enabled": false}));
            }
            let response = request.send().await.unwrap();
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            assert_ne!(status, 405, "{method} {path} is documented but not routed");
            assert!(
                !(status == 404 && body.contains("no such route")),
                "{method} {path} is documented but not routed: {body}"
            );
        }
    }
    app.stop().await;
}

/// A path pattern the document declares accepts exactly the names the server accepts:
/// a client that follows the document is never answered 400 for the name.
#[tokio::test]
async fn the_documented_instance_name_pattern_is_the_servers_rule() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual("http://127.0.0.1:9/feed")).await;
    let (_, document) = app.get("/openapi.json").await;
    let parameters = &document["paths"]["/admin/providers/{name}/items"]["delete"]["parameters"];
    let pattern = parameters[0]["schema"]["pattern"]
        .as_str()
        .unwrap_or_else(|| panic!("no pattern on {parameters}"));
    let pattern = regex::Regex::new(pattern).unwrap();
    let long = "a".repeat(64);
    let too_long = "a".repeat(65);
    for name in [
        "fever",
        "fever-madrid_2",
        "0",
        &long,
        "",
        "Platea",
        "a b",
        "é",
        &too_long,
        "a/b",
    ] {
        assert_eq!(
            pattern.is_match(name),
            boxoffice_core::registry::InstanceName::parse(name).is_ok(),
            "{name:?}"
        );
    }
    app.stop().await;
}
