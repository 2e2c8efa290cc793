//! The [`RunStore`]: the run history every process shares, run reports (running ones
//! included, with their heartbeat), the quarantine, and their retention.

use std::collections::HashMap;

use async_trait::async_trait;
use boxoffice_core::provider::Rejection;
use boxoffice_core::store::{QuarantinedRecord, Retention};
use boxoffice_core::{RunStatus, RunStore, StoreError, SyncReport};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use super::entity::{rejects, sync_runs};
use super::{SeaOrmStore, corrupt, store_error};

fn run_row(report: &SyncReport) -> Result<sync_runs::ActiveModel, StoreError> {
    let json = serde_json::to_string(report).map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(sync_runs::ActiveModel {
        run_id: Set(report.run_id),
        provider: Set(report.provider.clone()),
        started_at: Set(report.started_at),
        finished_at: Set(report.finished_at),
        status: Set(report.status.as_str().to_owned()),
        report: Set(json),
        heartbeat_at: Set(None),
    })
}

fn report_of(row: sync_runs::Model, now: DateTime<Utc>) -> Result<SyncReport, StoreError> {
    let report: SyncReport =
        serde_json::from_str(&row.report).map_err(|_| corrupt("run report", &row.report))?;
    Ok(report.settled(row.heartbeat_at, now))
}

#[async_trait]
impl RunStore for SeaOrmStore {
    async fn run_started(&self, report: &SyncReport) -> Result<(), StoreError> {
        sync_runs::Entity::insert(run_row(report)?)
            .exec_without_returning(&self.db)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// The heartbeat of a running run, with its figures so far (only while it is
    /// still entered as running: a recorded report is never overwritten).
    async fn run_heartbeat(&self, report: &SyncReport, at: DateTime<Utc>) -> Result<(), StoreError> {
        let json = serde_json::to_string(report).map_err(|e| StoreError::Backend(e.to_string()))?;
        sync_runs::Entity::update_many()
            .col_expr(sync_runs::Column::HeartbeatAt, Expr::value(at))
            .col_expr(sync_runs::Column::Report, Expr::value(json))
            .filter(sync_runs::Column::RunId.eq(report.run_id))
            .filter(sync_runs::Column::Status.eq(RunStatus::Running.as_str()))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn run_discarded(&self, run_id: Uuid) -> Result<(), StoreError> {
        sync_runs::Entity::delete_by_id(run_id)
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// The finished report replaces the running entry, with the quarantine, at once.
    async fn record_run(&self, report: &SyncReport, quarantine: &[Rejection]) -> Result<(), StoreError> {
        let transaction = self.db.begin().await.map_err(store_error)?;
        sync_runs::Entity::insert(run_row(report)?)
            .on_conflict(
                OnConflict::column(sync_runs::Column::RunId)
                    .update_columns([
                        sync_runs::Column::FinishedAt,
                        sync_runs::Column::Status,
                        sync_runs::Column::Report,
                        sync_runs::Column::HeartbeatAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&transaction)
            .await
            .map_err(store_error)?;
        // One row per distinct rejection: counted once more when seen again. Repeats
        // within the run are folded first (an upsert may not touch a row twice).
        let mut distinct: Vec<(String, &Rejection, i64)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for rejection in quarantine {
            let digest = rejection.digest();
            match index.get(&digest) {
                Some(&at) => distinct[at].2 += 1,
                None => {
                    index.insert(digest.clone(), distinct.len());
                    distinct.push((digest, rejection, 1));
                }
            }
        }
        let on_conflict = OnConflict::columns([rejects::Column::Provider, rejects::Column::Digest])
            .update_columns([rejects::Column::RunId, rejects::Column::RejectedAt])
            .value(
                rejects::Column::SeenCount,
                Expr::col((rejects::Entity, rejects::Column::SeenCount))
                    .add(Expr::col((Alias::new("excluded"), rejects::Column::SeenCount))),
            )
            .to_owned();
        for chunk in distinct.chunks(500) {
            let rows = chunk
                .iter()
                .map(|(digest, rejection, times)| rejects::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    run_id: Set(report.run_id),
                    provider: Set(report.provider.clone()),
                    rejected_at: Set(report.finished_at),
                    record: Set(rejection.record.clone()),
                    reason: Set(rejection.reason.clone()),
                    raw: Set(rejection.raw.clone()),
                    digest: Set(Some(digest.clone())),
                    first_seen: Set(Some(report.finished_at)),
                    seen_count: Set(*times),
                });
            rejects::Entity::insert_many(rows)
                .on_conflict(on_conflict.clone())
                .exec_without_returning(&transaction)
                .await
                .map_err(store_error)?;
        }
        transaction.commit().await.map_err(store_error)
    }

    async fn run(&self, provider: &str, run_id: Uuid) -> Result<Option<SyncReport>, StoreError> {
        sync_runs::Entity::find_by_id(run_id)
            .filter(sync_runs::Column::Provider.eq(provider))
            .one(&self.db)
            .await
            .map_err(store_error)?
            .map(|row| report_of(row, Utc::now()))
            .transpose()
    }

    async fn runs(&self, provider: &str, limit: u64) -> Result<Vec<SyncReport>, StoreError> {
        let now = Utc::now();
        sync_runs::Entity::find()
            .filter(sync_runs::Column::Provider.eq(provider))
            .order_by_desc(sync_runs::Column::StartedAt)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|row| report_of(row, now))
            .collect()
    }

    async fn rejects(&self, provider: &str, limit: u64) -> Result<Vec<QuarantinedRecord>, StoreError> {
        Ok(rejects::Entity::find()
            .filter(rejects::Column::Provider.eq(provider))
            .order_by_desc(rejects::Column::RejectedAt)
            .order_by_asc(rejects::Column::Record)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|row| QuarantinedRecord {
                run_id: row.run_id,
                provider: row.provider,
                rejected_at: row.rejected_at,
                first_seen: row.first_seen.unwrap_or(row.rejected_at),
                times: u64::try_from(row.seen_count).unwrap_or(1),
                rejection: Rejection {
                    record: row.record,
                    reason: row.reason,
                    raw: row.raw,
                },
            })
            .collect())
    }

    /// Deletes the runs of `provider` older than its latest `retention.runs` (their
    /// quarantined records go with the rejects' age limit), quarantined records last
    /// seen longer ago than `retention.rejects`, and the longest unseen past
    /// `retention.max_rejects`.
    async fn apply_retention(&self, provider: &str, retention: &Retention) -> Result<(u64, u64), StoreError> {
        let offset = retention.runs;
        let cutoff = sync_runs::Entity::find()
            .select_only()
            .column(sync_runs::Column::StartedAt)
            .filter(sync_runs::Column::Provider.eq(provider))
            .order_by_desc(sync_runs::Column::StartedAt)
            .offset(offset)
            .limit(1)
            .into_tuple::<DateTime<Utc>>()
            .one(&self.db)
            .await
            .map_err(store_error)?;
        let runs = match cutoff {
            None => 0,
            Some(oldest_removed) => {
                sync_runs::Entity::delete_many()
                    .filter(sync_runs::Column::Provider.eq(provider))
                    .filter(sync_runs::Column::StartedAt.lte(oldest_removed))
                    .exec(&self.db)
                    .await
                    .map_err(store_error)?
                    .rows_affected
            }
        };
        let too_old = Utc::now() - chrono::Duration::from_std(retention.rejects).unwrap_or_default();
        let rejects = rejects::Entity::delete_many()
            .filter(rejects::Column::Provider.eq(provider))
            .filter(rejects::Column::RejectedAt.lt(too_old))
            .exec(&self.db)
            .await
            .map_err(store_error)?
            .rows_affected;
        // The cap: past it, the rows seen longest ago go.
        let beyond_cap = rejects::Entity::find()
            .select_only()
            .column(rejects::Column::RejectedAt)
            .filter(rejects::Column::Provider.eq(provider))
            .order_by_desc(rejects::Column::RejectedAt)
            .offset(retention.max_rejects)
            .limit(1)
            .into_tuple::<DateTime<Utc>>()
            .one(&self.db)
            .await
            .map_err(store_error)?;
        let capped = match beyond_cap {
            None => 0,
            Some(newest_removed) => {
                rejects::Entity::delete_many()
                    .filter(rejects::Column::Provider.eq(provider))
                    .filter(rejects::Column::RejectedAt.lte(newest_removed))
                    .exec(&self.db)
                    .await
                    .map_err(store_error)?
                    .rows_affected
            }
        };
        Ok((runs, rejects + capped))
    }
}
