//! The cache's files: `DIR/blobs/ALGORITHM/HEX` (loose entries, by digest),
//! `DIR/packs/NAME.pack` (many entries in one file, see [`super::pack`])
//! and `DIR/tags/KEY` (tag hints), written atomically, read without
//! following symlinks, kept under the size bound by LRU eviction; and the
//! [`Index`] of what they hold.
//!
//! Everything here that touches a file is blocking I/O: callers run it on
//! the blocking pool ([`super::fetch`]) or the cache's writing thread
//! ([`super::writer`]). Nothing returns an error: a failure is counted
//! and reads as a miss.

use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::index::{self, Index, Loc, Pack, TEMP_PREFIX};
use super::pack;
use super::{CacheConfig, CacheStats};
use crate::digest::Digest;
use crate::error::Error;
use crate::local_fs::{is_symlink_refusal, open_no_follow, FileId};
use crate::Result;

/// A read refreshes a file's modification time (its place in the LRU order)
/// when it is older than this; fresher files are left alone to spare a write.
const TOUCH_AFTER: Duration = Duration::from_secs(60);
/// A temporary file older than this belongs to a writer that died.
const STALE_TEMP: Duration = Duration::from_secs(3600);
/// The directories of the layout, each created when missing.
const SUBDIRS: [&str; 5] = ["blobs", "blobs/sha256", "blobs/sha512", "packs", "tags"];
/// The directories whose files count against the bound.
const COUNTED: [&str; 4] = ["blobs/sha256", "blobs/sha512", "packs", "tags"];
/// The largest pack written; a larger batch is written as several.
const MAX_PACK_BYTES: u64 = 8 << 20;
/// The most bytes of a bad pack's other entries read to move them to a new
/// pack; the rest are left to be fetched again.
const MAX_SALVAGE_BYTES: u64 = 64 << 20;
/// Past this many bad entries, a bad pack's other entries are not read.
const MAX_SALVAGE_FAILURES: u64 = 8;

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
    /// What the directory holds, as last read, and what is queued.
    index: Mutex<Index>,
    /// The bytes the counted files take: as last counted, plus what this
    /// process wrote since; `None` until the first write counts them.
    used: Mutex<Option<u64>>,
    /// Held while this process evicts (others skip evicting meanwhile).
    evicting: Mutex<()>,
    /// Held while a bad pack's good entries move to a new one.
    salvaging: Mutex<()>,
    /// Held while the directory is read (one scan at a time).
    reloading: Mutex<()>,
    /// Makes temporary and pack names unique within the process.
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

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// What opening a loose file found, before reading it.
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
    let id = FileId::of(&meta);
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

/// An entry found: in memory (queued for writing) or in a file.
enum Entry {
    Memory(Bytes),
    File(Opened),
}

/// What opening a loose or packed entry came to.
enum Opening {
    Open(Opened),
    /// Nothing to read, and counted (a miss, a drop, an error).
    Counted,
    /// The file is not where, or not what, the index said: look again.
    Moved,
}

/// Where an opened entry came from: what to remove when it is bad.
enum Origin {
    Loose { path: PathBuf, id: FileId },
    Packed(Arc<Pack>),
}

/// An entry open for reading: `len` bytes of `file` from where it is
/// positioned. A loose file's `len` is its length when opened (it may have
/// grown since); a packed entry's is exact.
struct Opened {
    file: fs::File,
    len: u64,
    modified: Option<SystemTime>,
    origin: Origin,
}

impl Opened {
    /// Reads the entry whole: `None` when a loose file holds more than
    /// `cap` bytes (it grew since it was opened) or a packed entry is cut
    /// short (the pack was truncated).
    fn read(&self, cap: u64) -> io::Result<Option<Vec<u8>>> {
        // Grown as read: a length from the file is no allocation size.
        let mut bytes = Vec::with_capacity(self.len.min(1 << 20) as usize);
        (&self.file).take(self.limit(cap)).read_to_end(&mut bytes)?;
        let fits = match self.origin {
            Origin::Loose { .. } => bytes.len() as u64 <= cap,
            Origin::Packed(_) => bytes.len() as u64 == self.len,
        };
        Ok(fits.then_some(bytes))
    }

    /// The most bytes to read: one past `cap` for a loose file (to see
    /// that it grew), the entry's length in a pack.
    fn limit(&self, cap: u64) -> u64 {
        match self.origin {
            Origin::Loose { .. } => cap.saturating_add(1),
            Origin::Packed(_) => self.len,
        }
    }

    /// Copies the entry into `out` (at most `cap` bytes of a loose file),
    /// hashing it: the digest and the number of bytes copied.
    fn copy(&self, digest: &Digest, cap: u64, out: &mut fs::File) -> io::Result<(Digest, u64)> {
        let limit = self.limit(cap);
        let mut hasher = crate::digest::Hasher::new(digest.algorithm());
        let mut buf = vec![0u8; 256 << 10];
        let mut copied: u64 = 0;
        let mut reader = (&self.file).take(limit);
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    hasher.update(&buf[..n]);
                    copied += n as u64;
                    out.write_all(&buf[..n])?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok((hasher.finish(), copied))
    }
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

/// The time in nanoseconds, for names that must not meet another
/// process's: two containers sharing the cache may both be pid 1.
fn unique_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Creates `dir` and its parents with mode 0700 (on unix).
fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Why a caller does not take a cached entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Its bytes are not the content of the digest: dropped.
    Bad(String),
    /// Its bytes are the digest's content, but not what this call takes (a
    /// descriptor's size, a media type, this client's limits): a miss here,
    /// and the entry stays for others.
    NotHere(String),
}

/// Whether the bytes of a cached entry hash to `digest` (a [`Refusal::Bad`]
/// when not) and have `size`, when given (a [`Refusal::NotHere`] when
/// not: the content is right, the size asked for is not).
pub(crate) fn check_blob(
    digest: &Digest,
    size: Option<u64>,
    bytes: &[u8],
) -> std::result::Result<(), Refusal> {
    let actual = Digest::compute(digest.algorithm(), bytes);
    if actual != *digest {
        return Err(Refusal::Bad(format!("its bytes hash to {actual}")));
    }
    match size {
        Some(n) if n != bytes.len() as u64 => Err(Refusal::NotHere(format!(
            "{} bytes, not the {n} asked for",
            bytes.len()
        ))),
        _ => Ok(()),
    }
}

/// Whether `bytes` are the content `digest` names: they hash to it, or
/// they are a manifest whose canonical bytes do (a signed schema 1
/// manifest is named by its payload, without the signatures).
pub(crate) fn is_content_of(digest: &Digest, bytes: &[u8]) -> bool {
    Digest::compute(digest.algorithm(), bytes) == *digest
        || crate::models::Manifest::from_bytes(bytes.to_vec(), None)
            .and_then(|m| m.digest_with(digest.algorithm()))
            .is_ok_and(|d| d == *digest)
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
            index: Mutex::new(Index::default()),
            used: Mutex::new(None),
            evicting: Mutex::new(()),
            salvaging: Mutex::new(()),
            reloading: Mutex::new(()),
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

    fn index(&self) -> MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the directory again: what other processes wrote or removed
    /// since is known after it.
    pub(crate) fn reload(&self) {
        let _reloading = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        self.scan();
    }

    /// Reads the directory again when the index is stale (never read, or
    /// not lately); a caller that waited for another's reload does not
    /// read it once more.
    pub(crate) fn reload_if_stale(&self) {
        let _reloading = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        if self.stale() {
            self.scan();
        }
    }

    /// One scan: changes this process makes meanwhile are kept (see
    /// [`Index::begin_scan`]). Called with `reloading` held.
    fn scan(&self) {
        let known = self.index().begin_scan();
        let scan = index::scan(&self.root, &known);
        add(&self.counters.dropped, scan.removed);
        add(&self.counters.errors, scan.errors);
        self.index().replace(scan);
    }

    /// Whether the index was never read, or not lately.
    pub(crate) fn stale(&self) -> bool {
        self.index().stale()
    }

    /// Forgets the entries queued for a writer that is gone.
    pub(crate) fn writer_gone(&self) {
        self.index().clear_pending();
    }

    fn blob_dir(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs").join(digest.algorithm().as_str())
    }

    /// Where the loose entry for `digest` lives (the hex part is validated
    /// lower case hex: no path can come of it).
    pub(crate) fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.blob_dir(digest).join(digest.hex())
    }

    fn pack_path(&self, name: &str) -> PathBuf {
        self.root.join("packs").join(name)
    }

    /// Whether the index knows an entry for `digest` (not whether it
    /// verifies).
    pub(crate) fn has(&self, digest: &Digest) -> bool {
        self.index().contains(digest)
    }

    /// Whether reading the entry of `digest` touches the disk (it is known
    /// and not queued in memory): worth the blocking pool.
    pub(crate) fn on_disk(&self, digest: &Digest) -> bool {
        self.index().on_disk(digest)
    }

    /// Holds `bytes`, the verified content of `digest`, in memory until the
    /// writing thread writes it; `false` when the index knows it already
    /// (nothing to write).
    pub(crate) fn pend(&self, digest: &Digest, bytes: &Bytes) -> bool {
        let mut index = self.index();
        if index.contains(digest) {
            return false;
        }
        index.pend(digest.clone(), bytes.clone());
        true
    }

    /// The entry of `digest`, wherever the index says it is: its bytes in
    /// memory, or its file open for reading when it is a regular file (or
    /// a packed entry) of at most `cap` bytes. Otherwise `None`, counted: a
    /// miss, an unfit file also dropped, a file that cannot be opened also
    /// an error. A pack gone or replaced since the index was read is taken
    /// out of it and the entry looked for again (its entries may have
    /// moved to another pack, or be in memory on their way there).
    fn find(&self, digest: &Digest, cap: u64) -> Option<Entry> {
        // Each turn takes a pack out of the index: a few are plenty.
        for _ in 0..4 {
            let located = self.index().locate(digest);
            let loc = match located {
                None => break,
                Some(Loc::Memory(bytes)) => return Some(Entry::Memory(bytes)),
                Some(loc) => loc,
            };
            match self.open_entry(digest, loc, cap) {
                Opening::Open(opened) => return Some(Entry::File(opened)),
                Opening::Counted => return None,
                Opening::Moved => {}
            }
        }
        bump(&self.counters.misses);
        None
    }

    /// Opens a loose or packed entry (see [`Store::find`]).
    fn open_entry(&self, digest: &Digest, loc: Loc, cap: u64) -> Opening {
        match loc {
            Loc::Memory(_) => Opening::Moved,
            Loc::Loose => {
                let path = self.blob_path(digest);
                match open_file(&path, cap) {
                    Ok(Found::File {
                        file,
                        len,
                        id,
                        modified,
                    }) => Opening::Open(Opened {
                        file,
                        len,
                        modified,
                        origin: Origin::Loose { path, id },
                    }),
                    Ok(Found::Missing) => {
                        // Evicted by another process.
                        self.index().remove_loose(digest);
                        Opening::Moved
                    }
                    Ok(Found::Unfit(id)) => {
                        self.drop_loose(
                            &path,
                            id,
                            digest,
                            "not a regular file within the size limit",
                        );
                        Opening::Counted
                    }
                    Err(e) => self.cannot_open(digest, &e),
                }
            }
            Loc::Packed { pack, offset, len } => {
                let path = self.pack_path(&pack.name);
                let file = match open_no_follow(&path) {
                    Ok(file) => file,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        // Evicted by another process, or its entries moved.
                        self.index().remove_pack(&pack.name);
                        return Opening::Moved;
                    }
                    Err(e) => return self.cannot_open(digest, &e),
                };
                let meta = match file.metadata() {
                    Ok(meta) => meta,
                    Err(e) => return self.cannot_open(digest, &e),
                };
                if !FileId::of(&meta).same_inode(&pack.id) {
                    // Another file by that name: not the pack indexed.
                    self.index().remove_pack(&pack.name);
                    return Opening::Moved;
                }
                let mut file = file;
                if len > cap {
                    // Larger than this call takes (an index that lies about
                    // it is found out by a reader that takes more).
                    bump(&self.counters.misses);
                    return Opening::Counted;
                }
                if let Err(e) = file.seek(SeekFrom::Start(offset)) {
                    return self.cannot_open(digest, &e);
                }
                Opening::Open(Opened {
                    file,
                    len,
                    modified: meta.modified().ok(),
                    origin: Origin::Packed(pack),
                })
            }
        }
    }

    /// Counts a file that could not be read: an error and a miss.
    fn unreadable<T>(&self, digest: &Digest, e: &io::Error) -> Option<T> {
        crate::trace::warning!(digest = %digest, error = %e, "cache entry cannot be read");
        let _ = (digest, e);
        bump(&self.counters.errors);
        bump(&self.counters.misses);
        None
    }

    /// [`Store::unreadable`], for an entry that could not be opened.
    fn cannot_open(&self, digest: &Digest, e: &io::Error) -> Opening {
        self.unreadable::<()>(digest, e);
        Opening::Counted
    }

    /// Removes an entry found bad, wherever it is.
    fn discard(&self, opened: Opened, digest: &Digest, reason: &str) {
        let Opened { file, origin, .. } = opened;
        drop(file);
        match origin {
            Origin::Loose { path, id } => self.drop_loose(&path, Some(id), digest, reason),
            Origin::Packed(pack) => self.drop_packed(&pack, digest, reason),
        }
    }

    /// The entry for `digest` when it is there and `verify` accepts its
    /// bytes (at most `cap` of them). An entry `verify` finds
    /// [bad](Refusal::Bad), or a loose file that is no regular file within
    /// the cap, is removed.
    pub(crate) fn get<T>(
        &self,
        digest: &Digest,
        cap: u64,
        verify: impl FnOnce(Bytes) -> std::result::Result<T, Refusal>,
    ) -> Option<T> {
        let opened = match self.find(digest, cap)? {
            Entry::File(opened) => opened,
            // Verified on the way in; checked again all the same.
            Entry::Memory(bytes) => {
                return match (bytes.len() as u64 <= cap).then(|| verify(bytes)) {
                    Some(Ok(value)) => {
                        bump(&self.counters.hits);
                        Some(value)
                    }
                    _ => {
                        bump(&self.counters.misses);
                        None
                    }
                };
            }
        };
        let bytes = match opened.read(cap) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                self.discard(opened, digest, "its size is not what it was");
                return None;
            }
            Err(e) => return self.unreadable(digest, &e),
        };
        match verify(Bytes::from(bytes)) {
            Ok(value) => {
                bump(&self.counters.hits);
                touch(&opened.file, opened.modified);
                Some(value)
            }
            Err(Refusal::Bad(reason)) => {
                self.discard(opened, digest, &reason);
                None
            }
            Err(Refusal::NotHere(_)) => {
                bump(&self.counters.misses);
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
        let cap = size.unwrap_or(self.max_bytes).min(self.max_bytes);
        let opened = match self.find(digest, cap)? {
            Entry::File(opened) => opened,
            Entry::Memory(bytes) => {
                let fits = check_blob(digest, size, &bytes).is_ok();
                if fits && out.write_all(&bytes).is_ok() {
                    bump(&self.counters.hits);
                    return Some(bytes.len() as u64);
                }
                bump(&self.counters.misses);
                return None;
            }
        };
        let (actual, copied) = match opened.copy(digest, cap, out) {
            Ok(done) => done,
            // The destination (or the read) failed: the network is the way.
            Err(e) => return self.unreadable(digest, &e),
        };
        let wrong = if actual != *digest {
            Some(format!("its bytes hash to {actual}"))
        } else if copied != opened.len {
            Some(format!("{copied} bytes, not {}", opened.len))
        } else {
            None
        };
        if let Some(reason) = wrong {
            self.discard(opened, digest, &reason);
            return None;
        }
        if size.is_some_and(|n| n != copied) {
            // The right bytes, not the size asked for: left for others.
            bump(&self.counters.misses);
            return None;
        }
        bump(&self.counters.hits);
        touch(&opened.file, opened.modified);
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
        if meta.len() > self.max_bytes || self.on_disk(digest) {
            return;
        }
        let written = self.write_atomic_with(&self.blob_dir(digest), digest.hex(), |out| {
            io::copy(&mut fs::File::open(src)?, out).map(|_| ())
        });
        self.counted_write(digest, meta.len(), written, true);
    }

    /// Removes a bad loose entry: a symlink itself (never what it points
    /// to), or the file with `id` when it is still the one at `path`.
    fn drop_loose(&self, path: &Path, id: Option<FileId>, digest: &Digest, reason: &str) {
        crate::trace::warning!(digest = %digest, reason = %reason, "cache entry dropped; fetching it again");
        let _ = reason;
        bump(&self.counters.misses);
        self.index().remove_loose(digest);
        // Counted as dropped by whoever removes it: this reader, another
        // one, or an eviction that found it first.
        let Ok(meta) = fs::symlink_metadata(path) else {
            return;
        };
        let same = meta.file_type().is_symlink() || id == Some(FileId::of(&meta));
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

    /// Drops the bad entry `digest` of `pack`: the pack's other entries
    /// that still hash right move to a new pack (or files of their own),
    /// then the pack is removed. The bad entry, and every other one that
    /// did not hash right, counts as one dropped.
    fn drop_packed(&self, pack: &Arc<Pack>, digest: &Digest, reason: &str) {
        crate::trace::warning!(digest = %digest, pack = %pack.name, reason = %reason, "cache entry dropped; fetching it again");
        let _ = reason;
        bump(&self.counters.misses);
        let _salvaging = self.salvaging.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.index().pack(&pack.name);
        if !current.is_some_and(|p| Arc::ptr_eq(&p, pack)) {
            // Another thread dealt with it.
            return;
        }
        let path = self.pack_path(&pack.name);
        let file = match open_no_follow(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.index().remove_pack(&pack.name);
                return;
            }
            // Still there, as far as anyone knows: left for the next try.
            Err(_) => {
                bump(&self.counters.errors);
                return;
            }
        };
        let same = file
            .metadata()
            .is_ok_and(|m| m.is_file() && FileId::of(&m).same_inode(&pack.id));
        let mut good: Vec<(Digest, Bytes)> = Vec::new();
        let mut bad: u64 = 1;
        if same {
            // Every byte read counts against the budget, good or bad, and a
            // pack with more bad entries than a few is not worth reading
            // on: what is left is fetched again when asked for.
            let mut budget = MAX_SALVAGE_BYTES;
            for listed in pack.listed.iter().filter(|l| l.digest != *digest) {
                if bad > MAX_SALVAGE_FAILURES || listed.len > budget {
                    break;
                }
                budget -= listed.len;
                let mut bytes = Vec::with_capacity(listed.len as usize);
                let read = (&file)
                    .seek(SeekFrom::Start(listed.offset))
                    .and_then(|_| (&file).take(listed.len).read_to_end(&mut bytes));
                match read {
                    Ok(_) if is_content_of(&listed.digest, &bytes) => {
                        good.push((listed.digest.clone(), Bytes::from(bytes)));
                    }
                    Ok(_) => bad += 1,
                    Err(_) => {}
                }
            }
        }
        drop(file);
        {
            // The good entries are found in memory from now until they are
            // written again, so that no reader finds neither.
            let mut index = self.index();
            index.remove_pack(&pack.name);
            for (digest, bytes) in &good {
                index.pend(digest.clone(), bytes.clone());
            }
        }
        self.write_batch(good, false);
        if !same {
            return;
        }
        let removed = fs::symlink_metadata(&path)
            .ok()
            .filter(|m| m.is_file() && FileId::of(m).same_inode(&pack.id))
            .map(|_| fs::remove_file(&path));
        match removed {
            // Every entry that did not hash right is one dropped.
            Some(Ok(())) => add(&self.counters.dropped, bad),
            Some(Err(e)) if e.kind() != io::ErrorKind::NotFound => bump(&self.counters.errors),
            _ => {}
        }
    }

    /// Keeps `bytes` as the loose entry for `digest`; the caller verified
    /// that they are the content with this digest.
    #[cfg(test)]
    pub(crate) fn put(&self, digest: &Digest, bytes: &[u8]) {
        self.write_loose(digest, bytes, true);
    }

    /// [`Store::put`], counted as a write when `count`.
    fn write_loose(&self, digest: &Digest, bytes: &[u8], count: bool) {
        let len = bytes.len() as u64;
        if len <= self.max_bytes {
            let written = self.write_atomic(&self.blob_dir(digest), digest.hex(), bytes);
            self.counted_write(digest, len, written, count);
        }
        self.index().unpend(digest);
    }

    /// The largest pack this store writes: a sixteenth of the bound, at
    /// most [`MAX_PACK_BYTES`], so that evicting one frees little.
    pub(crate) fn pack_bytes(&self) -> u64 {
        (self.max_bytes / 16).min(MAX_PACK_BYTES)
    }

    /// Keeps a batch of verified entries: in packs of at most
    /// [`Store::pack_bytes`], a group too small for one as loose files.
    /// Entries already on disk are skipped. Counted as writes when `count`.
    pub(crate) fn write_batch(&self, entries: Vec<(Digest, Bytes)>, count: bool) {
        let limit = self.pack_bytes();
        let mut groups: Vec<Vec<(Digest, Bytes)>> = Vec::new();
        let mut group: Vec<(Digest, Bytes)> = Vec::new();
        let mut group_bytes: u64 = 0;
        let mut seen = std::collections::HashSet::new();
        for (digest, bytes) in entries {
            if !seen.insert(digest.clone()) {
                continue;
            }
            if self.on_disk(&digest) {
                self.index().unpend(&digest);
                continue;
            }
            // A group takes entries until it holds the limit: the entry that
            // reaches it is the group's last, not a group of its own.
            if group_bytes >= limit {
                groups.push(std::mem::take(&mut group));
                group_bytes = 0;
            }
            group_bytes += bytes.len() as u64;
            group.push((digest, bytes));
        }
        groups.push(group);
        for group in groups {
            if group.len() < pack::MIN_ENTRIES {
                for (digest, bytes) in group {
                    self.write_loose(&digest, &bytes, count);
                }
            } else {
                self.write_pack(group, count);
            }
        }
    }

    /// Writes `entries` as one new pack.
    fn write_pack(&self, entries: Vec<(Digest, Bytes)>, count: bool) {
        let (bytes, listed) = pack::encode(&entries);
        let name = format!(
            "{:x}-{}-{}{}",
            unique_nanos(),
            std::process::id(),
            self.seq.fetch_add(1, Ordering::Relaxed),
            pack::EXTENSION
        );
        let mut id = None;
        let written = self.write_atomic_with(&self.root.join("packs"), &name, |file| {
            file.write_all(&bytes)?;
            id = Some(FileId::of(&file.metadata()?));
            Ok(())
        });
        let n = entries.len() as u64;
        let mut index = self.index();
        for (digest, _) in &entries {
            index.unpend(digest);
        }
        match (written, id) {
            (Ok(()), Some(id)) => {
                index.add_pack(Arc::new(Pack { name, id, listed }));
                drop(index);
                if count {
                    add(&self.counters.writes, n);
                }
                self.account(bytes.len() as u64);
            }
            (result, _) => {
                drop(index);
                crate::trace::warning!(entries = n, error = ?result.err(), "cache pack cannot be written");
                let _ = result;
                add(&self.counters.errors, n);
            }
        }
    }

    /// Counts a write of `len` bytes for `digest` that ended as `written`
    /// (as one of [`CacheStats::writes`] when `count`).
    fn counted_write(&self, digest: &Digest, len: u64, written: io::Result<()>, count: bool) {
        match written {
            Ok(()) => {
                if count {
                    bump(&self.counters.writes);
                }
                self.index().add_loose(digest.clone());
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
                Found::File { file, .. } => {
                    let mut bytes = Vec::new();
                    file.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
                    Ok((bytes.len() as u64 <= cap).then_some(bytes))
                }
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
            "{TEMP_PREFIX}{}-{:x}-{}-{name}",
            std::process::id(),
            unique_nanos(),
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
    /// used ones (a pack is one file) until nine tenths of it remain. Also
    /// removes symlinks and stale temporary files. Another thread evicting
    /// already: skipped.
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
                        self.forget(&path);
                    }
                    // Another process evicted it first.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        total = total.saturating_sub(len);
                        self.forget(&path);
                    }
                    Err(_) => bump(&self.counters.errors),
                }
            }
        }
        *self.used.lock().unwrap_or_else(|e| e.into_inner()) = Some(total);
    }

    /// Takes a file evicted out of the index.
    fn forget(&self, path: &Path) {
        let (Some(name), Some(dir)) = (
            path.file_name().and_then(|n| n.to_str()),
            path.parent()
                .and_then(|p| p.file_name())
                .and_then(|n| n.to_str()),
        ) else {
            return;
        };
        let mut index = self.index();
        match dir {
            "packs" => index.remove_pack(name),
            "sha256" | "sha512" => {
                if let Ok(digest) = format!("{dir}:{name}").parse::<Digest>() {
                    index.remove_loose(&digest);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path, max: u64) -> Store {
        Store::open(&CacheConfig::new(dir).max_bytes(max)).unwrap()
    }

    fn accept(bytes: Bytes) -> std::result::Result<Bytes, Refusal> {
        Ok(bytes)
    }

    fn by_hash(digest: &Digest) -> impl FnOnce(Bytes) -> std::result::Result<Bytes, Refusal> + '_ {
        move |bytes| check_blob(digest, None, &bytes).map(|()| bytes)
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
        // Written by another process; this one reads the directory again
        // (as every report does first).
        std::fs::write(s.blob_path(&d), vec![b'x'; 200]).unwrap();
        s.reload();
        assert!(s.get(&d, 100, accept).is_none());
        assert!(!s.blob_path(&d).exists());

        let outside = dir.path().join("outside");
        std::fs::write(&outside, b"small").unwrap();
        std::os::unix::fs::symlink(&outside, s.blob_path(&d)).unwrap();
        s.reload();
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
        let mkfifo = || {
            let path = std::ffi::CString::new(s.blob_path(&d).to_str().unwrap()).unwrap();
            // SAFETY: a valid NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
        };
        // A FIFO where the index saw a file: opened, not waited on.
        std::fs::write(s.blob_path(&d), b"fifo").unwrap();
        s.reload();
        std::fs::remove_file(s.blob_path(&d)).unwrap();
        mkfifo();
        assert!(s.get(&d, 100, accept).is_none());
        assert!(!s.blob_path(&d).exists());
        // One there when the directory is read: never taken for an entry.
        mkfifo();
        s.reload();
        assert!(s.get(&d, 100, accept).is_none());
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

    /// `n` entries, the `i`th with the content `content(i)`.
    fn entries_of(n: usize, content: impl Fn(usize) -> String) -> Vec<(Digest, Bytes)> {
        (0..n)
            .map(|i| {
                let bytes = Bytes::from(content(i));
                (Digest::sha256(&bytes), bytes)
            })
            .collect()
    }

    fn batch(n: usize) -> Vec<(Digest, Bytes)> {
        entries_of(n, |i| format!("{{\"entry\":{i}}}"))
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    fn hash_check(
        digest: &Digest,
    ) -> impl FnOnce(Bytes) -> std::result::Result<Bytes, Refusal> + '_ {
        move |bytes| check_blob(digest, None, &bytes).map(|()| bytes)
    }

    #[test]
    fn a_batch_is_one_pack_a_small_one_loose_files_and_both_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), 1 << 20);
        let many = batch(40);
        s.write_batch(many.clone(), true);
        let packs = names(&dir.path().join("packs"));
        assert_eq!(packs.len(), 1, "{packs:?}");
        assert!(packs[0].ends_with(".pack"));
        assert!(names(&dir.path().join("blobs/sha256")).is_empty());
        let few: Vec<(Digest, Bytes)> = batch(45).split_off(40);
        s.write_batch(few.clone(), true);
        assert_eq!(names(&dir.path().join("blobs/sha256")).len(), 5);
        assert_eq!(s.stats().writes, 45);
        // Written again: nothing new.
        s.write_batch(many.clone(), true);
        assert_eq!(s.stats().writes, 45);

        // Another process reads both.
        let other = store(dir.path(), 1 << 20);
        other.reload();
        for (digest, bytes) in many.iter().chain(&few) {
            assert_eq!(
                other.get(digest, 1000, hash_check(digest)).as_ref(),
                Some(bytes)
            );
        }
        assert_eq!((other.stats().hits, other.stats().misses), (45, 0));
    }

    /// Turns the bytes of entry `from` (one of [`batch`]'s, a single digit)
    /// in the pack at `path` into those of entry `to`, in place.
    fn make_entry_read_as(path: &Path, from: u8, to: u8) {
        let mut bytes = std::fs::read(path).unwrap();
        let entry = [&b"\"entry\":"[..], &[from, b'}']].concat();
        let at = bytes.windows(entry.len()).position(|w| w == entry).unwrap();
        bytes[at + entry.len() - 2] = to;
        std::fs::write(path, &bytes).unwrap();
    }

    /// The path of the first pack (by name) in the cache at `dir`.
    fn first_pack(dir: &Path) -> PathBuf {
        let packs = dir.join("packs");
        packs.join(&names(&packs)[0])
    }

    /// A store holding `n` entries in one pack: the directory, the store,
    /// the entries and the pack's path.
    fn one_pack(n: usize) -> (tempfile::TempDir, Store, Vec<(Digest, Bytes)>, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), 1 << 20);
        let entries = batch(n);
        s.write_batch(entries.clone(), true);
        let pack = first_pack(dir.path());
        (dir, s, entries, pack)
    }

    #[test]
    fn a_bad_packed_entry_is_dropped_and_the_others_move_to_a_new_pack() {
        let (dir, _, entries, old) = one_pack(20);
        // Entry 7's bytes become entry 8's: valid, and not what 7 is.
        make_entry_read_as(&old, b'7', b'8');

        let s = store(dir.path(), 1 << 20);
        s.reload();
        let (bad, _) = &entries[7];
        assert!(s.get(bad, 1000, hash_check(bad)).is_none());
        assert_eq!(s.stats().dropped, 1);
        let packs = names(&dir.path().join("packs"));
        assert_eq!(packs.len(), 1);
        assert!(!old.exists(), "the bad pack is gone");
        for (i, (digest, bytes)) in entries.iter().enumerate() {
            let got = s.get(digest, 1000, hash_check(digest));
            assert_eq!(got.as_ref(), (i != 7).then_some(bytes), "{i}");
        }
        assert_eq!(s.stats().writes, 0, "moved entries are no new writes");
        let again = store(dir.path(), 1 << 20);
        again.reload();
        assert!(!again.has(bad));
        assert!(again.has(&entries[8].0));
    }

    #[test]
    fn hostile_packs_are_removed_or_read_only_where_they_verify() {
        let (dir, _, entries, good) = one_pack(10);
        let packs = dir.path().join("packs");
        let outside = dir.path().join("outside.pack");
        std::fs::copy(&good, &outside).unwrap();
        std::os::unix::fs::symlink(&outside, packs.join("link.pack")).unwrap();
        std::fs::write(packs.join("garbage.pack"), b"not a pack\n").unwrap();
        std::fs::write(packs.join("huge.pack"), b"dockreg-pack 1 99999\nshort").unwrap();
        // An index that swaps two entries' places.
        let bytes = std::fs::read(&good).unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let (d0, d1) = (entries[0].0.to_string(), entries[1].0.to_string());
        let swapped = text
            .replacen(&d0, "SWAP", 1)
            .replacen(&d1, &d0, 1)
            .replacen("SWAP", &d1, 1);
        std::fs::write(packs.join("swapped.pack"), swapped).unwrap();
        std::fs::remove_file(&good).unwrap();

        let s = store(dir.path(), 1 << 20);
        s.reload();
        assert_eq!(
            s.stats().dropped,
            3,
            "the symlink, the garbage, the cut index"
        );
        assert_eq!(names(&packs), ["swapped.pack"]);
        assert!(outside.exists(), "a symlink's target stays");
        let (first, second) = (&entries[0].0, &entries[1].0);
        assert!(s.get(first, 1000, hash_check(first)).is_none());
        // Both swapped entries dropped at once, not moved; the other eight
        // moved out of the swapped pack, which is gone.
        assert_eq!(s.stats().dropped, 5);
        assert!(!s.has(second), "a bad entry is not moved to the new pack");
        assert!(s.get(second, 1000, hash_check(second)).is_none());
        assert!(!packs.join("swapped.pack").exists());
        for (digest, bytes) in &entries[2..] {
            assert_eq!(
                s.get(digest, 1000, hash_check(digest)).as_ref(),
                Some(bytes)
            );
        }
    }

    #[test]
    fn a_pack_cut_short_or_evicted_is_a_miss() {
        let (dir, s, entries, pack) = one_pack(10);
        let packs = dir.path().join("packs");
        // Cut after the index is read: the last entry reads short.
        let len = std::fs::metadata(&pack).unwrap().len();
        std::fs::File::options()
            .write(true)
            .open(&pack)
            .unwrap()
            .set_len(len - 2)
            .unwrap();
        let (last, _) = &entries[9];
        assert!(s.get(last, 1000, hash_check(last)).is_none());
        assert_eq!(s.stats().dropped, 1);
        for (digest, bytes) in &entries[..9] {
            assert_eq!(
                s.get(digest, 1000, hash_check(digest)).as_ref(),
                Some(bytes)
            );
        }
        // Evicted by another process: a miss, no error.
        for name in names(&packs) {
            std::fs::remove_file(packs.join(name)).unwrap();
        }
        let (first, _) = &entries[0];
        assert!(s.get(first, 1000, hash_check(first)).is_none());
        assert_eq!(s.stats().errors, 0);
        assert!(!s.has(first));
    }

    /// Four stores on one small directory (four processes), each writing
    /// packs and reading everyone's entries while the others evict: a read
    /// is a verified hit or a miss, never an error or a wrong byte.
    #[test]
    fn stores_sharing_a_directory_evicting_packs_read_only_right_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let all: Vec<Vec<(Digest, Bytes)>> = (0..4)
            .map(|t| entries_of(200, |i| format!("{t}:{i}:{}", "y".repeat(200))))
            .collect();
        let stats: Vec<CacheStats> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|t| {
                    let (dir, all) = (dir.path(), &all);
                    scope.spawn(move || {
                        // Room for about a fifth of what is written.
                        let s = store(dir, 40 << 10);
                        for chunk in all[t].chunks(20) {
                            s.write_batch(chunk.to_vec(), true);
                            s.reload();
                            for (digest, bytes) in all.iter().flatten() {
                                if let Some(got) = s.get(digest, 1000, hash_check(digest)) {
                                    assert_eq!(&got, bytes);
                                }
                            }
                        }
                        s.stats()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let sum = |f: fn(&CacheStats) -> u64| stats.iter().map(f).sum::<u64>();
        assert_eq!(sum(|s| s.errors), 0, "{stats:?}");
        assert_eq!(sum(|s| s.dropped), 0, "{stats:?}");
        assert!(sum(|s| s.hits) > 0 && sum(|s| s.evicted) > 0, "{stats:?}");
        let packs = names(&dir.path().join("packs"));
        assert!(!packs.is_empty() && packs.iter().all(|n| n.ends_with(".pack")));
    }

    #[test]
    fn a_pack_of_another_version_is_left_alone_and_unread() {
        let (dir, _, entries, good) = one_pack(10);
        let bytes = std::fs::read(&good).unwrap();
        let future = good.with_file_name("future.pack");
        let mut other = b"dockreg-pack 2".to_vec();
        other.extend_from_slice(&bytes[b"dockreg-pack 1".len()..]);
        std::fs::write(&future, other).unwrap();
        std::fs::remove_file(&good).unwrap();
        let s = store(dir.path(), 1 << 20);
        s.reload();
        assert!(future.exists());
        assert!(!s.has(&entries[0].0));
        assert_eq!(s.stats().dropped, 0);
    }

    #[test]
    fn salvaging_a_pack_of_bad_entries_stops_after_a_few() {
        let (dir, _, entries, pack) = one_pack(40);
        // Every entry's bytes become another valid entry's, one digit off.
        let bytes = std::fs::read(&pack).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let start = text.find('{').unwrap();
        let (index, data) = text.split_at(start);
        std::fs::write(&pack, format!("{index}{}", data.replace("\":", "\":9"))).unwrap();
        let s = store(dir.path(), 1 << 20);
        s.reload();
        let (first, _) = &entries[0];
        assert!(s.get(first, 1000, hash_check(first)).is_none());
        // The one asked for and eight more: then the rest are not read.
        assert_eq!(s.stats().dropped, 9);
        assert!(!pack.exists());
        assert!(entries.iter().all(|(d, _)| !s.has(d)));
        assert!(names(&dir.path().join("packs")).is_empty());
    }

    /// A signed schema 1 manifest (the models' fixture) and its digest.
    const SIGNED: &[u8] = include_bytes!("../../tests/fixtures/schema1-signed.json");

    fn signed_digest() -> Digest {
        include_str!("../../tests/fixtures/schema1-signed.digest")
            .trim()
            .parse()
            .unwrap()
    }

    /// A signed schema 1 manifest's digest is its payload's, not its
    /// bytes': moving a bad pack's good entries keeps it all the same.
    #[test]
    fn a_signed_schema1_manifest_moves_with_a_bad_packs_good_entries() {
        let digest = signed_digest();
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), 1 << 20);
        let mut entries = batch(9);
        entries.push((digest.clone(), Bytes::from_static(SIGNED)));
        s.write_batch(entries.clone(), true);
        let pack = first_pack(dir.path());
        make_entry_read_as(&pack, b'0', b'1');

        let s = store(dir.path(), 1 << 20);
        s.reload();
        let (bad, _) = &entries[0];
        assert!(s.get(bad, 1000, hash_check(bad)).is_none());
        assert_eq!(s.stats().dropped, 1, "only the flipped entry is bad");
        assert!(s.has(&digest), "the schema 1 manifest moved");
        let back = s.get(&digest, 1 << 20, Ok::<_, Refusal>).unwrap();
        assert_eq!(back.as_ref(), SIGNED);
    }

    #[test]
    fn content_is_known_by_its_hash_or_a_manifests_canonical_digest() {
        let named = signed_digest();
        assert!(is_content_of(&named, SIGNED));
        assert!(is_content_of(&Digest::sha256(SIGNED), SIGNED));
        assert!(!is_content_of(&named, b"{}"));
        let mut flipped = SIGNED.to_vec();
        let at = flipped.windows(6).position(|w| w == b"\"name\"").unwrap();
        flipped[at + 1] = b'N';
        assert!(!is_content_of(&named, &flipped));
    }

    #[test]
    fn right_bytes_a_call_does_not_take_stay_for_others() {
        let (_dir, s, entries, pack) = one_pack(10);
        let (digest, bytes) = &entries[3];
        let len = bytes.len() as u64;
        // A descriptor with the wrong size: the bytes are still the digest's.
        let wrong_size = |b: Bytes| check_blob(digest, Some(len + 1), &b).map(|()| b);
        assert!(s.get(digest, 1000, wrong_size).is_none());
        // Larger than this call takes.
        assert!(s.get(digest, len - 1, hash_check(digest)).is_none());
        let stats = s.stats();
        assert_eq!((stats.dropped, stats.misses, stats.hits), (0, 2, 0));
        assert!(pack.exists());
        assert_eq!(
            s.get(digest, 1000, hash_check(digest)).as_ref(),
            Some(bytes)
        );
    }

    #[test]
    fn a_batch_just_over_the_pack_limit_is_one_pack() {
        let dir = tempfile::tempdir().unwrap();
        // A pack limit of 1 KiB: eleven entries of 100 bytes reach it.
        let s = store(dir.path(), 16 << 10);
        s.write_batch(entries_of(11, |i| format!("{i:>100}")), true);
        assert_eq!(names(&dir.path().join("packs")).len(), 1);
        assert!(names(&dir.path().join("blobs/sha256")).is_empty());
    }

    #[test]
    fn packs_are_evicted_whole_least_recently_used_first() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), 1 << 20);
        let old = SystemTime::now() - Duration::from_secs(3 * 3600);
        let batches: Vec<Vec<(Digest, Bytes)>> = (0..3)
            .map(|b| entries_of(10, |i| format!("{b}-{i}-{}", "x".repeat(100))))
            .collect();
        for (i, b) in batches.iter().enumerate() {
            s.write_batch(b.clone(), true);
            let packs = dir.path().join("packs");
            for name in names(&packs) {
                let f = std::fs::File::options()
                    .write(true)
                    .open(packs.join(name))
                    .unwrap();
                if f.metadata().unwrap().modified().unwrap() > old + Duration::from_secs(3600) {
                    f.set_modified(old + Duration::from_secs(i as u64 * 60))
                        .unwrap();
                }
            }
        }
        // The oldest pack is read: it becomes the most recent.
        assert!(s.get(&batches[0][0].0, 1000, accept).is_some());
        let pack_len = std::fs::metadata(first_pack(dir.path())).unwrap().len();
        // Room for two packs and a bit: one goes.
        let s = store(dir.path(), pack_len * 23 / 10 + 100);
        s.reload();
        s.evict();
        let left: Vec<bool> = batches.iter().map(|b| s.has(&b[3].0)).collect();
        assert_eq!(left, [true, false, true], "{:?}", s.stats());
        assert!(s.get(&batches[1][3].0, 1000, accept).is_none());
    }
}
