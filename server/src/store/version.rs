//! The data version every process polls: the one row of `store_state`, moved on by
//! one whenever a commit changes what is served (a sync's, a retirement's), and the
//! change log beside it (`store_commits`) that says what each version changed.

use boxoffice_core::StoreError;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, QueryFilter, Statement};

use super::entity::{store_commits, store_state};
use super::store_error;

/// Commits the change log keeps: a process further behind reads everything again.
/// A row is a few bytes; at one commit a second this is nearly three hours.
pub(super) const COMMITS_KEPT: i64 = 10_000;

/// What a commit changed.
pub(super) enum Change<'a> {
    /// A sync's writes: every row it wrote carries this change number.
    Sync(i64),
    /// Every item of this instance is gone.
    Retired(&'a str),
}

/// A new change number for a sync's rows, taken outside its transaction (on
/// PostgreSQL, holding `store_state`'s row to the end of a sync would make syncs take
/// turns). Numbers are unique, not ordered by commit: the change log orders them.
pub(super) async fn next_change_number(connection: &impl ConnectionTrait) -> Result<i64, StoreError> {
    returning(
        connection,
        "UPDATE store_state SET next_txn = next_txn + 1 WHERE id = 1 RETURNING next_txn",
    )
    .await
}

/// Moves the data version on by one, inside the caller's transaction, writes what the
/// new version changed, and tells the other processes at its commit.
pub(super) async fn bump_data_version(
    connection: &impl ConnectionTrait,
    change: Change<'_>,
) -> Result<(), StoreError> {
    // The row lock this takes orders commits: the next one's update waits for this
    // commit, so versions are handed out in commit order.
    let version = returning(
        connection,
        "UPDATE store_state SET data_version = data_version + 1 WHERE id = 1 RETURNING data_version",
    )
    .await?;
    let (txn, retired) = match change {
        Change::Sync(txn) => (txn, None),
        Change::Retired(provider) => (0, Some(provider.to_owned())),
    };
    store_commits::Entity::insert(store_commits::ActiveModel {
        version: Set(version),
        txn: Set(txn),
        retired: Set(retired),
    })
    .exec_without_returning(connection)
    .await
    .map_err(store_error)?;
    store_commits::Entity::delete_many()
        .filter(Expr::col(store_commits::Column::Version).lte(version - COMMITS_KEPT))
        .exec(connection)
        .await
        .map_err(store_error)?;
    super::notify::announce(connection).await.map_err(store_error)
}

async fn returning(connection: &impl ConnectionTrait, sql: &str) -> Result<i64, StoreError> {
    let backend = connection.get_database_backend();
    let row = connection
        .query_one_raw(Statement::from_string(backend, sql))
        .await
        .map_err(store_error)?
        .ok_or_else(|| StoreError::Backend("store_state has no row".into()))?;
    row.try_get_by_index::<i64>(0).map_err(store_error)
}

/// The data version (0 before the first change).
pub(super) async fn data_version(connection: &impl ConnectionTrait) -> Result<i64, StoreError> {
    let state = store_state::Entity::find_by_id(1)
        .one(connection)
        .await
        .map_err(store_error)?;
    Ok(state.map_or(0, |state| state.data_version))
}
