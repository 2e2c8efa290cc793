//! A deterministic generator of a JSON feed, for tests and benchmarks: the Fever feed
//! generator's sessions and zones (same shape and seed, same pseudo-random sequence in
//! the same order), as JSON, always the same bytes.
//!
//! One record per session, its event's values repeated in it:
//!
//! ```json
//! {"shows": [
//!   {"show_id": 10000, "session_id": 100000, "name": "Teatro #10000 & amigos",
//!    "status": "onsale", "starts": "2022-03-14T20:15:00", "ends": "2022-03-14T21:45:00",
//!    "sold_out": false,
//!    "tickets": [{"tier_id": 1, "tier": "Platea 0", "price_cents": 1999, "left": 120}]}
//! ], "next": null}
//! ```
//!
//! `tests/fixtures/generated-feed.toml` is the instance configuration that reads it.
//! What the Fever feed has and the `json` kind does not map (organizer, sale window,
//! numbered seats) is left out.

use std::io::{self, Write};

pub use boxoffice_kit::generate::FeedShape;
use boxoffice_kit::generate::{Rng, TITLES, ZONE_NAMES};

/// Writes a feed of `shape` to `out`: start dates over 2021-2023, one event in ten
/// offline (`"status": "offline"`), capacities and prices varying by zone, as the
/// Fever generator does.
pub fn write_feed(mut out: impl Write, shape: &FeedShape) -> io::Result<()> {
    let mut rng = Rng(shape.seed);
    out.write_all(b"{\"shows\": [\n")?;
    let mut first = true;
    for base in 0..shape.base_events {
        let base_id = 10_000 + base;
        // Drawn in the Fever generator's order: sell mode, title, organizer.
        let status = if rng.below(10) == 0 { "offline" } else { "onsale" };
        let title = TITLES[rng.below(TITLES.len() as u64) as usize];
        let _organizer = 1 + rng.below(50);
        for session in 0..shape.events_per_base {
            let start = rng.below(3 * 365 * 24 * 4) * 15;
            let length = 60 + rng.below(8) * 15;
            let (start, end) = (wall_clock(start), wall_clock(start + length));
            let sold_out = rng.below(20) == 0;
            if !first {
                out.write_all(b",\n")?;
            }
            first = false;
            write!(
                out,
                "  {{\"show_id\": {base_id}, \"session_id\": {}, \"name\": \"{title} #{base_id} & amigos\", \
                 \"status\": \"{status}\", \"starts\": \"{start}\", \"ends\": \"{end}\", \"sold_out\": {sold_out}, \
                 \"tickets\": [",
                base_id * 10 + session
            )?;
            for zone in 0..shape.zones {
                let capacity = if rng.below(8) == 0 { 0 } else { rng.below(500) };
                let cents = 500 + rng.below(19_500);
                if zone > 0 {
                    out.write_all(b", ")?;
                }
                write!(
                    out,
                    "{{\"tier_id\": {}, \"tier\": \"{} {zone}\", \"price_cents\": {cents}, \"left\": {capacity}}}",
                    zone + 1,
                    ZONE_NAMES[zone % ZONE_NAMES.len()],
                )?;
            }
            out.write_all(b"]}")?;
        }
    }
    out.write_all(b"\n], \"next\": null}\n")?;
    out.flush()
}

/// `YYYY-MM-DDTHH:MM:SS` of `minutes` after 2021-01-01T00:00.
fn wall_clock(minutes: u64) -> String {
    let base = chrono::NaiveDate::from_ymd_opt(2021, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default();
    let at = base + chrono::Duration::minutes(i64::try_from(minutes).unwrap_or(0));
    at.format("%Y-%m-%dT%H:%M:%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generate(shape: &FeedShape) -> Vec<u8> {
        let mut out = Vec::new();
        write_feed(&mut out, shape).unwrap_or_default();
        out
    }

    #[test]
    fn the_same_seed_gives_the_same_bytes_and_another_seed_does_not() {
        let shape = FeedShape {
            base_events: 5,
            events_per_base: 2,
            zones: 3,
            seed: 1,
        };
        assert_eq!(generate(&shape), generate(&shape));
        assert_ne!(generate(&shape), generate(&FeedShape { seed: 2, ..shape }));
    }

    #[test]
    fn the_feed_is_json_of_the_shape_asked() {
        let bytes = generate(&FeedShape {
            base_events: 4,
            events_per_base: 3,
            zones: 5,
            seed: 7,
        });
        let feed: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let shows = feed["shows"].as_array().cloned().unwrap_or_default();
        assert_eq!(shows.len(), 12);
        assert!(
            shows
                .iter()
                .all(|show| show["tickets"].as_array().map(Vec::len) == Some(5))
        );
        assert_eq!(shows[0]["session_id"], 100_000);
        assert_eq!(shows[11]["session_id"], 100_032);
        assert_eq!(feed["next"], serde_json::Value::Null);
        let empty = generate(&FeedShape {
            base_events: 0,
            events_per_base: 3,
            zones: 5,
            seed: 7,
        });
        let empty: serde_json::Value = serde_json::from_slice(&empty).unwrap_or_default();
        assert_eq!(empty["shows"], serde_json::json!([]));
    }
}
