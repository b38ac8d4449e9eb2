//! What the cache holds, as this process last looked: the digests of the
//! loose entries (`blobs/ALGORITHM/HEX`), the packs with what their indexes
//! list, and the entries queued for writing (read from memory until they
//! are on disk).
//!
//! A digest the index does not know is a miss without touching the disk.
//! The index is read again at the start of every report, retention plan
//! and usage scan, and when it is older than [`RELOAD_AFTER`], so that what
//! other processes wrote since is found then. It is only a guide: every
//! entry is verified when it is read, wherever the index says it is.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::pack::{self, Listed};
use crate::digest::{Algorithm, Digest};
use crate::local_fs::{open_no_follow, FileId};

/// An index older than this is read again before a lookup.
pub(crate) const RELOAD_AFTER: Duration = Duration::from_secs(60);
/// Names of files being written start with this; entries never do (they
/// are hex) and packs never do.
pub(crate) const TEMP_PREFIX: &str = ".tmp-";

/// One pack file, as it was when its index was read.
#[derive(Debug)]
pub(crate) struct Pack {
    /// Its file name in `packs/`.
    pub(crate) name: String,
    /// The file it was (a different file by that name is not this pack).
    pub(crate) id: FileId,
    /// What its index lists.
    pub(crate) listed: Vec<Listed>,
}

/// Where an entry is.
#[derive(Debug, Clone)]
pub(crate) enum Loc {
    /// Queued for writing: the verified bytes.
    Memory(Bytes),
    /// `blobs/ALGORITHM/HEX`.
    Loose,
    /// In a pack, at `offset`, `len` bytes.
    Packed {
        pack: Arc<Pack>,
        offset: u64,
        len: u64,
    },
}

/// The index of one store.
#[derive(Debug, Default)]
pub(crate) struct Index {
    read_at: Option<Instant>,
    loose: HashSet<Digest>,
    packs: BTreeMap<String, Arc<Pack>>,
    packed: HashMap<Digest, (Arc<Pack>, u64, u64)>,
    pending: HashMap<Digest, Bytes>,
}

/// What reading the directories found.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    loose: HashSet<Digest>,
    packs: BTreeMap<String, Arc<Pack>>,
    /// Symlinks and files that are no pack, removed: counted as dropped.
    pub(crate) removed: u64,
    /// Directories or files that could not be read.
    pub(crate) errors: u64,
}

impl Index {
    /// Whether the index was never read, or is older than [`RELOAD_AFTER`].
    pub(crate) fn stale(&self) -> bool {
        self.read_at.is_none_or(|at| at.elapsed() > RELOAD_AFTER)
    }

    /// Where the entry of `digest` is, when the index knows it: memory
    /// first, then a loose file, then a pack.
    pub(crate) fn locate(&self, digest: &Digest) -> Option<Loc> {
        if let Some(bytes) = self.pending.get(digest) {
            return Some(Loc::Memory(bytes.clone()));
        }
        if self.loose.contains(digest) {
            return Some(Loc::Loose);
        }
        self.packed
            .get(digest)
            .map(|(pack, offset, len)| Loc::Packed {
                pack: Arc::clone(pack),
                offset: *offset,
                len: *len,
            })
    }

    /// Whether the index knows an entry for `digest` (not whether it
    /// verifies).
    pub(crate) fn contains(&self, digest: &Digest) -> bool {
        self.pending.contains_key(digest) || self.on_disk(digest)
    }

    /// Whether the entry is in a file (loose or packed), as far as the
    /// index knows.
    pub(crate) fn on_disk(&self, digest: &Digest) -> bool {
        self.loose.contains(digest) || self.packed.contains_key(digest)
    }

    /// The packs the index knows, to be kept by the next scan.
    pub(crate) fn packs(&self) -> BTreeMap<String, Arc<Pack>> {
        self.packs.clone()
    }

    /// Takes what a scan found (the queued entries stay).
    pub(crate) fn replace(&mut self, scan: Scan) {
        self.loose = scan.loose;
        self.packs = scan.packs;
        self.read_at = Some(Instant::now());
        self.relist();
    }

    /// Rebuilds the map of packed entries from the packs (the first pack,
    /// by name, that lists a digest serves it).
    fn relist(&mut self) {
        self.packed.clear();
        for pack in self.packs.values() {
            for l in &pack.listed {
                self.packed
                    .entry(l.digest.clone())
                    .or_insert_with(|| (Arc::clone(pack), l.offset, l.len));
            }
        }
    }

    /// Queues `bytes` as the entry of `digest`: found in memory meanwhile.
    pub(crate) fn pend(&mut self, digest: Digest, bytes: Bytes) {
        self.pending.insert(digest, bytes);
    }

    /// The queued entry of `digest` is written (or failed): no longer in
    /// memory.
    pub(crate) fn unpend(&mut self, digest: &Digest) {
        self.pending.remove(digest);
    }

    /// A loose entry was written.
    pub(crate) fn add_loose(&mut self, digest: Digest) {
        self.loose.insert(digest);
    }

    /// A loose entry is gone (dropped or evicted).
    pub(crate) fn remove_loose(&mut self, digest: &Digest) {
        self.loose.remove(digest);
    }

    /// A pack was written.
    pub(crate) fn add_pack(&mut self, pack: Arc<Pack>) {
        self.packs.insert(pack.name.clone(), pack);
        self.relist();
    }

    /// A pack is gone (dropped or evicted): its entries are misses, unless
    /// another pack lists them too.
    pub(crate) fn remove_pack(&mut self, name: &str) {
        if self.packs.remove(name).is_some() {
            self.relist();
        }
    }
}

/// Reads the cache's directories under `root`: the loose entries' names
/// and the packs' indexes (a pack in `known`, the same file still, is not
/// read again). Symlinks are removed (never followed), and so are files in
/// `packs/` that are no pack.
pub(crate) fn scan(root: &Path, known: &BTreeMap<String, Arc<Pack>>) -> Scan {
    let mut scan = Scan::default();
    for algorithm in [Algorithm::Sha256, Algorithm::Sha512] {
        let dir = root.join("blobs").join(algorithm.as_str());
        for (name, _) in regular_files(&dir, &mut scan) {
            if let Ok(digest) = Digest::new(algorithm, &name) {
                scan.loose.insert(digest);
            }
        }
    }
    for (name, path) in regular_files(&root.join("packs"), &mut scan) {
        if !name.ends_with(pack::EXTENSION) {
            continue;
        }
        match read_pack(&path, &name, known.get(&name)) {
            Ok(Some(pack)) => {
                scan.packs.insert(name, pack);
            }
            Ok(None) => {
                if fs::remove_file(&path).is_ok() {
                    scan.removed += 1;
                }
            }
            // Evicted by another process since the directory was listed.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(_) => scan.errors += 1,
        }
    }
    scan
}

/// The regular files in `dir` (names and paths), temporary ones left out.
/// Symlinks are removed, counted in `scan`, never followed (the type comes
/// from the directory itself); a directory that cannot be read counts as
/// an error.
fn regular_files(dir: &Path, scan: &mut Scan) -> Vec<(String, std::path::PathBuf)> {
    let Ok(entries) = fs::read_dir(dir) else {
        scan.errors += 1;
        return Vec::new();
    };
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if name.starts_with(TEMP_PREFIX) {
            continue;
        }
        if kind.is_symlink() {
            if fs::remove_file(entry.path()).is_ok() {
                scan.removed += 1;
            }
        } else if kind.is_file() {
            files.push((name, entry.path()));
        }
    }
    files
}

/// The pack at `path`: `known` when it is still that file, else its index
/// read. `None` when the file is no pack (no first line, an index past its
/// end).
fn read_pack(path: &Path, name: &str, known: Option<&Arc<Pack>>) -> io::Result<Option<Arc<Pack>>> {
    let file = open_no_follow(path)?;
    let meta = file.metadata()?;
    let id = FileId::of(&meta);
    if let Some(pack) = known.filter(|p| p.id == id) {
        return Ok(Some(Arc::clone(pack)));
    }
    if !meta.is_file() {
        return Ok(None);
    }
    let mut head = Vec::with_capacity(pack::MAX_FIRST_LINE);
    (&file)
        .take(pack::MAX_FIRST_LINE as u64)
        .read_to_end(&mut head)?;
    let Some((first, index_len)) = pack::first_line(&head) else {
        return Ok(None);
    };
    let data_start = first + index_len;
    if data_start > meta.len() {
        return Ok(None);
    }
    let mut index = Vec::with_capacity(index_len as usize);
    index.extend_from_slice(&head[(first as usize).min(head.len())..]);
    index.truncate(index_len as usize);
    let rest = index_len - index.len() as u64;
    (&file).take(rest).read_to_end(&mut index)?;
    if index.len() as u64 != index_len {
        return Ok(None);
    }
    Ok(Some(Arc::new(Pack {
        name: name.to_owned(),
        id,
        listed: pack::parse_index(&index, data_start, meta.len()),
    })))
}
