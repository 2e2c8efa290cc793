//! The store contract (`boxoffice_testkit::store_contract`) on the SQL store: every
//! case on a fresh SQLite file and on a fresh PostgreSQL database, the same cases
//! the memory store passes in the test kit, so that the two cannot drift.

use std::future::Future;
use std::sync::Arc;

use boxoffice_core::EventStore;
use boxoffice_server::store::{SeaOrmStore, StoreOptions};

use crate::helpers::{Backend, TestDatabase};

/// Runs `case` on a migrated store over a fresh database of `backend`.
async fn on<F, Fut>(backend: Backend, case: F)
where
    F: FnOnce(Arc<dyn EventStore>) -> Fut,
    Fut: Future<Output = ()>,
{
    let db = TestDatabase::create(backend).await;
    let store = SeaOrmStore::connect(&db.url, &StoreOptions::default())
        .await
        .unwrap_or_else(|e| panic!("connecting to {}: {e}", db.url));
    store.migrate().await.unwrap_or_else(|e| panic!("migrating: {e}"));
    case(Arc::new(store)).await;
    db.drop_now().await;
}

async fn on_sqlite<F, Fut>(case: F)
where
    F: FnOnce(Arc<dyn EventStore>) -> Fut,
    Fut: Future<Output = ()>,
{
    on(Backend::Sqlite, case).await;
}

async fn on_postgres<F, Fut>(case: F)
where
    F: FnOnce(Arc<dyn EventStore>) -> Fut,
    Fut: Future<Output = ()>,
{
    crate::skip_without_postgres!();
    on(Backend::Postgres, case).await;
}

mod sqlite {
    boxoffice_testkit::store_contract!(super::on_sqlite);
}

mod postgres {
    boxoffice_testkit::store_contract!(super::on_postgres);
}
