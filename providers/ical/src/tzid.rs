//! TZID parameter values (RFC 5545 §3.2.19) to time zones.
//!
//! RFC 5545 expects a VTIMEZONE block to define each TZID; this crate skips those and
//! reads the name instead: IANA (chrono-tz), IANA behind a globally unique prefix
//! (`/mozilla.org/20050126_1/Europe/Madrid`), or Windows as Outlook writes it, read as
//! CLDR's world-wide default ([`crate::windows_zones`]), ignoring ASCII case.

use std::cmp::Ordering;

use chrono_tz::Tz;

use crate::windows_zones::WINDOWS_ZONES;

/// The zone a TZID names, if it is one of the forms above. Surrounding whitespace
/// and double quotes are ignored: the content-line parser unquotes `TZID="…"`, but a
/// producer that escapes its quotes leaves them in the value.
pub(crate) fn resolve_tzid(tzid: &str) -> Option<Tz> {
    let tzid = tzid.trim().trim_matches('"').trim();
    if let Ok(tz) = tzid.parse::<Tz>() {
        return Some(tz);
    }
    if tzid.starts_with('/') {
        return prefixed_iana(tzid);
    }
    windows_zone(tzid)
}

/// An IANA name at the end of a prefixed TZID: the last one, two or three segments
/// ("UTC", "Europe/Madrid", "America/Argentina/Buenos_Aires").
fn prefixed_iana(tzid: &str) -> Option<Tz> {
    let segments: Vec<&str> = tzid.split('/').collect();
    (1..=3)
        .filter_map(|n| segments.len().checked_sub(n))
        .find_map(|start| {
            segments
                .get(start..)
                .and_then(|tail| tail.join("/").parse::<Tz>().ok())
        })
}

/// The IANA zone of a Windows zone name, whatever its ASCII case.
fn windows_zone(name: &str) -> Option<Tz> {
    let index = WINDOWS_ZONES
        .binary_search_by(|(windows, _)| compare_ignoring_case(windows, name))
        .ok()?;
    WINDOWS_ZONES.get(index)?.1.parse().ok()
}

/// Orders as the generated table is sorted: byte by byte, ASCII letters lowercased.
fn compare_ignoring_case(a: &str, b: &str) -> Ordering {
    a.bytes()
        .map(|byte| byte.to_ascii_lowercase())
        .cmp(b.bytes().map(|byte| byte.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iana_names_resolve_as_they_are() {
        assert_eq!(resolve_tzid("Europe/Madrid"), Some(chrono_tz::Europe::Madrid));
        assert_eq!(resolve_tzid(" UTC "), Some(chrono_tz::UTC));
    }

    #[test]
    fn tzids_with_a_global_prefix_resolve() {
        assert_eq!(
            resolve_tzid("/mozilla.org/20050126_1/Europe/Madrid"),
            Some(chrono_tz::Europe::Madrid)
        );
        assert_eq!(
            resolve_tzid("/citadel.org/20190101_1/America/Argentina/Buenos_Aires"),
            Some(chrono_tz::America::Argentina::Buenos_Aires)
        );
        assert_eq!(resolve_tzid("/example.org/2020/Romance Standard Time"), None);
    }

    #[test]
    fn windows_names_resolve_to_cldrs_world_wide_default() {
        for (windows, iana) in [
            ("W. Europe Standard Time", chrono_tz::Europe::Berlin),
            ("Romance Standard Time", chrono_tz::Europe::Paris),
            ("Pacific Standard Time", chrono_tz::America::Los_Angeles),
            ("GMT Standard Time", chrono_tz::Europe::London),
            ("Tokyo Standard Time", chrono_tz::Asia::Tokyo),
            ("UTC+12", chrono_tz::Etc::GMTMinus12),
        ] {
            assert_eq!(resolve_tzid(windows), Some(iana), "{windows}");
        }
        // "UTC" is an IANA name too and resolves as one; the table agrees with it.
        assert_eq!(windows_zone("UTC"), Some(chrono_tz::Etc::UTC));
    }

    #[test]
    fn windows_names_ignore_case_and_quotes() {
        let berlin = Some(chrono_tz::Europe::Berlin);
        assert_eq!(resolve_tzid("w. europe standard time"), berlin);
        assert_eq!(resolve_tzid("W. EUROPE STANDARD TIME"), berlin);
        assert_eq!(resolve_tzid("\"W. Europe Standard Time\""), berlin);
        assert_eq!(resolve_tzid(" \"W. Europe Standard Time\" "), berlin);
    }

    #[test]
    fn unknown_names_do_not_resolve() {
        for unknown in [
            "Mars Standard Time",
            "W. Europe Standard",
            "Europe/Atlantis",
            "",
            "\"\"",
        ] {
            assert_eq!(resolve_tzid(unknown), None, "{unknown:?}");
        }
    }

    #[test]
    fn the_windows_table_is_whole_sorted_and_names_zones_chrono_tz_knows() {
        // CLDR 48 maps 139 Windows zones; a handful would mean a truncated table.
        assert!(WINDOWS_ZONES.len() >= 130, "{} entries", WINDOWS_ZONES.len());
        for pair in WINDOWS_ZONES.windows(2) {
            assert_eq!(
                compare_ignoring_case(pair[0].0, pair[1].0),
                Ordering::Less,
                "{pair:?} is out of order: the binary search would miss names"
            );
        }
        for (windows, iana) in WINDOWS_ZONES {
            assert!(
                iana.parse::<Tz>().is_ok(),
                "{windows} -> {iana}: unknown to chrono-tz"
            );
            assert!(windows_zone(windows).is_some(), "{windows} is not found");
        }
    }
}
