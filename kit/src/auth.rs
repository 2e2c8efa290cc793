//! `auth`: how an instance proves who it is, besides its `[headers]` and `[query]`:
//! a bearer token, Basic credentials, or OAuth 2.0 client credentials (RFC 6749
//! §4.4: a token fetched from the provider's token endpoint, kept until it expires,
//! fetched again then or after a 401). Every credential is a secret: read when used,
//! never printed; a fetched token is never logged.

use std::fmt;
use std::time::{Duration, Instant};

use base64::Engine as _;
use boxoffice_core::Secret;
use boxoffice_core::registry::ConfigProblem;
use boxoffice_core::secret::SecretSource;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::http::{HttpError, body_error, request_error};
use crate::url::FeedUrl;

/// How an instance authenticates, e.g. `auth = { type = "bearer", token = { env =
/// "EVENTBRITE_TOKEN" } }`.
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Auth {
    /// `Authorization: Bearer <token>`; `token` is the bare token as the provider
    /// issues it (the `Bearer ` is added here).
    Bearer {
        /// The token: a string, `{ env = "NAME" }` or `{ file = "PATH" }`.
        token: SecretSource,
    },
    /// `Authorization: Basic …` of `username` and `password`.
    Basic {
        /// The user name (a secret too).
        username: SecretSource,
        /// The password.
        password: SecretSource,
    },
    /// OAuth 2.0 client credentials: a token from `token_url`, sent as a bearer token.
    Oauth2 {
        /// The provider's token endpoint.
        token_url: FeedUrl,
        /// The client id.
        client_id: SecretSource,
        /// The client secret.
        client_secret: SecretSource,
        /// The scope to ask for, when the provider wants one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
        /// How the client's credentials are sent: `basic` (an `Authorization` header,
        /// RFC 6749 §2.3.1) or `body` (`client_id` and `client_secret` in the form).
        #[serde(default)]
        credentials: ClientCredentials,
    },
}

/// Where OAuth 2.0 client credentials go in a token request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientCredentials {
    /// HTTP Basic, as RFC 6749 asks every server to accept.
    #[default]
    Basic,
    /// In the form body.
    Body,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Bearer { token } => f.debug_struct("Bearer").field("token", token).finish(),
            Auth::Basic { username, password } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", password)
                .finish(),
            Auth::Oauth2 {
                token_url,
                client_id,
                client_secret,
                ..
            } => f
                .debug_struct("Oauth2")
                .field("token_url", token_url)
                .field("client_id", client_id)
                .field("client_secret", client_secret)
                .finish_non_exhaustive(),
        }
    }
}

impl Auth {
    /// Problems reading the credentials now, each naming its key (`auth.token`).
    pub fn problems(&self) -> Vec<ConfigProblem> {
        let sources: Vec<(&str, &SecretSource)> = match self {
            Auth::Bearer { token } => vec![("token", token)],
            Auth::Basic { username, password } => vec![("username", username), ("password", password)],
            Auth::Oauth2 {
                client_id,
                client_secret,
                ..
            } => vec![("client_id", client_id), ("client_secret", client_secret)],
        };
        sources
            .into_iter()
            .filter_map(|(key, source)| {
                let reason = source.resolve().err()?;
                Some(ConfigProblem::new(format!("auth.{key}"), reason))
            })
            .collect()
    }
}

/// A token the token endpoint gave, and when to stop using it.
struct Token {
    value: Secret,
    renew_at: Option<Instant>,
}

/// The `Authorization` header of each request, with the OAuth 2.0 token kept between
/// requests (one fetch at a time).
pub(crate) struct Authorizer {
    auth: Option<Auth>,
    token: tokio::sync::Mutex<Option<Token>>,
}

/// An `Authorization` value and the secrets it was made of (to keep out of messages).
pub(crate) struct Authorization {
    pub value: HeaderValue,
    pub secrets: Vec<Secret>,
}

impl Authorizer {
    pub fn new(auth: Option<Auth>) -> Self {
        Self {
            auth,
            token: tokio::sync::Mutex::new(None),
        }
    }

    /// Whether a 401 may be answered by fetching a new token.
    pub fn renews(&self) -> bool {
        matches!(self.auth, Some(Auth::Oauth2 { .. }))
    }

    /// The header for the next request (for OAuth 2.0, a kept token, or a new one).
    pub async fn authorization(
        &self,
        client: &reqwest::Client,
        timeout: Duration,
    ) -> Result<Option<Authorization>, HttpError> {
        let Some(auth) = &self.auth else {
            return Ok(None);
        };
        let read = |key: &str, source: &SecretSource| {
            source
                .resolve()
                .map_err(|reason| HttpError::Refused(format!("auth.{key}: {reason}")))
        };
        let (value, secrets) = match auth {
            Auth::Bearer { token } => {
                let token = read("token", token)?;
                (format!("Bearer {}", token.expose()), vec![token])
            }
            Auth::Basic { username, password } => {
                let (username, password) = (read("username", username)?, read("password", password)?);
                let pair = format!("{}:{}", username.expose(), password.expose());
                let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
                (format!("Basic {encoded}"), vec![username, password])
            }
            Auth::Oauth2 { .. } => {
                let token = self.oauth2_token(auth, client, timeout).await?;
                (format!("Bearer {}", token.expose()), vec![token])
            }
        };
        let mut value = HeaderValue::from_str(&value).map_err(|_| {
            HttpError::Refused("auth: a credential is not a valid header value (control characters?)".into())
        })?;
        value.set_sensitive(true);
        Ok(Some(Authorization { value, secrets }))
    }

    /// Drops the kept token (the provider refused it).
    pub async fn forget(&self) {
        *self.token.lock().await = None;
    }

    async fn oauth2_token(
        &self,
        auth: &Auth,
        client: &reqwest::Client,
        timeout: Duration,
    ) -> Result<Secret, HttpError> {
        let mut kept = self.token.lock().await;
        if let Some(token) = kept.as_ref()
            && token.renew_at.is_none_or(|at| Instant::now() < at)
        {
            return Ok(token.value.clone());
        }
        let token = fetch_token(auth, client, timeout).await?;
        let value = token.value.clone();
        *kept = Some(token);
        Ok(value)
    }
}

/// What a token endpoint answers (RFC 6749 §5.1), the rest ignored.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<serde_json::Value>,
}

/// The error a token endpoint answers (RFC 6749 §5.2): its code only, which carries
/// no secret.
#[derive(Deserialize)]
struct TokenRefusal {
    error: Option<String>,
}

/// The longest token answer read.
const MAX_TOKEN_ANSWER_BYTES: usize = 64 * 1024;

async fn fetch_token(auth: &Auth, client: &reqwest::Client, timeout: Duration) -> Result<Token, HttpError> {
    let Auth::Oauth2 {
        token_url,
        client_id,
        client_secret,
        scope,
        credentials,
    } = auth
    else {
        return Err(HttpError::Refused("auth: not OAuth 2.0".into()));
    };
    let shown = token_url.to_string();
    let read = |key: &str, source: &SecretSource| {
        source
            .resolve()
            .map_err(|reason| HttpError::Refused(format!("auth.{key}: {reason}")))
    };
    let (id, secret) = (
        read("client_id", client_id)?,
        read("client_secret", client_secret)?,
    );
    let mut pairs: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
    if let Some(scope) = scope {
        pairs.push(("scope", scope));
    }
    let mut request = client
        .post(token_url.url().clone())
        .timeout(timeout)
        .header(reqwest::header::ACCEPT, "application/json")
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    match credentials {
        ClientCredentials::Body => {
            pairs.push(("client_id", id.expose()));
            pairs.push(("client_secret", secret.expose()));
        }
        ClientCredentials::Basic => {
            // RFC 6749 §2.3.1: each part form-encoded before the Basic encoding.
            let encode =
                |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
            let pair = format!("{}:{}", encode(id.expose()), encode(secret.expose()));
            let mut value = HeaderValue::from_str(&format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            ))
            .map_err(|_| {
                HttpError::Refused("auth: the client credentials are not valid in a header".into())
            })?;
            value.set_sensitive(true);
            request = request.header(AUTHORIZATION, value);
        }
    }
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let response = request
        .body(form)
        .send()
        .await
        .map_err(|error| request_error(error, &shown, timeout))?;
    let status = response.status();
    let bytes = read_bounded(response, MAX_TOKEN_ANSWER_BYTES, timeout).await?;
    if !status.is_success() {
        let code = serde_json::from_slice::<TokenRefusal>(&bytes)
            .ok()
            .and_then(|refusal| refusal.error)
            .filter(|code| code.len() <= 64 && code.bytes().all(|b| b.is_ascii_graphic()));
        return Err(HttpError::Refused(format!(
            "the token endpoint {shown} answered HTTP {status}{}",
            code.map(|code| format!(" ({code})")).unwrap_or_default()
        )));
    }
    let answer: TokenAnswer = serde_json::from_slice(&bytes).map_err(|_| {
        HttpError::Refused(format!("the token endpoint {shown} did not answer a JSON object"))
    })?;
    let Some(value) = answer.access_token.filter(|token| !token.is_empty()) else {
        return Err(HttpError::Refused(format!(
            "the token endpoint {shown} answered without an access_token"
        )));
    };
    if let Some(kind) = answer.token_type.as_deref()
        && !kind.eq_ignore_ascii_case("bearer")
    {
        return Err(HttpError::Refused(format!(
            "the token endpoint {shown} gave a {kind:?} token: only bearer tokens are sent"
        )));
    }
    let lifetime = match answer.expires_in {
        Some(serde_json::Value::Number(seconds)) => seconds.as_f64(),
        Some(serde_json::Value::String(seconds)) => seconds.trim().parse().ok(),
        _ => None,
    }
    .filter(|seconds| seconds.is_finite() && *seconds > 0.0)
    .map(|seconds| Duration::from_secs_f64(seconds.min(1e9)));
    // Renewed a little early (a tenth of its life, at most a minute), so that a
    // request never carries a token that expires on the way.
    let renew_at = lifetime.map(|life| Instant::now() + life - (life / 10).min(Duration::from_secs(60)));
    tracing::debug!(token_url = %shown, lifetime_s = lifetime.map(|l| l.as_secs()), "Fetched an OAuth 2.0 token.");
    Ok(Token {
        value: Secret::new(value),
        renew_at,
    })
}

/// At most `limit` bytes of a response's body.
pub(crate) async fn read_bounded(
    mut response: reqwest::Response,
    limit: usize,
    timeout: Duration,
) -> Result<Vec<u8>, HttpError> {
    let mut bytes = Vec::new();
    while bytes.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = limit - bytes.len();
                bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) => break,
            Err(error) => return Err(body_error(error, timeout)),
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_kind_is_spelled_with_its_type_and_never_printed() {
        let parse = |value| serde_json::from_value::<Auth>(value).map_err(|e| e.to_string());
        let bearer = parse(json!({"type": "bearer", "token": "s3cret"}));
        assert!(matches!(bearer, Ok(Auth::Bearer { .. })), "{bearer:?}");
        let oauth2 = parse(json!({
            "type": "oauth2",
            "token_url": "https://auth.example.com/oauth2/token",
            "client_id": {"env": "ID"},
            "client_secret": "s3cret",
            "scope": "events:read",
            "credentials": "body",
        }));
        assert!(
            matches!(
                &oauth2,
                Ok(Auth::Oauth2 {
                    credentials: ClientCredentials::Body,
                    ..
                })
            ),
            "{oauth2:?}"
        );
        let printed = format!("{bearer:?} {oauth2:?}");
        assert!(!printed.contains("s3cret"), "{printed}");
        let serialized = serde_json::to_string(&oauth2.ok()).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            serialized.contains("token_url") && !serialized.contains("s3cret"),
            "{serialized}"
        );
        let unknown = parse(json!({"type": "digest", "token": "x"}))
            .err()
            .unwrap_or_default();
        assert!(
            unknown.contains("digest") && unknown.contains("bearer"),
            "{unknown}"
        );
        let extra = parse(json!({"type": "bearer", "token": "x", "prefix": "Token"}))
            .err()
            .unwrap_or_default();
        assert!(extra.contains("prefix"), "{extra}");
    }

    #[tokio::test]
    async fn bearer_and_basic_are_built_from_the_secrets_read_now() -> Result<(), String> {
        let client = reqwest::Client::new();
        let header = |auth: Auth| {
            let client = client.clone();
            async move {
                Authorizer::new(Some(auth))
                    .authorization(&client, Duration::from_secs(1))
                    .await
                    .map_err(|e| e.to_string())
                    .map(|found| {
                        found.map(|a| {
                            (
                                a.value.to_str().unwrap_or_default().to_owned(),
                                a.value.is_sensitive(),
                            )
                        })
                    })
            }
        };
        let bearer = header(Auth::Bearer {
            token: SecretSource::Value(Secret::new("abc")),
        })
        .await?;
        assert_eq!(bearer, Some(("Bearer abc".into(), true)));
        let basic = header(Auth::Basic {
            username: SecretSource::Value(Secret::new("user")),
            password: SecretSource::Value(Secret::new("pass")),
        })
        .await?;
        assert_eq!(basic, Some(("Basic dXNlcjpwYXNz".into(), true)));
        let missing = header(Auth::Bearer {
            token: SecretSource::Env("BOXOFFICE_KIT_TEST_SURELY_UNSET".into()),
        })
        .await
        .err()
        .unwrap_or_default();
        assert!(
            missing.contains("auth.token") && missing.contains("not set"),
            "{missing}"
        );
        Ok(())
    }
}
