//! A store written by an earlier release keeps its data through the migrations.

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, Statement};

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(items_stored_before_the_zones_moved_apart_keep_their_zones);

async fn items_stored_before_the_zones_moved_apart_keep_their_zones(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let connection = Database::connect(&db.url).await.unwrap();
    // The schema as the first four migrations left it, with an item in it.
    Migrator::up(&connection, Some(4)).await.unwrap();
    let id = boxoffice_core::ExternalKey {
        provider: "fever".into(),
        series_id: "291".into(),
        session_id: "291".into(),
    }
    .id();
    let zones = r#"[{"zone_id":"40","name":"Platea","capacity":240,"price":"20.00","numbered":true}]"#;
    // SQLite keeps UUIDs as 16-byte blobs: bind the id.
    let placeholder = match backend {
        Backend::Sqlite => "?",
        Backend::Postgres => "$1",
    };
    let insert = format!(
        "INSERT INTO events (id, provider, base_event_id, event_id, title, sell_mode, organizer_company_id, \
         sold_out, start_date, start_time, starts_at, end_date, end_time, ends_at, sell_from, sell_to, zones, \
         min_price, max_price, content_hash, first_seen, last_seen, last_changed) VALUES \
         ({placeholder}, 'fever', '291', '291', 'Camela', 'online', NULL, false, '2021-06-30', '21:00:00', 1625079600, \
         NULL, NULL, 1625079600, NULL, NULL, '{zones}', '20.00', '20.00', 'old', \
         '2021-06-01T00:00:00+00:00', '2021-06-01T00:00:00+00:00', '2021-06-01T00:00:00+00:00')"
    );
    let statement = Statement::from_sql_and_values(connection.get_database_backend(), insert, [id.into()]);
    connection.execute_raw(statement).await.unwrap();
    connection
        .execute_unprepared("INSERT INTO online_base_events (provider, base_event_id, first_seen) VALUES ('fever', '291', '2021-06-01T00:00:00+00:00')")
        .await
        .unwrap();
    drop(connection);
    // The server migrates the rest at start-up.
    let app = TestApp::spawn(&db.url, AppOptions::manual("http://127.0.0.1:9/feed")).await;
    let (status, body) = app.get(&format!("/events/{id}")).await;
    assert_eq!(status, 200, "{body}");
    let zone = &body["data"]["event"]["zones"][0];
    assert_eq!(
        (zone["name"].as_str(), zone["capacity"].as_u64()),
        (Some("Platea"), Some(240)),
        "{body}"
    );
    app.stop().await;
    db.drop_now().await;
}
