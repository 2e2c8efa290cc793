//! Boxoffice's schema. Applied at start-up and by `boxoffice migrate`; the same files
//! serve SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_create_events;
mod m20261126_000002_quarantine_and_toggles;
mod m20261126_000003_feed_validators;
mod m20261126_000004_run_state;
mod m20261126_000005_zones_apart;
mod m20261207_000006_currency;
mod m20261207_000007_quarantine_once;
mod m20261207_000008_change_log;

/// Every migration, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_create_events::Migration),
            Box::new(m20261126_000002_quarantine_and_toggles::Migration),
            Box::new(m20261126_000003_feed_validators::Migration),
            Box::new(m20261126_000004_run_state::Migration),
            Box::new(m20261126_000005_zones_apart::Migration),
            Box::new(m20261207_000006_currency::Migration),
            Box::new(m20261207_000007_quarantine_once::Migration),
            Box::new(m20261207_000008_change_log::Migration),
        ]
    }
}
