//! Every searchable item, streamed to the read model: what start-up and every rebuild
//! read, a million rows at a time at scale.
//!
//! One query, one stream, one row held at a time. No order is asked of the database:
//! the read model sorts its small per-item fields (a sort here was two to three times
//! slower than the scan, with or without an index). Reading SQLite as several streams
//! over `rowid` ranges was measured too and gained nothing (1.35 million items: 7.2 s
//! one stream, 7.7 s two, 8.3 s four); what did gain was building SQLite without its
//! memory statistics (`.cargo/config.toml`): 13-14 s before.

use boxoffice_core::{SearchItem, StoreError};
use futures_util::StreamExt;
use sea_orm::FromQueryResult;
use sea_orm::sea_query::{Expr, ExprTrait, Query, SelectStatement};

use super::convert::SearchRow;
use super::entity::{events, online_base_events};
use super::{SeaOrmStore, store_error};

fn searchable_rows() -> SelectStatement {
    use events::Column as C;
    Query::select()
        .columns([
            (events::Entity, C::Id),
            (events::Entity, C::Provider),
            (events::Entity, C::Title),
            (events::Entity, C::StartDate),
            (events::Entity, C::StartTime),
            (events::Entity, C::StartsAt),
            (events::Entity, C::EndDate),
            (events::Entity, C::EndTime),
            (events::Entity, C::EndsAt),
            (events::Entity, C::MinPrice),
            (events::Entity, C::MaxPrice),
        ])
        .from(events::Entity)
        .inner_join(
            online_base_events::Entity,
            Expr::col((online_base_events::Entity, online_base_events::Column::Provider))
                .equals((events::Entity, C::Provider))
                .and(
                    Expr::col((
                        online_base_events::Entity,
                        online_base_events::Column::BaseEventId,
                    ))
                    .equals((events::Entity, C::BaseEventId)),
                ),
        )
        .to_owned()
}

impl SeaOrmStore {
    /// About how many items are stored, without counting them (a count walks the
    /// whole table: 2-3 s at 1.5 million rows): SQLite's largest `rowid` (rows are
    /// never reused, so at least the count), PostgreSQL's planner estimate.
    pub(super) async fn stored_estimate(&self) -> Result<u64, StoreError> {
        use sea_orm::{ConnectionTrait, DbBackend, Statement};
        let backend = self.db.get_database_backend();
        let sql = match backend {
            DbBackend::Sqlite => "SELECT CAST(COALESCE(MAX(rowid), 0) AS BIGINT) FROM events",
            _ => "SELECT CAST(GREATEST(reltuples, 0) AS BIGINT) FROM pg_class WHERE relname = 'events'",
        };
        let row = self
            .db
            .query_one_raw(Statement::from_string(backend, sql))
            .await
            .map_err(store_error)?;
        let estimate: i64 = match row {
            Some(row) => row.try_get_by_index(0).map_err(store_error)?,
            None => 0,
        };
        Ok(u64::try_from(estimate).unwrap_or(0))
    }

    /// Hands every searchable item to `visit`; returns how many.
    pub(super) async fn stream_searchable(
        &self,
        visit: &mut (dyn FnMut(SearchItem) + Send),
    ) -> Result<u64, StoreError> {
        let statement = self.db.get_database_backend().build(&searchable_rows());
        let mut rows = SearchRow::find_by_statement(statement)
            .stream(&self.db)
            .await
            .map_err(store_error)?;
        let mut seen = 0;
        while let Some(row) = rows.next().await {
            visit(row.map_err(store_error)?.into_item()?);
            seen += 1;
        }
        Ok(seen)
    }
}
