//! Large kept response bodies in pages the kernel sends without copying them.
//!
//! A body written to a socket is copied from the process into the socket's buffers
//! once per request: at 238 KB per wide /search answer that copy was the largest single
//! cost of serving it (a sixth of the server's CPU time for the 44 KB gzip variant,
//! more for the plain one), where nginx hands the kernel its file's pages (`sendfile`).
//! [`into_pages`] moves a body that a cache keeps into a sealed memfd, mapped read-only:
//! the [`Bytes`] handed out read those pages as before, and the connection's writer
//! ([`plan`], [`send`]) recognises a slice of them and asks the kernel to send the pages
//! themselves.
//!
//! Bounded: only bodies of [`MIN_BYTES`] (below that a copy costs less than the extra
//! call) to [`MAX_BYTES`] (above it sendfile measured slower than the copy), and at
//! most [`MAX_REGIONS`] of them at once (one file descriptor each); past that a body
//! stays where it was. Anything that fails falls back to the
//! plain copy: this only ever changes how bytes travel, never which.
//!
//! The one `unsafe` of the workspace is here: mapping the memfd. It is sound because
//! the file is ours alone and sealed before it is mapped (no write, no shrink, no
//! growth), so the mapped bytes can never change or vanish under the slice.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{IoSlice, Write};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use bytes::Bytes;

/// Bodies smaller than this are left as they are.
pub const MIN_BYTES: usize = 16 * 1024;

/// Bodies larger than this are left as they are: measured A/B on loopback (oha -c 50),
/// pages won up to the 238 KB wide window (21-26 k -> 31-32 k req/s) and lost above
/// it, 376 KB going from 17.4 k to 8.1 k req/s and 2.2 MB from 2.1-2.3 k to 1.4 k,
/// whether the rest of a body the socket could not take at once went by pages or by
/// copy. Larger bodies are rarer, and bound by the client's copy anyway.
pub const MAX_BYTES: usize = 256 * 1024;

/// Bodies in pages at once (each holds a file descriptor).
pub const MAX_REGIONS: usize = 256;

/// Mapped regions by start address: length and file.
static REGIONS: RwLock<BTreeMap<usize, (usize, Arc<File>)>> = RwLock::new(BTreeMap::new());
/// How many there are (read without the lock: most writes have none to look for).
static COUNT: AtomicUsize = AtomicUsize::new(0);

/// The same bytes, in sealed memfd pages when `body` is large enough and room is left;
/// otherwise `body` itself.
pub fn into_pages(body: Bytes) -> Bytes {
    if !(MIN_BYTES..=MAX_BYTES).contains(&body.len()) {
        return body;
    }
    if COUNT.fetch_add(1, Ordering::AcqRel) >= MAX_REGIONS {
        COUNT.fetch_sub(1, Ordering::AcqRel);
        return body;
    }
    match Region::of(&body) {
        Ok(region) => Bytes::from_owner(region),
        Err(error) => {
            COUNT.fetch_sub(1, Ordering::AcqRel);
            tracing::debug!(%error, "A body stays in memory: its pages could not be made.");
            body
        }
    }
}

/// How many bodies are in pages now.
pub fn regions() -> usize {
    COUNT.load(Ordering::Acquire)
}

/// The file and offset holding `slice`, when it lies in a region and is worth sending
/// as pages. Slices under [`MIN_BYTES`] (response heads, small bodies, the short rest
/// of a body the socket took most of) are never looked up: the small answers of the
/// /search hot path take no lock here.
fn pages_of(slice: &[u8]) -> Option<(Arc<File>, u64)> {
    if slice.len() < MIN_BYTES || COUNT.load(Ordering::Acquire) == 0 {
        return None;
    }
    let start = slice.as_ptr() as usize;
    let regions = REGIONS.read().unwrap_or_else(PoisonError::into_inner);
    let (&base, (length, file)) = regions.range(..=start).next_back()?;
    let offset = start - base;
    (offset + slice.len() <= *length).then(|| (Arc::clone(file), offset as u64))
}

/// One body's pages: the sealed memfd and its read-only mapping.
struct Region {
    map: memmap2::Mmap,
}

impl Region {
    #[cfg(not(target_os = "linux"))]
    fn of(_: &[u8]) -> std::io::Result<Self> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "bodies go by pages on Linux only",
        ))
    }

    #[cfg(target_os = "linux")]
    fn of(body: &[u8]) -> std::io::Result<Self> {
        use rustix::fs::{MemfdFlags, SealFlags};
        let fd = rustix::fs::memfd_create("boxoffice-body", MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)?;
        let mut file = File::from(fd);
        file.write_all(body)?;
        rustix::fs::fcntl_add_seals(
            &file,
            SealFlags::WRITE | SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL,
        )?;
        // SAFETY: the file is a memfd only this process holds, sealed above against
        // writes, shrinking and growth: the mapped bytes cannot change or go away
        // while the mapping lives.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(&file)? };
        REGIONS
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(map.as_ptr() as usize, (map.len(), Arc::new(file)));
        Ok(Self { map })
    }
}

impl AsRef<[u8]> for Region {
    fn as_ref(&self) -> &[u8] {
        &self.map
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        REGIONS
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(self.map.as_ptr() as usize));
        COUNT.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How to write a connection's next slices when some lie in a region.
pub enum Plan {
    /// The slices before this index are not in a region: send them with `MSG_MORE`,
    /// so that the kernel holds them for the pages that follow.
    Before(usize),
    /// The first slice is `len` bytes of `file` from `offset`: send them by
    /// `sendfile`.
    Pages {
        /// The region's file.
        file: Arc<File>,
        /// Where the slice starts in it.
        offset: u64,
        /// The slice's length.
        len: usize,
    },
}

/// How to write `bufs` when one of them lies in a region; `None`: write them as usual.
pub fn plan(bufs: &[IoSlice<'_>]) -> Option<Plan> {
    if COUNT.load(Ordering::Acquire) == 0 {
        return None;
    }
    let (at, file, offset) = bufs
        .iter()
        .enumerate()
        .find_map(|(at, buf)| pages_of(buf).map(|(file, offset)| (at, file, offset)))?;
    Some(match at {
        0 => Plan::Pages {
            file,
            offset,
            len: bufs[0].len(),
        },
        before => Plan::Before(before),
    })
}

/// Writes what `plan` says of `bufs` to `socket` (non-blocking: `WouldBlock` when the
/// socket is full). Returns the bytes written, counted from the first slice.
#[cfg(target_os = "linux")]
pub fn send(socket: impl AsFd, bufs: &[IoSlice<'_>], plan: &Plan) -> std::io::Result<usize> {
    match plan {
        Plan::Before(before) => {
            let mut control = rustix::net::SendAncillaryBuffer::default();
            Ok(rustix::net::sendmsg(
                socket,
                &bufs[..*before],
                &mut control,
                rustix::net::SendFlags::MORE | rustix::net::SendFlags::NOSIGNAL,
            )?)
        }
        Plan::Pages { file, offset, len } => {
            let mut offset = *offset;
            Ok(rustix::fs::sendfile(socket, &**file, Some(&mut offset), *len)?)
        }
    }
}

/// Never called off Linux: no body is in pages there, so there is no plan.
#[cfg(not(target_os = "linux"))]
pub fn send(_: impl AsFd, _: &[IoSlice<'_>], _: &Plan) -> std::io::Result<usize> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "bodies go by pages on Linux only",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_bodies_move_to_pages_and_read_the_same() {
        let body = Bytes::from((0..MIN_BYTES * 2).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
        let paged = into_pages(body.clone());
        assert_eq!(paged, body);
        assert_ne!(paged.as_ptr(), body.as_ptr(), "the body was not moved");
        let (_, offset) = pages_of(&paged[100..100 + MIN_BYTES]).unwrap_or_else(|| panic!("not found"));
        assert_eq!(offset, 100);
        assert!(
            pages_of(&paged[100..200]).is_none(),
            "a short slice was looked up"
        );
        assert!(pages_of(&body[..]).is_none(), "heap bytes taken for pages");
        // A slice reaching past the region is not the region's.
        let start = paged.as_ptr() as usize;
        drop(paged);
        assert!(
            REGIONS
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&start)
                .is_none(),
            "a dropped region stayed registered"
        );
    }

    #[test]
    fn small_and_very_large_bodies_stay_where_they_are() {
        for size in [MIN_BYTES - 1, MAX_BYTES + 1] {
            let body = Bytes::from(vec![7_u8; size]);
            let kept = into_pages(body.clone());
            assert_eq!(kept.as_ptr(), body.as_ptr(), "{size} bytes went to pages");
        }
    }
}
