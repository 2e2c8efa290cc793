//! What each commit changed, so that a process brings its read model forward by a
//! change instead of reading every item again (ADR 0015): a change number on each
//! item row and on each base event's first online sighting, and one row per commit
//! that ties its change number (or a retirement) to the data version it made.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        for (table, column) in [
            (Tables::Events, Tables::ChangeTxn),
            (Tables::OnlineBaseEvents, Tables::ChangeTxn),
            (Tables::StoreState, Tables::NextTxn),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column_if_not_exists(big_integer(column).default(0))
                        .to_owned(),
                )
                .await?;
        }
        for (name, table) in [
            ("idx_events_change_txn", Tables::Events),
            ("idx_online_base_events_change_txn", Tables::OnlineBaseEvents),
        ] {
            manager
                .create_index(
                    Index::create()
                        .if_not_exists()
                        .name(name)
                        .table(table)
                        .col(Tables::ChangeTxn)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(StoreCommits::Table)
                    .if_not_exists()
                    .col(big_integer(StoreCommits::Version).primary_key())
                    .col(big_integer(StoreCommits::Txn).default(0))
                    .col(text_null(StoreCommits::Retired))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(StoreCommits::Table).to_owned())
            .await?;
        for (name, table) in [
            ("idx_events_change_txn", Tables::Events),
            ("idx_online_base_events_change_txn", Tables::OnlineBaseEvents),
        ] {
            manager
                .drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        for (table, column) in [
            (Tables::Events, Tables::ChangeTxn),
            (Tables::OnlineBaseEvents, Tables::ChangeTxn),
            (Tables::StoreState, Tables::NextTxn),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Tables {
    Events,
    OnlineBaseEvents,
    StoreState,
    ChangeTxn,
    NextTxn,
}

#[derive(DeriveIden)]
enum StoreCommits {
    Table,
    Version,
    Txn,
    Retired,
}
