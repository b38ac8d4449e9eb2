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
    /// Each digest's places in packs, the first found first.
    packed: HashMap<Digest, Vec<Place>>,
    pending: HashMap<Digest, Bytes>,
    /// What this process changed since a scan began (`None`: no scan
    /// running), replayed onto the scan's result so that no change made
    /// meanwhile is lost.
    journal: Option<Vec<Change>>,
}

/// One place of an entry in a pack: the pack, offset and length.
type Place = (Arc<Pack>, u64, u64);

/// A change this process made to what the directory holds.
#[derive(Debug, Clone)]
enum Change {
    AddLoose(Digest),
    RemoveLoose(Digest),
    AddPack(Arc<Pack>),
    RemovePack(String),
}

/// What reading the directories found.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    loose: HashSet<Digest>,
    packs: BTreeMap<String, Arc<Pack>>,
    /// Entries indexed so far (loose and packed), against [`MAX_ENTRIES`].
    entries: usize,
    /// Symlinks and files that are no pack, removed: counted as dropped.
    pub(crate) removed: u64,
    /// Directories or files that could not be read.
    pub(crate) errors: u64,
}

/// The most entries one index holds (loose and packed together). A
/// directory listing more (planted, or far over any bound) has the rest
/// left out: misses, until eviction makes room. About 100 MB at most.
pub(crate) const MAX_ENTRIES: usize = 1 << 19;

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
        let (pack, offset, len) = self.packed.get(digest)?.first()?;
        Some(Loc::Packed {
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

    /// The pack called `name`, when the index knows it.
    pub(crate) fn pack(&self, name: &str) -> Option<Arc<Pack>> {
        self.packs.get(name).cloned()
    }

    /// Starts a scan: the packs the index knows (for the scan to keep
    /// without reading them again); changes from now on are journaled.
    pub(crate) fn begin_scan(&mut self) -> BTreeMap<String, Arc<Pack>> {
        self.journal = Some(Vec::new());
        self.packs.clone()
    }

    /// Takes what a scan found, then the changes this process made while it
    /// ran (the queued entries stay).
    pub(crate) fn replace(&mut self, scan: Scan) {
        self.loose = scan.loose;
        self.packs = scan.packs;
        self.packed.clear();
        let packs: Vec<Arc<Pack>> = self.packs.values().cloned().collect();
        for pack in &packs {
            self.list(pack);
        }
        for change in self.journal.take().unwrap_or_default() {
            self.apply(change);
        }
        self.read_at = Some(Instant::now());
    }

    /// Records `change` for a running scan, and makes it.
    fn change(&mut self, change: Change) {
        if let Some(journal) = &mut self.journal {
            journal.push(change.clone());
        }
        self.apply(change);
    }

    fn apply(&mut self, change: Change) {
        match change {
            Change::AddLoose(digest) => {
                self.loose.insert(digest);
            }
            Change::RemoveLoose(digest) => {
                self.loose.remove(&digest);
            }
            Change::AddPack(pack) => {
                if !self.packs.contains_key(&pack.name) {
                    self.packs.insert(pack.name.clone(), Arc::clone(&pack));
                    self.list(&pack);
                }
            }
            Change::RemovePack(name) => {
                if let Some(pack) = self.packs.remove(&name) {
                    self.unlist(&pack);
                }
            }
        }
    }

    /// Adds the places `pack` lists.
    fn list(&mut self, pack: &Arc<Pack>) {
        for l in &pack.listed {
            self.packed.entry(l.digest.clone()).or_default().push((
                Arc::clone(pack),
                l.offset,
                l.len,
            ));
        }
    }

    /// Takes the places `pack` lists out.
    fn unlist(&mut self, pack: &Arc<Pack>) {
        for l in &pack.listed {
            if let Some(places) = self.packed.get_mut(&l.digest) {
                places.retain(|(p, _, _)| !Arc::ptr_eq(p, pack));
                if places.is_empty() {
                    self.packed.remove(&l.digest);
                }
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

    /// Forgets every queued entry (their writer is gone): they are fetched,
    /// and queued, again.
    pub(crate) fn clear_pending(&mut self) {
        self.pending.clear();
    }

    /// A loose entry was written.
    pub(crate) fn add_loose(&mut self, digest: Digest) {
        self.change(Change::AddLoose(digest));
    }

    /// A loose entry is gone (dropped or evicted).
    pub(crate) fn remove_loose(&mut self, digest: &Digest) {
        self.change(Change::RemoveLoose(digest.clone()));
    }

    /// A pack was written.
    pub(crate) fn add_pack(&mut self, pack: Arc<Pack>) {
        self.change(Change::AddPack(pack));
    }

    /// A pack is gone (dropped or evicted): its entries are misses, unless
    /// another pack lists them too.
    pub(crate) fn remove_pack(&mut self, name: &str) {
        self.change(Change::RemovePack(name.to_owned()));
    }
}

/// Reads the cache's directories under `root`: the loose entries' names
/// and the packs' indexes (a pack in `known`, the same file still, is not
/// read again), at most [`MAX_ENTRIES`] entries. Symlinks are removed
/// (never followed), and so are `*.pack` files that are no pack (a pack
/// of another version stays, unread).
pub(crate) fn scan(root: &Path, known: &BTreeMap<String, Arc<Pack>>) -> Scan {
    let mut scan = Scan::default();
    for algorithm in [Algorithm::Sha256, Algorithm::Sha512] {
        let dir = root.join("blobs").join(algorithm.as_str());
        for (name, _) in regular_files(&dir, &mut scan) {
            if scan.entries >= MAX_ENTRIES {
                break;
            }
            if let Ok(digest) = Digest::new(algorithm, &name) {
                scan.loose.insert(digest);
                scan.entries += 1;
            }
        }
    }
    for (name, path) in regular_files(&root.join("packs"), &mut scan) {
        if !name.ends_with(pack::EXTENSION) {
            continue;
        }
        match read_pack(&path, &name, known.get(&name)) {
            Ok(Opened::Pack(pack)) => {
                if scan.entries + pack.listed.len() > MAX_ENTRIES {
                    continue;
                }
                scan.entries += pack.listed.len();
                scan.packs.insert(name, pack);
            }
            Ok(Opened::OtherVersion) => {}
            Ok(Opened::NoPack) => {
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

/// What a file in `packs/` turned out to be.
enum Opened {
    Pack(Arc<Pack>),
    /// A pack of another version (left alone).
    OtherVersion,
    /// No pack: no first line, or an index past its end.
    NoPack,
}

/// The pack at `path`: `known` when it is still that file, else its index
/// read.
fn read_pack(path: &Path, name: &str, known: Option<&Arc<Pack>>) -> io::Result<Opened> {
    let file = open_no_follow(path)?;
    let meta = file.metadata()?;
    let id = FileId::of(&meta);
    if let Some(pack) = known.filter(|p| p.id.same_inode(&id)) {
        return Ok(Opened::Pack(Arc::clone(pack)));
    }
    if !meta.is_file() {
        return Ok(Opened::NoPack);
    }
    let mut head = Vec::with_capacity(pack::MAX_FIRST_LINE);
    (&file)
        .take(pack::MAX_FIRST_LINE as u64)
        .read_to_end(&mut head)?;
    let (first, index_len) = match pack::first_line(&head) {
        pack::FirstLine::Pack { len, index_len } => (len, index_len),
        pack::FirstLine::OtherVersion => return Ok(Opened::OtherVersion),
        pack::FirstLine::NoPack => return Ok(Opened::NoPack),
    };
    let data_start = first + index_len;
    if data_start > meta.len() {
        return Ok(Opened::NoPack);
    }
    let mut index = Vec::with_capacity(index_len as usize);
    index.extend_from_slice(&head[(first as usize).min(head.len())..]);
    index.truncate(index_len as usize);
    let rest = index_len - index.len() as u64;
    (&file).take(rest).read_to_end(&mut index)?;
    if index.len() as u64 != index_len {
        return Ok(Opened::NoPack);
    }
    Ok(Opened::Pack(Arc::new(Pack {
        name: name.to_owned(),
        id,
        listed: pack::parse_index(&index, data_start, meta.len()),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pack the index knows: its name, listing `digest`.
    fn pack(dir: &Path, name: &str, digest: &Digest) -> Arc<Pack> {
        let path = dir.join(name);
        std::fs::write(&path, b"").unwrap();
        Arc::new(Pack {
            name: name.to_owned(),
            id: FileId::of(&std::fs::metadata(&path).unwrap()),
            listed: vec![Listed {
                digest: digest.clone(),
                offset: 0,
                len: 0,
            }],
        })
    }

    #[test]
    fn what_this_process_writes_during_a_scan_is_not_lost_by_it() {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["blobs/sha256", "blobs/sha512", "packs"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let (d1, d2, d3) = (
            Digest::sha256(b"1"),
            Digest::sha256(b"2"),
            Digest::sha256(b"3"),
        );
        let mut index = Index::default();
        index.add_pack(pack(dir.path(), "old.pack", &d3));
        let known = index.begin_scan();
        // The directory is read: neither the new pack nor the new file is
        // in it yet, and the old pack is (it was evicted meanwhile).
        let scan = scan(dir.path(), &known);
        index.add_pack(pack(dir.path(), "new.pack", &d1));
        index.add_loose(d2.clone());
        index.remove_pack("old.pack");
        index.replace(scan);
        assert!(index.on_disk(&d1), "a pack written during the scan");
        assert!(index.on_disk(&d2), "a file written during the scan");
        assert!(!index.on_disk(&d3), "a pack removed during the scan");
        // Outside a scan, nothing is journaled.
        index.remove_loose(&d2);
        index.replace(Scan::default());
        assert!(!index.on_disk(&d1) && !index.on_disk(&d2));
    }

    #[test]
    fn an_entry_two_packs_list_stays_while_either_does() {
        let dir = tempfile::tempdir().unwrap();
        let d = Digest::sha256(b"both");
        let mut index = Index::default();
        index.add_pack(pack(dir.path(), "a.pack", &d));
        index.add_pack(pack(dir.path(), "b.pack", &d));
        index.remove_pack("a.pack");
        let Some(Loc::Packed { pack, .. }) = index.locate(&d) else {
            panic!("lost with the first pack");
        };
        assert_eq!(pack.name, "b.pack");
        index.remove_pack("b.pack");
        assert!(index.locate(&d).is_none());
    }
}
