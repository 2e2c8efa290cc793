//! CORS (`server.cors.allowed_origins`): web pages of the allowed origins may read the
//! public read routes; nothing else gets a CORS header, the admin API never.

use reqwest::Method;
use reqwest::header::HeaderMap;

use crate::helpers::*;

const SHOP: &str = "https://shop.example.com";
const OTHER: &str = "https://evil.example.net";
const READ_ROUTES: [&str; 5] = [
    "/search",
    "/events/6f1c1b34-3c0a-5a43-9a2f-0d9d5e2f0a11",
    "/openapi.json",
    "/health",
    "/ready",
];

async fn app_allowing(origins: &str) -> (TestDatabase, TestApp) {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let mut options = AppOptions::manual("http://127.0.0.1:9/feed");
    options.server_toml = format!("[server.cors]\nallowed_origins = [{origins}]\n");
    let app = TestApp::spawn(&db.url, options).await;
    (db, app)
}

/// A request from a page of `origin`; its status and headers.
async fn from_origin(app: &TestApp, method: Method, path: &str, origin: &str) -> (u16, HeaderMap) {
    let mut request = app
        .client
        .request(method.clone(), format!("{}{path}", app.address))
        .header("origin", origin);
    if method == Method::OPTIONS {
        request = request
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "if-none-match");
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.headers().clone())
}

fn allowed_origin(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("access-control-allow-origin")
        .and_then(|value| value.to_str().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preflight_from_an_allowed_origin_is_answered_with_the_cors_headers() {
    let (_db, app) = app_allowing(&format!("\"{SHOP}\", \"http://127.0.0.1:3000\"")).await;
    let (status, headers) = from_origin(&app, Method::OPTIONS, "/search", SHOP).await;
    assert!((200..300).contains(&status), "preflight answered {status}");
    assert_eq!(allowed_origin(&headers), Some(SHOP));
    let methods = headers["access-control-allow-methods"].to_str().unwrap();
    assert!(methods.contains("GET"), "{methods}");
    let allowed_headers = headers["access-control-allow-headers"].to_str().unwrap();
    assert!(allowed_headers.contains("if-none-match"), "{allowed_headers}");
    assert!(headers.contains_key("access-control-max-age"));
    assert!(!headers.contains_key("access-control-allow-credentials"));

    // Every read route answers the page, errors included (an unknown event is a 404).
    for path in READ_ROUTES {
        let (status, headers) = from_origin(&app, Method::GET, path, SHOP).await;
        assert_eq!(allowed_origin(&headers), Some(SHOP), "GET {path} ({status})");
        let vary = headers
            .get_all("vary")
            .iter()
            .map(|v| v.to_str().unwrap().to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(",");
        assert!(
            vary.contains("origin"),
            "GET {path}: caches must key on Origin: {vary}"
        );
    }
    let (_, headers) = from_origin(&app, Method::GET, "/search", SHOP).await;
    let exposed = headers["access-control-expose-headers"].to_str().unwrap();
    assert!(
        exposed.contains("etag") && exposed.contains("x-request-id"),
        "{exposed}"
    );
    // The document is the same one, served by this router now.
    let (status, openapi) = app.get("/openapi.json").await;
    assert_eq!(status, 200);
    assert!(openapi["paths"]["/search"].is_object(), "{openapi}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_origin_and_the_other_routes_get_no_cors_header() {
    let (_db, app) = app_allowing(&format!("\"{SHOP}\"")).await;
    let (_, headers) = from_origin(&app, Method::OPTIONS, "/search", OTHER).await;
    assert_eq!(allowed_origin(&headers), None);
    let (status, headers) = from_origin(&app, Method::GET, "/search", OTHER).await;
    assert_eq!(
        status, 200,
        "the answer is still served: the browser withholds it"
    );
    assert_eq!(allowed_origin(&headers), None);
    // A look-alike origin is another origin.
    let (_, headers) = from_origin(&app, Method::GET, "/search", "https://shop.example.com.evil.net").await;
    assert_eq!(allowed_origin(&headers), None);

    // Admin routes never answer cross-origin requests, preflights included.
    for (method, path) in [
        (Method::OPTIONS, "/admin/providers"),
        (Method::GET, "/admin/providers"),
        (Method::OPTIONS, "/admin/providers/fever/sync"),
        (Method::GET, "/metrics"),
        (Method::GET, "/status"),
    ] {
        let (status, headers) = from_origin(&app, method.clone(), path, SHOP).await;
        assert_eq!(allowed_origin(&headers), None, "{method} {path} ({status})");
        assert!(
            !headers.contains_key("access-control-allow-methods"),
            "{method} {path}"
        );
    }
    let response = app
        .client
        .get(format!("{}/admin/providers", app.address))
        .bearer_auth(ADMIN_TOKEN)
        .header("origin", SHOP)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(!response.headers().contains_key("access-control-allow-origin"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wildcard_allows_any_origin_without_credentials() {
    let (_db, app) = app_allowing("\"*\"").await;
    for origin in [SHOP, OTHER, "http://localhost:5173"] {
        let (_, headers) = from_origin(&app, Method::GET, "/search", origin).await;
        assert_eq!(allowed_origin(&headers), Some("*"), "{origin}");
        assert!(!headers.contains_key("access-control-allow-credentials"));
        let (status, headers) = from_origin(&app, Method::OPTIONS, "/events/x", origin).await;
        assert!((200..300).contains(&status), "{status}");
        assert_eq!(allowed_origin(&headers), Some("*"));
    }
    let (_, headers) = from_origin(&app, Method::GET, "/admin/providers", SHOP).await;
    assert_eq!(allowed_origin(&headers), None);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_allowed_origins_there_is_no_cors_at_all() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual("http://127.0.0.1:9/feed")).await;
    let (status, headers) = from_origin(&app, Method::OPTIONS, "/search", SHOP).await;
    assert_eq!(
        status, 405,
        "no CORS: a preflight is a method this route does not take"
    );
    assert_eq!(allowed_origin(&headers), None);
    for path in READ_ROUTES {
        let (_, headers) = from_origin(&app, Method::GET, path, SHOP).await;
        assert!(
            !headers
                .keys()
                .any(|name| name.as_str().starts_with("access-control-")),
            "GET {path}: {headers:?}"
        );
    }
    app.stop().await;
}
