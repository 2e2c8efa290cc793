//! One quarantine row per distinct rejection of an instance, with when it was first
//! and last seen and how often: a feed that keeps the same bad records no longer adds
//! rows with every run. Rows from before keep a NULL digest and age out as before.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        for column in [
            string_len_null(Rejects::Digest, 64),
            timestamp_with_time_zone_null(Rejects::FirstSeen),
            big_integer(Rejects::SeenCount).default(1).to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Rejects::Table)
                        .add_column_if_not_exists(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .exec_stmt(
                Query::update()
                    .table(Rejects::Table)
                    .value(Rejects::FirstSeen, Expr::col(Rejects::RejectedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("rejects_provider_digest")
                    .table(Rejects::Table)
                    .col(Rejects::Provider)
                    .col(Rejects::Digest)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("rejects_provider_digest")
                    .table(Rejects::Table)
                    .to_owned(),
            )
            .await?;
        for column in [Rejects::Digest, Rejects::FirstSeen, Rejects::SeenCount] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Rejects::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Rejects {
    Table,
    Provider,
    Digest,
    FirstSeen,
    SeenCount,
    RejectedAt,
}
