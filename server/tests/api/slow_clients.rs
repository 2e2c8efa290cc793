//! Slow clients, clients that never read, and races, against a real server: a slow
//! reader gets the whole of a large answer however long it takes; clients that
//! pipeline and read nothing hold only their share of the render budget, and lose it
//! when their writes stall; connections and unfinished heads are bounded per client;
//! a retirement never races a run of the same instance.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use reqwest::Method;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(a_retirement_during_a_run_of_the_instance_is_refused_and_the_run_keeps_its_items);

/// Every item of the generated feeds.
const EVERYTHING: &str = "starts_at=2020-01-01T00:00:00Z&ends_at=2025-01-01T00:00:00Z";

fn host_port(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

/// A connection to `app` from the loopback address `from` (127.0.0.0/8 is all ours:
/// each address is another client), with a small receive buffer when `receive` says.
async fn connect_from(app: &TestApp, from: [u8; 4], receive: Option<u32>) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    if let Some(bytes) = receive {
        socket.set_recv_buffer_size(bytes).unwrap();
    }
    socket.bind(std::net::SocketAddr::from((from, 0))).unwrap();
    socket.connect(host_port(app).parse().unwrap()).await.unwrap()
}

fn search_request(query: &str) -> Vec<u8> {
    format!("GET /search?{query} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes()
}

/// Reads a whole response at about `pace` per 16 KiB: its head, and how many body
/// bytes arrived before the connection ended (or all of them).
async fn read_slowly(stream: &mut TcpStream, pace: Duration) -> (String, usize, usize) {
    let mut received = Vec::new();
    let mut buffer = vec![0_u8; 16 * 1024];
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&received[..end]).to_string();
            let length = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())
                        .flatten()
                })
                .unwrap_or(0);
            if received.len() >= end + 4 + length {
                return (head, length, received.len() - end - 4);
            }
            if Instant::now() > deadline {
                return (head, length, received.len() - end - 4);
            }
        }
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer)).await {
            Ok(Ok(n)) if n > 0 => received.extend_from_slice(&buffer[..n]),
            _ => {
                let end = received.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0);
                let head = String::from_utf8_lossy(&received[..end]).to_string();
                return (head, usize::MAX, received.len().saturating_sub(end + 4));
            }
        }
        tokio::time::sleep(pace).await;
    }
}

/// A server holding a generated feed of about 27,000 items (a 6 MB window), with
/// `server` lines, answering every window rendered per request (no cache).
async fn large_store(server: &str) -> (TestDatabase, MockProvider, TestApp) {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let provider = MockProvider::start(MockResponse::ok(generated_feed(9_000, 3, 1))).await;
    let options = AppOptions {
        server_toml: format!("search_cache_bytes = 0\n{server}"),
        ..AppOptions::manual(&provider.url)
    };
    let mut config = config_for(&db.url, &options);
    if let Some(fever) = config.providers.get_mut("fever") {
        fever.timeout = Duration::from_secs(120);
    }
    let app = TestApp::spawn_config(config).await;
    let (status, report) = app.sync().await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["inserted"], 27_000, "{report}");
    (db, provider, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_gets_the_whole_answer_however_long_past_the_idle_timeout() {
    let (_db, _provider, app) =
        large_store("idle_timeout = \"1s\"\nheader_timeout = \"2s\"\nwrite_stall_timeout = \"5s\"\n").await;
    let mut slow = connect_from(&app, [127, 0, 0, 1], Some(16 * 1024)).await;
    slow.write_all(&search_request(EVERYTHING)).await.unwrap();
    let started = Instant::now();
    // 16 KiB every 20 ms: under 1 MB/s, so several seconds for the window, most of
    // them after the body was handed to the connection.
    let (head, length, received) = read_slowly(&mut slow, Duration::from_millis(20)).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(length > 5_000_000, "the window is {length} bytes");
    assert_eq!(
        received,
        length,
        "the answer was cut after {:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() > Duration::from_secs(2),
        "the read took {:?}: not slow enough to outlast the idle timeout",
        started.elapsed()
    );
    // A stalled reader, though, loses its connection at write_stall_timeout.
    let mut stalled = connect_from(&app, [127, 0, 0, 1], Some(16 * 1024)).await;
    stalled.write_all(&search_request(EVERYTHING)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(7)).await;
    let (_, length, received) = read_slowly(&mut stalled, Duration::ZERO).await;
    assert!(
        received < length,
        "a stalled write was kept ({received} of {length})"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_never_read_hold_only_their_share_and_lose_it_when_their_writes_stall() {
    // Four 6 MB answers would take the whole 16 MiB budget; one client's share is 4 MiB.
    let (_db, _provider, app) = large_store(
        "search_inflight_bytes = 16777216\nrequest_timeout = \"3s\"\nwrite_stall_timeout = \"2s\"\n\
         idle_timeout = \"30s\"\nheader_timeout = \"30s\"\n",
    )
    .await;
    let mut hostile = Vec::new();
    for _ in 0..4 {
        let mut connection = connect_from(&app, [127, 0, 0, 1], Some(4096)).await;
        connection.write_all(&search_request(EVERYTHING)).await.unwrap();
        hostile.push(connection);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Another client is answered in full, within the request timeout.
    let mut victim = connect_from(&app, [127, 0, 0, 2], None).await;
    victim.write_all(&search_request(EVERYTHING)).await.unwrap();
    let (head, length, received) = read_slowly(&mut victim, Duration::ZERO).await;
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "another client waited on the hostile one: {head}"
    );
    assert_eq!(received, length);
    // The share is held by an answer no one reads until its write stalls (the others
    // waited past the request timeout); then the connection is cut and the share
    // returns: the same client is answered again.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut again = connect_from(&app, [127, 0, 0, 1], None).await;
    again.write_all(&search_request(EVERYTHING)).await.unwrap();
    let (head, length, received) = read_slowly(&mut again, Duration::ZERO).await;
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "the share was not given back: {head}"
    );
    assert_eq!(received, length);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_per_client_are_capped_and_a_head_is_at_most_64_kib_exactly() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let options = AppOptions {
        server_toml: "max_connections_per_client = 3\nheader_timeout = \"20s\"\n".into(),
        ..AppOptions::manual("http://127.0.0.1:9/feed")
    };
    let app = TestApp::spawn(&db.url, options).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect_from(&app, [127, 0, 0, 3], None).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The fourth of the same client is closed on accept; another client's is served.
    let mut fourth = connect_from(&app, [127, 0, 0, 3], None).await;
    let _ = fourth.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let mut buffer = [0_u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(5), fourth.read(&mut buffer))
        .await
        .expect("the refused connection was closed at once");
    assert!(matches!(read, Ok(0) | Err(_)), "the fourth connection was served");
    let mut other = connect_from(&app, [127, 0, 0, 4], None).await;
    other
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let n = other.read(&mut buffer).await.unwrap();
    assert!(buffer[..n].starts_with(b"HTTP/1.1 200"));
    // Once one of the three goes, the client may open another.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut again = connect_from(&app, [127, 0, 0, 3], None).await;
    again
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let n = again.read(&mut buffer).await.unwrap();
    assert!(buffer[..n].starts_with(b"HTTP/1.1 200"));

    // A head of exactly 64 KiB, sent in one write, is read; one byte more is 431.
    let head_of = |len: usize| {
        let start = "GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: ";
        let end = "\r\n\r\n";
        format!("{start}{}{end}", "a".repeat(len - start.len() - end.len()))
    };
    for (len, expected) in [(64 * 1024, "HTTP/1.1 200"), (64 * 1024 + 1, "HTTP/1.1 431")] {
        let mut stream = connect_from(&app, [127, 0, 0, 5], None).await;
        stream.write_all(head_of(len).as_bytes()).await.unwrap();
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
            .await
            .unwrap()
            .unwrap();
        let answer = String::from_utf8_lossy(&buffer[..n]).to_string();
        assert!(answer.starts_with(expected), "a head of {len} bytes: {answer}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_1_1_request_needs_exactly_one_host() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual("http://127.0.0.1:9/feed")).await;
    for (request, expected) in [
        ("GET /health HTTP/1.1\r\n\r\n", "HTTP/1.1 400"),
        (
            "GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "HTTP/1.1 400",
        ),
        ("GET /health HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 200"),
        // HTTP/1.0 has no such rule.
        ("GET /health HTTP/1.0\r\n\r\n", "HTTP/1.0 200"),
    ] {
        let mut stream = connect_from(&app, [127, 0, 0, 1], None).await;
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            let mut buffer = [0_u8; 4096];
            while let Ok(n) = stream.read(&mut buffer).await {
                if n == 0 {
                    break;
                }
                answer.extend_from_slice(&buffer[..n]);
                if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
                    break;
                }
            }
        })
        .await;
        let answer = String::from_utf8_lossy(&answer).to_string();
        assert!(answer.starts_with(expected), "{request:?}: {answer}");
        if expected.ends_with("400") {
            assert!(answer.contains("Host"), "the error says what was wrong: {answer}");
        }
    }
    app.stop().await;
}

async fn a_retirement_during_a_run_of_the_instance_is_refused_and_the_run_keeps_its_items(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    // About 190 KB over ~3 s.
    let feed = generated_feed(200, 2, 2);
    let provider = MockProvider::start(MockResponse::ok(feed).drip(8192, Duration::from_millis(130))).await;
    let mut config = config_for(&db.url, &AppOptions::manual(&provider.url));
    if let Some(fever) = config.providers.get_mut("fever") {
        fever.timeout = Duration::from_secs(30);
    }
    let app = TestApp::spawn_config(config).await;
    let (status, accepted) = app
        .admin(Method::POST, "/admin/providers/fever/sync?wait=false", None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let location = accepted["data"]["location"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, refused) = app
        .admin(Method::DELETE, "/admin/providers/fever/items", None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["error"]["code"], "sync_running", "{refused}");
    // The run ends as if nothing had been asked, with every item it counted stored.
    let report = loop {
        let (_, run) = app.admin(Method::GET, &location, None).await;
        if run["data"]["run"]["status"] != "running" {
            break run["data"]["run"].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(report["status"], "succeeded", "{report}");
    assert_eq!(report["inserted"], 400, "{report}");
    // The run's commit reaches the snapshot a moment after its report.
    let mut searchable = 0;
    for _ in 0..100 {
        searchable = app.search(EVERYTHING).await.len();
        if searchable > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(searchable > 0, "the run's items never became searchable");
    // Then the retirement goes through, and a run of what is left counts from scratch.
    // The run's report is stored a moment before the engine lets go of the instance:
    // until then the refusal is still right.
    let mut attempts = 0;
    let (status, retired) = loop {
        let (status, retired) = app
            .admin(Method::DELETE, "/admin/providers/fever/items", None)
            .await;
        attempts += 1;
        if status != StatusCode::CONFLICT || attempts == 50 {
            break (status, retired);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status, StatusCode::OK, "{retired}");
    assert_eq!(retired["data"]["retired"], 400);
    assert!(app.search(EVERYTHING).await.is_empty());
    provider.serve(MockResponse::ok(generated_feed(200, 2, 2)));
    let (_, report) = app.sync().await;
    assert_eq!(report["unchanged"], 0, "{report}");
    assert_eq!(report["inserted"], 400, "{report}");
    assert_eq!(app.search(EVERYTHING).await.len(), searchable);
    app.stop().await;
    db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quarantine_keeps_one_row_per_distinct_rejection_with_its_count_and_a_cap() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_2.xml"))).await;
    let mut config = config_for(&db.url, &AppOptions::manual(&feed.url));
    config.retention.max_rejects = 1;
    let app = TestApp::spawn_config(config).await;
    let mut runs = Vec::new();
    for _ in 0..3 {
        let (_, report) = app.sync().await;
        assert_eq!(report["status"], "partial", "{report}");
        runs.push(report);
    }
    let (_, body) = app
        .admin(Method::GET, "/admin/providers/fever/rejects", None)
        .await;
    let rejects = body["data"]["rejects"].as_array().cloned().unwrap_or_default();
    assert_eq!(rejects.len(), 1, "{body}");
    let reject = &rejects[0];
    assert_eq!(reject["times"], 3, "{reject}");
    assert_eq!(
        reject["run_id"], runs[2]["run_id"],
        "the latest run that rejected it"
    );
    let at = |value: &Value| {
        chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap_or_default())
            .map(|at| at.timestamp_millis())
            .unwrap_or_default()
    };
    assert_eq!(at(&reject["first_seen"]), at(&runs[0]["finished_at"]), "{reject}");
    assert_eq!(
        at(&reject["rejected_at"]),
        at(&runs[2]["finished_at"]),
        "{reject}"
    );
    // Another bad record: two distinct rejections, but the cap keeps one, the latest.
    let other = String::from_utf8(fixture("response_2.xml"))
        .unwrap()
        .replace("2021-09-31", "2021-02-30");
    feed.serve(MockResponse::ok(other));
    let (_, report) = app.sync().await;
    let (_, body) = app
        .admin(Method::GET, "/admin/providers/fever/rejects", None)
        .await;
    let rejects = body["data"]["rejects"].as_array().cloned().unwrap_or_default();
    assert_eq!(rejects.len(), 1, "{body}");
    assert_eq!(rejects[0]["run_id"], report["run_id"]);
    assert!(
        rejects[0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("2021-02-30")
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_of_a_base_event_whose_online_sessions_were_all_rejected_stay_unsearchable() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let feed = |sell_mode: &str, start: &str, event_id: u32| {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><eventList version="1.0"><output>
<base_event base_event_id="7" sell_mode="{sell_mode}" title="Offline first">
<event event_start_date="{start}" event_end_date="2021-06-30T22:00:00" event_id="{event_id}" sell_from="2020-07-01T00:00:00" sell_to="2021-06-30T20:00:00" sold_out="false">
<zone zone_id="1" capacity="10" price="20.00" name="Platea" numbered="true" /></event>
</base_event></output></eventList>"#
        )
    };
    let provider = MockProvider::start(MockResponse::ok(feed("offline", "2021-06-30T21:00:00", 1))).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&provider.url)).await;
    let (_, report) = app.sync().await;
    assert_eq!(report["inserted"], 1, "{report}");
    // Online now, but its only session is broken: nothing was accepted online.
    provider.serve(MockResponse::ok(feed("online", "2021-06-31T21:00:00", 2)));
    let (_, report) = app.sync().await;
    assert_eq!(report["rejected"], 1, "{report}");
    assert!(app.search(EVERYTHING).await.is_empty());
    // An accepted online session makes the base event's sessions searchable.
    provider.serve(MockResponse::ok(feed("online", "2021-06-29T21:00:00", 2)));
    app.sync().await;
    let found: Vec<Value> = app.search(EVERYTHING).await;
    assert_eq!(found.len(), 2, "{found:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_routes_are_never_throttled_whatever_authorization_they_carry() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let provider = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let mut config = config_for(&db.url, &AppOptions::manual(&provider.url));
    config.admin.max_failures = 2;
    config.admin.failure_window = Duration::from_secs(60);
    let app = TestApp::spawn_config(config).await;
    app.sync().await;
    let id = app.search(SCENARIO_WINDOW).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let get = |path: String, authorization: &'static str| {
        app.client
            .get(format!("{}{path}", app.address))
            .header("authorization", authorization)
            .send()
    };
    for _ in 0..2 {
        assert_eq!(
            get("/admin/providers".into(), "Bearer wrong")
                .await
                .unwrap()
                .status(),
            401
        );
    }
    assert_eq!(
        get("/admin/providers".into(), "Bearer wrong")
            .await
            .unwrap()
            .status(),
        429
    );
    // The throttled client still reads the public routes, whatever it sends.
    let event = get(format!("/events/{id}"), "Bearer wrong").await.unwrap();
    assert_eq!(event.status(), 200);
    let event = get(format!("/events/{id}"), "Basic dXNlcjpwYXNz").await.unwrap();
    assert_eq!(event.status(), 200);
    // Another scheme is someone else's credential: an unknown id is still a plain 404.
    let unknown = get(format!("/events/{}", uuid::Uuid::new_v4()), "Basic x")
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    app.stop().await;
}
