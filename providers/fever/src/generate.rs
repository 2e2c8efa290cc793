//! A deterministic generator of Fever feeds, for tests and benchmarks: the same shape
//! and seed always give the same bytes.

use std::io::{self, Write};

pub use boxoffice_kit::generate::FeedShape;
use boxoffice_kit::generate::{Rng, TITLES, ZONE_NAMES};

/// Writes a feed of `shape` to `out`. Start dates spread over 2021-2023, one session
/// in ten is offline, capacities and prices vary by zone.
pub fn write_feed(mut out: impl Write, shape: &FeedShape) -> io::Result<()> {
    let mut rng = Rng(shape.seed);
    out.write_all(
        b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<eventList xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" version=\"1.0\" xsi:noNamespaceSchemaLocation=\"eventList.xsd\">\n   <output>\n",
    )?;
    for base in 0..shape.base_events {
        let base_id = 10_000 + base;
        let sell_mode = if rng.below(10) == 0 { "offline" } else { "online" };
        let title = TITLES[rng.below(TITLES.len() as u64) as usize];
        writeln!(
            out,
            "      <base_event base_event_id=\"{base_id}\" sell_mode=\"{sell_mode}\" organizer_company_id=\"{}\" title=\"{title} #{base_id} &amp; amigos\">",
            1 + rng.below(50)
        )?;
        for session in 0..shape.events_per_base {
            // Minutes from 2021-01-01T00:00 over three years, on the quarter hour.
            let start = rng.below(3 * 365 * 24 * 4) * 15;
            let length = 60 + rng.below(8) * 15;
            let (start, end) = (wall_clock(start), wall_clock(start + length));
            writeln!(
                out,
                "         <event event_start_date=\"{start}\" event_end_date=\"{end}\" event_id=\"{}\" sell_from=\"2020-12-01T00:00:00\" sell_to=\"{start}\" sold_out=\"{}\">",
                base_id * 10 + session,
                rng.below(20) == 0
            )?;
            for zone in 0..shape.zones {
                let capacity = if rng.below(8) == 0 { 0 } else { rng.below(500) };
                let cents = 500 + rng.below(19_500);
                writeln!(
                    out,
                    "            <zone zone_id=\"{}\" capacity=\"{capacity}\" price=\"{}.{:02}\" name=\"{} {zone}\" numbered=\"{}\" />",
                    zone + 1,
                    cents / 100,
                    cents % 100,
                    ZONE_NAMES[zone % ZONE_NAMES.len()],
                    zone % 2 == 0
                )?;
            }
            writeln!(out, "         </event>")?;
        }
        writeln!(out, "      </base_event>")?;
    }
    out.write_all(b"   </output>\n</eventList>\n")?;
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
    fn the_shape_is_what_was_asked() {
        let text = String::from_utf8(generate(&FeedShape {
            base_events: 4,
            events_per_base: 3,
            zones: 5,
            seed: 7,
        }))
        .unwrap_or_default();
        assert_eq!(text.matches("<base_event ").count(), 4);
        assert_eq!(text.matches("<event ").count(), 12);
        assert_eq!(text.matches("<zone ").count(), 60);
    }
}
