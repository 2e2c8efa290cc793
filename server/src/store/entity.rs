//! sea-orm entities of the tables in `migrations`.

pub mod events {
    use sea_orm::entity::prelude::*;

    /// One item: the latest record of a provider session.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub provider: String,
        pub base_event_id: String,
        pub event_id: String,
        pub title: String,
        pub sell_mode: String,
        pub organizer_company_id: Option<String>,
        pub sold_out: bool,
        pub start_date: String,
        pub start_time: Option<String>,
        pub starts_at: i64,
        pub end_date: Option<String>,
        pub end_time: Option<String>,
        pub ends_at: i64,
        pub sell_from: Option<String>,
        pub sell_to: Option<String>,
        pub min_price: Option<String>,
        pub max_price: Option<String>,
        pub currency: Option<String>,
        pub content_hash: String,
        pub first_seen: DateTimeUtc,
        pub last_seen: DateTimeUtc,
        pub last_changed: DateTimeUtc,
        /// The change number of the commit that last wrote the row (`store_commits`).
        pub change_txn: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod online_base_events {
    use sea_orm::entity::prelude::*;

    /// A base event seen with `sell_mode = online` at least once.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "online_base_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub provider: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub base_event_id: String,
        pub first_seen: DateTimeUtc,
        /// The change number of the commit that first saw it online.
        pub change_txn: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod sync_runs {
    use sea_orm::entity::prelude::*;

    /// One run's report.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sync_runs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub run_id: Uuid,
        pub provider: String,
        pub started_at: DateTimeUtc,
        pub finished_at: DateTimeUtc,
        pub status: String,
        /// The whole report as JSON.
        pub report: String,
        /// When a running run last said it was alive.
        pub heartbeat_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod store_state {
    use sea_orm::entity::prelude::*;

    /// The single row holding the data version.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "store_state")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub data_version: i64,
        /// The last change number handed to a sync.
        pub next_txn: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod store_commits {
    use sea_orm::entity::prelude::*;

    /// One commit that changed what is served: the data version it made, and the
    /// change number its rows carry or the instance it retired.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "store_commits")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: i64,
        pub txn: i64,
        pub retired: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod rejects {
    use sea_orm::entity::prelude::*;

    /// A rejected record in the quarantine.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "rejects")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub run_id: Uuid,
        pub provider: String,
        pub rejected_at: DateTimeUtc,
        pub record: String,
        pub reason: String,
        pub raw: Option<String>,
        /// `Rejection::digest`: one row per distinct rejection (NULL in rows of before).
        pub digest: Option<String>,
        pub first_seen: Option<DateTimeUtc>,
        pub seen_count: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod provider_settings {
    use sea_orm::entity::prelude::*;

    /// A runtime switch set through the admin API.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "provider_settings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub enabled: bool,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod feed_validators {
    use sea_orm::entity::prelude::*;

    /// An instance's feed validators.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "feed_validators")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub provider: String,
        pub etag: Option<String>,
        pub last_modified: Option<String>,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod provider_state {
    use sea_orm::entity::prelude::*;

    /// An instance's breaker and last success, shared by every process.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "provider_state")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub provider: String,
        pub consecutive_failures: i32,
        pub open_until: Option<DateTimeUtc>,
        pub last_success: Option<DateTimeUtc>,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod event_zones {
    use sea_orm::entity::prelude::*;

    /// An item's zones, apart from its row (written only when the item changes).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "event_zones")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// `[[zone_id, name, capacity, "price", numbered], …]` (or, written before
        /// 2026-11-26, `[{"zone_id": …}, …]`).
        pub zones: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
