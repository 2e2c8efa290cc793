//! A local provider that answers what a test tells it to.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// What the mock answers to one request.
#[derive(Debug, Clone)]
pub struct MockResponse {
    /// The status.
    pub status: StatusCode,
    /// The body (before any compression).
    pub body: Vec<u8>,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// A wait before the answer's headers.
    pub delay: Duration,
    /// The body sent `.0` bytes at a time with `.1` between chunks.
    pub drip: Option<(usize, Duration)>,
    /// Sent `Content-Encoding: gzip` when the request accepts it.
    pub gzip: bool,
    /// The document's `ETag`: a request whose `If-None-Match` carries it gets 304.
    pub etag: Option<String>,
    /// The document's `Last-Modified`: a request whose `If-Modified-Since` equals it
    /// gets 304.
    pub last_modified: Option<String>,
}

impl MockResponse {
    /// 200 with `body`.
    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: StatusCode::OK,
            body: body.into(),
            headers: Vec::new(),
            delay: Duration::ZERO,
            drip: None,
            gzip: false,
            etag: None,
            last_modified: None,
        }
    }

    /// `status` with an empty body.
    pub fn status(status: u16) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            ..Self::ok(Vec::new())
        }
    }

    /// 200 with a JSON body (`Content-Type: application/json`).
    pub fn json(body: impl Into<Vec<u8>>) -> Self {
        Self::ok(body).header("content-type", "application/json")
    }

    /// `status` with a JSON body, as an API answers a failure.
    pub fn json_status(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            body: body.into(),
            ..Self::status(status)
        }
        .header("content-type", "application/json")
    }

    /// With a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// After a delay.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Dripping its body.
    pub fn drip(mut self, chunk: usize, pause: Duration) -> Self {
        self.drip = Some((chunk.max(1), pause));
        self
    }

    /// Gzip-compressed when the client accepts it.
    pub fn gzip(mut self) -> Self {
        self.gzip = true;
        self
    }

    /// With an `ETag` (and 304 for a request that has it).
    pub fn etag(mut self, etag: &str) -> Self {
        self.etag = Some(etag.to_owned());
        self
    }

    /// With a `Last-Modified` (and 304 for a request that has it).
    pub fn last_modified(mut self, at: &str) -> Self {
        self.last_modified = Some(at.to_owned());
        self
    }
}

/// A request the mock received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The path and query, e.g. `/shows?page=2`.
    pub target: String,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body (the first MiB).
    pub body: Vec<u8>,
}

#[derive(Default)]
struct State {
    /// Answers by path-and-query, or by path alone.
    routes: HashMap<String, VecDeque<MockResponse>>,
    /// Answers by path and some query parameters, whatever else the query holds.
    by_query: Vec<QueryRoute>,
    /// Answers by path and a text the request's body holds.
    by_body: Vec<(String, String, MockResponse)>,
    /// What a path's requests must carry, and the answer to one that does not.
    guards: Vec<(String, Credential, MockResponse)>,
    requests: Vec<RecordedRequest>,
}

/// A path, the query parameters a request must have there, and the answer.
type QueryRoute = (String, Vec<(String, String)>, MockResponse);

/// A credential a request must carry, as an API checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A query parameter with this value (`apikey=…`).
    Query(String, String),
    /// A header with this value (`Authorization: Bearer …`), the name in any case.
    Header(String, String),
}

impl Credential {
    fn carried_by(&self, request: &axum::http::request::Parts) -> bool {
        match self {
            Credential::Query(name, value) => request.uri.query().is_some_and(|query| {
                url::form_urlencoded::parse(query.as_bytes())
                    .any(|(n, v)| n == name.as_str() && v == value.as_str())
            }),
            Credential::Header(name, value) => request
                .headers
                .get(name.as_str())
                .and_then(|sent| sent.to_str().ok())
                .is_some_and(|sent| sent == value),
        }
    }
}

/// A local provider on `127.0.0.1:0`; stops when dropped.
pub struct MockFeedServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl Drop for MockFeedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl MockFeedServer {
    /// Starts the server with nothing to serve (every request answers 404).
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding 127.0.0.1:0");
        let addr = listener.local_addr().expect("the mock's address");
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let app = axum::Router::new().fallback(move |request: Request| {
            let shared = Arc::clone(&shared);
            async move { answer(&shared, request).await }
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, state, task }
    }

    /// Starts the server answering `response` at `path`.
    pub async fn serving(path: &str, response: MockResponse) -> Self {
        let server = Self::start().await;
        server.serve(path, response);
        server
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers `response` at `path` (a path, or a path and query) from now on.
    pub fn serve(&self, path: &str, response: MockResponse) {
        self.serve_sequence(path, vec![response]);
    }

    /// Answers each of `responses` once, in order, then the last one for good.
    pub fn serve_sequence(&self, path: &str, responses: Vec<MockResponse>) {
        lock(&self.state).routes.insert(path.to_owned(), responses.into());
    }

    /// Answers `response` at `path` to a request whose query has every one of `pairs`
    /// (in any order, among any others); the one with the most pairs wins. Tried after
    /// an exact path-and-query route, before a path-only one.
    pub fn serve_query(&self, path: &str, pairs: &[(&str, &str)], response: MockResponse) {
        let pairs = pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        lock(&self.state)
            .by_query
            .push((path.to_owned(), pairs, response));
    }

    /// Answers `response` at `path` to a request whose body holds `needle` (a GraphQL
    /// cursor, say); tried before the query and path routes.
    pub fn serve_body(&self, path: &str, needle: &str, response: MockResponse) {
        lock(&self.state)
            .by_body
            .push((path.to_owned(), needle.to_owned(), response));
    }

    /// Requests to `path` (a path, any query) must carry `credential` from now on;
    /// others get `refusal` (e.g. the API's 401 body).
    pub fn require(&self, path: &str, credential: Credential, refusal: MockResponse) {
        let mut state = lock(&self.state);
        state.guards.retain(|(guarded, _, _)| guarded != path);
        state.guards.push((path.to_owned(), credential, refusal));
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).requests.clone()
    }

    /// How many requests `path` (path and query, or path) received.
    pub fn hits(&self, path: &str) -> usize {
        lock(&self.state)
            .requests
            .iter()
            .filter(|request| request.target == path || request.target.split('?').next() == Some(path))
            .count()
    }
}

async fn answer(state: &Mutex<State>, request: Request) -> Response {
    let (request, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default()
        .to_vec();
    let target = request
        .uri
        .path_and_query()
        .map_or_else(|| request.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let path = request.uri.path().to_owned();
    let query: Vec<(String, String)> = request
        .uri
        .query()
        .map(|query| {
            url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let response = {
        let mut state = lock(state);
        state.requests.push(RecordedRequest {
            method: request.method.to_string(),
            target: target.clone(),
            headers: request.headers.clone(),
            body: body.clone(),
        });
        let refused = state
            .guards
            .iter()
            .find(|(guarded, credential, _)| *guarded == path && !credential.carried_by(&request))
            .map(|(_, _, refusal)| refusal.clone());
        let by_query = || {
            state
                .by_query
                .iter()
                .filter(|(route, pairs, _)| *route == path && pairs.iter().all(|pair| query.contains(pair)))
                .max_by_key(|(_, pairs, _)| pairs.len())
                .map(|(_, _, response)| response.clone())
        };
        let text = String::from_utf8_lossy(&body);
        let by_body = state
            .by_body
            .iter()
            .find(|(route, needle, _)| *route == path && text.contains(needle.as_str()))
            .map(|(_, _, response)| response.clone());
        if let Some(refusal) = refused {
            Some(refusal)
        } else if let Some(found) = by_body {
            Some(found)
        } else if state.routes.contains_key(&target) {
            state.routes.get_mut(&target).and_then(next_of)
        } else if let Some(found) = by_query() {
            Some(found)
        } else {
            state.routes.get_mut(&path).and_then(next_of)
        }
    };
    let Some(response) = response else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Body::from("the mock serves nothing here"))
            .unwrap_or_default();
    };
    tokio::time::sleep(response.delay).await;
    let headers = &request.headers;
    let not_modified = response.etag.as_deref().is_some_and(|etag| {
        header(headers, "if-none-match").is_some_and(|sent| sent.split(',').any(|tag| tag.trim() == etag))
    }) || response
        .last_modified
        .as_deref()
        .is_some_and(|at| header(headers, "if-modified-since") == Some(at));
    let mut builder = Response::builder();
    for (name, value) in &response.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if let Some(etag) = &response.etag {
        builder = builder.header("etag", etag.as_str());
    }
    if let Some(at) = &response.last_modified {
        builder = builder.header("last-modified", at.as_str());
    }
    if not_modified {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap_or_default();
    }
    let accepts_gzip = header(headers, "accept-encoding").is_some_and(|accepted| accepted.contains("gzip"));
    let body = if response.gzip && accepts_gzip {
        builder = builder.header("content-encoding", "gzip");
        gzip(&response.body)
    } else {
        response.body.clone()
    };
    let body = match response.drip {
        None => Body::from(body),
        Some((chunk, pause)) => {
            let chunks: Vec<Bytes> = body.chunks(chunk).map(Bytes::copy_from_slice).collect();
            let stream = futures_util::stream::unfold(chunks.into_iter(), move |mut rest| async move {
                let next = rest.next()?;
                tokio::time::sleep(pause).await;
                Some((Ok::<_, std::io::Error>(next), rest))
            });
            Body::from_stream(stream)
        }
    };
    builder.status(response.status).body(body).unwrap_or_default()
}

/// The next answer of a route: each in turn, then the last for good.
fn next_of(queue: &mut VecDeque<MockResponse>) -> Option<MockResponse> {
    if queue.len() > 1 {
        queue.pop_front()
    } else {
        queue.front().cloned()
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}
