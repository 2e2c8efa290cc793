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
    /// The window on whole seconds (item instants are whole seconds): a fractional
    /// `starts_at` rounds up, a fractional `ends_at` down. Two windows with the same
    /// bounds select the same items.
    pub fn bounds(&self) -> WindowBounds {
        WindowBounds {
            from: self.starts_at.map(|at| {
                let seconds = at.timestamp();
                if at.timestamp_subsec_nanos() > 0 {
                    seconds + 1
                } else {
                    seconds
                }
            }),
            to: self.ends_at.map(|at| at.timestamp()),
        }
    }

    /// Whether an item starting and ending at these instants (epoch seconds) is in
    /// the window.
    pub fn contains(&self, starts_at: i64, ends_at: i64) -> bool {
        self.bounds().contains(starts_at, ends_at)
    }
}

/// A [`SearchWindow`] on whole seconds: what a search compares items with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct WindowBounds {
    /// The earliest second an item may start at.
    pub from: Option<i64>,
    /// The latest second an item may end at.
    pub to: Option<i64>,
}

impl WindowBounds {
    /// Whether an item starting and ending at these seconds is in the window.
    pub fn contains(&self, starts_at: i64, ends_at: i64) -> bool {
        self.from.is_none_or(|from| starts_at >= from) && self.to.is_none_or(|to| ends_at <= to)
    }

    /// Whether an item starting at `starts_at`, and every item starting later, is out
    /// of the window: items never end before they start (checked at ingest), so one
    /// that starts after the window's end cannot end within it. Lets a scan ordered by
    /// start stop early.
    pub fn is_past(&self, starts_at: i64) -> bool {
        self.to.is_some_and(|to| starts_at > to)
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
        assert!(!window.bounds().is_past(s(12)) && window.bounds().is_past(s(12) + 1));
        assert!(!SearchWindow::default().bounds().is_past(i64::MAX));
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
        assert_eq!(
            window.bounds(),
            WindowBounds {
                from: Some(ten + 1),
                to: Some(ten)
            }
        );
    }
}
