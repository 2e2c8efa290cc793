//! A server probed as an attacker would: odd methods, stalled and idle connections,
//! malformed paths and bodies, guessed ids, forged forwarding headers, brute-forced
//! admin tokens. Every answer is bounded and in the envelope.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use boxoffice_core::ExternalKey;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

fn host_port(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

/// Reads from `stream` until the peer closes it or `limit` passes; returns what was
/// read and whether the peer closed.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let mut received = Vec::new();
    let mut buffer = [0_u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => return (received, false),
            Ok(Ok(0)) | Ok(Err(_)) => return (received, true),
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
        }
    }
}

/// Reads one response whose body is `Content-Length` long.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buffer = [0_u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&received).to_string();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length = text[..head_end]
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())
                        .flatten()
                })
                .unwrap_or(0);
            if received.len() >= head_end + 4 + length {
                return text;
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
            .await
            .expect("the response came within 5s")
            .expect("reading the response");
        assert!(n > 0, "the connection closed mid-response: {text}");
        received.extend_from_slice(&buffer[..n]);
    }
}

fn assert_security_headers(response: &reqwest::Response, what: &str) {
    let headers = response.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(headers["x-frame-options"], "DENY", "{what}");
    assert!(headers.contains_key("x-request-id"), "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_odd_methods_and_paths_never_grows_the_metrics() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual("http://127.0.0.1:9/feed")).await;
    for n in 0..300 {
        let method = reqwest::Method::from_bytes(format!("M{n:04}{}", "X".repeat(4000)).as_bytes()).unwrap();
        let response = app
            .client
            .request(method, format!("{}/search", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "method_not_allowed");
        app.get(&format!("/no/such/route/{n}")).await;
        app.get(&format!("/events/{n}")).await;
    }
    let metrics = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.len() < 100_000,
        "/metrics grew to {} bytes",
        metrics.len()
    );
    assert!(!metrics.contains("XXXX"), "a client's method became a label");
    assert!(!metrics.contains("/no/such"), "a raw path became a label");
    assert!(metrics.contains("method=\"other\""), "odd methods count as other");
    assert!(
        metrics.contains("route=\"unmatched\""),
        "unknown paths count as unmatched"
    );
    assert!(
        metrics.contains("route=\"/events/{id}\""),
        "routes are their pattern"
    );
    for line in metrics
        .lines()
        .filter(|line| line.starts_with("http_requests_total{"))
    {
        let method = line
            .split("method=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next());
        assert!(
            matches!(
                method,
                Some("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" | "other")
            ),
            "{line}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_and_idle_connections_are_closed_by_their_own_timeouts() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let options = AppOptions {
        // Generous: under a full parallel test run the server may not get a core for
        // a few hundred milliseconds.
        server_toml: "header_timeout = \"1s\"\nidle_timeout = \"3s\"\n".into(),
        ..AppOptions::manual("http://127.0.0.1:9/feed")
    };
    let app = TestApp::spawn(&db.url, options).await;

    // Headers that never complete.
    let mut stalled = TcpStream::connect(host_port(&app)).await.unwrap();
    stalled
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut stalled, Duration::from_secs(8)).await;
    assert!(closed, "a half-sent request held its connection for 5s");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "closed too early"
    );

    // A connection that sends nothing at all.
    let mut silent = TcpStream::connect(host_port(&app)).await.unwrap();
    let (_, closed) = read_until_closed(&mut silent, Duration::from_secs(8)).await;
    assert!(closed, "a silent connection was kept");

    // A kept-alive connection may idle longer than the header timeout, but not longer
    // than the idle timeout.
    let mut kept = TcpStream::connect(host_port(&app)).await.unwrap();
    let request = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    kept.write_all(request).await.unwrap();
    assert!(read_response(&mut kept).await.starts_with("HTTP/1.1 200"));
    tokio::time::sleep(Duration::from_millis(1800)).await;
    kept.write_all(request).await.unwrap();
    assert!(
        read_response(&mut kept).await.starts_with("HTTP/1.1 200"),
        "an idle pause shorter than idle_timeout closed the connection"
    );
    let idle_from = Instant::now();
    let (_, closed) = read_until_closed(&mut kept, Duration::from_secs(8)).await;
    assert!(closed, "an idle connection was kept past idle_timeout");
    assert!(
        idle_from.elapsed() >= Duration::from_millis(1000),
        "closed before idle_timeout"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_of_extractors_and_layers_answer_in_the_envelope_with_the_security_headers() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual("http://127.0.0.1:9/feed")).await;
    let requests = [
        (
            app.client.get(format!("{}/events/%FF", app.address)),
            StatusCode::BAD_REQUEST,
        ),
        (
            app.client.get(format!("{}/docs/no-such-file.js", app.address)),
            StatusCode::NOT_FOUND,
        ),
        (
            app.client
                .patch(format!("{}/admin/providers/fever", app.address))
                .bearer_auth(ADMIN_TOKEN)
                .body("not json"),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (request, expected) in requests {
        let response = request.send().await.unwrap();
        let what = format!("{} {}", response.url(), response.status());
        assert_eq!(response.status().as_u16(), expected.as_u16(), "{what}");
        assert_security_headers(&response, &what);
        assert_eq!(response.headers()["content-type"], "application/json", "{what}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["data"], Value::Null, "{what}: {body}");
        assert!(body["error"]["code"].is_string(), "{what}: {body}");
        assert!(
            !body["error"]["message"].as_str().unwrap_or_default().is_empty(),
            "{what}: {body}"
        );
    }
    // A 3 MB body: the server answers 413 before reading it all, so the client
    // writes it from its own task and the answer is read whatever the writes do.
    let stream = TcpStream::connect(host_port(&app)).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let length = 3 * 1024 * 1024;
    let head = format!(
        "PATCH /admin/providers/fever HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    );
    let upload = tokio::spawn(async move {
        let _ = writer.write_all(head.as_bytes()).await;
        let _ = writer.write_all(&vec![b'{'; length]).await;
    });
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let mut buffer = [0_u8; 4096];
        while let Ok(n) = reader.read(&mut buffer).await {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buffer[..n]);
            if String::from_utf8_lossy(&answer).contains("}}") {
                break;
            }
        }
    })
    .await;
    upload.abort();
    let answer = String::from_utf8_lossy(&answer).to_lowercase();
    assert!(answer.starts_with("http/1.1 413"), "{answer}");
    assert!(answer.contains("content-type: application/json"), "{answer}");
    assert!(answer.contains("x-content-type-options: nosniff"), "{answer}");
    assert!(answer.contains("\"code\":\"body_too_large\""), "{answer}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_carry_a_content_security_policy_and_admin_answers_are_never_cached() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual("http://127.0.0.1:9/feed")).await;
    let get = |path: &str| app.client.get(format!("{}{path}", app.address)).send();
    let status = get("/status").await.unwrap();
    let policy = status.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("default-src 'none'"), "{policy}");
    assert!(!policy.contains("script-src"), "/status runs no script: {policy}");
    assert!(policy.contains("style-src 'sha256-"), "{policy}");
    let docs = get("/docs/").await.unwrap();
    let policy = docs.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(
        !policy.contains("http"),
        "the docs load nothing from elsewhere: {policy}"
    );

    for (token, path) in [
        (Some(ADMIN_TOKEN), "/admin/providers"),
        (None, "/admin/providers"),
        (Some(ADMIN_TOKEN), "/admin/providers/nope/runs"),
        (Some(ADMIN_TOKEN), "/admin/no-such-route"),
    ] {
        let mut request = app.client.get(format!("{}{path}", app.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.headers()["cache-control"],
            "no-store",
            "{path} answered {}",
            response.status()
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_scheme_is_case_insensitive_and_failures_are_throttled_per_client() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let options = AppOptions {
        extra_toml: String::new(),
        ..AppOptions::manual("http://127.0.0.1:9/feed")
    };
    let mut config = config_for(&db.url, &options);
    config.admin.max_failures = 3;
    config.admin.failure_window = Duration::from_secs(2);
    let app = TestApp::spawn_config(config).await;
    let admin = |authorization: String| {
        app.client
            .get(format!("{}/admin/providers", app.address))
            .header("authorization", authorization)
            .send()
    };
    assert_eq!(
        admin(format!("bearer {ADMIN_TOKEN}")).await.unwrap().status(),
        200
    );
    assert_eq!(
        admin(format!("BEARER {ADMIN_TOKEN}")).await.unwrap().status(),
        200
    );
    for _ in 0..3 {
        assert_eq!(admin("Bearer guess".into()).await.unwrap().status(), 401);
    }
    // Blocked now, even with the right token, until the window has passed.
    let blocked = admin(format!("Bearer {ADMIN_TOKEN}")).await.unwrap();
    assert_eq!(blocked.status(), 429);
    let retry_after: u64 = blocked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After: {retry_after}");
    let body: Value = blocked.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_failures");
    // Public routes are not affected.
    assert_eq!(app.get("/health").await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        admin(format!("Bearer {ADMIN_TOKEN}")).await.unwrap().status(),
        200
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_safe_request_ids_are_echoed() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual("http://127.0.0.1:9/feed")).await;
    let echo = |id: String| {
        let request = app
            .client
            .get(format!("{}/health", app.address))
            .header("x-request-id", id);
        async move {
            let response = request.send().await.unwrap();
            response.headers()["x-request-id"].to_str().unwrap().to_owned()
        }
    };
    assert_eq!(echo("trace-1:abc.DEF_9".into()).await, "trace-1:abc.DEF_9");
    let long = "a".repeat(129);
    let fresh = echo(long.clone()).await;
    assert_ne!(fresh, long);
    assert!(!fresh.is_empty() && fresh.len() <= 128);
    assert_ne!(echo("has space".into()).await, "has space");
    assert_ne!(echo("<script>".into()).await, "<script>");
    assert_eq!(echo("a".repeat(128)).await, "a".repeat(128));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weak_and_listed_validators_revalidate_search() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    app.sync().await;
    let url = format!("{}/search?{SCENARIO_WINDOW}", app.address);
    let first = app.client.get(&url).send().await.unwrap();
    let tag = first.headers()["etag"].to_str().unwrap().to_owned();
    for condition in [
        tag.clone(),
        format!("W/{tag}"),
        format!("\"unrelated\", W/{tag}"),
        "*".to_owned(),
    ] {
        let response = app
            .client
            .get(&url)
            .header("if-none-match", &condition)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 304, "If-None-Match: {condition}");
    }
    let response = app
        .client
        .get(&url)
        .header("if-none-match", "W/\"unrelated\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    app.stop().await;
}

const OFFLINE_FEED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<eventList version="1.0"><output>
  <base_event base_event_id="500" sell_mode="offline" title="Private rehearsal">
    <event event_start_date="2021-08-01T20:00:00" event_end_date="2021-08-01T21:00:00" event_id="501" sell_from="2021-07-01T00:00:00" sell_to="2021-08-01T19:00:00" sold_out="false">
      <zone zone_id="1" capacity="10" price="99.00" name="Secret" numbered="false" />
    </event>
  </base_event>
</output></eventList>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_never_sold_online_is_seen_only_with_the_admin_token() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let feed = MockProvider::start(MockResponse::ok(OFFLINE_FEED.as_bytes().to_vec())).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    let (status, report) = app.sync().await;
    assert_eq!(
        (status, report["inserted"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{report}"
    );
    // Anyone can derive the id from the documented parts.
    let id = ExternalKey {
        provider: "fever".into(),
        series_id: "500".into(),
        session_id: "501".into(),
    }
    .id();
    let unknown = app.get("/events/6b0f4f3e-2d1c-4a5b-9e8f-7a6b5c4d3e2f").await;
    let (status, body) = app.get(&format!("/events/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], unknown.1["error"]["code"]);
    assert!(!body.to_string().contains("Secret"));
    let wrong = app
        .client
        .get(format!("{}/events/{id}", app.address))
        .bearer_auth("guess")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let admin = app
        .client
        .get(format!("{}/events/{id}", app.address))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 200);
    let body: Value = admin.json().await.unwrap();
    assert_eq!(body["data"]["event"]["searchable"], false);
    assert_eq!(body["data"]["event"]["zones"][0]["name"], "Secret");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let options = AppOptions {
        server_toml: "trusted_proxies = [\"127.0.0.1/32\", \"::1\"]\n[server.rate_limit]\nenabled = true\nper_second = 0.5\nburst = 2\n"
            .into(),
        ..AppOptions::manual("http://127.0.0.1:9/feed")
    };
    let app = TestApp::spawn(&db.url, options).await;
    let from = |forwarded: &'static str| {
        app.client
            .get(format!("{}/health", app.address))
            .header("x-forwarded-for", forwarded)
            .send()
    };
    // Client A uses its burst; client B, behind the same proxy, still has its own.
    assert_eq!(from("203.0.113.1").await.unwrap().status(), 200);
    assert_eq!(from("203.0.113.1").await.unwrap().status(), 200);
    assert_eq!(from("203.0.113.1").await.unwrap().status(), 429);
    assert_eq!(from("203.0.113.2").await.unwrap().status(), 200);
    // A forged left-most element does not change who A is.
    assert_eq!(from("198.51.100.7, 203.0.113.1").await.unwrap().status(), 429);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_trusted_proxies_forwarding_headers_are_ignored() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let options = AppOptions {
        server_toml: "[server.rate_limit]\nenabled = true\nper_second = 0.5\nburst = 2\n".into(),
        ..AppOptions::manual("http://127.0.0.1:9/feed")
    };
    let app = TestApp::spawn(&db.url, options).await;
    let mut statuses = Vec::new();
    for n in 0..3 {
        let response = app
            .client
            .get(format!("{}/health", app.address))
            .header("x-forwarded-for", format!("203.0.113.{n}"))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429], "a client cannot pick its own bucket");
    app.stop().await;
}
