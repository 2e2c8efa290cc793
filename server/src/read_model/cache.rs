//! Whole /search responses, rendered once per (query, snapshot) and handed out as
//! shared [`Bytes`], with gzip and brotli variants compressed once, on first demand.
//!
//! Each snapshot owns its cache: a response can never outlive the data it was made
//! from, because a new snapshot (a commit) starts with an empty cache and the old one
//! is dropped with the old snapshot. The cache is bounded by bytes (bodies, their
//! compressed variants, keys and bookkeeping); when full, it evicts with the CLOCK
//! policy (an entry read since the hand last passed gets a second chance).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::http::HeaderValue;
use bytes::Bytes;
use tokio::sync::OnceCell;

use super::encoding::{Encoding, compress};
use super::query::SearchKey;

/// What an entry costs beyond its bodies and key: the map's and ring's slots, the
/// entry itself, its tags.
const ENTRY_OVERHEAD: usize = 320;

/// An entry larger than this share of the budget is not kept: one huge response
/// must not push out every other.
const MAX_ENTRY_SHARE: usize = 4;

/// Compressions the process runs at once, over every snapshot: half its cores (at
/// least two). Past that, a request gets the plain body rather than waiting: a stream
/// of distinct queries cannot queue compression work (each costs several times its
/// rendering) faster than the cores do it, nor take the cores from /search.
static COMPRESSING: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    tokio::sync::Semaphore::new((cores / 2).max(2))
});

/// A strong validator of a /search representation: the snapshot's version, a hash
/// of the normalized query, and the coding.
pub fn etag(version: i64, query: &str) -> String {
    let hash = query.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("\"{version:x}-{hash:016x}\"")
}

/// The three tags of one (query, version), one per coding.
pub fn etags(version: i64, key: &SearchKey) -> [String; 3] {
    let base = etag(version, &key.canonical());
    let stem = base.trim_end_matches('"');
    [Encoding::Identity, Encoding::Gzip, Encoding::Brotli]
        .map(|encoding| format!("{stem}{}\"", encoding.tag_suffix()))
}

/// One representation: its body and its tag.
pub struct Variant {
    /// The body, shared.
    pub body: Bytes,
    /// Its `ETag`.
    pub etag: HeaderValue,
    /// How it is coded.
    pub encoding: Encoding,
}

/// One (query, snapshot)'s response, in up to three codings.
pub struct Rendered {
    identity: Variant,
    tags: [HeaderValue; 3],
    gzip: OnceCell<Option<Variant>>,
    brotli: OnceCell<Option<Variant>>,
    /// Whether the cache keeps it (only kept responses are compressed).
    cached: bool,
    /// Bytes the cache counts for it; changed under the cache's lock only.
    charged: AtomicUsize,
    /// Read since the CLOCK hand last passed.
    referenced: AtomicBool,
    /// No longer kept; set under the cache's lock.
    evicted: AtomicBool,
}

impl Rendered {
    /// The response `body` of `key` in the snapshot of `version`.
    pub fn new(version: i64, key: &SearchKey, body: Bytes) -> Self {
        let tags = etags(version, key)
            .map(|tag| HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"\"")));
        Self {
            identity: Variant {
                body,
                etag: tags[0].clone(),
                encoding: Encoding::Identity,
            },
            tags,
            gzip: OnceCell::new(),
            brotli: OnceCell::new(),
            cached: false,
            charged: AtomicUsize::new(0),
            referenced: AtomicBool::new(false),
            evicted: AtomicBool::new(false),
        }
    }

    /// The coding served to a client that prefers `preferred`: identity for a
    /// response too large to keep (it is made afresh for each request, and compressing
    /// it each time would cost more than sending it).
    pub fn coding_for(&self, preferred: Encoding) -> Encoding {
        if self.cached {
            preferred
        } else {
            Encoding::Identity
        }
    }

    /// Whether the cache keeps it.
    pub fn is_kept(&self) -> bool {
        self.cached
    }

    /// The tag of the `encoding` representation.
    pub fn etag(&self, encoding: Encoding) -> &HeaderValue {
        &self.tags[encoding.index()]
    }

    /// The identity representation.
    pub fn identity(&self) -> &Variant {
        &self.identity
    }

    /// The `encoding` representation, compressed on first demand (off the async
    /// workers; concurrent requests wait for the one compression). Identity when
    /// compressing fails or does not make it smaller, and when the snapshot already
    /// runs as many compressions as it may ([`COMPRESSING`]).
    pub async fn variant(&self, encoding: Encoding, cache: &ResponseCache) -> &Variant {
        let cell = match encoding {
            Encoding::Identity => return &self.identity,
            Encoding::Gzip => &self.gzip,
            Encoding::Brotli => &self.brotli,
        };
        if let Some(done) = cell.get() {
            return done.as_ref().unwrap_or(&self.identity);
        }
        let Ok(_compressing) = cache.compressing.try_acquire() else {
            return &self.identity;
        };
        let compressed = cell
            .get_or_init(|| async {
                let body = self.identity.body.clone();
                let original = body.len();
                let compressed = tokio::task::spawn_blocking(move || compress(encoding, &body))
                    .await
                    .ok()
                    .flatten()
                    .filter(|compressed| compressed.len() < original)?;
                cache.charge(self, compressed.len());
                Some(Variant {
                    body: crate::pages::into_pages(compressed),
                    etag: self.tags[encoding.index()].clone(),
                    encoding,
                })
            })
            .await;
        compressed.as_ref().unwrap_or(&self.identity)
    }

    fn base_cost(&self, key: &SearchKey) -> usize {
        ENTRY_OVERHEAD + key.heap_bytes() + self.identity.body.len()
    }
}

struct State {
    map: HashMap<SearchKey, Arc<Rendered>>,
    /// Keys in the order the CLOCK hand visits them.
    ring: VecDeque<SearchKey>,
    bytes: usize,
    /// Query strings already parsed, and the key each one parsed to: a repeated
    /// query string skips parsing. Bounded apart from the responses (see
    /// [`MAX_ALIAS_BYTES`]); cleared whole when full.
    aliases: HashMap<Box<str>, SearchKey>,
    alias_bytes: usize,
}

/// Bytes of query strings remembered per snapshot (with their keys' overhead).
const MAX_ALIAS_BYTES: usize = 1 << 20;

/// What one remembered query string costs beyond its text.
const ALIAS_OVERHEAD: usize = 96;

/// A snapshot's cache of rendered responses, bounded by bytes.
pub struct ResponseCache {
    budget: usize,
    state: Mutex<State>,
    compressing: &'static tokio::sync::Semaphore,
}

impl ResponseCache {
    /// A cache of at most `budget` bytes; 0 keeps nothing (and compresses nothing).
    pub fn new(budget: usize) -> Self {
        Self::compressing_with(budget, &COMPRESSING)
    }

    fn compressing_with(budget: usize, compressing: &'static tokio::sync::Semaphore) -> Self {
        Self {
            budget,
            state: Mutex::new(State {
                map: HashMap::new(),
                ring: VecDeque::new(),
                bytes: 0,
                aliases: HashMap::new(),
                alias_bytes: 0,
            }),
            compressing,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The kept response of `key`, if any.
    pub fn get(&self, key: &SearchKey) -> Option<Arc<Rendered>> {
        if self.budget == 0 {
            return None;
        }
        let state = self.lock();
        let entry = state.map.get(key)?;
        entry.referenced.store(true, Ordering::Relaxed);
        Some(Arc::clone(entry))
    }

    /// The kept response of a query string seen before, without parsing it again.
    pub fn get_by_query_string(&self, query: &str) -> Option<Arc<Rendered>> {
        if self.budget == 0 {
            return None;
        }
        let state = self.lock();
        let entry = state.map.get(state.aliases.get(query)?)?;
        entry.referenced.store(true, Ordering::Relaxed);
        Some(Arc::clone(entry))
    }

    /// Remembers that `query` parses to `key` (for a response that is kept).
    pub fn remember_query_string(&self, query: &str, key: &SearchKey) {
        if self.budget == 0 {
            return;
        }
        let cost = ALIAS_OVERHEAD + query.len() + key.heap_bytes();
        let mut state = self.lock();
        if state.aliases.contains_key(query) {
            return;
        }
        if state.alias_bytes + cost > MAX_ALIAS_BYTES {
            state.aliases.clear();
            state.alias_bytes = 0;
        }
        state.aliases.insert(Box::from(query), key.clone());
        state.alias_bytes += cost;
    }

    /// Keeps `rendered` as the response of `key` when it fits, and returns the kept
    /// response (another request may have kept one first: the same bytes).
    pub fn insert(&self, key: SearchKey, mut rendered: Rendered) -> Arc<Rendered> {
        let cost = rendered.base_cost(&key);
        if self.budget == 0 || cost > self.budget / MAX_ENTRY_SHARE {
            return Arc::new(rendered);
        }
        rendered.cached = true;
        rendered.charged = AtomicUsize::new(cost);
        // Kept and sent again and again: sent from pages, without a copy per request.
        rendered.identity.body = crate::pages::into_pages(std::mem::take(&mut rendered.identity.body));
        let mut state = self.lock();
        if let Some(existing) = state.map.get(&key) {
            return Arc::clone(existing);
        }
        let rendered = Arc::new(rendered);
        state.ring.push_back(key.clone());
        state.map.insert(key, Arc::clone(&rendered));
        state.bytes += cost;
        self.evict(&mut state);
        rendered
    }

    /// Counts `bytes` more for `entry` (a compressed variant), if it is still kept.
    fn charge(&self, entry: &Rendered, bytes: usize) {
        let mut state = self.lock();
        if entry.cached && !entry.evicted.load(Ordering::Relaxed) {
            entry.charged.fetch_add(bytes, Ordering::Relaxed);
            state.bytes += bytes;
            self.evict(&mut state);
        }
    }

    fn evict(&self, state: &mut State) {
        // Each key is visited at most twice: once to clear its mark, once to go.
        let mut visits = state.ring.len() * 2;
        while state.bytes > self.budget && visits > 0 {
            visits -= 1;
            let Some(key) = state.ring.pop_front() else { break };
            let Some(entry) = state.map.get(&key) else {
                continue;
            };
            if entry.referenced.swap(false, Ordering::Relaxed) {
                state.ring.push_back(key);
                continue;
            }
            if let Some(entry) = state.map.remove(&key) {
                entry.evicted.store(true, Ordering::Relaxed);
                state.bytes = state.bytes.saturating_sub(entry.charged.load(Ordering::Relaxed));
            }
        }
    }

    /// Bytes counted now.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Responses kept now.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    fn key(n: i64) -> SearchKey {
        SearchKey {
            window: boxoffice_core::WindowBounds {
                from: Some(n),
                to: None,
            },
            ..SearchKey::default()
        }
    }

    /// Compressions at once in a test's own cache: other tests cannot take them.
    const AT_ONCE: usize = 2;

    fn own(budget: usize) -> ResponseCache {
        ResponseCache::compressing_with(budget, Box::leak(Box::new(tokio::sync::Semaphore::new(AT_ONCE))))
    }

    fn body(len: usize) -> Bytes {
        Bytes::from(
            (0..len)
                .map(|i| b"{\"title\":\"x\"},"[i % 14])
                .collect::<Vec<u8>>(),
        )
    }

    #[test]
    fn tags_differ_per_coding_version_and_query() {
        let [plain, gz, br] = etags(3, &key(1));
        assert!(plain.starts_with('"') && plain.ends_with('"'));
        assert!(gz.ends_with("-gz\"") && br.ends_with("-br\""));
        assert_eq!(gz.trim_end_matches("-gz\""), plain.trim_end_matches('"'));
        assert_ne!(etags(4, &key(1))[0], plain);
        assert_ne!(etags(3, &key(2))[0], plain);
        assert_eq!(etags(3, &key(1))[1], gz);
    }

    #[tokio::test]
    async fn compressed_variants_decode_to_the_body_and_carry_their_tags() {
        let cache = own(1 << 20);
        let entry = cache.insert(key(1), Rendered::new(1, &key(1), body(20_000)));
        let gzip = entry.variant(Encoding::Gzip, &cache).await;
        assert_eq!(gzip.encoding, Encoding::Gzip);
        assert!(gzip.body.len() < 20_000);
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(&gzip.body[..])
            .read_to_end(&mut decoded)
            .unwrap_or_default();
        assert_eq!(decoded, body(20_000));
        assert!(gzip.etag.to_str().unwrap_or_default().ends_with("-gz\""));
        let br = entry.variant(Encoding::Brotli, &cache).await;
        let mut decoded = Vec::new();
        brotli::Decompressor::new(&br.body[..], 4096)
            .read_to_end(&mut decoded)
            .unwrap_or_default();
        assert_eq!(decoded, body(20_000));
        assert!(br.etag.to_str().unwrap_or_default().ends_with("-br\""));
        // The same compressed bytes each time, and counted in the budget.
        let again = entry.variant(Encoding::Gzip, &cache).await;
        assert_eq!(again.body.as_ptr(), gzip.body.as_ptr());
        assert!(cache.bytes() > 20_000 + gzip.body.len());
    }

    #[tokio::test]
    async fn a_body_compression_cannot_shrink_is_served_as_is() {
        let cache = own(1 << 20);
        let entry = cache.insert(key(1), Rendered::new(1, &key(1), Bytes::from_static(b"{}")));
        let served = entry.variant(Encoding::Gzip, &cache).await;
        assert_eq!(served.encoding, Encoding::Identity);
        assert_eq!(&served.body[..], b"{}");
    }

    #[tokio::test]
    async fn past_the_compressions_at_once_the_plain_body_is_served_without_waiting() {
        let cache = own(1 << 20);
        let entry = cache.insert(key(1), Rendered::new(1, &key(1), body(20_000)));
        let busy = cache.compressing.try_acquire_many(AT_ONCE as u32);
        assert!(busy.is_ok());
        let served = entry.variant(Encoding::Gzip, &cache).await;
        assert_eq!(served.encoding, Encoding::Identity);
        assert_eq!(served.body, body(20_000));
        drop(busy);
        // Once a permit is free, the compression runs, and is kept.
        assert_eq!(
            entry.variant(Encoding::Gzip, &cache).await.encoding,
            Encoding::Gzip
        );
        let _busy = cache.compressing.try_acquire_many(AT_ONCE as u32);
        assert_eq!(
            entry.variant(Encoding::Gzip, &cache).await.encoding,
            Encoding::Gzip
        );
    }

    #[test]
    fn the_cache_stays_within_its_budget_and_keeps_what_is_read() {
        let cache = own(64 * 1024);
        let hot = cache.insert(key(0), Rendered::new(1, &key(0), body(4_000)));
        for n in 1..100 {
            assert!(
                cache.get(&key(0)).is_some(),
                "the entry read each time was evicted at {n}"
            );
            cache.insert(key(n), Rendered::new(1, &key(n), body(4_000)));
            assert!(cache.bytes() <= 64 * 1024, "{} bytes", cache.bytes());
        }
        assert!(cache.len() < 100 && cache.len() > 5, "{}", cache.len());
        assert!(Arc::ptr_eq(
            &cache.get(&key(0)).unwrap_or_else(|| Arc::clone(&hot)),
            &hot
        ));
    }

    #[test]
    fn large_bodies_and_a_zero_budget_keep_nothing() {
        let cache = own(64 * 1024);
        let large = cache.insert(key(1), Rendered::new(1, &key(1), body(20_000)));
        assert!(cache.get(&key(1)).is_none());
        assert_eq!(large.coding_for(Encoding::Gzip), Encoding::Identity);
        let off = own(0);
        let entry = off.insert(key(1), Rendered::new(1, &key(1), body(10)));
        assert!(off.get(&key(1)).is_none() && off.is_empty());
        assert_eq!(entry.coding_for(Encoding::Brotli), Encoding::Identity);
    }

    #[test]
    fn a_query_string_seen_before_finds_its_response_until_it_is_evicted() {
        let cache = own(64 * 1024);
        assert!(cache.get_by_query_string("from=0").is_none());
        let kept = cache.insert(key(0), Rendered::new(1, &key(0), body(4_000)));
        cache.remember_query_string("from=0", &key(0));
        cache.remember_query_string("from=0&x=1", &key(0));
        for query in ["from=0", "from=0&x=1"] {
            let found = cache.get_by_query_string(query);
            assert!(found.is_some_and(|found| Arc::ptr_eq(&found, &kept)), "{query}");
        }
        // Push it out with entries nobody reads again.
        for n in 1..100 {
            cache.insert(key(n), Rendered::new(1, &key(n), body(4_000)));
        }
        assert!(cache.get(&key(0)).is_none());
        assert!(cache.get_by_query_string("from=0").is_none());
    }

    #[test]
    fn remembered_query_strings_are_bounded() {
        let cache = own(1 << 20);
        let long = "x".repeat(2000);
        for n in 0..2000 {
            cache.remember_query_string(&format!("{long}{n}"), &key(n));
            assert!(cache.lock().alias_bytes <= MAX_ALIAS_BYTES);
        }
        assert!(cache.lock().aliases.len() < 2000);
    }

    #[test]
    fn a_second_insert_of_one_key_returns_the_first() {
        let cache = own(1 << 20);
        let first = cache.insert(key(1), Rendered::new(1, &key(1), body(100)));
        let second = cache.insert(key(1), Rendered::new(1, &key(1), body(100)));
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(cache.len(), 1);
    }
}
