//! The kit's HTTP(S) source: the same requests for every provider that reads a feed
//! over HTTP.
//!
//! TLS verification is on (rustls); redirects are limited to 5, and when the instance
//! sends headers of its own, never followed to another origin (they would carry its
//! key away); pages of a paginated feed must stay on the feed's origin. The connection
//! and the whole response are bounded by the instance's `timeout`. Compressed
//! transfers (`Accept-Encoding: gzip, br, deflate`) are decoded as they stream, so the
//! engine counts and limits decoded bytes: a gzip bomb is cut at `max_feed_bytes`
//! without being expanded in memory. After a successful single-document run the
//! engine keeps the document's `ETag`/`Last-Modified`; the next run sends them, and a
//! 304 ends it at once.

use std::fmt;
use std::time::Duration;

use boxoffice_core::registry::{ConfigProblem, InstanceSettings};
use boxoffice_core::{Feed, OpenRequest, Opened, ProviderError, Validators};
use chrono::Utc;
use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, ETAG, HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use url::Url;

use super::error::{HttpError, body_error, error_chain, request_error, retry_after};
use crate::headers::Headers;
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
            .finish_non_exhaustive()
    }
}

impl HttpSource {
    /// A source GETting `url` with `Accept: accept` and the instance's `headers`,
    /// within its timeout. Problems name their key: the header values of an enabled
    /// instance must be readable now; a disabled instance's are read when it runs, so
    /// that a key nobody has yet does not stop the service (a warning says so).
    pub fn build(
        url: &FeedUrl,
        headers: &Headers,
        settings: &InstanceSettings,
        accept: &'static str,
    ) -> Result<Self, Vec<ConfigProblem>> {
        let problems = headers.problems();
        if !problems.is_empty() {
            if settings.enabled {
                return Err(problems);
            }
            for problem in &problems {
                tracing::warn!(provider = %settings.name, key = %problem.key, reason = %problem.message,
                    "A disabled instance's header cannot be read; its runs will fail until it can.");
            }
        }
        let guard_headers = !headers.is_empty();
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
            }
            let leaves_origin = attempt
                .previous()
                .first()
                .is_some_and(|first| !same_origin(first, attempt.url()));
            if guard_headers && leaves_origin {
                let target = display_url(attempt.url());
                return attempt.error(format!(
                    "redirected to another origin ({target}): not followed with the instance's headers"
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
            url: url.clone(),
            headers: headers.clone(),
            timeout: settings.timeout,
            accept,
            provider: settings.name.clone(),
        })
    }

    /// The configured address.
    pub fn url(&self) -> &FeedUrl {
        &self.url
    }

    /// Opens the document `request` names: the feed's address, or a page on its origin.
    /// The body streams as the parser reads it; its read errors carry the failure they
    /// are (see [`boxoffice_core::read_error`]).
    pub async fn open(&self, request: OpenRequest<'_>) -> Result<Opened, ProviderError> {
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

    async fn send(&self, request: OpenRequest<'_>) -> Result<Opened, HttpError> {
        let timeout = self.timeout;
        let url = self.target(request.page)?;
        let shown_url = display_url(&url);
        tracing::debug!(provider = %self.provider, url = %shown_url, "Fetching a document.");
        let mut headers = self.headers.resolve().map_err(HttpError::Refused)?;
        headers.insert(ACCEPT, reqwest::header::HeaderValue::from_static(self.accept));
        let conditional = request.validators.filter(|v| !v.is_empty());
        if let Some(validators) = conditional {
            add_validators(&mut headers, validators);
        }
        let response = self
            .client
            .get(url)
            .headers(headers)
            .timeout(timeout)
            .send()
            .await
            .map_err(|error| request_error(error, &shown_url, timeout))?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED && conditional.is_some() {
            return Ok(Opened::NotModified);
        }
        if !status.is_success() {
            return Err(HttpError::Status {
                status,
                url: shown_url,
                retry_after: retry_after(response.headers(), Utc::now()),
            });
        }
        let validators = Validators {
            etag: header_text(response.headers(), &ETAG),
            last_modified: header_text(response.headers(), &LAST_MODIFIED),
        };
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
        }))
    }
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
