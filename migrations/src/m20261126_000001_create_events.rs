//! Items, the base events seen online, the run history and the data version.
//!
//! Instants are stored as epoch seconds (`BIGINT`): exact, ordered the same on every
//! backend, and cheap to compare. Local dates and times are stored as the provider's
//! wall-clock text (`YYYY-MM-DD`, `HH:MM:SS`), prices as exact decimal text.

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
                    .table(Events::Table)
                    .if_not_exists()
                    .col(uuid(Events::Id).primary_key())
                    .col(string(Events::Provider))
                    .col(string(Events::BaseEventId))
                    .col(string(Events::EventId))
                    .col(text(Events::Title))
                    .col(string(Events::SellMode))
                    .col(string_null(Events::OrganizerCompanyId))
                    .col(boolean(Events::SoldOut))
                    .col(string(Events::StartDate))
                    .col(string_null(Events::StartTime))
                    .col(big_integer(Events::StartsAt))
                    .col(string_null(Events::EndDate))
                    .col(string_null(Events::EndTime))
                    .col(big_integer(Events::EndsAt))
                    .col(string_null(Events::SellFrom))
                    .col(string_null(Events::SellTo))
                    .col(text(Events::Zones))
                    .col(string_null(Events::MinPrice))
                    .col(string_null(Events::MaxPrice))
                    .col(string(Events::ContentHash))
                    .col(timestamp_with_time_zone(Events::FirstSeen))
                    .col(timestamp_with_time_zone(Events::LastSeen))
                    .col(timestamp_with_time_zone(Events::LastChanged))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("events_external_key")
                    .table(Events::Table)
                    .col(Events::Provider)
                    .col(Events::BaseEventId)
                    .col(Events::EventId)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("events_starts_at")
                    .table(Events::Table)
                    .col(Events::StartsAt)
                    .col(Events::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OnlineBaseEvents::Table)
                    .if_not_exists()
                    .col(string(OnlineBaseEvents::Provider))
                    .col(string(OnlineBaseEvents::BaseEventId))
                    .col(timestamp_with_time_zone(OnlineBaseEvents::FirstSeen))
                    .primary_key(
                        Index::create()
                            .col(OnlineBaseEvents::Provider)
                            .col(OnlineBaseEvents::BaseEventId),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SyncRuns::Table)
                    .if_not_exists()
                    .col(uuid(SyncRuns::RunId).primary_key())
                    .col(string(SyncRuns::Provider))
                    .col(timestamp_with_time_zone(SyncRuns::StartedAt))
                    .col(timestamp_with_time_zone(SyncRuns::FinishedAt))
                    .col(string(SyncRuns::Status))
                    .col(text(SyncRuns::Report))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sync_runs_provider_started_at")
                    .table(SyncRuns::Table)
                    .col(SyncRuns::Provider)
                    .col(SyncRuns::StartedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(StoreState::Table)
                    .if_not_exists()
                    .col(integer(StoreState::Id).primary_key())
                    .col(big_integer(StoreState::DataVersion))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(StoreState::Table)
                    .columns([StoreState::Id, StoreState::DataVersion])
                    .values_panic([1.into(), 0.into()])
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Events::Table.into_iden(),
            OnlineBaseEvents::Table.into_iden(),
            SyncRuns::Table.into_iden(),
            StoreState::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    Provider,
    BaseEventId,
    EventId,
    Title,
    SellMode,
    OrganizerCompanyId,
    SoldOut,
    StartDate,
    StartTime,
    StartsAt,
    EndDate,
    EndTime,
    EndsAt,
    SellFrom,
    SellTo,
    Zones,
    MinPrice,
    MaxPrice,
    ContentHash,
    FirstSeen,
    LastSeen,
    LastChanged,
}

#[derive(DeriveIden)]
enum OnlineBaseEvents {
    Table,
    Provider,
    BaseEventId,
    FirstSeen,
}

#[derive(DeriveIden)]
enum SyncRuns {
    Table,
    RunId,
    Provider,
    StartedAt,
    FinishedAt,
    Status,
    Report,
}

#[derive(DeriveIden)]
enum StoreState {
    Table,
    Id,
    DataVersion,
}
