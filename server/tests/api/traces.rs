//! Traces over OTLP/HTTP: the real binary, with `telemetry.otlp_endpoint` pointing at a
//! local receiver, exports the span of each request (with its request id, method,
//! route and status) and the sync engine's `sync` span, and flushes them on SIGTERM.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;

use crate::helpers::*;
use crate::process::{ServerProcess, client, write_server_config};

/// What the receiver got: every export request, decoded.
type Received = Arc<Mutex<Vec<ExportTraceServiceRequest>>>;

/// An OTLP/HTTP receiver on a free port of 127.0.0.1: `POST /v1/traces` with a
/// protobuf `ExportTraceServiceRequest`, as a collector takes it.
async fn receiver() -> (String, Received, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Received::default();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post({
            let received = Arc::clone(&received);
            move |headers: axum::http::HeaderMap, body: Bytes| {
                let received = Arc::clone(&received);
                async move {
                    let content_type = headers
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    if content_type != "application/x-protobuf" {
                        return (axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE, Vec::new());
                    }
                    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
                        return (axum::http::StatusCode::BAD_REQUEST, Vec::new());
                    };
                    received.lock().unwrap().push(request);
                    (
                        axum::http::StatusCode::OK,
                        ExportTraceServiceResponse::default().encode_to_vec(),
                    )
                }
            }
        }),
    );
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), received, task)
}

fn text(value: &Option<AnyValue>) -> Option<String> {
    match value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(text) => Some(text.clone()),
        any_value::Value::IntValue(n) => Some(n.to_string()),
        other => Some(format!("{other:?}")),
    }
}

fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| text(&kv.value))
}

/// Every span received, with its resource's `service.name`.
fn spans(received: &Received) -> Vec<(Option<String>, Span)> {
    let requests = received.lock().unwrap();
    let mut all = Vec::new();
    for request in requests.iter() {
        for resource_spans in &request.resource_spans {
            let service = resource_spans
                .resource
                .as_ref()
                .and_then(|resource| attribute(&resource.attributes, "service.name"));
            for scope in &resource_spans.scope_spans {
                for span in &scope.spans {
                    all.push((service.clone(), span.clone()));
                }
            }
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_and_sync_spans_reach_the_collector_by_shutdown() {
    let (collector, received, _receiver) = receiver().await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_server_config(
        dir.path(),
        &feed.url,
        "",
        &format!("[telemetry]\notlp_endpoint = \"{collector}\"\nservice_name = \"boxoffice-under-test\"\n"),
    );
    let server = ServerProcess::start(&config, &[]).await;
    let client = client();

    let search = client
        .get(format!("{}/search?{SCENARIO_WINDOW}", server.base))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(search.status().as_u16(), 200);
    let sync = client
        .post(format!("{}/admin/providers/fever/sync", server.base))
        .bearer_auth(ADMIN_TOKEN)
        .header("x-request-id", "trace-sync-7")
        .send()
        .await
        .unwrap();
    assert_eq!(sync.status().as_u16(), 200);
    let report: serde_json::Value = sync.json().await.unwrap();
    assert_eq!(report["data"]["report"]["status"], "succeeded", "{report}");
    let run_id = report["data"]["report"]["run_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // Batches leave every few seconds; SIGTERM must flush what is still queued.
    let (exit, stderr) = server.stop().await;
    assert!(exit.success(), "{stderr}");
    assert!(!stderr.contains("Cannot export"), "{stderr}");
    assert!(
        !stderr
            .lines()
            .any(|line| line.contains("opentelemetry") && (line.contains("ERROR") || line.contains("WARN"))),
        "the exporter complained:\n{stderr}"
    );

    let spans = spans(&received);
    assert!(!spans.is_empty(), "nothing exported:\n{stderr}");
    assert!(
        spans
            .iter()
            .all(|(service, _)| service.as_deref() == Some("boxoffice-under-test")),
        "service.name is telemetry.service_name"
    );
    let request = spans
        .iter()
        .map(|(_, span)| span)
        .find(|span| attribute(&span.attributes, "request_id").as_deref() == Some("trace-me-42"))
        .unwrap_or_else(|| panic!("no span with request_id trace-me-42 among {} spans", spans.len()));
    assert_eq!(request.name, "request");
    assert_eq!(attribute(&request.attributes, "method").as_deref(), Some("GET"));
    assert_eq!(
        attribute(&request.attributes, "route").as_deref(),
        Some("/search")
    );
    assert_eq!(attribute(&request.attributes, "status").as_deref(), Some("200"));
    assert!(request.end_time_unix_nano >= request.start_time_unix_nano);

    let sync = spans
        .iter()
        .map(|(_, span)| span)
        .find(|span| span.name == "sync")
        .unwrap_or_else(|| {
            panic!(
                "no sync span among {:?}",
                spans.iter().map(|(_, s)| &s.name).collect::<Vec<_>>()
            )
        });
    assert_eq!(attribute(&sync.attributes, "provider").as_deref(), Some("fever"));
    assert_eq!(run_id.len(), 36, "{report}");
    assert_eq!(
        attribute(&sync.attributes, "run_id"),
        Some(run_id),
        "the sync span carries the report's run_id"
    );
    // And, from its end, what the run did.
    for (key, field) in [
        ("pages", "pages"),
        ("bytes", "bytes"),
        ("records", "seen"),
        ("rejected", "rejected"),
    ] {
        assert_eq!(
            attribute(&sync.attributes, key),
            Some(report["data"]["report"][field].to_string()),
            "the sync span's {key}"
        );
    }
    // The admin request that ran it has its span too.
    assert!(
        spans.iter().any(|(_, span)| {
            attribute(&span.attributes, "request_id").as_deref() == Some("trace-sync-7")
                && attribute(&span.attributes, "route").as_deref() == Some("/admin/providers/{name}/sync")
        }),
        "no span for the admin request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_collector_is_logged_and_never_holds_the_service() {
    // A port nothing listens on: every export is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let collector = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let dir = tempfile::tempdir().unwrap();
    let config = write_server_config(
        dir.path(),
        "http://127.0.0.1:9/feed",
        "format = \"json\"",
        &format!("[telemetry]\notlp_endpoint = \"{collector}\"\n"),
    );
    let server = ServerProcess::start(&config, &[]).await;
    let client = client();
    for _ in 0..3 {
        let health = client
            .get(format!("{}/health", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status().as_u16(), 200);
    }
    let (exit, stderr) = server.stop().await;
    assert!(exit.success(), "{stderr}");
    // The spans are lost, and the log says so.
    let complaints = stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| {
            line["target"]
                .as_str()
                .is_some_and(|t| t.starts_with("opentelemetry"))
                && (line["level"] == "ERROR" || line["level"] == "WARN")
        })
        .count();
    assert!(complaints > 0, "the failed export is not logged:\n{stderr}");
}
