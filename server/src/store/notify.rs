//! On PostgreSQL, a commit that moves the data version says so on a channel, and every
//! process listens: another process's commit is picked up at once instead of at the
//! next poll of `database.poll_interval`, which stays as the fallback (a notification
//! is lost while a listener reconnects).

use std::time::Duration;

use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait, DbBackend, DbErr};
use tokio::sync::watch;
use tracing::{debug, warn};

/// The channel commits are announced on.
pub const CHANNEL: &str = "boxoffice_data_version";

/// Announces the data version's move, inside the transaction that moves it:
/// PostgreSQL delivers it at commit, and never for a rollback. Nothing on SQLite,
/// whose one process learns of its own commits from the engine.
pub async fn announce(conn: &impl ConnectionTrait) -> Result<(), DbErr> {
    if conn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    conn.execute_unprepared(&format!("NOTIFY {CHANNEL}"))
        .await
        .map(|_| ())
}

/// Listens on [`CHANNEL`] of the PostgreSQL at `url` until `shutdown`; the receiver
/// changes at each notification. Reconnects after a failure, waiting up to 30 s.
pub fn listen(url: String, mut shutdown: watch::Receiver<bool>) -> watch::Receiver<u64> {
    let (tx, rx) = watch::channel(0_u64);
    tokio::spawn(async move {
        let mut pause = Duration::from_millis(250);
        loop {
            let started = std::time::Instant::now();
            let listened = forward(&url, &tx);
            tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => return,
                outcome = listened => {
                    if let Err(error) = outcome {
                        warn!(%error, retry_in = ?pause, "Cannot listen for commits; polling meanwhile.");
                    }
                }
            }
            tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => return,
                () = tokio::time::sleep(pause) => {}
            }
            // A listener that held a while failed on its own: start the backoff over.
            pause = if started.elapsed() > Duration::from_secs(60) {
                Duration::from_millis(250)
            } else {
                (pause * 2).min(Duration::from_secs(30))
            };
        }
    });
    rx
}

/// Bumps `tx` at each notification until the connection fails.
async fn forward(url: &str, tx: &watch::Sender<u64>) -> Result<(), sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    debug!("Listening for commits of other processes.");
    // A commit may have happened while not listening: say so once.
    tx.send_modify(|n| *n += 1);
    loop {
        listener.recv().await?;
        tx.send_modify(|n| *n += 1);
    }
}
