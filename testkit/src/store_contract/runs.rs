//! The run history's cases (runs, the quarantine, retention) and the instance's
//! (the breaker's state, the on/off switch).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use boxoffice_core::provider::Rejection;
use boxoffice_core::store::{InstanceState, QuarantinedRecord, Retention};
use boxoffice_core::{EventStore, RunStatus, SyncReport};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{at, now_plus};

/// A finished run of `provider` that started at `started` and took a minute.
fn finished(provider: &str, started: DateTime<Utc>) -> SyncReport {
    SyncReport {
        started_at: started,
        finished_at: started + chrono::Duration::minutes(1),
        status: RunStatus::Succeeded,
        seen: 3,
        inserted: 2,
        unchanged: 1,
        pages: 1,
        attempts: 1,
        ..SyncReport::started(provider)
    }
}

fn rejection(event: &str) -> Rejection {
    Rejection {
        record: format!("base_event 1 / event {event}"),
        reason: "the start is not a date".into(),
        raw: Some(format!("<event id=\"{event}\"/>")),
    }
}

/// A run is entered running (shown so while it beats, as abandoned once it stops
/// beating), its heartbeats carry its figures, and its recorded report replaces it
/// for good: a late heartbeat changes nothing.
pub async fn a_run_is_entered_running_beats_and_is_recorded(store: Arc<dyn EventStore>) {
    let running = SyncReport {
        status: RunStatus::Running,
        started_at: now_plus(0),
        finished_at: now_plus(0),
        ..SyncReport::started("alpha")
    };
    store.run_started(&running).await.unwrap();
    assert_eq!(
        store.run("alpha", running.run_id).await.unwrap(),
        Some(running.clone())
    );
    assert_eq!(store.run("beta", running.run_id).await.unwrap(), None);

    let progress = SyncReport {
        seen: 5,
        bytes: 1200,
        pages: 2,
        ..running.clone()
    };
    store.run_heartbeat(&progress, now_plus(0)).await.unwrap();
    assert_eq!(
        store.run("alpha", running.run_id).await.unwrap(),
        Some(progress.clone())
    );

    let done = SyncReport {
        status: RunStatus::Succeeded,
        finished_at: now_plus(1),
        inserted: 5,
        ..progress.clone()
    };
    store.record_run(&done, &[]).await.unwrap();
    assert_eq!(
        store.run("alpha", running.run_id).await.unwrap(),
        Some(done.clone())
    );
    store.run_heartbeat(&progress, now_plus(1)).await.unwrap();
    assert_eq!(store.run("alpha", running.run_id).await.unwrap(), Some(done));

    // Started long ago and never beating: abandoned; a heartbeat now revives it.
    let stale = SyncReport {
        status: RunStatus::Running,
        started_at: now_plus(-10),
        finished_at: now_plus(-10),
        ..SyncReport::started("alpha")
    };
    store.run_started(&stale).await.unwrap();
    let read = store.run("alpha", stale.run_id).await.unwrap().unwrap();
    assert_eq!(read.status, RunStatus::Failed);
    assert!(read.error.unwrap_or_default().starts_with("abandoned"));
    store.run_heartbeat(&stale, now_plus(0)).await.unwrap();
    let read = store.run("alpha", stale.run_id).await.unwrap().unwrap();
    assert_eq!(read.status, RunStatus::Running, "the heartbeat's time is kept");
}

/// `runs` lists an instance's runs newest first by start (whatever order they were
/// recorded in), at most `limit`, none of another instance's.
pub async fn runs_are_listed_newest_first_and_limited(store: Arc<dyn EventStore>) {
    let runs: Vec<SyncReport> = [-3, -1, -4, -2]
        .into_iter()
        .map(|m| finished("alpha", at(m)))
        .collect();
    for run in &runs {
        store.record_run(run, &[]).await.unwrap();
    }
    let other = finished("beta", at(0));
    store.record_run(&other, &[]).await.unwrap();

    let newest_first = vec![runs[1].clone(), runs[3].clone(), runs[0].clone(), runs[2].clone()];
    assert_eq!(store.runs("alpha", 10).await.unwrap(), newest_first);
    assert_eq!(store.runs("alpha", 2).await.unwrap(), newest_first[..2].to_vec());
    assert_eq!(store.runs("beta", 10).await.unwrap(), vec![other.clone()]);
    assert_eq!(store.runs("gamma", 10).await.unwrap(), Vec::<SyncReport>::new());
    assert_eq!(store.run("alpha", other.run_id).await.unwrap(), None);
    assert_eq!(store.run("alpha", Uuid::new_v4()).await.unwrap(), None);
}

/// A run entered running and then discarded (it never ran) is forgotten.
pub async fn a_discarded_run_is_forgotten(store: Arc<dyn EventStore>) {
    let running = SyncReport {
        status: RunStatus::Running,
        ..finished("alpha", now_plus(0))
    };
    let kept = finished("alpha", at(0));
    store.record_run(&kept, &[]).await.unwrap();
    store.run_started(&running).await.unwrap();
    store.run_discarded(running.run_id).await.unwrap();
    assert_eq!(store.run("alpha", running.run_id).await.unwrap(), None);
    assert_eq!(store.runs("alpha", 10).await.unwrap(), vec![kept]);
}

/// One quarantine row per distinct rejection of an instance: rejected again (in the
/// same run or a later one) it is counted, dated and attributed anew, and keeps
/// when it was first seen. Listed newest first, then by record, at most `limit`.
pub async fn the_quarantine_keeps_one_row_per_rejection(store: Arc<dyn EventStore>) {
    let (a, b) = (rejection("1"), rejection("2"));
    let first = finished("alpha", at(-10));
    store
        .record_run(&first, &[a.clone(), a.clone(), b.clone()])
        .await
        .unwrap();
    let row = |rejection: &Rejection, run: &SyncReport, first_seen, times| QuarantinedRecord {
        run_id: run.run_id,
        provider: "alpha".into(),
        rejected_at: run.finished_at,
        first_seen,
        times,
        rejection: rejection.clone(),
    };
    assert_eq!(
        store.rejects("alpha", 10).await.unwrap(),
        vec![
            row(&a, &first, first.finished_at, 2),
            row(&b, &first, first.finished_at, 1)
        ]
    );

    let second = finished("alpha", at(-5));
    store.record_run(&second, std::slice::from_ref(&a)).await.unwrap();
    let other = finished("beta", at(-5));
    store.record_run(&other, std::slice::from_ref(&a)).await.unwrap();
    let again = row(&a, &second, first.finished_at, 3);
    assert_eq!(
        store.rejects("alpha", 10).await.unwrap(),
        vec![again.clone(), row(&b, &first, first.finished_at, 1)]
    );
    assert_eq!(store.rejects("alpha", 1).await.unwrap(), vec![again]);
    let beta = store.rejects("beta", 10).await.unwrap();
    assert_eq!(beta.len(), 1);
    assert_eq!((beta[0].times, beta[0].run_id), (1, other.run_id));
}

/// Retention keeps an instance's latest `runs` runs (by start) and deletes the
/// older ones; other instances' runs stay.
pub async fn retention_keeps_the_latest_runs(store: Arc<dyn EventStore>) {
    let runs: Vec<SyncReport> = (1..=5).map(|m| finished("alpha", at(-m))).collect();
    for run in &runs {
        store.record_run(run, &[]).await.unwrap();
    }
    let other = finished("beta", at(-60));
    store.record_run(&other, &[]).await.unwrap();
    let retention = Retention {
        runs: 3,
        ..Retention::default()
    };
    assert_eq!(store.apply_retention("alpha", &retention).await.unwrap(), (2, 0));
    assert_eq!(store.runs("alpha", 10).await.unwrap(), runs[..3].to_vec());
    assert_eq!(store.runs("beta", 10).await.unwrap(), vec![other]);
    assert_eq!(store.apply_retention("alpha", &retention).await.unwrap(), (0, 0));
}

/// Retention deletes quarantined records last rejected longer ago than `rejects`,
/// then the longest unseen past `max_rejects`; other instances' stay.
pub async fn retention_drops_old_and_excess_rejects(store: Arc<dyn EventStore>) {
    let old = finished("alpha", now_plus(-40 * 24 * 60));
    store.record_run(&old, &[rejection("old")]).await.unwrap();
    for (hours, event) in [(3, "x"), (2, "y"), (1, "z")] {
        let run = finished("alpha", now_plus(-hours * 60));
        store.record_run(&run, &[rejection(event)]).await.unwrap();
    }
    let other = finished("beta", now_plus(-40 * 24 * 60));
    store.record_run(&other, &[rejection("old")]).await.unwrap();

    let retention = Retention {
        runs: 1000,
        rejects: Duration::from_secs(30 * 86_400),
        max_rejects: 2,
    };
    assert_eq!(store.apply_retention("alpha", &retention).await.unwrap(), (0, 2));
    let left: Vec<String> = store
        .rejects("alpha", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|kept| kept.rejection.record)
        .collect();
    assert_eq!(left, vec![rejection("z").record, rejection("y").record]);
    assert_eq!(store.rejects("beta", 10).await.unwrap().len(), 1);
}

/// An instance's breaker state reads back as saved (the default before), each
/// instance its own.
pub async fn instance_state_round_trips(store: Arc<dyn EventStore>) {
    assert_eq!(
        store.instance_state("alpha").await.unwrap(),
        InstanceState::default()
    );
    let open = InstanceState {
        consecutive_failures: 3,
        open_until: Some(at(5)),
        last_success: Some(at(-60)),
    };
    store.save_instance_state("alpha", &open).await.unwrap();
    assert_eq!(store.instance_state("alpha").await.unwrap(), open);
    let closed = InstanceState {
        consecutive_failures: 0,
        open_until: None,
        last_success: Some(at(1)),
    };
    store.save_instance_state("alpha", &closed).await.unwrap();
    assert_eq!(store.instance_state("alpha").await.unwrap(), closed);
    assert_eq!(
        store.instance_state("beta").await.unwrap(),
        InstanceState::default()
    );
}

/// The on/off switches read back as last set, only for the instances switched.
pub async fn provider_toggles_are_kept(store: Arc<dyn EventStore>) {
    assert_eq!(store.provider_toggles().await.unwrap(), HashMap::new());
    store.set_provider_enabled("alpha", false).await.unwrap();
    store.set_provider_enabled("beta", true).await.unwrap();
    let expected = HashMap::from([("alpha".to_owned(), false), ("beta".to_owned(), true)]);
    assert_eq!(store.provider_toggles().await.unwrap(), expected);
    store.set_provider_enabled("alpha", true).await.unwrap();
    let expected = HashMap::from([("alpha".to_owned(), true), ("beta".to_owned(), true)]);
    assert_eq!(store.provider_toggles().await.unwrap(), expected);
}
