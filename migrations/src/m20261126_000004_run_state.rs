//! Run state every process shares: each instance's breaker and last success, and a
//! heartbeat on running runs (so that a run whose process died reads as abandoned).

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
                    .table(ProviderState::Table)
                    .if_not_exists()
                    .col(string(ProviderState::Provider).primary_key())
                    .col(integer(ProviderState::ConsecutiveFailures))
                    .col(timestamp_with_time_zone_null(ProviderState::OpenUntil))
                    .col(timestamp_with_time_zone_null(ProviderState::LastSuccess))
                    .col(timestamp_with_time_zone(ProviderState::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(SyncRuns::Table)
                    .add_column(timestamp_with_time_zone_null(SyncRuns::HeartbeatAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SyncRuns::Table)
                    .drop_column(SyncRuns::HeartbeatAt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(ProviderState::Table).if_exists().to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ProviderState {
    Table,
    Provider,
    ConsecutiveFailures,
    OpenUntil,
    LastSuccess,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SyncRuns {
    Table,
    HeartbeatAt,
}
