//! What a /search request asks for: the parsed query, its normalized key and the
//! paging cursor.

use boxoffice_core::{SearchWindow, WindowBounds};
use uuid::Uuid;

/// Where a page ends: the (start, id) of its last item. Opaque to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub(super) starts_at: i64,
    pub(super) id: Uuid,
}

impl Cursor {
    /// The cursor as sent to clients: 48 hex digits.
    pub fn encode(&self) -> String {
        let mut bytes = [0_u8; 24];
        bytes[..8].copy_from_slice(&self.starts_at.to_be_bytes());
        bytes[8..].copy_from_slice(self.id.as_bytes());
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Reads a cursor this server issued; `None` for anything else.
    pub fn decode(text: &str) -> Option<Self> {
        if text.len() != 48 || !text.is_ascii() {
            return None;
        }
        let mut bytes = [0_u8; 24];
        for (index, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[index * 2..index * 2 + 2], 16).ok()?;
        }
        let mut starts_at = [0_u8; 8];
        starts_at.copy_from_slice(&bytes[..8]);
        Some(Self {
            starts_at: i64::from_be_bytes(starts_at),
            id: Uuid::from_slice(&bytes[8..]).ok()?,
        })
    }
}

/// A /search request: the contract's window plus the optional extensions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    /// The contract's `starts_at`/`ends_at`.
    pub window: SearchWindow,
    /// Only items of this provider instance.
    pub provider: Option<String>,
    /// At most this many items, with a `next_cursor` when more follow.
    pub limit: Option<usize>,
    /// Continue after this cursor.
    pub cursor: Option<Cursor>,
}

/// Everything the response depends on, and nothing else: the window in whole seconds
/// (items are compared in whole seconds), the provider, the limit and the cursor.
/// Two query strings with one key get the same bytes, so they share a cache entry and
/// an `ETag`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SearchKey {
    /// The window on whole seconds (its meaning is core's).
    pub(super) window: WindowBounds,
    pub(super) provider: Option<Box<str>>,
    pub(super) limit: Option<usize>,
    pub(super) cursor: Option<Cursor>,
}

impl SearchKey {
    /// The key of `query`.
    pub fn of(query: &SearchQuery) -> Self {
        Self {
            window: query.window.bounds(),
            provider: query.provider.as_deref().map(Box::from),
            limit: query.limit,
            cursor: query.cursor,
        }
    }

    /// A text that names the key unambiguously (the provider is quoted and escaped):
    /// what the `ETag` is a hash of.
    pub fn canonical(&self) -> String {
        format!(
            "from={:?};to={:?};provider={:?};limit={:?};cursor={:?}",
            self.window.from,
            self.window.to,
            self.provider,
            self.limit,
            self.cursor.map(|c| (c.starts_at, c.id.as_u128()))
        )
    }

    /// What the key holds on the heap, for the cache's byte budget.
    pub(super) fn heap_bytes(&self) -> usize {
        self.provider.as_ref().map_or(0, |p| p.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = Cursor {
            starts_at: -5,
            id: Uuid::from_u128(42),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("nope"), None);
        assert_eq!(Cursor::decode(&"zz".repeat(24)), None);
    }

    #[test]
    fn keys_keep_whole_seconds_and_tell_every_part_apart() {
        let at = |ms| Utc.timestamp_millis_opt(ms).single();
        let query = |from, provider: Option<&str>, limit| SearchQuery {
            window: SearchWindow {
                starts_at: at(from),
                ends_at: None,
            },
            provider: provider.map(str::to_owned),
            limit,
            cursor: None,
        };
        // Items start on whole seconds: a bound of 1.5 s selects what 2 s does (the
        // window's meaning is core's: a fractional start rounds up), not what 1 s does.
        assert_eq!(
            SearchKey::of(&query(1_500, None, None)),
            SearchKey::of(&query(2_000, None, None))
        );
        assert_ne!(
            SearchKey::of(&query(1_000, None, None)),
            SearchKey::of(&query(1_500, None, None))
        );
        let keys = [
            SearchKey::of(&query(1_000, None, None)),
            SearchKey::of(&query(2_000, None, None)),
            SearchKey::of(&query(1_000, Some("a"), None)),
            SearchKey::of(&query(1_000, Some("a;limit=Some(1)"), None)),
            SearchKey::of(&query(1_000, Some("a"), Some(1))),
            SearchKey::default(),
        ];
        let texts: std::collections::HashSet<String> = keys.iter().map(SearchKey::canonical).collect();
        assert_eq!(texts.len(), keys.len());
    }
}
