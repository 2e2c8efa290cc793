//! One sync's writes, in one transaction: dropped without commit, nothing of it is kept.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use boxoffice_core::provider::Validators;
use boxoffice_core::{BatchOutcome, EventRecord, SellMode, StoreError, SyncTransaction};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter,
    QuerySelect,
};
use tokio::sync::OwnedMutexGuard;
use uuid::Uuid;

use super::convert::{active_model, zones_row};
use super::entity::{event_zones, events, feed_validators, online_base_events};
use super::store_error;
use super::version::{Change, bump_data_version};

/// SQLite's page cache of a sync's connection while the sync runs, in KiB (SQLite's
/// default is about 2 MB). A first sync inserts rows under random ids into four indexes;
/// with the default cache nearly every insert misses, re-reads a page from the WAL and
/// spills another: on the 150,000-session feed a third of the sync was `pread` and
/// `pwrite`. 16 MiB took that sync from 6.1 s to 4.7 s for 10 MB more at its peak (32
/// MiB: 4.4 s for 29 MB; 64 MiB: no faster). The connection's own size is put back
/// when the sync ends, so the pooled connections that later scan the table for the read
/// model keep their small caches.
pub(super) const SQLITE_SYNC_CACHE_KIB: i64 = 16 * 1024;

/// One sync's writes.
pub(super) struct SqlSyncTransaction {
    /// `None` once committed.
    transaction: Option<DatabaseTransaction>,
    provider: String,
    /// The change number every row this sync writes carries (`store_commits`).
    txn: i64,
    /// Whether anything served changed, to bump the data version at commit.
    changed: bool,
    /// SQLite: the connection's `cache_size` before the sync, put back at its end.
    cache_size: Option<i64>,
    writer: Option<OwnedMutexGuard<()>>,
}

impl SqlSyncTransaction {
    /// Starts a sync's writes of `provider` in `transaction` under change number
    /// `txn` (holding `writer`, SQLite's one-writer lock, until the end).
    pub(super) async fn begin(
        transaction: DatabaseTransaction,
        provider: &str,
        txn: i64,
        writer: Option<OwnedMutexGuard<()>>,
    ) -> Result<Self, StoreError> {
        let cache_size = match transaction.get_database_backend() {
            DbBackend::Sqlite => {
                let before = cache_size(&transaction).await?;
                set_cache_size(&transaction, -SQLITE_SYNC_CACHE_KIB).await?;
                Some(before)
            }
            _ => None,
        };
        Ok(Self {
            transaction: Some(transaction),
            provider: provider.to_owned(),
            txn,
            changed: false,
            cache_size,
            writer,
        })
    }

    fn tx(&self) -> Result<&DatabaseTransaction, StoreError> {
        self.transaction.as_ref().ok_or_else(finished)
    }
}

fn finished() -> StoreError {
    StoreError::Backend("the sync transaction is already finished".into())
}

/// SQLite's `cache_size` of the connection (negative: KiB; positive: pages).
pub(super) async fn cache_size(connection: &impl ConnectionTrait) -> Result<i64, StoreError> {
    let row = connection
        .query_one_raw(sea_orm::Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA cache_size",
        ))
        .await
        .map_err(store_error)?
        .ok_or_else(|| StoreError::Backend("PRAGMA cache_size answered no row".into()))?;
    row.try_get_by_index::<i64>(0).map_err(store_error)
}

async fn set_cache_size(connection: &impl ConnectionTrait, size: i64) -> Result<(), StoreError> {
    connection
        .execute_unprepared(&format!("PRAGMA cache_size = {size}"))
        .await
        .map_err(store_error)?;
    Ok(())
}

impl Drop for SqlSyncTransaction {
    /// A sync dropped before its commit (failed or cancelled) rolls back; on SQLite its
    /// connection's cache size is put back first, on the runtime, before the connection
    /// returns to the pool. Without a runtime (the process is ending) the plain drop
    /// rolls back all the same.
    fn drop(&mut self) {
        let (Some(transaction), Some(before)) = (self.transaction.take(), self.cache_size) else {
            return;
        };
        let writer = self.writer.take();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = set_cache_size(&transaction, before).await;
                let _ = transaction.rollback().await;
                drop(writer);
            });
        }
    }
}

#[async_trait]
impl SyncTransaction for SqlSyncTransaction {
    async fn upsert(
        &mut self,
        records: Vec<EventRecord>,
        seen_at: DateTime<Utc>,
    ) -> Result<BatchOutcome, StoreError> {
        use events::Column as C;
        let mut outcome = BatchOutcome::default();
        if records.is_empty() {
            return Ok(outcome);
        }
        let tx = self.transaction.as_ref().ok_or_else(finished)?;
        // An id is a SHA-1 of the key: computed once per record.
        let ids: Vec<Uuid> = records.iter().map(EventRecord::id).collect();
        let stored: HashMap<Uuid, String> = events::Entity::find()
            .select_only()
            .column(C::Id)
            .column(C::ContentHash)
            .filter(C::Id.is_in(ids.iter().copied()))
            .into_tuple::<(Uuid, String)>()
            .all(tx)
            .await
            .map_err(store_error)?
            .into_iter()
            .collect();

        let mut writes = Vec::new();
        let mut zones = Vec::new();
        let mut unchanged = Vec::new();
        let mut online_bases = HashSet::new();
        for (record, &id) in records.iter().zip(&ids) {
            if record.key.provider != self.provider {
                return Err(StoreError::Backend(format!(
                    "a record of {:?} arrived in a sync of {:?}",
                    record.key.provider, self.provider
                )));
            }
            if record.sell_mode == SellMode::Online {
                online_bases.insert(record.key.series_id.as_str());
            }
            let hash = record.content_hash();
            match stored.get(&id) {
                Some(old) if *old == hash => unchanged.push((id, record, hash)),
                Some(_) => {
                    outcome.updated += 1;
                    writes.push(active_model(id, record, hash, seen_at, self.txn));
                    zones.push(zones_row(id, record));
                }
                None => {
                    outcome.inserted += 1;
                    writes.push(active_model(id, record, hash, seen_at, self.txn));
                    zones.push(zones_row(id, record));
                }
            }
        }
        if !unchanged.is_empty() {
            let touched = events::Entity::update_many()
                .col_expr(C::LastSeen, Expr::value(seen_at))
                .filter(C::Id.is_in(unchanged.iter().map(|(id, ..)| *id)))
                .exec(tx)
                .await
                .map_err(store_error)?
                .rows_affected;
            outcome.unchanged = touched;
            if touched < unchanged.len() as u64 {
                // Rows read a moment ago are gone (deleted by someone not holding the
                // instance's lock): the feed still has them, so they are stored anew.
                let present: HashSet<Uuid> = events::Entity::find()
                    .select_only()
                    .column(C::Id)
                    .filter(C::Id.is_in(unchanged.iter().map(|(id, ..)| *id)))
                    .into_tuple::<Uuid>()
                    .all(tx)
                    .await
                    .map_err(store_error)?
                    .into_iter()
                    .collect();
                for (id, record, hash) in unchanged.into_iter().filter(|(id, ..)| !present.contains(id)) {
                    outcome.inserted += 1;
                    writes.push(active_model(id, record, hash, seen_at, self.txn));
                    zones.push(zones_row(id, record));
                }
            }
        }
        if !writes.is_empty() {
            // New rows are inserted; changed rows take every column but their history's
            // start (first_seen).
            let on_conflict = OnConflict::column(C::Id)
                .update_columns([
                    C::Title,
                    C::SellMode,
                    C::OrganizerCompanyId,
                    C::SoldOut,
                    C::StartDate,
                    C::StartTime,
                    C::StartsAt,
                    C::EndDate,
                    C::EndTime,
                    C::EndsAt,
                    C::SellFrom,
                    C::SellTo,
                    C::MinPrice,
                    C::MaxPrice,
                    C::Currency,
                    C::ContentHash,
                    C::LastSeen,
                    C::LastChanged,
                    C::ChangeTxn,
                ])
                .to_owned();
            events::Entity::insert_many(writes)
                .on_conflict(on_conflict)
                .exec_without_returning(tx)
                .await
                .map_err(store_error)?;
            event_zones::Entity::insert_many(zones)
                .on_conflict(
                    OnConflict::column(event_zones::Column::Id)
                        .update_column(event_zones::Column::Zones)
                        .to_owned(),
                )
                .exec_without_returning(tx)
                .await
                .map_err(store_error)?;
            self.changed = true;
        }
        if !online_bases.is_empty() {
            let rows = online_bases
                .into_iter()
                .map(|base| online_base_events::ActiveModel {
                    provider: Set(self.provider.clone()),
                    base_event_id: Set(base.to_owned()),
                    first_seen: Set(seen_at),
                    change_txn: Set(self.txn),
                });
            let on_conflict = OnConflict::columns([
                online_base_events::Column::Provider,
                online_base_events::Column::BaseEventId,
            ])
            .do_nothing()
            .to_owned();
            let inserted = online_base_events::Entity::insert_many(rows)
                .on_conflict(on_conflict)
                .exec_without_returning(tx)
                .await
                .map_err(store_error)?;
            self.changed |= inserted > 0;
        }
        Ok(outcome)
    }

    async fn touch_all(&mut self, seen_at: DateTime<Utc>) -> Result<u64, StoreError> {
        let touched = events::Entity::update_many()
            .col_expr(events::Column::LastSeen, Expr::value(seen_at))
            .filter(events::Column::Provider.eq(self.provider.as_str()))
            .exec(self.tx()?)
            .await
            .map_err(store_error)?;
        Ok(touched.rows_affected)
    }

    async fn set_validators(&mut self, validators: Option<Validators>) -> Result<(), StoreError> {
        let Some(validators) = validators else {
            feed_validators::Entity::delete_by_id(self.provider.clone())
                .exec(self.tx()?)
                .await
                .map_err(store_error)?;
            return Ok(());
        };
        let row = feed_validators::ActiveModel {
            provider: Set(self.provider.clone()),
            etag: Set(validators.etag),
            last_modified: Set(validators.last_modified),
            updated_at: Set(Utc::now()),
        };
        feed_validators::Entity::insert(row)
            .on_conflict(
                OnConflict::column(feed_validators::Column::Provider)
                    .update_columns([
                        feed_validators::Column::Etag,
                        feed_validators::Column::LastModified,
                        feed_validators::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(self.tx()?)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        let transaction = self.transaction.take().ok_or_else(finished)?;
        if self.changed {
            bump_data_version(&transaction, Change::Sync(self.txn)).await?;
        }
        if let Some(before) = self.cache_size {
            // Shrinking the cache inside the transaction frees the pages as the commit
            // cleans them.
            set_cache_size(&transaction, before).await?;
        }
        transaction.commit().await.map_err(store_error)
    }
}

#[cfg(test)]
mod tests {
    use boxoffice_core::ItemStore;

    use sea_orm::TransactionTrait;

    use super::super::{SeaOrmStore, StoreOptions};
    use super::*;

    /// One connection, so that every statement runs on the connection the sync used.
    async fn one_connection_store(dir: &tempfile::TempDir) -> Result<SeaOrmStore, StoreError> {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("cache.db").display());
        let options = StoreOptions {
            max_connections: 1,
            ..StoreOptions::default()
        };
        let store = SeaOrmStore::connect(&url, &options).await?;
        store.migrate().await?;
        Ok(store)
    }

    #[tokio::test]
    async fn a_sync_enlarges_sqlites_cache_and_gives_it_back() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Backend(e.to_string()))?;
        let store = one_connection_store(&dir).await?;
        let before = cache_size(&store.db).await?;
        assert_ne!(before, -SQLITE_SYNC_CACHE_KIB);

        // Committed.
        let sync =
            SqlSyncTransaction::begin(store.db.begin().await.map_err(store_error)?, "p", 1, None).await?;
        assert_eq!(cache_size(sync.tx()?).await?, -SQLITE_SYNC_CACHE_KIB);
        Box::new(sync).commit().await?;
        assert_eq!(cache_size(&store.db).await?, before);

        // Dropped (a failed or cancelled sync): the connection comes back to the pool
        // once the size is put back and the transaction rolled back.
        let sync = store.begin_sync("p").await?;
        drop(sync);
        assert_eq!(cache_size(&store.db).await?, before);
        Ok(())
    }
}
