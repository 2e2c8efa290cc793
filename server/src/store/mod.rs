//! The sea-orm [`EventStore`]: SQLite or PostgreSQL, picked by the URL.
//!
//! Writes of one sync go through one transaction ([`SqlSyncTransaction`]), so that a
//! failed or cancelled run leaves the store as it was. Searchability is derived at
//! query time from `online_base_events`, the base events ever seen online: the rows
//! themselves always hold the provider's latest values.

pub mod entity;

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use boxoffice_core::model::{EventRecord, ExternalKey, LocalMoment, SellMode, Zone};
use boxoffice_core::provider::Rejection;
use boxoffice_core::store::{
    BatchOutcome, EventStore, QuarantinedRecord, SearchItem, SearchWindow, StoreError, StoredEvent,
    SyncTransaction,
};
use boxoffice_core::sync::SyncReport;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use migration::{Migrator, MigratorTrait};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DatabaseTransaction, DbBackend, DbErr, EntityTrait, FromQueryResult, Order, QueryFilter, QueryOrder,
    QuerySelect, Statement, TransactionTrait,
};
use tokio::sync::{Mutex, OwnedMutexGuard};
use tracing::info;
use uuid::Uuid;

use entity::{events, online_base_events, provider_settings, rejects, store_state, sync_runs};

const DATE_FORMAT: &str = "%Y-%m-%d";
const TIME_FORMAT: &str = "%H:%M:%S";
const LOCAL_DATE_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

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

    /// The connection pool.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
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

fn store_error(error: DbErr) -> StoreError {
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => StoreError::Unavailable(error.to_string()),
        DbErr::RecordNotFound(_) => StoreError::NotFound,
        other => StoreError::Backend(other.to_string()),
    }
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Backend(format!("stored {what} {value:?} cannot be read"))
}

fn parse_date(value: &str) -> Result<NaiveDate, StoreError> {
    NaiveDate::parse_from_str(value, DATE_FORMAT).map_err(|_| corrupt("date", value))
}

fn parse_time(value: Option<&str>) -> Result<Option<NaiveTime>, StoreError> {
    value
        .map(|v| NaiveTime::parse_from_str(v, TIME_FORMAT).map_err(|_| corrupt("time", v)))
        .transpose()
}

fn parse_local(value: Option<&str>) -> Result<Option<NaiveDateTime>, StoreError> {
    value
        .map(|v| {
            NaiveDateTime::parse_from_str(v, LOCAL_DATE_TIME_FORMAT).map_err(|_| corrupt("date-time", v))
        })
        .transpose()
}

fn parse_price(value: Option<&str>) -> Result<Option<rust_decimal::Decimal>, StoreError> {
    value
        .map(|v| rust_decimal::Decimal::from_str(v).map_err(|_| corrupt("price", v)))
        .transpose()
}

fn instant(seconds: i64) -> Result<DateTime<Utc>, StoreError> {
    Utc.timestamp_opt(seconds, 0)
        .single()
        .ok_or_else(|| corrupt("instant", &seconds.to_string()))
}

fn moment(date: &str, time: Option<&str>, at: i64) -> Result<LocalMoment, StoreError> {
    Ok(LocalMoment {
        date: parse_date(date)?,
        time: parse_time(time)?,
        at: instant(at)?,
    })
}

fn active_model(record: &EventRecord, hash: String, seen_at: DateTime<Utc>) -> events::ActiveModel {
    let range = record.price_range();
    let zones = serde_json::to_string(&record.zones).unwrap_or_else(|_| "[]".into());
    events::ActiveModel {
        id: Set(record.id()),
        provider: Set(record.key.provider.clone()),
        base_event_id: Set(record.key.base_event_id.clone()),
        event_id: Set(record.key.event_id.clone()),
        title: Set(record.title.clone()),
        sell_mode: Set(record.sell_mode.as_str().to_owned()),
        organizer_company_id: Set(record.organizer_company_id.clone()),
        sold_out: Set(record.sold_out),
        start_date: Set(record.start.date.format(DATE_FORMAT).to_string()),
        start_time: Set(record.start.time.map(|t| t.format(TIME_FORMAT).to_string())),
        starts_at: Set(record.start.at.timestamp()),
        end_date: Set(record.end.map(|end| end.date.format(DATE_FORMAT).to_string())),
        end_time: Set(record
            .end
            .and_then(|end| end.time)
            .map(|t| t.format(TIME_FORMAT).to_string())),
        ends_at: Set(record.ends_at().timestamp()),
        sell_from: Set(record
            .sell_from
            .map(|t| t.format(LOCAL_DATE_TIME_FORMAT).to_string())),
        sell_to: Set(record
            .sell_to
            .map(|t| t.format(LOCAL_DATE_TIME_FORMAT).to_string())),
        zones: Set(zones),
        min_price: Set(range.map(|r| r.min.to_string())),
        max_price: Set(range.map(|r| r.max.to_string())),
        content_hash: Set(hash),
        first_seen: Set(seen_at),
        last_seen: Set(seen_at),
        last_changed: Set(seen_at),
    }
}

fn stored_event(model: events::Model, searchable: bool) -> Result<StoredEvent, StoreError> {
    let zones: Vec<Zone> = serde_json::from_str(&model.zones).map_err(|_| corrupt("zones", &model.zones))?;
    let end = match model.end_date.as_deref() {
        Some(date) => Some(moment(date, model.end_time.as_deref(), model.ends_at)?),
        None => None,
    };
    let sell_mode =
        SellMode::parse(&model.sell_mode).ok_or_else(|| corrupt("sell_mode", &model.sell_mode))?;
    let record = EventRecord {
        key: ExternalKey {
            provider: model.provider,
            base_event_id: model.base_event_id,
            event_id: model.event_id,
        },
        title: model.title,
        sell_mode,
        organizer_company_id: model.organizer_company_id,
        sold_out: model.sold_out,
        start: moment(&model.start_date, model.start_time.as_deref(), model.starts_at)?,
        end,
        sell_from: parse_local(model.sell_from.as_deref())?,
        sell_to: parse_local(model.sell_to.as_deref())?,
        zones,
    };
    Ok(StoredEvent {
        id: model.id,
        record,
        searchable,
        first_seen: model.first_seen,
        last_seen: model.last_seen,
        last_changed: model.last_changed,
    })
}

/// The columns /search needs, without the zones.
#[derive(Debug, FromQueryResult)]
struct SearchRow {
    id: Uuid,
    provider: String,
    title: String,
    start_date: String,
    start_time: Option<String>,
    starts_at: i64,
    end_date: Option<String>,
    end_time: Option<String>,
    ends_at: i64,
    min_price: Option<String>,
    max_price: Option<String>,
}

impl SearchRow {
    fn into_item(self) -> Result<SearchItem, StoreError> {
        let end = match self.end_date.as_deref() {
            Some(date) => Some(moment(date, self.end_time.as_deref(), self.ends_at)?),
            None => None,
        };
        Ok(SearchItem {
            id: self.id,
            provider: self.provider,
            title: self.title,
            start: moment(&self.start_date, self.start_time.as_deref(), self.starts_at)?,
            end,
            min_price: parse_price(self.min_price.as_deref())?,
            max_price: parse_price(self.max_price.as_deref())?,
        })
    }
}

#[async_trait]
impl EventStore for SeaOrmStore {
    async fn begin_sync(&self, provider: &str) -> Result<Box<dyn SyncTransaction>, StoreError> {
        let writer = match &self.sqlite_writer {
            Some(mutex) => Some(Arc::clone(mutex).lock_owned().await),
            None => None,
        };
        let transaction = self.db.begin().await.map_err(store_error)?;
        if transaction.get_database_backend() == DbBackend::Postgres {
            // Held until the transaction ends, or the connection dies with its process.
            let row = transaction
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT pg_try_advisory_xact_lock($1) AS locked",
                    [sync_lock_key(provider).into()],
                ))
                .await
                .map_err(store_error)?;
            let locked = row
                .map(|row| row.try_get::<bool>("", "locked"))
                .transpose()
                .map_err(store_error)?
                .unwrap_or(false);
            if !locked {
                return Err(StoreError::Conflict(format!(
                    "another process is syncing {provider:?}"
                )));
            }
        }
        Ok(Box::new(SqlSyncTransaction {
            transaction,
            provider: provider.to_owned(),
            changed: false,
            _writer: writer,
        }))
    }

    async fn search(&self, window: SearchWindow) -> Result<Vec<SearchItem>, StoreError> {
        use events::Column as C;
        let mut select = Query::select();
        select
            .columns([
                (events::Entity, C::Id),
                (events::Entity, C::Provider),
                (events::Entity, C::Title),
                (events::Entity, C::StartDate),
                (events::Entity, C::StartTime),
                (events::Entity, C::StartsAt),
                (events::Entity, C::EndDate),
                (events::Entity, C::EndTime),
                (events::Entity, C::EndsAt),
                (events::Entity, C::MinPrice),
                (events::Entity, C::MaxPrice),
            ])
            .from(events::Entity)
            .inner_join(
                online_base_events::Entity,
                Expr::col((online_base_events::Entity, online_base_events::Column::Provider))
                    .equals((events::Entity, C::Provider))
                    .and(
                        Expr::col((
                            online_base_events::Entity,
                            online_base_events::Column::BaseEventId,
                        ))
                        .equals((events::Entity, C::BaseEventId)),
                    ),
            )
            .order_by((events::Entity, C::StartsAt), Order::Asc)
            .order_by((events::Entity, C::Id), Order::Asc);
        if let Some(from) = window.starts_at {
            select.and_where(Expr::col((events::Entity, C::StartsAt)).gte(from.timestamp()));
        }
        if let Some(to) = window.ends_at {
            select.and_where(Expr::col((events::Entity, C::EndsAt)).lte(to.timestamp()));
        }
        let statement = self.db.get_database_backend().build(&select);
        SearchRow::find_by_statement(statement)
            .all(&self.db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(SearchRow::into_item)
            .collect()
    }

    async fn get(&self, id: Uuid) -> Result<Option<StoredEvent>, StoreError> {
        let Some(model) = events::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        let searchable =
            online_base_events::Entity::find_by_id((model.provider.clone(), model.base_event_id.clone()))
                .one(&self.db)
                .await
                .map_err(store_error)?
                .is_some();
        stored_event(model, searchable).map(Some)
    }

    async fn data_version(&self) -> Result<i64, StoreError> {
        let state = store_state::Entity::find_by_id(1)
            .one(&self.db)
            .await
            .map_err(store_error)?;
        Ok(state.map_or(0, |state| state.data_version))
    }

    async fn record_run(&self, report: &SyncReport, quarantine: &[Rejection]) -> Result<(), StoreError> {
        let json = serde_json::to_string(report).map_err(|e| StoreError::Backend(e.to_string()))?;
        let model = sync_runs::ActiveModel {
            run_id: Set(report.run_id),
            provider: Set(report.provider.clone()),
            started_at: Set(report.started_at),
            finished_at: Set(report.finished_at),
            status: Set(report.status.as_str().to_owned()),
            report: Set(json),
        };
        let transaction = self.db.begin().await.map_err(store_error)?;
        sync_runs::Entity::insert(model)
            .exec_without_returning(&transaction)
            .await
            .map_err(store_error)?;
        for chunk in quarantine.chunks(500) {
            let rows = chunk.iter().map(|rejection| rejects::ActiveModel {
                id: Set(Uuid::new_v4()),
                run_id: Set(report.run_id),
                provider: Set(report.provider.clone()),
                rejected_at: Set(report.finished_at),
                record: Set(rejection.record.clone()),
                reason: Set(rejection.reason.clone()),
                raw: Set(rejection.raw.clone()),
            });
            rejects::Entity::insert_many(rows)
                .exec_without_returning(&transaction)
                .await
                .map_err(store_error)?;
        }
        transaction.commit().await.map_err(store_error)
    }

    async fn rejects(&self, provider: &str, limit: u64) -> Result<Vec<QuarantinedRecord>, StoreError> {
        Ok(rejects::Entity::find()
            .filter(rejects::Column::Provider.eq(provider))
            .order_by_desc(rejects::Column::RejectedAt)
            .order_by_asc(rejects::Column::Record)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|row| QuarantinedRecord {
                run_id: row.run_id,
                provider: row.provider,
                rejected_at: row.rejected_at,
                rejection: Rejection {
                    record: row.record,
                    reason: row.reason,
                    raw: row.raw,
                },
            })
            .collect())
    }

    async fn provider_toggles(&self) -> Result<HashMap<String, bool>, StoreError> {
        Ok(provider_settings::Entity::find()
            .all(&self.db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|row| (row.name, row.enabled))
            .collect())
    }

    async fn set_provider_enabled(&self, provider: &str, enabled: bool) -> Result<(), StoreError> {
        let row = provider_settings::ActiveModel {
            name: Set(provider.to_owned()),
            enabled: Set(enabled),
            updated_at: Set(Utc::now()),
        };
        provider_settings::Entity::insert(row)
            .on_conflict(
                OnConflict::column(provider_settings::Column::Name)
                    .update_columns([
                        provider_settings::Column::Enabled,
                        provider_settings::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn runs(&self, provider: &str, limit: u64) -> Result<Vec<SyncReport>, StoreError> {
        sync_runs::Entity::find()
            .filter(sync_runs::Column::Provider.eq(provider))
            .order_by_desc(sync_runs::Column::StartedAt)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|run| serde_json::from_str(&run.report).map_err(|_| corrupt("run report", &run.report)))
            .collect()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.db
            .ping()
            .await
            .map_err(|error| StoreError::Unavailable(error.to_string()))
    }
}

/// One sync's writes.
struct SqlSyncTransaction {
    transaction: DatabaseTransaction,
    provider: String,
    /// Whether anything served changed, to bump the data version at commit.
    changed: bool,
    _writer: Option<OwnedMutexGuard<()>>,
}

#[async_trait]
impl SyncTransaction for SqlSyncTransaction {
    async fn upsert(
        &mut self,
        records: Vec<EventRecord>,
        seen_at: DateTime<Utc>,
    ) -> Result<BatchOutcome, StoreError> {
        use events::Column as C;
        let mut outcome = BatchOutcome::default();
        if records.is_empty() {
            return Ok(outcome);
        }
        let tx = &self.transaction;
        let ids: Vec<Uuid> = records.iter().map(EventRecord::id).collect();
        let stored: HashMap<Uuid, String> = events::Entity::find()
            .select_only()
            .column(C::Id)
            .column(C::ContentHash)
            .filter(C::Id.is_in(ids))
            .into_tuple::<(Uuid, String)>()
            .all(tx)
            .await
            .map_err(store_error)?
            .into_iter()
            .collect();

        let mut writes = Vec::new();
        let mut unchanged = Vec::new();
        let mut online_bases = HashSet::new();
        for record in &records {
            if record.key.provider != self.provider {
                return Err(StoreError::Backend(format!(
                    "a record of {:?} arrived in a sync of {:?}",
                    record.key.provider, self.provider
                )));
            }
            if record.sell_mode == SellMode::Online {
                online_bases.insert(record.key.base_event_id.as_str());
            }
            let hash = record.content_hash();
            match stored.get(&record.id()) {
                Some(old) if *old == hash => unchanged.push(record.id()),
                Some(_) => {
                    outcome.updated += 1;
                    writes.push(active_model(record, hash, seen_at));
                }
                None => {
                    outcome.inserted += 1;
                    writes.push(active_model(record, hash, seen_at));
                }
            }
        }
        outcome.unchanged = unchanged.len() as u64;

        if !writes.is_empty() {
            // New rows are inserted; changed rows take every column but their history's
            // start (first_seen).
            let on_conflict = OnConflict::column(C::Id)
                .update_columns([
                    C::Title,
                    C::SellMode,
                    C::OrganizerCompanyId,
                    C::SoldOut,
                    C::StartDate,
                    C::StartTime,
                    C::StartsAt,
                    C::EndDate,
                    C::EndTime,
                    C::EndsAt,
                    C::SellFrom,
                    C::SellTo,
                    C::Zones,
                    C::MinPrice,
                    C::MaxPrice,
                    C::ContentHash,
                    C::LastSeen,
                    C::LastChanged,
                ])
                .to_owned();
            events::Entity::insert_many(writes)
                .on_conflict(on_conflict)
                .exec_without_returning(tx)
                .await
                .map_err(store_error)?;
            self.changed = true;
        }
        if !unchanged.is_empty() {
            events::Entity::update_many()
                .col_expr(C::LastSeen, Expr::value(seen_at))
                .filter(C::Id.is_in(unchanged))
                .exec(tx)
                .await
                .map_err(store_error)?;
        }
        if !online_bases.is_empty() {
            let rows = online_bases
                .into_iter()
                .map(|base| online_base_events::ActiveModel {
                    provider: Set(self.provider.clone()),
                    base_event_id: Set(base.to_owned()),
                    first_seen: Set(seen_at),
                });
            let on_conflict = OnConflict::columns([
                online_base_events::Column::Provider,
                online_base_events::Column::BaseEventId,
            ])
            .do_nothing()
            .to_owned();
            let inserted = online_base_events::Entity::insert_many(rows)
                .on_conflict(on_conflict)
                .exec_without_returning(tx)
                .await
                .map_err(store_error)?;
            self.changed |= inserted > 0;
        }
        Ok(outcome)
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        if self.changed {
            store_state::Entity::update_many()
                .col_expr(
                    store_state::Column::DataVersion,
                    Expr::col(store_state::Column::DataVersion).add(1),
                )
                .filter(store_state::Column::Id.eq(1))
                .exec(&self.transaction)
                .await
                .map_err(store_error)?;
        }
        self.transaction.commit().await.map_err(store_error)
    }
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
