//! The sections of the configuration, each with its defaults and a doc comment on
//! every field (user documentation).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize};

use super::Secret;

/// `[server]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on, e.g. `127.0.0.1:8000` or `0.0.0.0:8000`.
    pub addr: SocketAddr,
    /// Longest time a request may take before it is answered 503.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// How long clients and caches may reuse a /search response (`Cache-Control:
    /// max-age`); revalidation with `If-None-Match` is always cheap.
    #[serde(with = "humantime_serde")]
    pub search_max_age: Duration,
    /// Bytes of whole /search responses kept per read-model snapshot (with their gzip
    /// and brotli variants, compressed once), so that a repeated query is not rendered
    /// or compressed again; 0 keeps none and serves /search uncompressed. A commit
    /// starts a new snapshot with an empty cache. Default 64 MiB.
    pub search_cache_bytes: usize,
    /// Bytes of /search responses rendered for one request and not kept in the cache
    /// (larger than a quarter of `search_cache_bytes`) that may be in flight at once;
    /// past it, such requests wait (up to `request_timeout`). One response larger than
    /// this takes all of it. Default 256 MiB.
    pub search_inflight_bytes: usize,
    /// Where the read model is kept across restarts (written after a full read and
    /// at shutdown, read at start-up when it is of the same database); empty: nowhere,
    /// every start reads every item from the store. Default empty.
    pub snapshot_file: Option<std::path::PathBuf>,
    /// Longest query string accepted (longer: 414 in the error envelope).
    pub max_query_bytes: usize,
    /// Per-client rate limit of every route.
    pub rate_limit: RateLimitConfig,
    /// A connection whose request headers are not complete this long after it opened
    /// (or after the first byte of a later request arrived) is closed: slow or stalled
    /// clients cannot hold connections open.
    #[serde(with = "humantime_serde")]
    pub header_timeout: Duration,
    /// A kept-alive connection that stays idle (no request under way) this long is
    /// closed.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// A response whose write goes this long without the client accepting a byte is
    /// abandoned and its connection closed. A slow reader keeps its connection for as
    /// long as its answer takes; only a stalled one loses it.
    #[serde(with = "humantime_serde")]
    pub write_stall_timeout: Duration,
    /// On SIGTERM or SIGINT, how long in-flight requests may take to finish; whatever
    /// is still open then is closed and the process exits (status 0). Running syncs
    /// are cancelled at once, whatever this says.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// Most connections held at once; past it, new ones wait in the listen backlog
    /// until one closes.
    pub max_connections: usize,
    /// Most connections one client address (an IPv6 /64) holds at once; further ones
    /// are closed on accept. Trusted proxies are exempt.
    pub max_connections_per_client: usize,
    /// Bytes of request heads received and not yet complete, over every connection
    /// (each holds at most 64 KiB); a connection whose head would pass it is closed.
    pub max_pending_head_bytes: usize,
    /// Connections the kernel queues before they are accepted.
    pub listen_backlog: u32,
    /// Proxies (CIDR blocks, e.g. `10.0.0.0/8`, or single addresses) whose
    /// `X-Forwarded-For` is believed: a request from one of them is attributed to the
    /// right-most address of that header that is not itself a trusted proxy. Empty
    /// (the default): the socket's peer is the client.
    #[serde(deserialize_with = "networks")]
    pub trusted_proxies: Vec<IpNet>,
    /// Cross-origin requests from browsers to the public read routes.
    pub cors: CorsConfig,
}

/// `[server.cors]`: which web pages, served from other origins, may read `/search`,
/// `/events/{id}`, `/openapi.json`, `/health` and `/ready` from a browser. The admin
/// API never answers cross-origin requests.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsConfig {
    /// Origins (`https://shop.example.com`, scheme and host, and a port when it is not
    /// the scheme's default) whose pages may read those routes; `["*"]`: any origin,
    /// never with credentials (cookies, HTTP authentication). Empty (the default): no
    /// CORS headers at all, so browsers let only same-origin pages read the answers.
    pub allowed_origins: Vec<String>,
}

impl CorsConfig {
    /// The one origin value meaning "any origin".
    pub const ANY: &str = "*";

    /// Whether any origin is allowed (`["*"]`).
    pub fn allows_any(&self) -> bool {
        self.allowed_origins.iter().any(|origin| origin == Self::ANY)
    }

    /// What is wrong with the list, if anything: every bad entry, at once.
    pub(super) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.allows_any() && self.allowed_origins.len() > 1 {
            problems.push("\"*\" (any origin) cannot be combined with other origins".to_owned());
        }
        for origin in &self.allowed_origins {
            if origin != Self::ANY
                && let Err(why) = check_origin(origin)
            {
                problems.push(format!("{origin:?} {why}"));
            }
        }
        problems
    }
}

/// An origin as browsers send it in `Origin`: `scheme://host[:port]`, lower case,
/// without the scheme's default port, path, query or credentials. Anything else could
/// never equal a browser's `Origin` header, so it would silently allow nothing.
fn check_origin(origin: &str) -> Result<(), String> {
    let parsed = url::Url::parse(origin)
        .map_err(|error| format!("is not an origin such as https://shop.example.com ({error})"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("must be an http:// or https:// origin".into());
    }
    let canonical = parsed.origin().ascii_serialization();
    if canonical != origin {
        return Err(format!(
            "is not an origin as browsers send it: scheme://host[:port], with no path, \
             query, credentials or default port (did you mean {canonical:?}?)"
        ));
    }
    Ok(())
}

/// CIDR blocks, or single addresses (a `/32` or `/128` block).
fn networks<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<IpNet>, D::Error> {
    Vec::<String>::deserialize(deserializer)?
        .iter()
        .map(|text| {
            let text = text.trim();
            text.parse::<IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "{text:?} is neither a CIDR block (10.0.0.0/8) nor an IP address"
                    ))
                })
        })
        .collect()
}

/// `[server.rate_limit]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Off by default: a marketplace's own front end is usually the only client.
    pub enabled: bool,
    /// Requests a second each client address may make on average.
    pub per_second: f64,
    /// Requests a client may make at once.
    pub burst: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            per_second: 50.0,
            burst: 100,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8000)),
            request_timeout: Duration::from_secs(10),
            search_max_age: Duration::from_secs(1),
            search_cache_bytes: 64 * 1024 * 1024,
            search_inflight_bytes: 256 * 1024 * 1024,
            snapshot_file: None,
            max_query_bytes: 2048,
            rate_limit: RateLimitConfig::default(),
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            write_stall_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            max_connections_per_client: 256,
            max_pending_head_bytes: 64 * 1024 * 1024,
            listen_backlog: 1024,
            trusted_proxies: Vec::new(),
            cors: CorsConfig::default(),
        }
    }
}

/// `[database]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH?mode=rwc` (the file is created) or `postgres://USER@HOST:PORT/DB`.
    pub url: String,
    /// Connections in the pool.
    pub max_connections: u32,
    /// How often each process checks whether another one committed a sync, so that
    /// every instance serves it within this delay.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://./data/boxoffice.db?mode=rwc".into(),
            max_connections: 8,
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// `[admin]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Bearer token of the admin API. Unset: the admin API refuses everyone.
    pub token: Option<Secret>,
    /// A file holding the token (its surrounding white space is ignored); wins over `token`.
    pub token_file: Option<PathBuf>,
    /// Failed admin authentications a client may make within `failure_window`; past
    /// that, its admin requests answer 429 until the window has passed. Applies even
    /// when `server.rate_limit` is off.
    pub max_failures: u32,
    /// The window over which failed admin authentications are counted.
    #[serde(with = "humantime_serde")]
    pub failure_window: Duration,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            token: None,
            token_file: None,
            max_failures: 10,
            failure_window: Duration::from_secs(60),
        }
    }
}

/// `[log]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` for people, `json` for log pipelines.
    pub format: LogFormat,
    /// A `tracing` filter, e.g. `info` or `info,boxoffice_core=debug`; `RUST_LOG` wins.
    pub level: String,
    /// One line per HTTP request (target `boxoffice::access`, level `info`): method,
    /// route pattern (never the raw path), status, duration, request id.
    pub access: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
            access: true,
        }
    }
}

/// `[telemetry]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// Where to export traces over OTLP/HTTP (protobuf), e.g. `http://127.0.0.1:4318`
    /// (an OpenTelemetry Collector or an agent); `/v1/traces` is appended unless the
    /// path already ends with it. Unset (the default): no tracing pipeline at all.
    pub otlp_endpoint: Option<url::Url>,
    /// `service.name` of the exported traces.
    pub service_name: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            service_name: "boxoffice".into(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `[sync]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncConfig {
    /// Records written per statement batch; bounds a sync's memory.
    pub batch_size: usize,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self { batch_size: 500 }
    }
}

/// `[archive]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArchiveConfig {
    /// Keep every fetched document, gzip-compressed by hash, for `boxoffice replay`.
    pub enabled: bool,
    /// Where (one folder per provider instance).
    pub dir: PathBuf,
    /// How long a payload is kept after its latest fetch.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
}

impl Default for ArchiveConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            dir: PathBuf::from("./data/archive"),
            retention: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// `[retention]`: how much run history is kept, applied after each run. Items are
/// never deleted by it (only `boxoffice retire` does that).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// The latest runs kept per instance (their reports); older ones are deleted.
    pub runs: u64,
    /// How long quarantined records are kept.
    #[serde(with = "humantime_serde")]
    pub rejects: Duration,
    /// The most quarantined records kept per instance (one per distinct rejection);
    /// past it, those seen longest ago are deleted.
    pub max_rejects: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        let retention = boxoffice_core::store::Retention::default();
        Self {
            runs: retention.runs,
            rejects: retention.rejects,
            max_rejects: retention.max_rejects,
        }
    }
}

impl RetentionConfig {
    /// As the engine applies it.
    pub fn policy(&self) -> boxoffice_core::store::Retention {
        boxoffice_core::store::Retention {
            runs: self.runs,
            rejects: self.rejects,
            max_rejects: self.max_rejects,
        }
    }
}
