//! What the long commands (`sync`, `replay`, `preview`, `gen-feed`) show while they
//! work, on the standard error: a bar on a terminal (bytes of the document's
//! announced length, or a spinner with bytes and rate; pages, records, rejections,
//! elapsed time; a line per instance), a plain line every few seconds elsewhere or
//! with `NO_COLOR`, nothing with `--quiet`. The standard output keeps only the report,
//! so pipes and scripts see what they always saw. Nothing shown names a URL or a
//! secret: only the instance's name and counts.

use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use boxoffice_core::sync::progress::ProgressSnapshot;
use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a bar is redrawn.
const BAR_EVERY: Duration = Duration::from_millis(100);

/// How often a plain line is written, at most.
const LINE_EVERY: Duration = Duration::from_secs(5);

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// A bar on the terminal.
    Bar,
    /// A plain line every few seconds.
    Lines,
    /// Nothing.
    Quiet,
}

impl Display {
    /// The display for this process: a bar when the standard error is a terminal and
    /// `NO_COLOR` is unset or empty, plain lines otherwise, nothing when `quiet`.
    pub fn choose(quiet: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
        if quiet {
            Display::Quiet
        } else if std::io::stderr().is_terminal() && !no_color {
            Display::Bar
        } else {
            Display::Lines
        }
    }
}

/// The progress of several tasks, one line each.
pub struct Board {
    display: Display,
    bars: MultiProgress,
}

/// Shows one task's progress until [`Shown::finish`].
pub struct Shown {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Board {
    /// A board shown as `display`.
    pub fn new(display: Display) -> Self {
        let bars = MultiProgress::with_draw_target(match display {
            Display::Bar => ProgressDrawTarget::stderr(),
            _ => ProgressDrawTarget::hidden(),
        });
        Self { display, bars }
    }

    /// Shows the progress `read` gives of the task `label` (`sync fever`), until the
    /// returned value is finished. `read` answers `None` while there is nothing to show.
    pub fn show(&self, label: &str, read: impl Fn() -> Option<ProgressSnapshot> + Send + 'static) -> Shown {
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let display = self.display;
        let bar = self.bars.add(ProgressBar::new_spinner());
        bar.set_prefix(label.to_owned());
        bar.set_style(spinner_style());
        let label = label.to_owned();
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let mut last_line = Instant::now();
            let mut ticks = tokio::time::interval(BAR_EVERY);
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = ticks.tick() => {}
                }
                let Some(now) = read() else {
                    continue;
                };
                match display {
                    Display::Bar => draw(&bar, now),
                    Display::Lines if last_line.elapsed() >= LINE_EVERY => {
                        last_line = Instant::now();
                        eprintln!("{label}: {} ({}s)", counts(now), started.elapsed().as_secs());
                    }
                    Display::Lines | Display::Quiet => {}
                }
            }
            if let (Display::Bar, Some(last)) = (display, read()) {
                draw(&bar, last);
            }
            bar.finish();
        });
        Shown { stop, task }
    }
}

impl Shown {
    /// Stops showing: the bar stays drawn with its last figures.
    pub async fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {prefix}: {msg} [{elapsed}]")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{prefix}: [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}), {msg} [{elapsed}]",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

/// Draws `now`: a bar of the one document's length when the source announced it, a
/// spinner with the bytes and rate otherwise.
fn draw(bar: &ProgressBar, now: ProgressSnapshot) {
    match now.length {
        Some(length) if now.pages <= 1 => {
            bar.set_style(bar_style());
            bar.set_length(length);
            bar.set_position(now.bytes.min(length));
            bar.set_message(records(now));
        }
        _ => {
            bar.set_style(spinner_style());
            bar.set_message(counts(now));
            bar.tick();
        }
    }
}

/// `3 pages, 12,345 records (2 rejected)`.
fn records(now: ProgressSnapshot) -> String {
    format!(
        "{} page{}, {} record{} ({} rejected)",
        now.pages,
        if now.pages == 1 { "" } else { "s" },
        now.records,
        if now.records == 1 { "" } else { "s" },
        now.rejected
    )
}

/// The figures with the bytes read.
fn counts(now: ProgressSnapshot) -> String {
    format!("{}, {} read", records(now), HumanBytes(now.bytes))
}

/// A writer that counts what it writes (for `gen-feed`'s progress).
pub struct Counting<W> {
    inner: W,
    written: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<W> Counting<W> {
    /// Counts what goes into `inner`, in `written`.
    pub fn new(inner: W, written: std::sync::Arc<std::sync::atomic::AtomicU64>) -> Self {
        Self { inner, written }
    }
}

impl<W: std::io::Write> std::io::Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.written
            .fetch_add(written as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_figures_read_as_a_person_says_them() {
        let now = ProgressSnapshot {
            bytes: 5 * 1024 * 1024,
            length: None,
            pages: 3,
            records: 12_345,
            rejected: 2,
        };
        assert_eq!(counts(now), "3 pages, 12345 records (2 rejected), 5.00 MiB read");
        assert_eq!(Display::choose(true), Display::Quiet);
    }
}
