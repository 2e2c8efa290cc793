//! One sync's writes, in one transaction: dropped without commit, nothing of it is kept.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use boxoffice_core::provider::Validators;
use boxoffice_core::{BatchOutcome, EventRecord, SellMode, StoreError, SyncTransaction};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect};
use tokio::sync::OwnedMutexGuard;
use uuid::Uuid;

use super::convert::{active_model, zones_row};
use super::entity::{event_zones, events, feed_validators, online_base_events, store_state};
use super::store_error;

/// One sync's writes.
pub(super) struct SqlSyncTransaction {
    transaction: DatabaseTransaction,
    provider: String,
    /// Whether anything served changed, to bump the data version at commit.
    changed: bool,
    _writer: Option<OwnedMutexGuard<()>>,
}

impl SqlSyncTransaction {
    pub(super) fn new(
        transaction: DatabaseTransaction,
        provider: &str,
        writer: Option<OwnedMutexGuard<()>>,
    ) -> Self {
        Self {
            transaction,
            provider: provider.to_owned(),
            changed: false,
            _writer: writer,
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
        let tx = &self.transaction;
        let ids: Vec<Uuid> = records.iter().map(EventRecord::id).collect();
        let stored: HashMap<Uuid, String> = events::Entity::find()
            .select_only()
            .column(C::Id)
            .column(C::ContentHash)
            .filter(C::Id.is_in(ids))
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
        for record in &records {
            if record.key.provider != self.provider {
                return Err(StoreError::Backend(format!(
                    "a record of {:?} arrived in a sync of {:?}",
                    record.key.provider, self.provider
                )));
            }
            if record.sell_mode == SellMode::Online {
                online_bases.insert(record.key.base_event_id.as_str());
            }
            let hash = record.content_hash();
            match stored.get(&record.id()) {
                Some(old) if *old == hash => unchanged.push(record.id()),
                Some(_) => {
                    outcome.updated += 1;
                    writes.push(active_model(record, hash, seen_at));
                    zones.push(zones_row(record));
                }
                None => {
                    outcome.inserted += 1;
                    writes.push(active_model(record, hash, seen_at));
                    zones.push(zones_row(record));
                }
            }
        }
        outcome.unchanged = unchanged.len() as u64;

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
                    C::ContentHash,
                    C::LastSeen,
                    C::LastChanged,
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
        if !unchanged.is_empty() {
            events::Entity::update_many()
                .col_expr(C::LastSeen, Expr::value(seen_at))
                .filter(C::Id.is_in(unchanged))
                .exec(tx)
                .await
                .map_err(store_error)?;
        }
        if !online_bases.is_empty() {
            let rows = online_bases
                .into_iter()
                .map(|base| online_base_events::ActiveModel {
                    provider: Set(self.provider.clone()),
                    base_event_id: Set(base.to_owned()),
                    first_seen: Set(seen_at),
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
            .exec(&self.transaction)
            .await
            .map_err(store_error)?;
        Ok(touched.rows_affected)
    }

    async fn set_validators(&mut self, validators: Option<Validators>) -> Result<(), StoreError> {
        let Some(validators) = validators else {
            feed_validators::Entity::delete_by_id(self.provider.clone())
                .exec(&self.transaction)
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
            .exec_without_returning(&self.transaction)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        if self.changed {
            store_state::Entity::update_many()
                .col_expr(
                    store_state::Column::DataVersion,
                    Expr::col(store_state::Column::DataVersion).add(1),
                )
                .filter(store_state::Column::Id.eq(1))
                .exec(&self.transaction)
                .await
                .map_err(store_error)?;
        }
        self.transaction.commit().await.map_err(store_error)
    }
}
