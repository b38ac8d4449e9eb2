//! The cache's files: `DIR/blobs/ALGORITHM/HEX` (content by digest) and
//! `DIR/tags/KEY` (tag hints), written atomically, read without following
//! symlinks, kept under the size bound by LRU eviction.
//!
//! Everything here is blocking file I/O: callers run it on the blocking
//! pool ([`super::fetch`]) or the cache's writing thread
//! ([`super::writer`]). Nothing returns an error: a failure is counted
//! and reads as a miss.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use super::{CacheConfig, CacheStats};
use crate::digest::Digest;
use crate::error::Error;
use crate::local_fs::{is_symlink_refusal, open_no_follow};
use crate::Result;

/// A read refreshes a file's modification time (its place in the LRU order)
/// when it is older than this; fresher files are left alone to spare a write.
const TOUCH_AFTER: Duration = Duration::from_secs(60);
/// A temporary file older than this belongs to a writer that died.
const STALE_TEMP: Duration = Duration::from_secs(3600);
/// Temporary files start with this; entries never do (they are hex).
const TEMP_PREFIX: &str = ".tmp-";
/// The directories of the layout, each created when missing.
const SUBDIRS: [&str; 4] = ["blobs", "blobs/sha256", "blobs/sha512", "tags"];
/// The directories whose files count against the bound.
const COUNTED: [&str; 3] = ["blobs/sha256", "blobs/sha512", "tags"];

/// The standard tag that tells backup tools the directory is a cache
/// (<https://bford.info/cachedir/>).
const CACHEDIR_TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
# This file is a cache directory tag created by dockreg.\n\
# For information about cache directory tags see https://bford.info/cachedir/\n";

/// The on-disk store of one client (and its clones).
pub(crate) struct Store {
    root: PathBuf,
    max_bytes: u64,
    /// Whether downloads to files go through the store too.
    pub(crate) layers: bool,
    /// The bytes the counted files take: as last counted, plus what this
    /// process wrote since; `None` until the first write counts them.
    used: Mutex<Option<u64>>,
    /// Held while this process evicts (others skip evicting meanwhile).
    evicting: Mutex<()>,
    /// Makes temporary names unique within the process.
    seq: AtomicU64,
    counters: Counters,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    writes: AtomicU64,
    dropped: AtomicU64,
    evicted: AtomicU64,
    errors: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// The file a read came from (device and inode), so that dropping a bad
/// file does not remove a good one another process renamed there since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId(u64, u64);

#[cfg(unix)]
fn file_id(meta: &fs::Metadata) -> FileId {
    use std::os::unix::fs::MetadataExt;
    FileId(meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn file_id(_meta: &fs::Metadata) -> FileId {
    FileId(0, 0)
}

/// What opening an entry found, before reading it.
enum Found {
    Missing,
    /// A regular file within the cap, open for reading.
    File {
        file: fs::File,
        len: u64,
        id: FileId,
        modified: Option<SystemTime>,
    },
    Unfit(Option<FileId>),
}

/// Opens `path` without following a symlink (`O_NOFOLLOW`) or waiting on a
/// FIFO (`O_NONBLOCK`) and checks it is a regular file of at most `cap`
/// bytes on the opened handle.
fn open_file(path: &Path, cap: u64) -> io::Result<Found> {
    let file = match open_no_follow(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Found::Missing),
        Err(e) if is_symlink_refusal(&e) => return Ok(Found::Unfit(None)),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    let id = file_id(&meta);
    #[cfg(not(unix))]
    if fs::symlink_metadata(path)?.file_type().is_symlink() {
        return Ok(Found::Unfit(None));
    }
    if !meta.is_file() || meta.len() > cap {
        return Ok(Found::Unfit(Some(id)));
    }
    Ok(Found::File {
        modified: meta.modified().ok(),
        len: meta.len(),
        file,
        id,
    })
}

/// Reads an opened file whole: `None` when it holds more than `cap` bytes
/// (it grew since it was opened).
fn read_capped(file: &fs::File, len: u64, cap: u64) -> io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= cap).then_some(bytes))
}

/// Refreshes a file just read in the LRU order, when it was not lately; a
/// file we may not touch keeps its place.
fn touch(file: &fs::File, modified: Option<SystemTime>) {
    let now = SystemTime::now();
    let stale = modified
        .and_then(|m| now.duration_since(m).ok())
        .is_none_or(|age| age > TOUCH_AFTER);
    if stale {
        let _ = file.set_modified(now);
    }
}

/// Creates `dir` and its parents with mode 0700 (on unix).
fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

impl Store {
    /// Opens (and when missing creates) the cache directory. A directory
    /// that is a symlink, or holds one (or a file) where the layout has a
    /// directory, is [`Error::Invalid`]: the cache would write where nobody
    /// asked. One that cannot be created or read is no error: every read is
    /// then a miss and every write a counted failure.
    pub(crate) fn open(config: &CacheConfig) -> Result<Store> {
        let root = config.dir.clone();
        let refuse = |at: &Path, reason: &str| {
            Error::invalid("cache directory", &at.display().to_string(), reason)
        };
        match fs::symlink_metadata(&root) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(refuse(
                    &root,
                    "is a symbolic link; give the directory it points to",
                ))
            }
            Ok(meta) if !meta.is_dir() => return Err(refuse(&root, "is not a directory")),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Err(e) = create_private_dir(&root) {
                    crate::trace::warning!(dir = %root.display(), error = %e, "cache directory cannot be created; using the network only");
                    let _ = e;
                }
            }
            Err(e) => {
                crate::trace::warning!(dir = %root.display(), error = %e, "cache directory cannot be read; using the network only");
                let _ = e;
            }
        }
        for sub in SUBDIRS {
            let dir = root.join(sub);
            match fs::symlink_metadata(&dir) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(refuse(&dir, "is a symbolic link inside the cache"))
                }
                Ok(meta) if !meta.is_dir() => {
                    return Err(refuse(
                        &dir,
                        "is not a directory, where the cache keeps one",
                    ))
                }
                Ok(_) => {}
                Err(_) => {
                    let _ = create_private_dir(&dir);
                }
            }
        }
        let tag = root.join("CACHEDIR.TAG");
        if fs::symlink_metadata(&tag).is_err() {
            let _ = fs::write(&tag, CACHEDIR_TAG);
        }
        Ok(Store {
            root,
            max_bytes: config.max_bytes,
            layers: config.layers,
            used: Mutex::new(None),
            evicting: Mutex::new(()),
            seq: AtomicU64::new(0),
            counters: Counters::default(),
        })
    }

    pub(crate) fn stats(&self) -> CacheStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CacheStats {
            hits: get(&c.hits),
            misses: get(&c.misses),
            writes: get(&c.writes),
            dropped: get(&c.dropped),
            evicted: get(&c.evicted),
            errors: get(&c.errors),
        }
    }

    fn blob_dir(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs").join(digest.algorithm().as_str())
    }

    /// Where the entry for `digest` lives (the hex part is validated lower
    /// case hex: no path can come of it).
    pub(crate) fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.blob_dir(digest).join(digest.hex())
    }

    /// Whether an entry for `digest` is there (not whether it verifies).
    pub(crate) fn has(&self, digest: &Digest) -> bool {
        fs::symlink_metadata(self.blob_path(digest)).is_ok_and(|m| m.is_file())
    }

    /// The entry of `digest` at `path`, open for reading, when it is a
    /// regular file of at most `cap` bytes (with its length, id and
    /// modification time). Otherwise `None`, counted: a miss, an unfit file
    /// also dropped, a file that cannot be opened also an error.
    fn open_counted(
        &self,
        path: &Path,
        digest: &Digest,
        cap: u64,
    ) -> Option<(fs::File, u64, FileId, Option<SystemTime>)> {
        match open_file(path, cap) {
            Ok(Found::File {
                file,
                len,
                id,
                modified,
            }) => Some((file, len, id, modified)),
            Ok(Found::Missing) => {
                bump(&self.counters.misses);
                None
            }
            Ok(Found::Unfit(id)) => {
                self.drop_entry(path, id, digest, "not a regular file within the size limit");
                None
            }
            Err(e) => {
                crate::trace::warning!(digest = %digest, error = %e, "cache entry cannot be read");
                let _ = e;
                bump(&self.counters.errors);
                bump(&self.counters.misses);
                None
            }
        }
    }

    /// The entry for `digest` when it is there and `verify` accepts its
    /// bytes (at most `cap` of them). A file `verify` refuses, or that is
    /// no regular file within the cap, is removed.
    pub(crate) fn get<T>(
        &self,
        digest: &Digest,
        cap: u64,
        verify: impl FnOnce(Bytes) -> std::result::Result<T, String>,
    ) -> Option<T> {
        let path = self.blob_path(digest);
        let (file, len, id, modified) = self.open_counted(&path, digest, cap)?;
        let bytes = match read_capped(&file, len, cap) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                drop(file);
                self.drop_entry(&path, Some(id), digest, "it grew past the size limit");
                return None;
            }
            Err(_) => {
                bump(&self.counters.errors);
                bump(&self.counters.misses);
                return None;
            }
        };
        match verify(Bytes::from(bytes)) {
            Ok(value) => {
                bump(&self.counters.hits);
                touch(&file, modified);
                Some(value)
            }
            Err(reason) => {
                drop(file);
                self.drop_entry(&path, Some(id), digest, &reason);
                None
            }
        }
    }

    /// Copies the entry of `digest` into `out`, hashing it on the way:
    /// its length when it hashes to `digest` (and has `size`, when given).
    /// `None` when there is none, or it did not verify (then it is dropped,
    /// and what `out` holds is to be thrown away).
    pub(crate) fn copy_out(
        &self,
        digest: &Digest,
        size: Option<u64>,
        out: &mut fs::File,
    ) -> Option<u64> {
        let path = self.blob_path(digest);
        let cap = size.unwrap_or(self.max_bytes).min(self.max_bytes);
        let (file, len, id, modified) = self.open_counted(&path, digest, cap)?;
        let mut hasher = crate::digest::Hasher::new(digest.algorithm());
        let mut buf = vec![0u8; 256 << 10];
        let mut copied: u64 = 0;
        let mut reader = (&file).take(cap.saturating_add(1));
        let outcome = loop {
            match reader.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    hasher.update(&buf[..n]);
                    copied += n as u64;
                    if let Err(e) = out.write_all(&buf[..n]) {
                        break Err(e);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        if outcome.is_err() {
            // The destination (or the read) failed: the network is the way.
            bump(&self.counters.errors);
            bump(&self.counters.misses);
            return None;
        }
        let actual = hasher.finish();
        let wrong = if actual != *digest {
            Some(format!("its bytes hash to {actual}"))
        } else if size.is_some_and(|n| n != copied) || copied != len {
            Some(format!("{copied} bytes, not {}", size.unwrap_or(len)))
        } else {
            None
        };
        if let Some(reason) = wrong {
            drop(file);
            self.drop_entry(&path, Some(id), digest, &reason);
            return None;
        }
        bump(&self.counters.hits);
        touch(&file, modified);
        Some(copied)
    }

    /// Keeps a copy of `src`, a file whose content the caller verified has
    /// `digest`, as its entry (nothing when it is larger than the whole
    /// bound, or already there).
    pub(crate) fn keep_file(&self, digest: &Digest, src: &Path) {
        let Ok(meta) = fs::metadata(src) else {
            bump(&self.counters.errors);
            return;
        };
        if meta.len() > self.max_bytes || self.has(digest) {
            return;
        }
        let written = self.write_atomic_with(&self.blob_dir(digest), digest.hex(), |out| {
            io::copy(&mut fs::File::open(src)?, out).map(|_| ())
        });
        self.counted_write(digest, meta.len(), written);
    }

    /// Removes a bad entry: a symlink itself (never what it points to), or
    /// the file with `id` when it is still the one at `path`.
    fn drop_entry(&self, path: &Path, id: Option<FileId>, digest: &Digest, reason: &str) {
        crate::trace::warning!(digest = %digest, reason = %reason, "cache entry dropped; fetching it again");
        let _ = (digest, reason);
        bump(&self.counters.misses);
        // Counted as dropped by whoever removes it: this reader, another
        // one, or an eviction that found it first.
        let Ok(meta) = fs::symlink_metadata(path) else {
            return;
        };
        let same = meta.file_type().is_symlink() || id == Some(file_id(&meta));
        if same {
            let removed = if meta.is_dir() {
                fs::remove_dir(path)
            } else {
                fs::remove_file(path)
            };
            match removed {
                Ok(()) => bump(&self.counters.dropped),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(_) => bump(&self.counters.errors),
            }
        }
    }

    /// Keeps `bytes` as the entry for `digest`; the caller verified that
    /// they are the content with this digest.
    pub(crate) fn put(&self, digest: &Digest, bytes: &[u8]) {
        let len = bytes.len() as u64;
        if len > self.max_bytes {
            return;
        }
        let written = self.write_atomic(&self.blob_dir(digest), digest.hex(), bytes);
        self.counted_write(digest, len, written);
    }

    /// Counts a write of `len` bytes for `digest` that ended as `written`.
    fn counted_write(&self, digest: &Digest, len: u64, written: io::Result<()>) {
        match written {
            Ok(()) => {
                bump(&self.counters.writes);
                self.account(len);
            }
            Err(e) => {
                crate::trace::warning!(digest = %digest, error = %e, "cache entry cannot be written");
                let _ = (digest, e);
                bump(&self.counters.errors);
            }
        }
    }

    /// The file `tags/NAME`, when it is a regular file of at most `cap`
    /// bytes.
    pub(crate) fn read_tags(&self, name: &str, cap: u64) -> Option<Vec<u8>> {
        let read =
            open_file(&self.root.join("tags").join(name), cap).and_then(|found| match found {
                Found::File { file, len, .. } => read_capped(&file, len, cap),
                Found::Missing | Found::Unfit(_) => Ok(None),
            });
        read.unwrap_or_else(|_| {
            bump(&self.counters.errors);
            None
        })
    }

    /// Replaces the file `tags/NAME` with `bytes`, atomically.
    pub(crate) fn write_tags(&self, name: &str, bytes: &[u8]) {
        match self.write_atomic(&self.root.join("tags"), name, bytes) {
            Ok(()) => self.account(bytes.len() as u64),
            Err(_) => bump(&self.counters.errors),
        }
    }

    /// Writes `bytes` to a new temporary file in `dir` and renames it to
    /// `dir/name`: a reader sees the old file or the new one, never part of
    /// one. The directory is created again when it went missing.
    fn write_atomic(&self, dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.write_atomic_with(dir, name, |file| file.write_all(bytes))
    }

    /// [`Store::write_atomic`] with the content written by `fill`.
    fn write_atomic_with(
        &self,
        dir: &Path,
        name: &str,
        fill: impl FnOnce(&mut fs::File) -> io::Result<()>,
    ) -> io::Result<()> {
        let temp = dir.join(format!(
            "{TEMP_PREFIX}{}-{}-{name}",
            std::process::id(),
            self.seq.fetch_add(1, Ordering::Relaxed)
        ));
        let create = || {
            let mut options = fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
            }
            options.open(&temp)
        };
        let mut file = match create() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                create_private_dir(dir)?;
                create()?
            }
            other => other?,
        };
        let target = dir.join(name);
        let written = fill(&mut file).and_then(|()| {
            drop(file);
            fs::rename(&temp, &target).or_else(|e| {
                // An (empty) directory in the way is no entry: replace it.
                let in_way = fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir());
                if in_way && fs::remove_dir(&target).is_ok() {
                    fs::rename(&temp, &target)
                } else {
                    Err(e)
                }
            })
        });
        if written.is_err() {
            let _ = fs::remove_file(&temp);
        }
        written
    }

    /// Counts `added` bytes; evicts when that passes the bound (or when
    /// this process has not counted the files yet).
    fn account(&self, added: u64) {
        let over = {
            let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
            match *used {
                Some(n) => {
                    let n = n.saturating_add(added);
                    *used = Some(n);
                    n > self.max_bytes
                }
                None => true,
            }
        };
        if over {
            self.evict();
        }
    }

    /// Counts the files and, over the bound, removes the least recently
    /// used ones until nine tenths of it remain. Also removes symlinks and
    /// stale temporary files. Another thread evicting already: skipped.
    pub(crate) fn evict(&self) {
        let Ok(_evicting) = self.evicting.try_lock() else {
            return;
        };
        let now = SystemTime::now();
        let mut total: u64 = 0;
        let mut files: Vec<(SystemTime, u64, PathBuf)> = Vec::new();
        for sub in COUNTED {
            let Ok(entries) = fs::read_dir(self.root.join(sub)) else {
                continue;
            };
            for entry in entries.flatten() {
                // DirEntry::metadata does not follow symlinks.
                let Ok(meta) = entry.metadata() else { continue };
                let path = entry.path();
                if meta.file_type().is_symlink() {
                    if fs::remove_file(&path).is_ok() {
                        bump(&self.counters.dropped);
                    }
                    continue;
                }
                if !meta.is_file() {
                    continue;
                }
                let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                let temp = entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX);
                if temp {
                    let stale = now
                        .duration_since(modified)
                        .is_ok_and(|age| age > STALE_TEMP);
                    if stale {
                        let _ = fs::remove_file(&path);
                        continue;
                    }
                    total = total.saturating_add(meta.len());
                    continue;
                }
                total = total.saturating_add(meta.len());
                files.push((modified, meta.len(), path));
            }
        }
        if total > self.max_bytes {
            let low = self.max_bytes / 10 * 9;
            files.sort();
            for (_, len, path) in files {
                if total <= low {
                    break;
                }
                match fs::remove_file(&path) {
                    Ok(()) => {
                        total = total.saturating_sub(len);
                        bump(&self.counters.evicted);
                    }
                    // Another process evicted it first.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        total = total.saturating_sub(len);
                    }
                    Err(_) => bump(&self.counters.errors),
                }
            }
        }
        *self.used.lock().unwrap_or_else(|e| e.into_inner()) = Some(total);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path, max: u64) -> Store {
        Store::open(&CacheConfig::new(dir).max_bytes(max)).unwrap()
    }

    fn accept(bytes: Bytes) -> std::result::Result<Bytes, String> {
        Ok(bytes)
    }

    fn by_hash(digest: &Digest) -> impl FnOnce(Bytes) -> std::result::Result<Bytes, String> + '_ {
        move |bytes| {
            if Digest::compute(digest.algorithm(), &bytes) == *digest {
                Ok(bytes)
            } else {
                Err("digest mismatch".into())
            }
        }
    }

    #[test]
    fn an_entry_written_reads_back_and_a_bad_one_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), 1 << 20);
        let d = Digest::sha256(b"hello");
        assert!(s.get(&d, 100, accept).is_none());
        s.put(&d, b"hello");
        assert_eq!(s.get(&d, 100, by_hash(&d)).unwrap(), &b"hello"[..]);
        std::fs::write(s.blob_path(&d), b"hellO").unwrap();
        assert!(s.get(&d, 100, by_hash(&d)).is_none());
        assert!(
            !s.blob_path(&d).exists(),
            "a file that does not verify is removed"
        );
        let stats = s.stats();
        assert_eq!((stats.hits, stats.writes, stats.dropped), (1, 1, 1));
        assert_eq!(stats.misses, 2);
    }

    #[test]
    fn oversized_files_and_symlinks_are_dropped_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), 1 << 20);
        let d = Digest::sha256(b"small");
        std::fs::write(s.blob_path(&d), vec![b'x'; 200]).unwrap();
        assert!(s.get(&d, 100, accept).is_none());
        assert!(!s.blob_path(&d).exists());

        let outside = dir.path().join("outside");
        std::fs::write(&outside, b"small").unwrap();
        std::os::unix::fs::symlink(&outside, s.blob_path(&d)).unwrap();
        assert!(s.get(&d, 100, accept).is_none(), "a symlink is not read");
        assert!(std::fs::symlink_metadata(s.blob_path(&d)).is_err());
        assert_eq!(
            std::fs::read(&outside).unwrap(),
            b"small",
            "its target stays"
        );
        assert_eq!(s.stats().dropped, 2);
    }

    #[test]
    fn a_fifo_is_not_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), 1 << 20);
        let d = Digest::sha256(b"fifo");
        let path = std::ffi::CString::new(s.blob_path(&d).to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
        assert!(s.get(&d, 100, accept).is_none());
        assert!(!s.blob_path(&d).exists());
    }

    #[test]
    fn a_symlinked_cache_dir_or_subdir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let err = Store::open(&CacheConfig::new(&link)).err().unwrap();
        assert!(
            matches!(
                err,
                Error::Invalid {
                    what: "cache directory",
                    ..
                }
            ),
            "{err}"
        );

        let inner = dir.path().join("inner");
        std::fs::create_dir_all(inner.join("blobs")).unwrap();
        std::os::unix::fs::symlink(&real, inner.join("blobs/sha256")).unwrap();
        let err = Store::open(&CacheConfig::new(&inner)).err().unwrap();
        assert!(err.to_string().contains("sha256"), "{err}");

        let file = dir.path().join("file");
        std::fs::write(&file, b"").unwrap();
        assert!(Store::open(&CacheConfig::new(&file)).is_err());
    }

    #[test]
    fn an_unwritable_cache_degrades_to_misses() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), 1 << 20);
        // A file where the entries' directory was: every write fails, as
        // on a full or read-only disk, whoever runs the test.
        std::fs::remove_dir(dir.path().join("blobs/sha256")).unwrap();
        std::fs::write(dir.path().join("blobs/sha256"), b"").unwrap();
        let d = Digest::sha256(b"x");
        s.put(&d, b"x");
        assert!(s.get(&d, 100, accept).is_none());
        let stats = s.stats();
        assert_eq!((stats.writes, stats.hits), (0, 0));
        assert!(stats.errors >= 1, "{stats:?}");
    }

    #[test]
    fn eviction_removes_the_least_recently_used_first() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), 1 << 20);
        let old = SystemTime::now() - Duration::from_secs(3 * 3600);
        let digests: Vec<Digest> = (0..4u8).map(|i| Digest::sha256(&[i])).collect();
        for (i, d) in digests.iter().enumerate() {
            s.put(d, &[b'a'; 300]);
            let f = std::fs::File::options()
                .write(true)
                .open(s.blob_path(d))
                .unwrap();
            f.set_modified(old + Duration::from_secs(i as u64 * 60))
                .unwrap();
        }
        // Read the oldest: it becomes the most recent.
        assert!(s.get(&digests[0], 1000, accept).is_some());
        // Another process with a smaller bound: 1200 bytes down to 630.
        let s = store(dir.path(), 700);
        s.evict();
        let left: Vec<bool> = digests.iter().map(|d| s.blob_path(d).exists()).collect();
        assert_eq!(left, [true, false, false, true], "{:?}", s.stats());
        assert!(s.stats().evicted >= 2);
    }

    #[test]
    fn stale_temporary_files_are_removed_and_never_read() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), 1 << 20);
        let d = Digest::sha256(b"half");
        let temp = dir
            .path()
            .join(format!("blobs/sha256/{TEMP_PREFIX}1-0-{}", d.hex()));
        std::fs::write(&temp, b"ha").unwrap();
        assert!(
            s.get(&d, 100, accept).is_none(),
            "a half-written file is no entry"
        );
        let f = std::fs::File::options().write(true).open(&temp).unwrap();
        f.set_modified(SystemTime::now() - 2 * STALE_TEMP).unwrap();
        s.evict();
        assert!(!temp.exists());
    }
}
