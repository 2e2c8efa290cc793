//! Turning a provider's local wall-clock times into instants.

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Resolves a local wall-clock time in `tz` to an instant.
///
/// Feeds publish local times without an offset. At a daylight-saving fold (the same
/// wall-clock time happens twice) the earlier instant is taken; in a gap (the wall-clock
/// time never happens) the time is read with the offset in force just before the gap,
/// which moves it forward by the gap's length, as calendars do. Neither case loses the
/// record: the wall-clock value the provider sent is kept and served as is.
pub fn local_to_instant(local: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(at) => at.with_timezone(&Utc),
        LocalResult::Ambiguous(earliest, _) => earliest.with_timezone(&Utc),
        LocalResult::None => {
            // In a gap: use the offset an hour before, which is the one the clocks left.
            let before = local - chrono::Duration::hours(3);
            let offset = match tz.from_local_datetime(&before) {
                LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => at.offset().fix(),
                LocalResult::None => return Utc.from_utc_datetime(&local),
            };
            Utc.from_utc_datetime(&(local - offset))
        }
    }
}

use chrono::Offset;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|date| date.and_hms_opt(h, min, 0))
            .unwrap_or_default()
    }

    #[test]
    fn utc_wall_clock_is_the_instant() {
        let local = at(2021, 6, 30, 21, 0);
        assert_eq!(local_to_instant(local, Tz::UTC).naive_utc(), local);
    }

    #[test]
    fn madrid_summer_time_is_two_hours_ahead_of_utc() {
        let instant = local_to_instant(at(2021, 6, 30, 21, 0), chrono_tz::Europe::Madrid);
        assert_eq!(instant.naive_utc(), at(2021, 6, 30, 19, 0));
    }

    #[test]
    fn a_time_in_the_spring_gap_moves_forward() {
        // 2021-03-28 02:30 does not exist in Madrid: clocks jump from 02:00 to 03:00.
        let instant = local_to_instant(at(2021, 3, 28, 2, 30), chrono_tz::Europe::Madrid);
        assert_eq!(instant.naive_utc(), at(2021, 3, 28, 1, 30));
    }

    #[test]
    fn a_time_in_the_autumn_fold_takes_the_earlier_instant() {
        // 2021-10-31 02:30 happens twice in Madrid; the first is at +02:00.
        let instant = local_to_instant(at(2021, 10, 31, 2, 30), chrono_tz::Europe::Madrid);
        assert_eq!(instant.naive_utc(), at(2021, 10, 31, 0, 30));
    }
}
