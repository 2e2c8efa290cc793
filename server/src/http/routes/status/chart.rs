//! A small chart of an instance's latest runs, drawn as inline SVG on the server:
//! one bar per run, oldest on the left, its height the run's duration and its colour
//! its outcome, with a dot per run for the records it saw. No script, no style
//! attribute (the page's policy allows neither): presentation attributes only.

use boxoffice_core::{RunStatus, SyncReport};
use maud::{Markup, html};

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
pub fn runs_chart(runs: &[SyncReport]) -> Markup {
    if runs.is_empty() {
        return html! { span.muted { "no run yet" } };
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
    // Oldest on the left.
    let bars: Vec<(f64, f64, &SyncReport, f64)> = runs
        .iter()
        .rev()
        .zip(durations.iter().rev())
        .enumerate()
        .map(|(index, (run, duration))| {
            let x = index as f64 * slot + 1.0;
            (x, (duration / longest * usable).max(2.0), run, duration / 1000.0)
        })
        .collect();
    html! {
        svg.runs role="img" width=(WIDTH) height=(HEIGHT) viewBox={ "0 0 " (WIDTH) " " (HEIGHT) }
            aria-label={ "the last " (runs.len()) " runs: bar height is the duration, dots are records seen" } {
            @for (x, height, run, seconds) in &bars {
                rect class={ "run " (run.status.as_str()) } x=(format_args!("{x:.1}"))
                    y=(format_args!("{:.1}", HEIGHT - height)) width=(format_args!("{bar:.1}"))
                    height=(format_args!("{height:.1}")) fill=(colour(run.status)) {
                    title {
                        (run.started_at.format("%Y-%m-%d %H:%M:%S").to_string()) " " (run.provider) ": "
                        (run.status.as_str()) " in " (format_args!("{seconds:.1}")) " s, " (run.seen)
                        " records seen, " (run.rejected) " rejected"
                    }
                }
            }
            @for (x, _, run, _) in &bars {
                @let dot = HEIGHT - (run.seen as f64 / most_seen * usable).max(0.0);
                circle cx=(format_args!("{:.1}", x + bar / 2.0)) cy=(format_args!("{:.1}", dot.min(HEIGHT - 1.0)))
                    r="1.8" fill="#1f2933" {}
            }
        }
    }
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
        ])
        .into_string();
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
        assert!(runs_chart(&[]).into_string().contains("no run yet"));
    }
}
