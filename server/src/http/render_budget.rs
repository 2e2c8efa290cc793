//! A bound on the bytes of /search responses rendered for one request and not kept in
//! the response cache (those over its per-entry share: at 1.35 million items a wide
//! window is 22 MB): each lives until its client has read it, so without a bound, 50
//! connections asking for one wide window held 50 copies (1.3 GB measured). A request
//! reserves its body's size before rendering it, and gives it back when the body is
//! dropped (sent, or the client gone); past the budget, requests wait (and meet
//! `server.request_timeout`). A body larger than the whole budget reserves all of it.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget counts KiB: a semaphore's permits are a `u32`.
const UNIT: usize = 1024;

/// Bytes of uncached /search bodies that may be in flight at once.
pub struct RenderBudget {
    permits: Arc<Semaphore>,
    units: u32,
}

/// Bytes reserved; given back when dropped.
pub struct Reservation {
    _permit: OwnedSemaphorePermit,
}

impl RenderBudget {
    /// A budget of `bytes` (at least one KiB).
    pub fn new(bytes: usize) -> Self {
        let units = u32::try_from((bytes / UNIT).max(1)).unwrap_or(u32::MAX);
        let units = units.min(u32::try_from(Semaphore::MAX_PERMITS).unwrap_or(u32::MAX));
        Self {
            permits: Arc::new(Semaphore::new(units as usize)),
            units,
        }
    }

    /// Reserves room for a body of `bytes`, waiting while the budget is spent. `None`
    /// only if the budget were closed, which nothing does.
    pub async fn reserve(&self, bytes: usize) -> Option<Reservation> {
        let wanted = u32::try_from(bytes.div_ceil(UNIT))
            .unwrap_or(u32::MAX)
            .clamp(1, self.units);
        Arc::clone(&self.permits)
            .acquire_many_owned(wanted)
            .await
            .ok()
            .map(|permit| Reservation { _permit: permit })
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
                .reserve(60 * UNIT)
                .await
                .unwrap_or_else(|| panic!("the budget is never closed")),
        );
        assert_eq!(budget.available(), 40 * UNIT);
        // 50 KiB more does not fit: the reservation waits.
        let mut second = Box::pin(budget.reserve(50 * UNIT));
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
            .reserve(1 << 30)
            .await
            .unwrap_or_else(|| panic!("the budget is never closed"));
        assert_eq!(budget.available(), 0);
        assert!(budget.reserve(1).now_or_never().is_none());
        drop(whole);
        assert_eq!(budget.available(), 10 * UNIT);
        // An empty body still reserves one unit, and gives it back.
        let empty = budget
            .reserve(0)
            .await
            .unwrap_or_else(|| panic!("the budget is never closed"));
        assert_eq!(budget.available(), 9 * UNIT);
        drop(empty);
        assert_eq!(budget.available(), 10 * UNIT);
    }
}
