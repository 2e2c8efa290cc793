//! What the parser needs to know of the instance it parses for, shared by every
//! stage of the parse.

use std::time::Duration;

use boxoffice_core::SellMode;
use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

/// The most occurrences one recurring VEVENT yields: the latest ones up to the
/// horizon are kept, older ones dropped.
pub const MAX_OCCURRENCES: usize = 1000;

/// What the parser needs to know of the instance it parses for.
#[derive(Debug, Clone)]
pub struct ParseContext {
    /// The instance's name: the `provider` of every record's key.
    pub provider: String,
    /// The instance's time zone: floating times are read in it, and UTC times and
    /// all-day dates are served in it.
    pub timezone: Tz,
    /// How far past `now` recurring events are expanded.
    pub horizon: Duration,
    /// The sell mode of every event that is not cancelled.
    pub sell_mode: SellMode,
    /// The present, as the provider sees it (`Utc::now()` in a fetch; fixed in tests).
    pub now: DateTime<Utc>,
}

impl ParseContext {
    /// The last instant an occurrence of a recurring event may start at.
    pub fn window_end(&self) -> DateTime<Utc> {
        TimeDelta::from_std(self.horizon)
            .ok()
            .and_then(|horizon| self.now.checked_add_signed(horizon))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_ends_a_horizon_after_now() {
        let ctx = ParseContext {
            provider: "venue".into(),
            timezone: Tz::UTC,
            horizon: Duration::from_secs(86_400),
            sell_mode: SellMode::Online,
            now: DateTime::<Utc>::UNIX_EPOCH,
        };
        assert_eq!(ctx.window_end().to_rfc3339(), "1970-01-02T00:00:00+00:00");
        let far = ParseContext {
            horizon: Duration::MAX,
            ..ctx
        };
        assert_eq!(far.window_end(), DateTime::<Utc>::MAX_UTC);
    }
}
