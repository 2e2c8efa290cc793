//! `GET /events/{id}`.

use axum::http::StatusCode;

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(an_item_is_served_with_its_details);

async fn an_item_is_served_with_its_details(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    app.sync().await;
    let events = app.search(SCENARIO_WINDOW).await;
    let morancos = find(&events, "Los Morancos");
    let (status, body) = app
        .get(&format!(
            "/events/{}",
            morancos["id"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let event = &body["data"]["event"];
    assert_eq!(event["provider"], "fever");
    assert_eq!(event["base_event_id"], "1591");
    assert_eq!(event["event_id"], "1642");
    assert_eq!(event["sell_mode"], "online");
    assert_eq!(event["organizer_company_id"], "1");
    assert_eq!(event["sold_out"], false);
    assert_eq!(event["searchable"], true);
    assert_eq!(event["sell_from"], "2021-06-26T00:00:00");
    assert_eq!(event["starts_at"], "2021-07-31T20:00:00Z");
    let zones = event["zones"].as_array().cloned().unwrap_or_default();
    assert_eq!(zones.len(), 2, "both zones 186 are kept");
    assert_eq!(zones[0]["zone_id"], "186");
    assert_eq!(zones[1]["capacity"], 16);
    assert_eq!(zones[1]["numbered"], false);
    assert!(event["first_seen"].is_string() && event["last_seen"].is_string());
    assert_eq!(body["error"], serde_json::Value::Null);

    // The example id of the OpenAPI document is this instance's session 291.
    let (_, openapi) = app.get("/openapi.json").await;
    let example = openapi["paths"]["/events/{id}"]["get"]["parameters"][0]["example"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (status, body) = app.get(&format!("/events/{example}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["event"]["title"], "Camela en concierto");
    app.stop().await;
    db.drop_now().await;
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_answered_in_the_envelope() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual("http://127.0.0.1:9/feed")).await;
    let (status, body) = app.get("/events/6b0f4f3e-2d1c-4a5b-9e8f-7a6b5c4d3e2f").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(body["data"], serde_json::Value::Null);
    let (status, body) = app.get("/events/not-a-uuid").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not-a-uuid")
    );
    app.stop().await;
}
