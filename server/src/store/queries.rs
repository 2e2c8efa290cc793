//! The [`ItemStore`]: items' reads, retirement, and where a sync's writes begin.

use std::sync::Arc;

use async_trait::async_trait;
use boxoffice_core::provider::Validators;
use boxoffice_core::store::Changes;
use boxoffice_core::{ItemStore, SearchItem, StoreError, StoredEvent, SyncTransaction};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, PaginatorTrait, QueryFilter,
    Statement, TransactionTrait,
};
use uuid::Uuid;

use super::convert::stored_event;
use super::entity::{event_zones, events, feed_validators, online_base_events};
use super::transaction::SqlSyncTransaction;
use super::version::{self, Change, bump_data_version};
use super::{SeaOrmStore, store_error, sync_lock_key};

#[async_trait]
impl ItemStore for SeaOrmStore {
    async fn begin_sync(&self, provider: &str) -> Result<Box<dyn SyncTransaction>, StoreError> {
        let writer = match &self.sqlite_writer {
            Some(mutex) => Some(Arc::clone(mutex).lock_owned().await),
            None => None,
        };
        let txn = version::next_change_number(&self.db).await?;
        let transaction = self.db.begin().await.map_err(store_error)?;
        if !instance_lock(&transaction, provider).await? {
            return Err(StoreError::Conflict(format!(
                "another process is syncing {provider:?}"
            )));
        }
        Ok(Box::new(
            SqlSyncTransaction::begin(transaction, provider, txn, writer).await?,
        ))
    }

    async fn for_each_searchable(
        &self,
        visit: &mut (dyn FnMut(SearchItem) + Send),
    ) -> Result<u64, StoreError> {
        self.stream_searchable(visit).await
    }

    async fn changes_since(
        &self,
        since: i64,
        visit: &mut (dyn FnMut(SearchItem) + Send),
    ) -> Result<Option<Changes>, StoreError> {
        self.stream_changes(since, visit).await
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
        version::data_version(&self.db).await
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
            bump_data_version(&transaction, Change::Retired(provider)).await?;
        }
        transaction.commit().await.map_err(store_error)?;
        Ok(retired)
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
