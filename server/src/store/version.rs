//! The data version every process polls: the one row of `store_state`, moved on by
//! one whenever a commit changes what is served (a sync's, a retirement's).

use boxoffice_core::StoreError;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::entity::store_state;
use super::store_error;

/// Moves the data version on by one, inside the caller's transaction, and tells the
/// other processes at its commit.
pub(super) async fn bump_data_version(connection: &impl ConnectionTrait) -> Result<(), StoreError> {
    store_state::Entity::update_many()
        .col_expr(
            store_state::Column::DataVersion,
            Expr::col(store_state::Column::DataVersion).add(1),
        )
        .filter(store_state::Column::Id.eq(1))
        .exec(connection)
        .await
        .map_err(store_error)?;
    super::notify::announce(connection).await.map_err(store_error)
}

/// The data version (0 before the first change).
pub(super) async fn data_version(connection: &impl ConnectionTrait) -> Result<i64, StoreError> {
    let state = store_state::Entity::find_by_id(1)
        .one(connection)
        .await
        .map_err(store_error)?;
    Ok(state.map_or(0, |state| state.data_version))
}
