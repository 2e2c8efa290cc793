//! Schedules: each instance syncs at start-up and then every `interval`, while it is
//! switched on and its circuit breaker allows, until the engine shuts down.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::Utc;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::SyncError;
use super::breaker::{CircuitState, circuit};
use super::engine::SyncEngine;

impl SyncEngine {
    /// Starts one task per instance that syncs at start-up and then every interval
    /// while enabled and the circuit allows, until [`shut_down`](Self::shut_down). A
    /// run in progress then is cancelled, which rolls its transaction back.
    pub fn spawn_schedules(self: &Arc<Self>) -> Vec<JoinHandle<()>> {
        self.instances
            .keys()
            .map(|name| {
                let engine = Arc::clone(self);
                let name = name.clone();
                let shutdown = self.shutdown.clone();
                tokio::spawn(async move {
                    let Ok(instance) = engine.instance(&name).cloned() else {
                        return;
                    };
                    let mut ticks = tokio::time::interval(instance.built.config.interval);
                    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    loop {
                        tokio::select! {
                            _ = ticks.tick() => {}
                            () = shutdown.cancelled() => return,
                        }
                        if let Err(error) = engine.refresh_toggles().await {
                            warn!(provider = %name, %error, "Cannot read the runtime switches; using the last known.");
                        }
                        if !instance.enabled.load(Ordering::Relaxed) {
                            continue;
                        }
                        match engine.store.instance_state(&name).await {
                            Ok(state) if circuit(&state, Utc::now()) == CircuitState::Open => {
                                info!(provider = %name, "Scheduled sync skipped: the circuit breaker is open.");
                                continue;
                            }
                            Ok(_) => {}
                            Err(error) => {
                                warn!(provider = %name, %error, "Cannot read the breaker's state; syncing anyway.");
                            }
                        }
                        match engine.run(&name).await {
                            Err(SyncError::ShuttingDown(_)) => return,
                            Err(error) => info!(provider = %name, %error, "Scheduled sync skipped."),
                            Ok(_) => {}
                        }
                    }
                })
            })
            .collect()
    }
}
