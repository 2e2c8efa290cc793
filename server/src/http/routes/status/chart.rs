//! A small chart of an instance's latest runs, drawn as inline SVG on the server:
//! one bar per run, oldest on the left, its height the run's duration and its colour
//! its outcome, with a dot per run for the records it saw. No script, no style
//! attribute (the page's policy allows neither): presentation attributes only.

use std::fmt::Write as _;

use boxoffice_core::{RunStatus, SyncReport};

use super::escape_html;

/// The chart's size in CSS pixels.
const WIDTH: f64 = 220.0;
const HEIGHT: f64 = 44.0;
/// Room kept above the bars for the records' dots.
const TOP: f64 = 4.0;

fn colour(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Succeeded => "#0b6e4f",
        RunStatus::Partial => "#b7791f",
        RunStatus::Failed => "#b42318",
        RunStatus::Running => "#1d4ed8",
    }
}

/// The runs' chart; `runs` newest first, as the store lists them.
pub fn runs_chart(runs: &[SyncReport]) -> String {
    if runs.is_empty() {
        return "<span class=\"muted\">no run yet</span>".into();
    }
    let durations: Vec<f64> = runs
        .iter()
        .map(|run| (run.finished_at - run.started_at).num_milliseconds().max(0) as f64)
        .collect();
    let longest = durations.iter().copied().fold(1.0_f64, f64::max);
    let most_seen = runs.iter().map(|run| run.seen).max().unwrap_or(0).max(1) as f64;
    let slot = WIDTH / runs.len().max(20) as f64;
    let bar = (slot - 2.0).max(1.0);
    let usable = HEIGHT - TOP;
    let mut svg = String::with_capacity(256 + runs.len() * 256);
    let _ = write!(
        svg,
        "<svg class=\"runs\" role=\"img\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
         aria-label=\"the last {} runs: bar height is the duration, dots are records seen\">",
        runs.len()
    );
    let mut dots = String::new();
    // Oldest on the left.
    for (index, (run, duration)) in runs.iter().rev().zip(durations.iter().rev()).enumerate() {
        let x = index as f64 * slot + 1.0;
        let height = (duration / longest * usable).max(2.0);
        let seconds = duration / 1000.0;
        let title = escape_html(&format!(
            "{} {}: {} in {seconds:.1} s, {} records seen, {} rejected",
            run.started_at.format("%Y-%m-%d %H:%M:%S"),
            run.provider,
            run.status.as_str(),
            run.seen,
            run.rejected,
        ));
        let _ = write!(
            svg,
            "<rect class=\"run {status}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"{height:.1}\" \
             fill=\"{fill}\"><title>{title}</title></rect>",
            status = run.status.as_str(),
            y = HEIGHT - height,
            fill = colour(run.status),
        );
        let dot_y = HEIGHT - (run.seen as f64 / most_seen * usable).max(0.0);
        let _ = write!(
            dots,
            "<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"1.8\" fill=\"#1f2933\"/>",
            cx = x + bar / 2.0,
            cy = dot_y.min(HEIGHT - 1.0),
        );
    }
    svg.push_str(&dots);
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(status: RunStatus, seconds: i64, seen: u64) -> SyncReport {
        let mut report = SyncReport::started("fever");
        report.status = status;
        report.finished_at = report.started_at + chrono::Duration::seconds(seconds);
        report.seen = seen;
        report
    }

    #[test]
    fn one_bar_per_run_coloured_by_outcome_and_the_longest_fills_the_height() {
        let svg = runs_chart(&[
            run(RunStatus::Failed, 1, 0),
            run(RunStatus::Succeeded, 4, 300),
            run(RunStatus::Partial, 2, 150),
        ]);
        assert_eq!(svg.matches("<rect").count(), 3);
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("class=\"run succeeded\"") && svg.contains("class=\"run failed\""));
        assert!(
            svg.contains("height=\"40.0\""),
            "the longest run fills the chart: {svg}"
        );
        assert!(svg.contains("in 4.0 s, 300 records seen"), "{svg}");
        assert!(
            !svg.contains("style="),
            "the page's policy allows no style attribute"
        );
        // Newest first in, oldest drawn first: the partial run is the leftmost bar.
        let first = svg
            .find("class=\"run ")
            .map(|at| &svg[at..at + 20])
            .unwrap_or_default();
        assert!(first.contains("partial"), "{first}");
    }

    #[test]
    fn no_run_is_said_in_words() {
        assert!(runs_chart(&[]).contains("no run yet"));
    }
}
