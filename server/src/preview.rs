//! `boxoffice preview`: the connector builder on the command line. One instance's
//! pages fetched and mapped as a sync would, nothing stored, and what would be served
//! printed for a person (or as JSON with `--json`), so that a configuration can be
//! tried before it syncs.

use std::fmt::Write as _;
use std::sync::Arc;

use anyhow::Context;
use boxoffice_core::model::format;
use boxoffice_core::sync::preview::{Preview, preview};
use boxoffice_core::sync::progress::Progress;
use boxoffice_core::{EventRecord, SellMode};
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

use crate::config::Config;
use crate::progress::{Board, Display};

/// One record as /search and /events/{id} would show it.
#[derive(Debug, Serialize)]
struct Shown {
    id: Uuid,
    base_event_id: String,
    event_id: String,
    title: String,
    start_date: String,
    start_time: Option<String>,
    end_date: Option<String>,
    end_time: Option<String>,
    starts_at: String,
    ends_at: String,
    min_price: Option<Decimal>,
    max_price: Option<Decimal>,
    currency: Option<String>,
    zones: usize,
    online: bool,
    sold_out: bool,
}

impl From<&EventRecord> for Shown {
    fn from(record: &EventRecord) -> Self {
        let range = record.price_range();
        Self {
            id: record.id(),
            base_event_id: record.key.series_id.clone(),
            event_id: record.key.session_id.clone(),
            title: record.title.clone(),
            start_date: format::date(record.start.date),
            start_time: record.start.time.map(format::time),
            end_date: record.end.map(|end| format::date(end.date)),
            end_time: record.end.and_then(|end| end.time).map(format::time),
            starts_at: record.start.at.to_rfc3339(),
            ends_at: record.ends_at().to_rfc3339(),
            min_price: range.map(|range| range.min),
            max_price: range.map(|range| range.max),
            currency: record.currency.clone(),
            zones: record.zones.len(),
            online: record.sell_mode == SellMode::Online,
            sold_out: record.sold_out,
        }
    }
}

/// The preview as `--json` prints it.
#[derive(Serialize)]
struct Printed<'a> {
    #[serde(flatten)]
    preview: &'a Preview,
    shown: Vec<Shown>,
}

/// Previews instance `name` of `config`, printing at most `limit` records; fails when
/// the run would fail.
pub async fn run(
    config: &Config,
    name: &str,
    limit: usize,
    json: bool,
    display: Display,
) -> anyhow::Result<()> {
    let instance = config
        .providers
        .get(name)
        .with_context(|| format!("no provider instance is named {name:?}"))?;
    let built = instance.build(name).map_err(|problems| {
        let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("the instance cannot be built:\n  {}", listed.join("\n  "))
    })?;
    let progress = Arc::new(Progress::default());
    let board = Board::new(display);
    let counted = Arc::clone(&progress);
    let shown = board.show(&format!("preview {name}"), move || Some(counted.snapshot()));
    let found = preview(&built, limit, progress).await;
    shown.finish().await;
    let out = if json {
        let shown = found.records.iter().map(Shown::from).collect();
        serde_json::to_string_pretty(&Printed {
            preview: &found,
            shown,
        })
        .context("printing the preview")?
    } else {
        render(&found, built.kind)
    };
    println!("{out}");
    match &found.error {
        None => Ok(()),
        Some(_) => anyhow::bail!("the run would fail: a sync would keep nothing of it"),
    }
}

/// The preview as text.
fn render(found: &Preview, kind: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Preview of {} (kind {kind}): {} page(s), {} record(s): {} kept, {} rejected. Nothing was stored.",
        found.provider,
        found.attempted,
        found.accepted + found.rejected,
        found.accepted,
        found.rejected
    );
    let _ = writeln!(out, "\nPages:");
    for page in &found.pages {
        let _ = writeln!(
            out,
            "  {:>3}  {}  {} record(s), {} bytes",
            page.number, page.label, page.records, page.bytes
        );
    }
    match (&found.error, &found.ended) {
        (Some(error), _) => {
            let _ = writeln!(out, "  the run failed: {error}");
        }
        (None, Some(ended)) => {
            let _ = writeln!(out, "  paging stopped: {ended}");
        }
        (None, None) => {}
    }
    let _ = writeln!(
        out,
        "\nRecords (the first {} of {}, as they would be served):",
        found.records.len(),
        found.accepted
    );
    for record in &found.records {
        let shown = Shown::from(record);
        let when = |date: &str, time: &Option<String>| match time {
            Some(time) => format!("{date} {time}"),
            None => format!("{date} (all day)"),
        };
        let end = match &shown.end_date {
            Some(date) => when(date, &shown.end_time),
            None => "-".into(),
        };
        let prices = match (shown.min_price, shown.max_price) {
            (Some(min), Some(max)) if min == max => format!("{}", min.normalize()),
            (Some(min), Some(max)) => format!("{} to {}", min.normalize(), max.normalize()),
            _ => "none".into(),
        };
        let currency = shown
            .currency
            .as_deref()
            .map(|c| format!(" {c}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {}  {}\n      ids {} / {}\n      starts {} ({}), ends {}\n      prices {prices}{currency} ({} zone(s)), on sale {}, sold out {}",
            shown.id,
            shown.title,
            shown.base_event_id,
            shown.event_id,
            when(&shown.start_date, &shown.start_time),
            shown.starts_at,
            end,
            shown.zones,
            on_sale(shown.online),
            yes(shown.sold_out)
        );
    }
    if !found.rejections.is_empty() {
        let _ = writeln!(out, "\nRejections ({} in all):", found.rejected);
        for rejection in &found.rejections {
            let _ = writeln!(out, "  {}: {}", rejection.record, rejection.reason);
        }
    }
    if !found.unknown.is_empty() {
        let unread: Vec<String> = found
            .unknown
            .iter()
            .map(|(member, count)| format!("{member} ({count})"))
            .collect();
        let _ = writeln!(out, "\nMembers no field reads: {}", unread.join(", "));
    }
    out
}

fn yes(flag: bool) -> &'static str {
    if flag { "yes" } else { "no" }
}

/// Whether a record is on sale, and what that means for it.
fn on_sale(online: bool) -> &'static str {
    if online {
        "yes"
    } else {
        "no (kept, served only if its event is ever on sale)"
    }
}
