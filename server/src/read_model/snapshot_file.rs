//! The snapshot on disk, so that a restart serves in a second instead of reading
//! every item from the store (ADR 0015): written after a full read and at shutdown,
//! read at start-up when it belongs to the same database, then brought forward by the
//! store's change log like any snapshot.
//!
//! Layout (little-endian): magic, the database's identity, the data version, the
//! provider names, the base segment, its dead bits, the delta segment, and a CRC-32 of
//! everything before it. A file that is short, corrupt, of another format or of
//! another database is ignored (and said so): the store is the truth.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use uuid::Uuid;

use super::cache::ResponseCache;
use super::index::SearchIndex;
use super::segment::{Segment, Span};

const MAGIC: &[u8; 8] = b"BOXSNAP1";
/// No count in a file is believed past this: a corrupt length must not allocate.
const MAX_ITEMS: u64 = 1 << 32;
const MAX_JSON_BYTES: u64 = 1 << 40;

/// Where this process keeps its snapshot, and whose data it holds.
#[derive(Debug, Clone)]
pub struct SnapshotFile {
    path: PathBuf,
    identity: u64,
}

impl SnapshotFile {
    /// The snapshot at `path` of the database at `database_url` (its password is not
    /// part of the identity, so rotating it keeps the file).
    pub fn new(path: impl Into<PathBuf>, database_url: &str) -> Self {
        let mut url = url::Url::parse(database_url).ok();
        if let Some(url) = url.as_mut() {
            let _ = url.set_password(None);
        }
        let named = url.map_or_else(|| database_url.to_owned(), |url| url.to_string());
        let identity = named.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
        Self {
            path: path.into(),
            identity,
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `index` (beside the file, then renamed over it: a reader never sees half
    /// a file).
    pub fn write(&self, index: &SearchIndex) -> io::Result<()> {
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let partial = self
            .path
            .with_extension(format!("partial-{}", std::process::id()));
        let mut out = Checked::new(BufWriter::with_capacity(1 << 20, File::create(&partial)?));
        out.put(MAGIC)?;
        out.put_u64(self.identity)?;
        out.put_u64(index.version as u64)?;
        out.put_u64(index.providers.len() as u64)?;
        for name in &index.providers {
            out.put_u64(name.len() as u64)?;
            out.put(name.as_bytes())?;
        }
        write_segment(&mut out, &index.base)?;
        let dead = index.dead.as_deref().map_or(&[][..], Vec::as_slice);
        out.put_u64(dead.len() as u64)?;
        for &word in dead {
            out.put_u64(word)?;
        }
        write_segment(&mut out, &index.delta)?;
        let crc = out.crc.clone().finalize();
        let mut file = out.inner.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.write_all(&crc.to_le_bytes())?;
        file.sync_all()?;
        std::fs::rename(&partial, &self.path)
    }

    /// The snapshot in the file, if there is one of this database; an error when the
    /// file is there but cannot be believed.
    pub fn read(&self, cache_bytes: usize) -> io::Result<Option<SearchIndex>> {
        let file = match File::open(&self.path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        let mut input = Checked::new(BufReader::with_capacity(1 << 20, file));
        let mut magic = [0_u8; 8];
        input.take(&mut magic)?;
        if &magic != MAGIC {
            return Err(invalid("not a snapshot of this format"));
        }
        if input.take_u64()? != self.identity {
            return Ok(None);
        }
        let version = input.take_u64()? as i64;
        let provider_count = input.count(1 << 20)?;
        let mut providers = Vec::with_capacity(provider_count);
        for _ in 0..provider_count {
            let len = input.count(1 << 16)?;
            let mut name = vec![0_u8; len];
            input.take(&mut name)?;
            let name = String::from_utf8(name).map_err(|_| invalid("a provider name is not UTF-8"))?;
            providers.push(Arc::<str>::from(name));
        }
        let mut base = read_segment(&mut input, providers.len())?;
        let words = input.count(MAX_ITEMS / 64 + 1)?;
        if words != 0 && words != base.len().div_ceil(64) {
            return Err(invalid("the dead bits do not match the base"));
        }
        let mut dead = Vec::with_capacity(words);
        for _ in 0..words {
            dead.push(input.take_u64()?);
        }
        let dead_count = dead.iter().map(|word| word.count_ones() as usize).sum();
        let delta = read_segment(&mut input, providers.len())?;
        let computed = input.crc.clone().finalize();
        let mut stored = [0_u8; 4];
        input.inner.read_exact(&mut stored)?;
        if u32::from_le_bytes(stored) != computed {
            return Err(invalid("its checksum does not match"));
        }
        base.index_ids();
        let dead = (words > 0).then(|| (Arc::new(dead), dead_count));
        Ok(Some(SearchIndex::from_parts(
            Arc::new(base),
            dead,
            Arc::new(delta),
            providers,
            version,
            ResponseCache::new(cache_bytes),
        )))
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

fn write_segment(out: &mut Checked<impl Write>, segment: &Segment) -> io::Result<()> {
    out.put_u64(segment.len() as u64)?;
    out.put_u64(segment.json.len() as u64)?;
    for i in 0..segment.len() {
        out.put_u64(segment.starts[i] as u64)?;
        out.put_u64(segment.ends[i] as u64)?;
        out.put(segment.ids[i].as_bytes())?;
        out.put(&segment.provider_of[i].to_le_bytes())?;
        out.put_u64(segment.spans[i].start as u64)?;
        out.put(&segment.spans[i].len.to_le_bytes())?;
    }
    out.put(&segment.json)
}

fn read_segment(input: &mut Checked<impl Read>, providers: usize) -> io::Result<Segment> {
    let items = input.count(MAX_ITEMS)?;
    let json_len =
        usize::try_from(input.take_u64()?.min(MAX_JSON_BYTES)).map_err(|_| invalid("too large"))?;
    let mut segment = Segment {
        starts: Vec::with_capacity(items),
        ends: Vec::with_capacity(items),
        ids: Vec::with_capacity(items),
        provider_of: Vec::with_capacity(items),
        spans: Vec::with_capacity(items),
        json: Vec::new(),
        by_id: Vec::new(),
    };
    let mut row = [0_u8; 8 + 8 + 16 + 4 + 8 + 4];
    for _ in 0..items {
        input.take(&mut row)?;
        let field = |from: usize, to: usize| &row[from..to];
        let u64_at = |at: usize| u64::from_le_bytes(field(at, at + 8).try_into().unwrap_or_default());
        let u32_at = |at: usize| u32::from_le_bytes(field(at, at + 4).try_into().unwrap_or_default());
        let span = Span {
            start: usize::try_from(u64_at(36)).map_err(|_| invalid("a span is too large"))?,
            len: u32_at(44),
        };
        let provider = u32_at(32);
        if provider as usize >= providers || span.end() > json_len {
            return Err(invalid("an item points outside the snapshot"));
        }
        segment.starts.push(u64_at(0) as i64);
        segment.ends.push(u64_at(8) as i64);
        segment
            .ids
            .push(Uuid::from_slice(field(16, 32)).map_err(|_| invalid("an id"))?);
        segment.provider_of.push(provider);
        segment.spans.push(span);
    }
    let mut json = vec![0_u8; json_len];
    input.take(&mut json)?;
    segment.json = json;
    if segment
        .starts
        .windows(2)
        .zip(segment.ids.windows(2))
        .any(|(s, i)| (s[0], i[0]) >= (s[1], i[1]))
    {
        return Err(invalid("its items are out of order"));
    }
    Ok(segment)
}

/// A reader or writer that keeps a CRC-32 of what passed through it.
struct Checked<T> {
    inner: T,
    crc: crc32fast::Hasher,
}

impl<T> Checked<T> {
    fn new(inner: T) -> Self {
        Self {
            inner,
            crc: crc32fast::Hasher::new(),
        }
    }
}

impl<W: Write> Checked<W> {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.crc.update(bytes);
        self.inner.write_all(bytes)
    }

    fn put_u64(&mut self, value: u64) -> io::Result<()> {
        self.put(&value.to_le_bytes())
    }
}

impl<R: Read> Checked<R> {
    fn take(&mut self, into: &mut [u8]) -> io::Result<()> {
        self.inner.read_exact(into)?;
        self.crc.update(into);
        Ok(())
    }

    fn take_u64(&mut self) -> io::Result<u64> {
        let mut bytes = [0_u8; 8];
        self.take(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    /// A count no larger than `max`.
    fn count(&mut self, max: u64) -> io::Result<usize> {
        let count = self.take_u64()?;
        if count > max {
            return Err(invalid("a count is out of range"));
        }
        usize::try_from(count).map_err(|_| invalid("a count is out of range"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_model::IndexBuilder;
    use boxoffice_core::SearchWindow;

    fn index_with_a_delta() -> SearchIndex {
        let item = |n: u128, hour: i64, provider: &str| {
            let at = chrono::DateTime::from_timestamp(1_600_000_000 + hour * 3600, 0).unwrap();
            boxoffice_core::SearchItem {
                id: Uuid::from_u128(n),
                provider: provider.into(),
                title: format!("show {n}"),
                start: boxoffice_core::model::LocalMoment {
                    date: at.date_naive(),
                    time: Some(at.time()),
                    at,
                },
                end: None,
                min_price: None,
                max_price: None,
            }
        };
        let mut builder = IndexBuilder::with_capacity(0);
        for n in 0..50 {
            builder.push(&item(n, (n % 7) as i64, ["a", "b"][(n % 2) as usize]));
        }
        let index = builder.finish(3, 0);
        let mut changed = index.change_builder();
        changed.push(&item(4, 9, "c"));
        changed.push(&item(100, 1, "a"));
        index.apply(changed, &[], 4, 0)
    }

    #[test]
    fn a_snapshot_reads_back_as_written_for_its_database_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("read-model.snapshot");
        let index = index_with_a_delta();
        assert!(index.delta_len() > 0 && index.dead.is_some());
        let file = SnapshotFile::new(&path, "postgres://u:secret@db/boxoffice");
        file.write(&index).unwrap();

        let read = file.read(0).unwrap().unwrap();
        assert_eq!(read.version(), 4);
        assert_eq!(read.len(), index.len());
        assert_eq!(
            read.search(SearchWindow::default()),
            index.search(SearchWindow::default())
        );
        assert_eq!(read.counts_by_provider(), index.counts_by_provider());
        // The password is not part of the identity; the database is.
        let rotated = SnapshotFile::new(&path, "postgres://u:other@db/boxoffice");
        assert!(rotated.read(0).unwrap().is_some());
        assert!(
            SnapshotFile::new(&path, "postgres://u@db/another")
                .read(0)
                .unwrap()
                .is_none()
        );
        assert!(
            SnapshotFile::new(dir.path().join("absent"), "x")
                .read(0)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_damaged_snapshot_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("read-model.snapshot");
        let file = SnapshotFile::new(&path, "sqlite://x.db");
        file.write(&index_with_a_delta()).unwrap();
        let good = std::fs::read(&path).unwrap();

        let mut flipped = good.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0x40;
        std::fs::write(&path, &flipped).unwrap();
        assert!(file.read(0).is_err(), "a flipped bit");

        std::fs::write(&path, &good[..good.len() - 9]).unwrap();
        assert!(file.read(0).is_err(), "a short file");

        std::fs::write(&path, b"BOXSNAP1\xff\xff\xff\xff").unwrap();
        assert!(file.read(0).is_err(), "a header alone");
    }
}
