//! The sea-orm [`EventStore`](boxoffice_core::EventStore): SQLite or PostgreSQL,
//! picked by the URL.
//!
//! - `queries.rs`: the [`ItemStore`](boxoffice_core::ItemStore): items' reads,
//!   retirement, and where a sync's transaction begins;
//! - `history.rs`: the [`RunStore`](boxoffice_core::RunStore): the run history, the
//!   quarantine, retention;
//! - `instance.rs`: the [`InstanceStore`](boxoffice_core::InstanceStore): the
//!   breaker's state and the on/off switches;
//! - `version.rs`: the data version, moved by a sync's commit and a retirement;
//! - `transaction.rs`: one sync's writes, in one transaction, so that a failed or
//!   cancelled run leaves the store as it was;
//! - `convert.rs`: rows to the model and back (dates and times through
//!   `boxoffice_core::model::format`);
//! - `entity.rs`: the tables of `migrations`.
//!
//! Searchability is derived at query time from `online_base_events`, the base events
//! ever seen online: the rows themselves always hold the provider's latest values.

mod convert;
pub mod entity;
mod history;
mod instance;
pub mod notify;
mod queries;
mod searchable;
mod transaction;
mod version;

use std::sync::Arc;
use std::time::Duration;

use boxoffice_core::StoreError;
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement,
    TransactionTrait,
};
use tokio::sync::Mutex;
use tracing::info;

/// How to connect.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Pool size.
    pub max_connections: u32,
    /// How long to wait for a connection.
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// The store over a sea-orm connection pool.
#[derive(Clone)]
pub struct SeaOrmStore {
    db: DatabaseConnection,
    /// SQLite takes one writer at a time: syncs in this process queue here instead of
    /// failing with "database is locked".
    sqlite_writer: Option<Arc<Mutex<()>>>,
}

impl SeaOrmStore {
    /// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://…`), creating a
    /// SQLite file's folder when missing.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        if let Some(path) = sqlite_file_path(url)
            && let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|error| {
                StoreError::Unavailable(format!("cannot create {}: {error}", parent.display()))
            })?;
        }
        let mut connect = ConnectOptions::new(url.to_owned());
        connect
            .max_connections(options.max_connections)
            .min_connections(1)
            .acquire_timeout(options.acquire_timeout)
            .connect_timeout(options.acquire_timeout)
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|opts| {
                use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
                opts.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(30))
                    .foreign_keys(true)
            });
        let db = Database::connect(connect)
            .await
            .map_err(|error| StoreError::Unavailable(format!("cannot connect to the database: {error}")))?;
        let sqlite_writer =
            (db.get_database_backend() == DbBackend::Sqlite).then(|| Arc::new(Mutex::new(())));
        Ok(Self { db, sqlite_writer })
    }

    /// Applies pending migrations. On PostgreSQL, processes starting together take
    /// turns through an advisory lock, so that two never apply the same migration.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        if self.db.get_database_backend() == DbBackend::Postgres {
            // A session-level lock needs one connection for lock and unlock: a
            // transaction gives that, and the lock dies with the connection if the
            // process does.
            let lock = self.db.begin().await.map_err(store_error)?;
            lock.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock($1)",
                [MIGRATION_LOCK_KEY.into()],
            ))
            .await
            .map_err(store_error)?;
            Migrator::up(&lock, None).await.map_err(store_error)?;
            lock.commit().await.map_err(store_error)?;
        } else {
            Migrator::up(&self.db, None).await.map_err(store_error)?;
        }
        info!("Database schema is up to date.");
        Ok(())
    }
}

/// Advisory-lock key of migrations ("boxoffice" in ASCII, as a number).
const MIGRATION_LOCK_KEY: i64 = 0x626f_786f_6666_6963;

/// The file of a SQLite URL, if it names one.
fn sqlite_file_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:")).then(|| path.into())
}

/// A stable 64-bit key for a provider's sync lock (FNV-1a).
fn sync_lock_key(provider: &str) -> i64 {
    let hash = format!("boxoffice-sync:{provider}")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
    i64::from_ne_bytes(hash.to_ne_bytes())
}

pub(crate) fn store_error(error: DbErr) -> StoreError {
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => StoreError::Unavailable(error.to_string()),
        DbErr::RecordNotFound(_) => StoreError::NotFound,
        other => StoreError::Backend(other.to_string()),
    }
}

pub(crate) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Backend(format!("stored {what} {value:?} cannot be read"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_file_path("sqlite://./data/boxoffice.db?mode=rwc"),
            Some("./data/boxoffice.db".into())
        );
        assert_eq!(sqlite_file_path("sqlite::memory:"), None);
        assert_eq!(sqlite_file_path("postgres://localhost/test"), None);
    }

    #[test]
    fn sync_lock_keys_differ_by_provider_and_never_change() {
        assert_ne!(sync_lock_key("fever"), sync_lock_key("fever2"));
        assert_eq!(sync_lock_key("fever"), sync_lock_key("fever"));
    }
}
