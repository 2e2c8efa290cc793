//! Every searchable item, streamed to the read model: what start-up and every rebuild
//! read, a million rows at a time at scale.
//!
//! One query, one stream, one row held at a time. No order is asked of the database:
//! the read model sorts its small per-item fields (a sort here was two to three times
//! slower than the scan, with or without an index). Reading SQLite as several streams
//! over `rowid` ranges was measured too and gained nothing (1.35 million items: 7.2 s
//! one stream, 7.7 s two, 8.3 s four); what did gain was building SQLite without its
//! memory statistics (`.cargo/config.toml`): 13-14 s before.

use boxoffice_core::store::Changes;
use boxoffice_core::{SearchItem, StoreError};
use futures_util::StreamExt;
use sea_orm::sea_query::{Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{
    AccessMode, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, IsolationLevel,
    QueryFilter, QueryOrder, TransactionTrait,
};

use super::convert::SearchRow;
use super::entity::{events, online_base_events, store_commits};
use super::{SeaOrmStore, store_error, version};

/// Hands every row `query` selects (of [`searchable_rows`]'s columns) to `visit`, one
/// at a time; returns how many.
async fn stream<C>(
    connection: &C,
    query: &SelectStatement,
    visit: &mut (dyn FnMut(SearchItem) + Send),
) -> Result<u64, StoreError>
where
    C: ConnectionTrait + sea_orm::StreamTrait,
{
    let statement = ConnectionTrait::get_database_backend(connection).build(query);
    let mut rows = SearchRow::find_by_statement(statement)
        .stream(connection)
        .await
        .map_err(store_error)?;
    let mut seen = 0;
    while let Some(row) = rows.next().await {
        visit(row.map_err(store_error)?.into_item()?);
        seen += 1;
    }
    Ok(seen)
}

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
        stream(&self.db, &searchable_rows(), visit).await
    }

    /// What the commits after `since` changed (see `ItemStore::changes_since`), read
    /// in one snapshot of the database so that no commit is seen in part: the rows
    /// the commits wrote, and the rows whose base event they first saw online.
    pub(super) async fn stream_changes(
        &self,
        since: i64,
        visit: &mut (dyn FnMut(SearchItem) + Send),
    ) -> Result<Option<Changes>, StoreError> {
        let transaction = match self.db.get_database_backend() {
            DbBackend::Postgres => {
                self.db
                    .begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly))
                    .await
            }
            // A SQLite read transaction reads one snapshot of the file already.
            _ => self.db.begin().await,
        }
        .map_err(store_error)?;
        let version = version::data_version(&transaction).await?;
        if since > version {
            return Ok(None);
        }
        if since == version {
            // What every poll finds between commits: one query, no log read.
            return Ok(Some(Changes {
                version,
                retired: Vec::new(),
            }));
        }
        let commits = store_commits::Entity::find()
            .filter(store_commits::Column::Version.gt(since))
            .order_by_asc(store_commits::Column::Version)
            .all(&transaction)
            .await
            .map_err(store_error)?;
        // A version without its row: pruned, or written by a build without the log.
        if i64::try_from(commits.len()).ok() != Some(version - since) {
            return Ok(None);
        }
        let retired = commits
            .iter()
            .filter_map(|commit| commit.retired.clone())
            .collect();
        if commits.iter().any(|commit| commit.txn > 0) {
            use events::Column as C;
            let numbers = || {
                Query::select()
                    .column(store_commits::Column::Txn)
                    .from(store_commits::Entity)
                    .and_where(Expr::col(store_commits::Column::Version).gt(since))
                    .and_where(Expr::col(store_commits::Column::Txn).gt(0))
                    .to_owned()
            };
            let written = searchable_rows()
                .and_where(Expr::col((events::Entity, C::ChangeTxn)).in_subquery(numbers()))
                .to_owned();
            let made_searchable = searchable_rows()
                .and_where(
                    Expr::col((online_base_events::Entity, online_base_events::Column::ChangeTxn))
                        .in_subquery(numbers()),
                )
                .and_where(Expr::col((events::Entity, C::ChangeTxn)).not_in_subquery(numbers()))
                .to_owned();
            stream(&transaction, &written, visit).await?;
            stream(&transaction, &made_searchable, visit).await?;
        }
        transaction.commit().await.map_err(store_error)?;
        Ok(Some(Changes { version, retired }))
    }
}
