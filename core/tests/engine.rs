//! The sync engine on the test kit's in-memory store, with a scripted provider:
//! transactions, pages, conditional runs, retries, the breaker, switches and
//! cancellation, without SQL or a network.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use boxoffice_core::registry::{BuiltProvider, ProviderConfig};
use boxoffice_core::sync::CircuitState;
use boxoffice_core::{
    Document, EventRecord, ExternalKey, Feed, InstanceStore, ItemStore, LocalMoment, OpenRequest, Opened,
    Parsed, Provider, ProviderError, RecordSink, RunStatus, RunStore, SellMode, SyncEngine, SyncError,
    Validators,
};
use boxoffice_testkit::MemoryStore;
use chrono::NaiveDate;

/// One answer of the scripted provider.
#[derive(Clone)]
enum Step {
    /// A document with these sessions (ids) and a next page.
    Page {
        sessions: Vec<&'static str>,
        next: Option<&'static str>,
        etag: Option<&'static str>,
    },
    /// 304 when the request carries validators, else a page with `sessions`.
    NotModifiedIfAsked { sessions: Vec<&'static str> },
    /// A failure, transient or not.
    Fail { transient: bool },
    /// Opening never ends.
    Hang,
}

fn page(sessions: &[&'static str], next: Option<&'static str>) -> Step {
    Step::Page {
        sessions: sessions.to_vec(),
        next,
        etag: None,
    }
}

/// A provider answering each open with the next step (the last one for good), and
/// remembering what it was asked.
#[derive(Default)]
struct Scripted {
    steps: Mutex<VecDeque<Step>>,
    current: Mutex<Option<(Vec<&'static str>, Option<&'static str>)>>,
    asked: Mutex<Vec<(Option<String>, Option<Validators>)>>,
}

impl Scripted {
    fn new(steps: Vec<Step>) -> Arc<Self> {
        Arc::new(Self {
            steps: Mutex::new(steps.into()),
            ..Self::default()
        })
    }

    fn next_step(&self) -> Step {
        let mut steps = self.steps.lock().unwrap();
        if steps.len() > 1 {
            steps.pop_front().unwrap()
        } else {
            steps.front().cloned().unwrap()
        }
    }
}

fn record(session: &str) -> EventRecord {
    let at = NaiveDate::from_ymd_opt(2026, 12, 1)
        .and_then(|d| d.and_hms_opt(20, 0, 0))
        .unwrap();
    EventRecord {
        key: ExternalKey {
            provider: "script".into(),
            series_id: "base".into(),
            session_id: session.into(),
        },
        title: format!("Show {session}"),
        sell_mode: SellMode::Online,
        organizer_company_id: None,
        sold_out: false,
        start: LocalMoment::from_local(at, chrono_tz::UTC),
        end: None,
        sell_from: None,
        sell_to: None,
        zones: Vec::new(),
        prices: None,
        currency: None,
    }
}

fn empty_body() -> boxoffice_core::FeedBody {
    Box::new(std::io::Cursor::new(Vec::new()))
}

#[async_trait]
impl Provider for Scripted {
    async fn open(&self, request: OpenRequest<'_>) -> Result<Opened, ProviderError> {
        self.asked
            .lock()
            .unwrap()
            .push((request.page.map(str::to_owned), request.validators.cloned()));
        let (sessions, next, etag) = match self.next_step() {
            Step::Page { sessions, next, etag } => (sessions, next, etag),
            Step::NotModifiedIfAsked { .. } if request.validators.is_some() => {
                return Ok(Opened::NotModified);
            }
            Step::NotModifiedIfAsked { sessions } => (sessions, None, Some("\"v1\"")),
            Step::Fail { transient } => {
                return Err(ProviderError::Fetch {
                    message: "scripted failure".into(),
                    transient,
                    retry_after: None,
                });
            }
            Step::Hang => std::future::pending().await,
        };
        *self.current.lock().unwrap() = Some((sessions, next));
        let mut feed = Feed::new(empty_body());
        feed.validators.etag = etag.map(str::to_owned);
        Ok(Opened::Feed(feed))
    }

    async fn parse(&self, _document: Document, sink: &mut dyn RecordSink) -> Result<Parsed, ProviderError> {
        let (sessions, next) = self.current.lock().unwrap().take().unwrap_or_default();
        for session in sessions {
            sink.accept(record(session)).await?;
        }
        Ok(Parsed {
            next_page: next.map(str::to_owned),
            ended: None,
        })
    }
}

fn config(extra: serde_json::Value) -> ProviderConfig {
    let mut table = serde_json::json!({
        "kind": "script",
        "retries": 2,
        "retry_backoff": "10ms",
        "breaker_threshold": 2,
        "breaker_cooldown": "1h",
        "max_pages": 10,
    });
    if let (Some(table), Some(extra)) = (table.as_object_mut(), extra.as_object()) {
        table.extend(extra.clone());
    }
    serde_json::from_value(table).unwrap()
}

fn engine(store: &MemoryStore, provider: Arc<Scripted>, extra: serde_json::Value) -> Arc<SyncEngine> {
    let built = BuiltProvider {
        name: "script".into(),
        kind: "script",
        config: config(extra),
        provider,
    };
    Arc::new(SyncEngine::new(Arc::new(store.clone()), vec![built], 2, None))
}

fn sessions_stored(store: &MemoryStore) -> Vec<String> {
    let mut ids: Vec<_> = store
        .items("script")
        .into_iter()
        .map(|item| item.record.key.session_id)
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn the_pages_of_a_feed_are_read_in_one_run_and_one_transaction() {
    let store = MemoryStore::new();
    let provider = Scripted::new(vec![page(&["a", "b", "c"], Some("p2")), page(&["d"], None)]);
    let engine = engine(&store, Arc::clone(&provider), serde_json::json!({}));
    let report = engine.run("script").await.unwrap();
    assert_eq!(report.status, RunStatus::Succeeded, "{report:?}");
    assert_eq!((report.pages, report.inserted), (2, 4));
    assert_eq!(sessions_stored(&store), ["a", "b", "c", "d"]);
    let asked: Vec<_> = provider
        .asked
        .lock()
        .unwrap()
        .iter()
        .map(|(page, _)| page.clone())
        .collect();
    assert_eq!(asked, [None, Some("p2".into())]);
    assert_eq!(store.version(), 1, "one commit");
}

#[tokio::test]
async fn a_failed_page_keeps_nothing_of_the_run() {
    let store = MemoryStore::new();
    let provider = Scripted::new(vec![
        page(&["a", "b", "c"], Some("p2")),
        Step::Fail { transient: false },
    ]);
    let engine = engine(&store, provider, serde_json::json!({}));
    let report = engine.run("script").await.unwrap();
    assert_eq!(report.status, RunStatus::Failed);
    assert_eq!(report.inserted, 0);
    assert!(
        sessions_stored(&store).is_empty(),
        "a batch of the first page was kept"
    );
}

#[tokio::test]
async fn a_page_linking_back_fails_the_run() {
    let store = MemoryStore::new();
    let provider = Scripted::new(vec![
        page(&["a"], Some("p2")),
        page(&["b"], Some("p3")),
        page(&["c"], Some("p2")),
    ]);
    let engine = engine(&store, provider, serde_json::json!({}));
    let report = engine.run("script").await.unwrap();
    assert_eq!(report.status, RunStatus::Failed);
    assert!(
        report.error.as_deref().unwrap_or_default().contains("loop"),
        "{report:?}"
    );
    assert!(sessions_stored(&store).is_empty());
}

#[tokio::test]
async fn more_pages_than_max_pages_fail_the_run() {
    let store = MemoryStore::new();
    let provider = Scripted::new(vec![
        page(&["a"], Some("p2")),
        page(&["b"], Some("p3")),
        page(&["c"], Some("p4")),
    ]);
    let engine = engine(&store, provider, serde_json::json!({"max_pages": 2}));
    let report = engine.run("script").await.unwrap();
    assert_eq!(report.status, RunStatus::Failed);
    assert!(
        report.error.as_deref().unwrap_or_default().contains("max_pages"),
        "{report:?}"
    );
    assert!(sessions_stored(&store).is_empty());
}

#[tokio::test]
async fn an_unchanged_document_ends_the_next_run_as_not_modified() {
    let store = MemoryStore::new();
    let provider = Scripted::new(vec![Step::NotModifiedIfAsked {
        sessions: vec!["a", "b"],
    }]);
    let engine = engine(&store, Arc::clone(&provider), serde_json::json!({}));
    let first = engine.run("script").await.unwrap();
    assert_eq!((first.inserted, first.not_modified), (2, false));
    assert_eq!(
        store
            .validators("script")
            .await
            .unwrap()
            .and_then(|v| v.etag)
            .as_deref(),
        Some("\"v1\"")
    );
    let seen_before = store.items("script")[0].last_seen;
    let second = engine.run("script").await.unwrap();
    assert_eq!(second.status, RunStatus::Succeeded);
    assert!(second.not_modified, "{second:?}");
    assert_eq!((second.inserted, second.updated, second.unchanged), (0, 0, 2));
    assert!(
        store.items("script")[0].last_seen > seen_before,
        "last_seen was not bumped"
    );
    let (_, validators) = provider.asked.lock().unwrap()[1].clone();
    assert_eq!(validators.and_then(|v| v.etag).as_deref(), Some("\"v1\""));
    assert_eq!(store.version(), 1, "a 304 rewrites nothing");
}

#[tokio::test]
async fn a_paginated_feed_keeps_no_validators() {
    let store = MemoryStore::new();
    let provider = Scripted::new(vec![
        Step::Page {
            sessions: vec!["a"],
            next: Some("p2"),
            etag: Some("\"first\""),
        },
        page(&["b"], None),
    ]);
    let engine = engine(&store, provider, serde_json::json!({}));
    engine.run("script").await.unwrap();
    assert_eq!(store.validators("script").await.unwrap(), None);
}

#[tokio::test]
async fn transient_failures_are_retried_within_the_run() {
    let store = MemoryStore::new();
    let provider = Scripted::new(vec![
        Step::Fail { transient: true },
        Step::Fail { transient: true },
        page(&["a"], None),
    ]);
    let engine = engine(&store, provider, serde_json::json!({}));
    let report = engine.run("script").await.unwrap();
    assert_eq!((report.status, report.attempts), (RunStatus::Succeeded, 3));
    assert_eq!(sessions_stored(&store), ["a"]);
}

#[tokio::test]
async fn a_permanent_failure_is_not_retried_and_opens_the_breaker_at_its_threshold() {
    let store = MemoryStore::new();
    let provider = Scripted::new(vec![Step::Fail { transient: false }]);
    let engine = engine(&store, provider, serde_json::json!({}));
    let first = engine.run("script").await.unwrap();
    assert_eq!((first.status, first.attempts), (RunStatus::Failed, 1));
    assert_eq!(engine.instances().await.unwrap()[0].circuit, CircuitState::Closed);
    engine.run("script").await.unwrap();
    let instance = engine.instances().await.unwrap().remove(0);
    assert_eq!(instance.circuit, CircuitState::Open);
    assert_eq!(instance.consecutive_failures, 2);
    assert_eq!(store.items("script").len(), 0);
}

#[tokio::test]
async fn a_store_failure_mid_run_keeps_nothing() {
    let store = MemoryStore::new();
    store.fail_upsert_after(1);
    let provider = Scripted::new(vec![page(&["a", "b", "c", "d", "e"], None)]);
    let engine = engine(&store, provider, serde_json::json!({"retries": 0}));
    let report = engine.run("script").await.unwrap();
    assert_eq!(report.status, RunStatus::Failed);
    assert!(
        report
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("fail this batch"),
        "{report:?}"
    );
    assert!(sessions_stored(&store).is_empty());
}

#[tokio::test]
async fn runtime_switches_in_the_store_win_over_the_configuration() {
    let store = MemoryStore::new();
    let engine = engine(
        &store,
        Scripted::new(vec![page(&["a"], None)]),
        serde_json::json!({}),
    );
    assert!(engine.instances().await.unwrap()[0].enabled);
    store.set_provider_enabled("script", false).await.unwrap();
    engine.refresh_toggles().await.unwrap();
    assert!(!engine.instances().await.unwrap()[0].enabled);
    // Switched off stops the schedule, not the operator.
    assert_eq!(engine.run("script").await.unwrap().status, RunStatus::Succeeded);
}

#[tokio::test]
async fn one_run_at_a_time_and_shutdown_cancels_a_run_at_once() {
    let store = MemoryStore::new();
    let engine = engine(&store, Scripted::new(vec![Step::Hang]), serde_json::json!({}));
    let running = tokio::spawn({
        let engine = Arc::clone(&engine);
        async move { engine.run("script").await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        engine.run("script").await.err(),
        Some(SyncError::AlreadyRunning("script".into()))
    );
    engine.shut_down();
    let cancelled = tokio::time::timeout(Duration::from_secs(2), running)
        .await
        .expect("the run was cancelled at once")
        .unwrap();
    assert_eq!(cancelled.err(), Some(SyncError::ShuttingDown("script".into())));
    assert_eq!(
        engine.run("script").await.err(),
        Some(SyncError::ShuttingDown("script".into())),
        "no run starts after shutdown"
    );
    assert!(store.items("script").is_empty());
    assert_eq!(
        engine.run("nope").await.err(),
        Some(SyncError::ShuttingDown("nope".into()))
    );
}

#[tokio::test]
async fn an_unknown_instance_is_refused() {
    let store = MemoryStore::new();
    let engine = engine(
        &store,
        Scripted::new(vec![page(&[], None)]),
        serde_json::json!({}),
    );
    assert_eq!(
        engine.run("nope").await.err(),
        Some(SyncError::UnknownProvider("nope".into()))
    );
}

#[tokio::test]
async fn the_breaker_and_the_last_run_are_the_stores_so_every_engine_tells_the_same() {
    let store = MemoryStore::new();
    let first = engine(
        &store,
        Scripted::new(vec![Step::Fail { transient: false }]),
        serde_json::json!({}),
    );
    first.run("script").await.unwrap();
    first.run("script").await.unwrap();
    // Another process (or this one after a restart) over the same store.
    let second = engine(
        &store,
        Scripted::new(vec![page(&["a"], None)]),
        serde_json::json!({}),
    );
    let instance = second.instances().await.unwrap().remove(0);
    assert_eq!(instance.circuit, CircuitState::Open);
    assert_eq!(instance.consecutive_failures, 2);
    let last = instance.last_report.expect("the last run is the store's");
    assert_eq!(last.status, RunStatus::Failed);
    assert!(!instance.running);
}

#[tokio::test]
async fn a_started_run_is_seen_running_by_its_id_then_finished() {
    let store = MemoryStore::new();
    let engine = engine(&store, Scripted::new(vec![Step::Hang]), serde_json::json!({}));
    let run_id = engine.start("script").await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let running = store
        .run("script", run_id)
        .await
        .unwrap()
        .expect("the run is in the history");
    assert_eq!(running.status, RunStatus::Running);
    assert!(engine.instances().await.unwrap()[0].running);
    assert_eq!(
        store.run("other", run_id).await.unwrap(),
        None,
        "runs are per instance"
    );
    engine.shut_down();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let cancelled = store.run("script", run_id).await.unwrap().unwrap();
    assert_eq!(cancelled.status, RunStatus::Failed);
    assert!(cancelled.error.unwrap_or_default().starts_with("cancelled"));
}

#[tokio::test]
async fn the_history_is_trimmed_to_the_retention_after_each_run() {
    let store = MemoryStore::new();
    let built = BuiltProvider {
        name: "script".into(),
        kind: "script",
        config: config(serde_json::json!({})),
        provider: Scripted::new(vec![page(&["a"], None)]),
    };
    let engine = Arc::new(
        SyncEngine::new(Arc::new(store.clone()), vec![built], 2, None).with_retention(
            boxoffice_core::store::Retention {
                runs: 2,
                rejects: Duration::from_secs(3600),
                max_rejects: 100,
            },
        ),
    );
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(engine.run("script").await.unwrap().run_id);
    }
    let kept: Vec<_> = store
        .runs("script", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.run_id)
        .collect();
    assert_eq!(kept, [ids[2], ids[1]], "the latest two, newest first");
}
