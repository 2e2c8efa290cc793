//! The raw payload archive: every fetched document kept gzip-compressed under its
//! SHA-256, so that a mapping bug can be fixed and the payload re-mapped (`replay`)
//! without asking the provider again.
//!
//! Layout: `<dir>/<provider>/<sha256>.gz`. Identical payloads are stored once.
//! Files older than the retention are pruned after each write. The archive is local
//! to the process's disk (share the folder between instances to replay anywhere).

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

/// Where payloads are kept and for how long.
#[derive(Debug, Clone)]
pub struct PayloadArchive {
    dir: PathBuf,
    retention: Duration,
}

impl PayloadArchive {
    /// An archive in `dir` keeping payloads for `retention`.
    pub fn new(dir: impl Into<PathBuf>, retention: Duration) -> Self {
        Self {
            dir: dir.into(),
            retention,
        }
    }

    fn provider_dir(&self, provider: &str) -> PathBuf {
        self.dir.join(provider)
    }

    /// Starts archiving one payload of `provider`.
    pub fn writer(&self, provider: &str) -> io::Result<ArchiveWriter> {
        let dir = self.provider_dir(provider);
        std::fs::create_dir_all(&dir)?;
        let temp = dir.join(format!(".incoming-{}", uuid::Uuid::new_v4().simple()));
        let file = File::create(&temp)?;
        Ok(ArchiveWriter {
            encoder: GzEncoder::new(BufWriter::with_capacity(1 << 16, file), Compression::fast()),
            hasher: Sha256::new(),
            temp,
            dir,
        })
    }

    /// The payload `hash` of `provider`, decompressed.
    pub fn read(&self, provider: &str, hash: &str) -> io::Result<Vec<u8>> {
        if hash.is_empty() || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a payload hash"));
        }
        let file = File::open(self.provider_dir(provider).join(format!("{hash}.gz")))?;
        let mut bytes = Vec::new();
        GzDecoder::new(file).read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// Deletes `provider`'s payloads older than the retention.
    pub fn prune(&self, provider: &str) -> io::Result<usize> {
        let Some(cutoff) = SystemTime::now().checked_sub(self.retention) else {
            return Ok(0);
        };
        let mut removed = 0;
        for entry in std::fs::read_dir(self.provider_dir(provider))? {
            let entry = entry?;
            let old = entry
                .metadata()?
                .modified()
                .is_ok_and(|modified| modified < cutoff);
            if old && entry.path().extension().is_some_and(|e| e == "gz") {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// One payload being archived; [`finish`](Self::finish) names it by its hash.
pub struct ArchiveWriter {
    encoder: GzEncoder<BufWriter<File>>,
    hasher: Sha256,
    temp: PathBuf,
    dir: PathBuf,
}

impl Write for ArchiveWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.hasher.update(bytes);
        self.encoder.write_all(bytes)?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.encoder.flush()
    }
}

impl ArchiveWriter {
    /// Completes the file and returns the payload's SHA-256 (hex).
    pub fn finish(self) -> io::Result<String> {
        let hash: String = self
            .hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut inner = self.encoder.finish()?;
        inner.flush()?;
        drop(inner);
        let target = self.dir.join(format!("{hash}.gz"));
        if Path::new(&target).exists() {
            std::fs::remove_file(&self.temp)?;
            // Touch the kept copy so that retention counts from its latest fetch.
            File::options()
                .append(true)
                .open(&target)?
                .set_modified(SystemTime::now())?;
        } else {
            std::fs::rename(&self.temp, &target)?;
        }
        Ok(hash)
    }

    /// Throws the partial file away.
    pub fn discard(self) {
        let _ = std::fs::remove_file(&self.temp);
    }
}

/// An [`ArchiveWriter`] shared between the metered body and the engine, which takes
/// it back to finish it.
#[derive(Clone, Default)]
pub struct SharedWriter(pub Arc<Mutex<Option<ArchiveWriter>>>);

impl SharedWriter {
    /// Takes the writer back.
    pub fn take(&self) -> Option<ArchiveWriter> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

impl Write for SharedWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_mut()
        {
            Some(writer) => writer.write(bytes),
            None => Ok(bytes.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_mut()
        {
            Some(writer) => writer.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_by_hash_and_are_stored_once() -> io::Result<()> {
        let dir = tempfile_dir();
        let archive = PayloadArchive::new(&dir, Duration::from_secs(3600));
        let mut writer = archive.writer("fever")?;
        writer.write_all(b"<eventList/>")?;
        let hash = writer.finish()?;
        let mut again = archive.writer("fever")?;
        again.write_all(b"<eventList/>")?;
        assert_eq!(again.finish()?, hash);
        assert_eq!(archive.read("fever", &hash)?, b"<eventList/>");
        assert_eq!(std::fs::read_dir(dir.join("fever"))?.count(), 1);
        assert!(archive.read("fever", "../etc").is_err());
        std::fs::remove_dir_all(&dir)
    }

    #[test]
    fn old_payloads_are_pruned() -> io::Result<()> {
        let dir = tempfile_dir();
        let archive = PayloadArchive::new(&dir, Duration::ZERO);
        let mut writer = archive.writer("fever")?;
        writer.write_all(b"x")?;
        writer.finish()?;
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(archive.prune("fever")?, 1);
        std::fs::remove_dir_all(&dir)
    }

    fn tempfile_dir() -> PathBuf {
        std::env::temp_dir().join(format!("boxoffice-archive-{}", uuid::Uuid::new_v4().simple()))
    }
}
