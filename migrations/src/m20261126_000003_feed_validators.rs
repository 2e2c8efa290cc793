//! Each instance's feed validators (`ETag`, `Last-Modified`) as its last committed
//! single-document run left them, for conditional requests.

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
                    .table(FeedValidators::Table)
                    .if_not_exists()
                    .col(string(FeedValidators::Provider).primary_key())
                    .col(text_null(FeedValidators::Etag))
                    .col(text_null(FeedValidators::LastModified))
                    .col(timestamp_with_time_zone(FeedValidators::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(FeedValidators::Table).if_exists().to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum FeedValidators {
    Table,
    Provider,
    Etag,
    LastModified,
    UpdatedAt,
}
