//! The [`EventStore`] trait's reads and small writes.

use std::collections::HashMap;

use async_trait::async_trait;
use boxoffice_core::provider::{Rejection, Validators};
use boxoffice_core::store::{InstanceState, QuarantinedRecord, Retention};
use boxoffice_core::{EventStore, SearchItem, StoreError, StoredEvent, SyncReport, SyncTransaction};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    PaginatorTrait, QueryFilter, Statement, TransactionTrait,
};
use std::sync::Arc;
use uuid::Uuid;

use super::convert::stored_event;
use super::entity::{
    event_zones, events, feed_validators, online_base_events, provider_settings, store_state,
};
use super::transaction::SqlSyncTransaction;
use super::{SeaOrmStore, store_error, sync_lock_key};

#[async_trait]
impl EventStore for SeaOrmStore {
    async fn begin_sync(&self, provider: &str) -> Result<Box<dyn SyncTransaction>, StoreError> {
        let writer = match &self.sqlite_writer {
            Some(mutex) => Some(Arc::clone(mutex).lock_owned().await),
            None => None,
        };
        let transaction = self.db.begin().await.map_err(store_error)?;
        if !instance_lock(&transaction, provider).await? {
            return Err(StoreError::Conflict(format!(
                "another process is syncing {provider:?}"
            )));
        }
        Ok(Box::new(
            SqlSyncTransaction::begin(transaction, provider, writer).await?,
        ))
    }

    async fn for_each_searchable(
        &self,
        visit: &mut (dyn FnMut(SearchItem) + Send),
    ) -> Result<u64, StoreError> {
        self.stream_searchable(visit).await
    }

    async fn searchable_hint(&self) -> Result<u64, StoreError> {
        self.stored_estimate().await
    }

    async fn validators(&self, provider: &str) -> Result<Option<Validators>, StoreError> {
        Ok(feed_validators::Entity::find_by_id(provider.to_owned())
            .one(&self.db)
            .await
            .map_err(store_error)?
            .map(|row| Validators {
                etag: row.etag,
                last_modified: row.last_modified,
            }))
    }

    async fn get(&self, id: Uuid) -> Result<Option<StoredEvent>, StoreError> {
        let Some(model) = events::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        let searchable =
            online_base_events::Entity::find_by_id((model.provider.clone(), model.base_event_id.clone()))
                .one(&self.db)
                .await
                .map_err(store_error)?
                .is_some();
        let zones = self.zones_of(id).await?;
        stored_event(model, &zones, searchable).map(Some)
    }

    async fn get_searchable(&self, id: Uuid) -> Result<Option<StoredEvent>, StoreError> {
        // One query that finds nothing for an unknown id and for an unsearchable one.
        let online = Query::select()
            .expr(Expr::val(1))
            .from(online_base_events::Entity)
            .and_where(
                Expr::col((online_base_events::Entity, online_base_events::Column::Provider))
                    .equals((events::Entity, events::Column::Provider)),
            )
            .and_where(
                Expr::col((
                    online_base_events::Entity,
                    online_base_events::Column::BaseEventId,
                ))
                .equals((events::Entity, events::Column::BaseEventId)),
            )
            .to_owned();
        let Some(model) = events::Entity::find_by_id(id)
            .filter(Expr::exists(online))
            .one(&self.db)
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        let zones = self.zones_of(id).await?;
        stored_event(model, &zones, true).map(Some)
    }

    async fn data_version(&self) -> Result<i64, StoreError> {
        let state = store_state::Entity::find_by_id(1)
            .one(&self.db)
            .await
            .map_err(store_error)?;
        Ok(state.map_or(0, |state| state.data_version))
    }

    async fn run_started(&self, report: &SyncReport) -> Result<(), StoreError> {
        self.insert_running(report).await
    }

    async fn run_heartbeat(&self, report: &SyncReport, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.beat(report, at).await
    }

    async fn run_discarded(&self, run_id: Uuid) -> Result<(), StoreError> {
        self.discard_run(run_id).await
    }

    async fn record_run(&self, report: &SyncReport, quarantine: &[Rejection]) -> Result<(), StoreError> {
        self.record(report, quarantine).await
    }

    async fn run(&self, provider: &str, run_id: Uuid) -> Result<Option<SyncReport>, StoreError> {
        self.one_run(provider, run_id).await
    }

    async fn instance_state(&self, provider: &str) -> Result<InstanceState, StoreError> {
        self.state_of(provider).await
    }

    async fn save_instance_state(&self, provider: &str, state: &InstanceState) -> Result<(), StoreError> {
        self.keep_state(provider, state).await
    }

    async fn apply_retention(&self, provider: &str, retention: &Retention) -> Result<(u64, u64), StoreError> {
        self.trim(provider, retention).await
    }

    async fn item_count(&self, provider: &str) -> Result<u64, StoreError> {
        events::Entity::find()
            .filter(events::Column::Provider.eq(provider))
            .count(&self.db)
            .await
            .map_err(store_error)
    }

    async fn retire(&self, provider: &str) -> Result<u64, StoreError> {
        // SQLite: after every write of this process (another process's waits on the
        // file's lock); PostgreSQL: only while no process syncs the instance.
        let _writer = match &self.sqlite_writer {
            Some(mutex) => Some(Arc::clone(mutex).lock_owned().await),
            None => None,
        };
        let transaction = self.db.begin().await.map_err(store_error)?;
        if !instance_lock(&transaction, provider).await? {
            return Err(StoreError::SyncRunning(provider.to_owned()));
        }
        event_zones::Entity::delete_many()
            .filter(
                event_zones::Column::Id.in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(events::Column::Id)
                        .from(events::Entity)
                        .and_where(events::Column::Provider.eq(provider))
                        .to_owned(),
                ),
            )
            .exec(&transaction)
            .await
            .map_err(store_error)?;
        let retired = events::Entity::delete_many()
            .filter(events::Column::Provider.eq(provider))
            .exec(&transaction)
            .await
            .map_err(store_error)?
            .rows_affected;
        online_base_events::Entity::delete_many()
            .filter(online_base_events::Column::Provider.eq(provider))
            .exec(&transaction)
            .await
            .map_err(store_error)?;
        feed_validators::Entity::delete_by_id(provider.to_owned())
            .exec(&transaction)
            .await
            .map_err(store_error)?;
        if retired > 0 {
            store_state::Entity::update_many()
                .col_expr(
                    store_state::Column::DataVersion,
                    Expr::col(store_state::Column::DataVersion).add(1),
                )
                .filter(store_state::Column::Id.eq(1))
                .exec(&transaction)
                .await
                .map_err(store_error)?;
        }
        transaction.commit().await.map_err(store_error)?;
        Ok(retired)
    }

    async fn rejects(&self, provider: &str, limit: u64) -> Result<Vec<QuarantinedRecord>, StoreError> {
        self.quarantine(provider, limit).await
    }

    async fn provider_toggles(&self) -> Result<HashMap<String, bool>, StoreError> {
        Ok(provider_settings::Entity::find()
            .all(&self.db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|row| (row.name, row.enabled))
            .collect())
    }

    async fn set_provider_enabled(&self, provider: &str, enabled: bool) -> Result<(), StoreError> {
        let row = provider_settings::ActiveModel {
            name: Set(provider.to_owned()),
            enabled: Set(enabled),
            updated_at: Set(Utc::now()),
        };
        provider_settings::Entity::insert(row)
            .on_conflict(
                OnConflict::column(provider_settings::Column::Name)
                    .update_columns([
                        provider_settings::Column::Enabled,
                        provider_settings::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn runs(&self, provider: &str, limit: u64) -> Result<Vec<SyncReport>, StoreError> {
        self.latest_runs(provider, limit).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.db
            .ping()
            .await
            .map_err(|error| StoreError::Unavailable(error.to_string()))
    }
}

impl SeaOrmStore {
    /// The stored zones of item `id`, as JSON (`[]` when it has none).
    async fn zones_of(&self, id: Uuid) -> Result<String, StoreError> {
        Ok(event_zones::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(store_error)?
            .map_or_else(|| "[]".into(), |row| row.zones))
    }
}

/// Takes `provider`'s lock for the rest of `transaction` (PostgreSQL: an advisory lock
/// that dies with the connection); `false` when another session holds it. SQLite has
/// one writer, held by the caller: always `true`.
async fn instance_lock(transaction: &DatabaseTransaction, provider: &str) -> Result<bool, StoreError> {
    if transaction.get_database_backend() != DbBackend::Postgres {
        return Ok(true);
    }
    let row = transaction
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_try_advisory_xact_lock($1) AS locked",
            [sync_lock_key(provider).into()],
        ))
        .await
        .map_err(store_error)?;
    Ok(row
        .map(|row| row.try_get::<bool>("", "locked"))
        .transpose()
        .map_err(store_error)?
        .unwrap_or(false))
}
