//! A bound on the bytes of /search responses rendered for one request and not kept in
//! the response cache (those over its per-entry share: at 1.35 million items a wide
//! window is 22 MB): each lives until its client has read it, so without a bound, 50
//! connections asking for one wide window held 50 copies (1.3 GB measured). A request
//! reserves its body's size before rendering it, and gives it back when the body is
//! dropped (sent, or the client gone); past the budget, requests wait (and meet
//! `server.request_timeout`). A body larger than the whole budget reserves all of it.
//!
//! One client address (an IPv6 /64) holds at most a quarter of the budget: clients
//! that pipeline wide windows and read nothing wait on their own share, not everyone's.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget counts KiB: a semaphore's permits are a `u32`.
const UNIT: usize = 1024;

/// The part of the budget one client may hold.
const CLIENT_SHARE: u32 = 4;

/// Bytes of uncached /search bodies that may be in flight at once.
pub struct RenderBudget {
    permits: Arc<Semaphore>,
    units: u32,
    /// Each client's share, while it holds some of it.
    clients: Arc<Mutex<HashMap<IpAddr, Arc<Semaphore>>>>,
    share: u32,
}

/// Bytes reserved; given back when dropped.
pub struct Reservation {
    _permit: OwnedSemaphorePermit,
    _client: Option<ClientPart>,
}

/// The part of a reservation taken from its client's share.
struct ClientPart {
    permit: Option<OwnedSemaphorePermit>,
    key: IpAddr,
    clients: Arc<Mutex<HashMap<IpAddr, Arc<Semaphore>>>>,
    share: u32,
}

impl Drop for ClientPart {
    fn drop(&mut self) {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        drop(self.permit.take());
        // Forget a client that holds nothing and that no one else is reserving for.
        if let Some(semaphore) = clients.get(&self.key)
            && semaphore.available_permits() == self.share as usize
            && Arc::strong_count(semaphore) == 1
        {
            clients.remove(&self.key);
        }
    }
}

impl RenderBudget {
    /// A budget of `bytes` (at least one KiB).
    pub fn new(bytes: usize) -> Self {
        let units = u32::try_from((bytes / UNIT).max(1)).unwrap_or(u32::MAX);
        let units = units.min(u32::try_from(Semaphore::MAX_PERMITS).unwrap_or(u32::MAX));
        Self {
            permits: Arc::new(Semaphore::new(units as usize)),
            units,
            clients: Arc::default(),
            share: (units / CLIENT_SHARE).max(1),
        }
    }

    /// Reserves room for a body of `bytes` for `client` (`None`: no client known),
    /// waiting while its share or the budget is spent. `None` only if the budget were
    /// closed, which nothing does.
    pub async fn reserve(&self, bytes: usize, client: Option<IpAddr>) -> Option<Reservation> {
        let wanted = u32::try_from(bytes.div_ceil(UNIT)).unwrap_or(u32::MAX).max(1);
        // The client's share first: waiting on it holds nothing of everyone's.
        let client = match client {
            Some(client) => Some(
                self.reserve_share(crate::http::middleware::client::bucket(client), wanted)
                    .await?,
            ),
            None => None,
        };
        let permit = Arc::clone(&self.permits)
            .acquire_many_owned(wanted.min(self.units))
            .await
            .ok()?;
        Some(Reservation {
            _permit: permit,
            _client: client,
        })
    }

    async fn reserve_share(&self, key: IpAddr, wanted: u32) -> Option<ClientPart> {
        let semaphore = {
            let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(
                clients
                    .entry(key)
                    .or_insert_with(|| Arc::new(Semaphore::new(self.share as usize))),
            )
        };
        let permit = semaphore.acquire_many_owned(wanted.min(self.share)).await.ok()?;
        Some(ClientPart {
            permit: Some(permit),
            key,
            clients: Arc::clone(&self.clients),
            share: self.share,
        })
    }

    /// Clients holding part of the budget now.
    pub fn clients(&self) -> usize {
        self.clients.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Bytes free now.
    pub fn available(&self) -> usize {
        self.permits.available_permits() * UNIT
    }
}

/// A body that holds its reservation until it is dropped.
struct Held {
    body: Bytes,
    _reservation: Reservation,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.body
    }
}

/// `body`, holding `reservation` for as long as any copy of it lives.
pub fn hold(body: Bytes, reservation: Reservation) -> Bytes {
    Bytes::from_owner(Held {
        body,
        _reservation: reservation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt as _;

    #[tokio::test]
    async fn a_spent_budget_makes_requests_wait_until_bodies_are_dropped() {
        let budget = RenderBudget::new(100 * UNIT);
        let first = hold(
            Bytes::from(vec![b'x'; 60 * UNIT]),
            budget
                .reserve(60 * UNIT, None)
                .await
                .unwrap_or_else(|| panic!("the budget is never closed")),
        );
        assert_eq!(budget.available(), 40 * UNIT);
        // 50 KiB more does not fit: the reservation waits.
        let mut second = Box::pin(budget.reserve(50 * UNIT, None));
        assert!((&mut second).now_or_never().is_none());
        // A copy of the body keeps it reserved; the last one gives it back.
        let copy = first.clone();
        drop(first);
        assert!((&mut second).now_or_never().is_none());
        assert_eq!(copy.len(), 60 * UNIT);
        drop(copy);
        let second = second
            .await
            .unwrap_or_else(|| panic!("the budget is never closed"));
        assert_eq!(budget.available(), 50 * UNIT);
        drop(second);
        assert_eq!(budget.available(), 100 * UNIT);
    }

    #[tokio::test]
    async fn a_body_larger_than_the_budget_takes_all_of_it_and_is_served() {
        let budget = RenderBudget::new(10 * UNIT);
        let whole = budget
            .reserve(1 << 30, None)
            .await
            .unwrap_or_else(|| panic!("the budget is never closed"));
        assert_eq!(budget.available(), 0);
        assert!(budget.reserve(1, None).now_or_never().is_none());
        drop(whole);
        assert_eq!(budget.available(), 10 * UNIT);
        // An empty body still reserves one unit, and gives it back.
        let empty = budget
            .reserve(0, None)
            .await
            .unwrap_or_else(|| panic!("the budget is never closed"));
        assert_eq!(budget.available(), 9 * UNIT);
        drop(empty);
        assert_eq!(budget.available(), 10 * UNIT);
    }

    #[tokio::test]
    async fn one_client_waits_on_its_quarter_while_others_are_served() {
        let budget = RenderBudget::new(100 * UNIT);
        let greedy = Some(IpAddr::from([192, 0, 2, 1]));
        let held = budget
            .reserve(20 * UNIT, greedy)
            .await
            .unwrap_or_else(|| panic!("the budget is never closed"));
        // 25 KiB is its share: 10 more wait, though the budget has 80 free.
        let mut more = Box::pin(budget.reserve(10 * UNIT, greedy));
        assert!((&mut more).now_or_never().is_none());
        assert_eq!(budget.available(), 80 * UNIT);
        let other = budget
            .reserve(25 * UNIT, Some(IpAddr::from([192, 0, 2, 2])))
            .now_or_never()
            .flatten();
        assert!(other.is_some(), "another client waited on the first one's share");
        drop(other);
        drop(held);
        let more = more.await.unwrap_or_else(|| panic!("the budget is never closed"));
        drop(more);
        assert_eq!(budget.available(), 100 * UNIT);
        assert_eq!(budget.clients(), 0, "clients holding nothing are forgotten");
    }
}
