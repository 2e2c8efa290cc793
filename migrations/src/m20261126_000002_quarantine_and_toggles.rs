//! The quarantine of rejected records and the runtime provider switches.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Rejects::Table)
                    .if_not_exists()
                    .col(uuid(Rejects::Id).primary_key())
                    .col(uuid(Rejects::RunId))
                    .col(string(Rejects::Provider))
                    .col(timestamp_with_time_zone(Rejects::RejectedAt))
                    .col(text(Rejects::Record))
                    .col(text(Rejects::Reason))
                    .col(text_null(Rejects::Raw))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("rejects_provider_rejected_at")
                    .table(Rejects::Table)
                    .col(Rejects::Provider)
                    .col(Rejects::RejectedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProviderSettings::Table)
                    .if_not_exists()
                    .col(string(ProviderSettings::Name).primary_key())
                    .col(boolean(ProviderSettings::Enabled))
                    .col(timestamp_with_time_zone(ProviderSettings::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Rejects::Table).if_exists().to_owned())
            .await?;
        manager
            .drop_table(
                Table::drop()
                    .table(ProviderSettings::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Rejects {
    Table,
    Id,
    RunId,
    Provider,
    RejectedAt,
    Record,
    Reason,
    Raw,
}

#[derive(DeriveIden)]
enum ProviderSettings {
    Table,
    Name,
    Enabled,
    UpdatedAt,
}
