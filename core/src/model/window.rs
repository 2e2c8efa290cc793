//! The search window: what `starts_at` and `ends_at` mean, written once.

use chrono::{DateTime, Utc};

/// A closed time window on item instants; either end may be open. An item is in the
/// window when it starts at or after `starts_at` and ends at or before `ends_at`
/// (an item without an end ends when it starts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchWindow {
    /// Items must start at or after this instant.
    pub starts_at: Option<DateTime<Utc>>,
    /// Items must end at or before this instant.
    pub ends_at: Option<DateTime<Utc>>,
}

impl SearchWindow {
    /// The earliest whole second an item may start at (item instants are whole
    /// seconds, so a fractional bound rounds up).
    pub fn min_start(&self) -> Option<i64> {
        self.starts_at.map(|at| {
            let seconds = at.timestamp();
            if at.timestamp_subsec_nanos() > 0 {
                seconds + 1
            } else {
                seconds
            }
        })
    }

    /// The latest whole second an item may end at.
    pub fn max_end(&self) -> Option<i64> {
        self.ends_at.map(|at| at.timestamp())
    }

    /// Whether an item starting and ending at these instants (epoch seconds) is in
    /// the window.
    pub fn contains(&self, starts_at: i64, ends_at: i64) -> bool {
        self.min_start().is_none_or(|from| starts_at >= from) && self.max_end().is_none_or(|to| ends_at <= to)
    }

    /// Whether an item starting at `starts_at`, and every item starting later, is out
    /// of the window: items never end before they start (checked at ingest), so one
    /// that starts after the window's end cannot end within it. Lets a scan ordered by
    /// start stop early.
    pub fn is_past(&self, starts_at: i64) -> bool {
        self.max_end().is_some_and(|to| starts_at > to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2021, 1, 1, hour, 0, 0)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn bounds_are_inclusive_and_optional() {
        let window = SearchWindow {
            starts_at: Some(at(10)),
            ends_at: Some(at(12)),
        };
        let s = |hour| at(hour).timestamp();
        assert!(window.contains(s(10), s(12)));
        assert!(!window.contains(s(9), s(11)));
        assert!(!window.contains(s(11), s(13)));
        assert!(SearchWindow::default().contains(s(0), s(23)));
        assert!(!window.is_past(s(12)) && window.is_past(s(12) + 1));
        assert!(!SearchWindow::default().is_past(i64::MAX));
    }

    #[test]
    fn a_fractional_start_bound_excludes_the_second_it_falls_in() {
        let bound = at(10) + chrono::Duration::milliseconds(500);
        let window = SearchWindow {
            starts_at: Some(bound),
            ends_at: Some(bound),
        };
        let ten = at(10).timestamp();
        assert!(!window.contains(ten, ten));
        assert_eq!(window.min_start(), Some(ten + 1));
        assert_eq!(window.max_end(), Some(ten));
    }
}
