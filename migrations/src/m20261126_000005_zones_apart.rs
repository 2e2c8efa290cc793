//! Zones move out of `events` into `event_zones`, written only when an item changes:
//! an unchanged re-sync then updates `last_seen` on narrow rows instead of rewriting
//! every item's zones (SQLite rewrites a whole row on any update; a feed of 15,000
//! sessions with 100 zones each carries ~150 MB of zones).

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
                    .table(EventZones::Table)
                    .if_not_exists()
                    .col(uuid(EventZones::Id).primary_key())
                    .col(text(EventZones::Zones))
                    .to_owned(),
            )
            .await?;
        let copy = Query::insert()
            .into_table(EventZones::Table)
            .columns([EventZones::Id, EventZones::Zones])
            .select_from(
                Query::select()
                    .columns([Events::Id, Events::Zones])
                    .from(Events::Table)
                    .to_owned(),
            )
            .map_err(|error| DbErr::Migration(error.to_string()))?
            .to_owned();
        manager.exec_stmt(copy).await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Events::Table)
                    .drop_column(Events::Zones)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Events::Table)
                    .add_column(text(Events::Zones).default("[]"))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE events SET zones = (SELECT z.zones FROM event_zones z WHERE z.id = events.id) \
             WHERE EXISTS (SELECT 1 FROM event_zones z WHERE z.id = events.id)",
        )
        .await?;
        manager
            .drop_table(Table::drop().table(EventZones::Table).if_exists().to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum EventZones {
    Table,
    Id,
    Zones,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    Zones,
}
