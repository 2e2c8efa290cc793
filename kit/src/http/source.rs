//! The kit's HTTP(S) source: the same requests for every provider that reads a feed
//! over HTTP.
//!
//! TLS is verified (rustls). Redirects are limited to 5 and, when the instance sends
//! headers or `auth` of its own, never followed to another origin (they would carry its
//! key away); pages of a paginated feed must stay on its origin. The connection and
//! the whole response are bounded by the instance's `timeout`. Compressed transfers
//! are decoded as they stream, so the engine limits decoded bytes: a gzip bomb is cut
//! at `max_feed_bytes` without being expanded in memory. A single-document run's
//! `ETag`/`Last-Modified` are sent by the next run, and a 304 ends it at once.

use std::fmt;
use std::time::Duration;

use boxoffice_core::registry::{ConfigProblem, InstanceSettings};
use boxoffice_core::{Feed, OpenRequest, Opened, ProviderError, ResponseHeaders, Validators};
use chrono::Utc;
use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, ETAG, HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use url::Url;

use super::error::{HttpError, body_error, error_chain, quote_error_body, request_error, retry_after};
use crate::auth::{Auth, Authorizer, read_bounded};
use crate::headers::Headers;
use crate::query::Query;
use crate::url::{FeedUrl, display_url, same_origin};

/// How long the outer deadline waits beyond the request's own, so that the request's
/// (more precise) timeout error wins when both fire.
const DEADLINE_MARGIN: Duration = Duration::from_millis(250);

/// The longest a connection may take to open, when the instance's timeout is longer.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Redirects followed at most.
const MAX_REDIRECTS: usize = 5;

/// A feed at an HTTP(S) address.
pub struct HttpSource {
    client: reqwest::Client,
    url: FeedUrl,
    headers: Headers,
    query: Query,
    auth: Authorizer,
    timeout: Duration,
    accept: &'static str,
    provider: String,
}

impl fmt::Debug for HttpSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSource")
            .field("provider", &self.provider)
            .field("url", &self.url)
            .field("headers", &self.headers)
            .field("query", &self.query)
            .finish_non_exhaustive()
    }
}

/// What an instance's requests are: the keys every HTTP kind may declare.
#[derive(Debug, Clone, Copy)]
pub struct HttpOptions<'a> {
    /// The feed's (first page's) address.
    pub url: &'a FeedUrl,
    /// `[headers]`.
    pub headers: &'a Headers,
    /// `[query]`, set on every request's URL.
    pub query: &'a Query,
    /// `auth`.
    pub auth: Option<&'a Auth>,
    /// The `Accept` header.
    pub accept: &'static str,
}

/// One request: which page, and what goes in its body.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageRequest<'a> {
    /// The page's absolute URL on the feed's origin; `None`: the configured address.
    pub url: Option<&'a str>,
    /// A JSON body: the request is a `POST` (else a `GET`).
    pub body: Option<&'a [u8]>,
    /// Validators of the last committed document: ask "only if changed".
    pub validators: Option<&'a Validators>,
}

/// How much of an error body is read for the message.
const MAX_ERROR_BODY_BYTES: usize = 2048;

impl HttpSource {
    /// A source GETting `url` with `Accept: accept` and the instance's `headers`,
    /// within its timeout (see [`Self::build_with`]).
    pub fn build(
        url: &FeedUrl,
        headers: &Headers,
        settings: &InstanceSettings,
        accept: &'static str,
    ) -> Result<Self, Vec<ConfigProblem>> {
        let query = Query::default();
        let options = HttpOptions {
            url,
            headers,
            query: &query,
            auth: None,
            accept,
        };
        Self::build_with(options, settings)
    }

    /// A source sending the requests `options` describe, within the instance's
    /// timeout. Problems name their key: the secrets of an enabled instance must be
    /// readable now; a disabled instance's are read when it runs, so that a key nobody
    /// has yet does not stop the service (a warning says so).
    pub fn build_with(
        options: HttpOptions<'_>,
        settings: &InstanceSettings,
    ) -> Result<Self, Vec<ConfigProblem>> {
        let mut problems = options.headers.problems();
        problems.extend(options.query.problems());
        problems.extend(options.auth.map(Auth::problems).unwrap_or_default());
        if !problems.is_empty() {
            if settings.enabled {
                return Err(problems);
            }
            for problem in &problems {
                tracing::warn!(provider = %settings.name, key = %problem.key, reason = %problem.message,
                    "A disabled instance's secret cannot be read; its runs will fail until it can.");
            }
        }
        let guard_credentials = !options.headers.is_empty() || options.auth.is_some();
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
            }
            let leaves_origin = attempt
                .previous()
                .first()
                .is_some_and(|first| !same_origin(first, attempt.url()));
            if guard_credentials && leaves_origin {
                let target = display_url(attempt.url());
                return attempt.error(format!(
                    "redirected to another origin ({target}): not followed with the instance's credentials"
                ));
            }
            attempt.follow()
        });
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(redirects)
            .user_agent(concat!("boxoffice/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(settings.timeout.min(MAX_CONNECT_TIMEOUT))
            .build()
            .map_err(|error| {
                vec![ConfigProblem::new(
                    "",
                    HttpError::Client(error_chain(&error)).to_string(),
                )]
            })?;
        Ok(Self {
            client,
            url: options.url.clone(),
            headers: options.headers.clone(),
            query: options.query.clone(),
            auth: Authorizer::new(options.auth.cloned()),
            timeout: settings.timeout,
            accept: options.accept,
            provider: settings.name.clone(),
        })
    }

    /// The configured address.
    pub fn url(&self) -> &FeedUrl {
        &self.url
    }

    /// How messages name the page at `url` (`None`: the configured address): without
    /// credentials or query.
    pub fn page_label(&self, url: Option<&str>) -> String {
        match url.map(Url::parse) {
            None => self.url.to_string(),
            Some(Ok(url)) => display_url(&url),
            Some(Err(_)) => "an address that is not a URL".into(),
        }
    }

    /// Opens the document `request` names: the feed's address, or a page on its origin.
    /// The body streams as the parser reads it; its read errors carry the failure they
    /// are (see [`boxoffice_core::read_error`]).
    pub async fn open(&self, request: OpenRequest<'_>) -> Result<Opened, ProviderError> {
        self.open_page(PageRequest {
            url: request.page,
            body: None,
            validators: request.validators,
        })
        .await
    }

    /// Opens one page: [`Self::open`] with a body.
    pub async fn open_page(&self, request: PageRequest<'_>) -> Result<Opened, ProviderError> {
        match tokio::time::timeout(self.timeout + DEADLINE_MARGIN, self.send(request)).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(HttpError::TimedOut(self.timeout).into()),
        }
    }

    fn target(&self, page: Option<&str>) -> Result<Url, HttpError> {
        let Some(page) = page else {
            return Ok(self.url.url().clone());
        };
        let url = Url::parse(page)
            .map_err(|_| HttpError::Refused("the next page is not an absolute URL".into()))?;
        if !same_origin(&url, self.url.url()) {
            return Err(HttpError::Refused(format!(
                "the next page ({}) is not on the feed's origin: pages must stay on {}",
                display_url(&url),
                self.url.url().origin().ascii_serialization()
            )));
        }
        Ok(url)
    }

    async fn send(&self, request: PageRequest<'_>) -> Result<Opened, HttpError> {
        if self.url.url().scheme() == "file" {
            let url = self.target(request.url)?;
            let first = crate::file::path_of(self.url.url())?;
            if !crate::file::within(&first, &crate::file::path_of(&url)?) {
                return Err(HttpError::Refused(format!(
                    "the next page ({url}) is not in the feed file's directory"
                )));
            }
            return crate::file::open(&url, request.validators).await;
        }
        let response = match self.send_once(request).await? {
            Sent::Refused(_) if self.auth.renews() => {
                // The kept token may have been revoked early: one new token, one retry.
                self.auth.forget().await;
                match self.send_once(request).await? {
                    Sent::Answered(response) | Sent::Refused(response) => response,
                }
            }
            Sent::Answered(response) | Sent::Refused(response) => response,
        };
        self.answer(response).await
    }

    async fn send_once(&self, request: PageRequest<'_>) -> Result<Sent, HttpError> {
        let timeout = self.timeout;
        let mut url = self.target(request.url)?;
        let query = self.query.resolve().map_err(HttpError::Refused)?;
        query.apply(&mut url);
        let shown_url = display_url(&url);
        tracing::debug!(provider = %self.provider, url = %shown_url, "Fetching a document.");
        let mut headers = self.headers.resolve().map_err(HttpError::Refused)?;
        headers.insert(ACCEPT, reqwest::header::HeaderValue::from_static(self.accept));
        let authorization = self.auth.authorization(&self.client, timeout).await?;
        let mut secrets: Vec<String> = query.values().map(str::to_owned).collect();
        secrets.extend(
            headers
                .values()
                .filter(|v| v.is_sensitive())
                .filter_map(|v| v.to_str().ok())
                .map(str::to_owned),
        );
        if let Some(authorization) = authorization {
            secrets.extend(authorization.secrets.iter().map(|s| s.expose().to_owned()));
            headers.insert(AUTHORIZATION, authorization.value);
        }
        let conditional = request.validators.filter(|v| !v.is_empty());
        if let Some(validators) = conditional {
            add_validators(&mut headers, validators);
        }
        let builder = match request.body {
            None => self.client.get(url),
            Some(body) => self
                .client
                .post(url)
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_vec()),
        };
        let builder = builder.headers(headers).timeout(timeout);
        let response = builder
            .send()
            .await
            .map_err(|error| request_error(error, &shown_url, timeout))?;
        let refused = response.status() == StatusCode::UNAUTHORIZED;
        let response = Response {
            inner: response,
            shown_url,
            secrets,
            conditional: conditional.is_some(),
        };
        Ok(if refused {
            Sent::Refused(response)
        } else {
            Sent::Answered(response)
        })
    }

    async fn answer(&self, response: Response) -> Result<Opened, HttpError> {
        let timeout = self.timeout;
        let Response {
            inner: response,
            shown_url,
            secrets,
            conditional,
        } = response;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED && conditional {
            return Ok(Opened::NotModified);
        }
        if !status.is_success() {
            let retry_after = retry_after(response.headers(), Utc::now());
            // What the server says of the failure helps whoever reads the run's error;
            // a failure to read it changes nothing.
            let said = read_bounded(response, MAX_ERROR_BODY_BYTES, timeout)
                .await
                .unwrap_or_default();
            return Err(HttpError::Status {
                status,
                url: shown_url,
                retry_after,
                body: quote_error_body(&said, secrets.iter().map(String::as_str)),
            });
        }
        let validators = Validators {
            etag: header_text(response.headers(), &ETAG),
            last_modified: header_text(response.headers(), &LAST_MODIFIED),
        };
        let mut kept = ResponseHeaders::default();
        for (name, value) in response.headers() {
            if let Ok(value) = value.to_str() {
                kept.push(name.as_str(), value);
            }
        }
        let location = Some(response.url().to_string());
        let length = response.content_length();
        let body = response
            .bytes_stream()
            .map(move |chunk| chunk.map_err(|error| std::io::Error::from(body_error(error, timeout))));
        Ok(Opened::Feed(Feed {
            body: Box::new(tokio_util::io::StreamReader::new(body)),
            length,
            validators,
            location,
            headers: kept,
        }))
    }
}

/// A response, with what its messages need.
struct Response {
    inner: reqwest::Response,
    shown_url: String,
    /// The secrets the request carried, kept out of quoted error bodies.
    secrets: Vec<String>,
    conditional: bool,
}

/// What one send gave.
enum Sent {
    Answered(Response),
    /// 401: credentials refused.
    Refused(Response),
}

fn add_validators(headers: &mut HeaderMap, validators: &Validators) {
    let pairs = [
        (IF_NONE_MATCH, validators.etag.as_deref()),
        (IF_MODIFIED_SINCE, validators.last_modified.as_deref()),
    ];
    for (name, value) in pairs {
        if let Some(value) = value.and_then(|v| reqwest::header::HeaderValue::from_str(v).ok()) {
            headers.insert(name, value);
        }
    }
}

fn header_text(headers: &HeaderMap, name: &reqwest::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .filter(|value| !value.is_empty() && value.len() <= 1024)
        .map(str::to_owned)
}
