//! What one client, and every connection together, may hold: connections per client
//! address, and bytes of unfinished request heads.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// How many connections each client address holds (IPv6 by /64).
#[derive(Default)]
pub(super) struct ClientConnections(Mutex<HashMap<IpAddr, usize>>);

/// One connection of a client, counted until dropped.
pub(super) struct ClientSlot {
    clients: Arc<ClientConnections>,
    key: IpAddr,
}

impl ClientConnections {
    /// A slot for one more connection of `peer`, unless it holds `cap` already.
    pub(super) fn enter(clients: &Arc<Self>, peer: IpAddr, cap: usize) -> Option<ClientSlot> {
        let key = crate::http::middleware::client::bucket(peer);
        let mut counts = clients
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = counts.entry(key).or_default();
        if *count >= cap {
            return None;
        }
        *count += 1;
        Some(ClientSlot {
            clients: Arc::clone(clients),
            key,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut counts = self
            .clients
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

/// The bytes of request heads received and not yet complete, over every connection.
pub(crate) struct HeadBudget {
    used: AtomicUsize,
    limit: usize,
}

impl HeadBudget {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            used: AtomicUsize::new(0),
            limit,
        }
    }

    /// Takes `bytes` more, unless that would pass the limit.
    pub(super) fn take(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(bytes).filter(|total| *total <= self.limit)
            })
            .is_ok()
    }

    pub(super) fn give_back(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_client_holds_at_most_its_cap_of_connections_and_gets_them_back() {
        let clients = Arc::new(ClientConnections::default());
        let peer: IpAddr = "2001:db8::1".parse().unwrap_or(IpAddr::from([0; 4]));
        let neighbour: IpAddr = "2001:db8::2".parse().unwrap_or(IpAddr::from([0; 4]));
        let first = ClientConnections::enter(&clients, peer, 2);
        let second = ClientConnections::enter(&clients, neighbour, 2);
        assert!(first.is_some() && second.is_some());
        assert!(ClientConnections::enter(&clients, peer, 2).is_none(), "same /64");
        drop(first);
        assert!(ClientConnections::enter(&clients, neighbour, 2).is_some());
    }
}
