//! An optional on-disk, content-addressed cache of manifests and image
//! configs, so that a repeated tag report, retention plan or usage scan of
//! unchanged tags costs one `HEAD` per tag instead of two `GET`s.
//!
//! Turn it on with [`ClientBuilder::cache`](crate::ClientBuilder::cache):
//!
//! ```no_run
//! # async fn run() -> dockreg::Result<()> {
//! use dockreg::cache::CacheConfig;
//!
//! let dir = CacheConfig::default_dir().unwrap_or_else(|| ".dockreg-cache".into());
//! let client = dockreg::Client::builder("registry.example.com")
//!     .cache(CacheConfig::new(dir).max_bytes(256 << 20))
//!     .build()?;
//! let name: dockreg::RepositoryName = "team/app".parse()?;
//! let platform = dockreg::models::Platform::new("linux", "amd64");
//! let report = client.tag_report(&name, &platform, 16).await?; // first run: GETs, cached
//! let again = client.tag_report(&name, &platform, 16).await?;  // a HEAD per tag
//! # let _ = (report, again);
//! # Ok(()) }
//! ```
//!
//! # What it holds and where
//!
//! Manifests and image configs, by digest, each the exact bytes the
//! registry sent. The entries fetched are gathered and written together,
//! when the call settles (or a pack's worth is gathered, or no entry came
//! for a second), as a pack, `DIR/packs/NAME.pack`: a text index
//! (`dockreg-pack 1 INDEX_LEN`, then a `DIGEST OFFSET LENGTH` line per
//! entry, offsets from the end of the index), then the entries' bytes back
//! to back. A first report of 300 tags so creates two files (the pack and
//! its tag hints), not 601. A batch of fewer than eight entries is written as files of their
//! own, `DIR/blobs/ALGORITHM/HEX` (`sha256sum` of such a file is its name);
//! so are layer blobs, which stay out unless [`CacheConfig::layers`] asks
//! for them: then a blob downloaded to a file is copied out of the cache
//! when it is there (hashed on the way) and kept after a download.
//! `DIR/tags/` keeps, per registry and repository, the digest each
//! tag had at the last report: only a hint that decides whether a tag is
//! asked with a `HEAD` (when its manifest is likely cached) or a `GET`
//! (when it is not, so that a cold cache costs what no cache costs).
//!
//! Each client keeps an index of what the directory holds in memory, read
//! at the start of every report, retention plan and usage scan (and when it
//! is older than a minute): a digest it does not know is a miss without a
//! look at the disk, and what other processes wrote since counts from the
//! next call on.
//!
//! # Trust
//!
//! Nothing read from the cache is trusted: every entry is hashed again on
//! the way out and checked against the digest it is wanted by (and a config
//! against the size its manifest gives), wherever the index says it is. A
//! file that does not verify, is larger than [`Limits`](crate::http::Limits)
//! allow or is not a regular file (a symlink, a FIFO) is dropped and its
//! content fetched from the registry again; one that cannot be read is
//! left, counted as an error, and fetched. A pack entry that does not
//! verify (or is cut short) drops its pack: the pack's other entries that
//! still hash right move to a new pack first, so this client fetches only
//! the bad ones again (another process that read the old pack's index
//! misses its entries until it reads the directory again). Bytes that hash
//! to their digest but are not what a call takes (a descriptor's size, a
//! media type, a packed entry over this client's limits) are a miss for
//! that call and stay. An index line that does not parse, points outside
//! its pack or over the entry before it, is no entry. Only content whose
//! digest was verified is written. A tag's digest always comes from the registry (a `HEAD` with
//! every manifest type in `Accept`); the cache only answers "which bytes
//! have this digest".
//!
//! The cache is shared by every registry the user talks to, as a digest
//! names the same bytes everywhere; it is read only for digests the
//! registry named in the repository asked about, so it never makes a
//! manifest appear to exist where it does not.
//!
//! # Failures, concurrency, size
//!
//! A cache that cannot be read or written (disk full, read-only, removed
//! underneath) degrades to the network: the call still succeeds, and
//! [`Client::cache_stats`](crate::Client::cache_stats) counts the errors.
//! Several processes may share one directory: writes go to a temporary file
//! in the same directory and are renamed into place (a pack is never
//! changed after), no lock is held across a network call, and since every
//! read verifies, a file being evicted or half written by another process
//! is at worst a miss. The directory is kept under [`CacheConfig::max_bytes`]
//! by evicting the least recently used files, a pack as one (a read
//! refreshes a file's modification time). A pack's entries add up to about
//! a sixteenth of the bound (at most 8 MiB, and the entry that reaches it).
//! An index holds at most half a million entries: the rest of a directory
//! far past any bound is left out (misses), for eviction to clear.
//!
//! # Requests
//!
//! Measured against the CNCF registry with 300 tags of one image manifest
//! and config each: a report with an empty cache makes the same 601
//! requests as one without a cache (the tag list, a manifest `GET` and a
//! config `GET` per tag); repeated, 301 (the tag list and a `HEAD` per
//! tag). A tag that moved costs its `HEAD` and the new manifest's `GET`.

mod fetch;
mod hints;
mod index;
mod pack;
mod store;
mod writer;

use std::path::{Path, PathBuf};

pub(crate) use hints::Hints;
pub(crate) use store::Store;
pub(crate) use writer::Cache;

/// Default of [`CacheConfig::max_bytes`]: 256 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 256 << 20;

/// Where and how big the cache is; given to
/// [`ClientBuilder::cache`](crate::ClientBuilder::cache). A path converts
/// into one with the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    dir: PathBuf,
    max_bytes: u64,
    layers: bool,
}

impl CacheConfig {
    /// A cache in `dir` (created, mode 0700, when missing) with the
    /// default bound, [`DEFAULT_MAX_BYTES`].
    pub fn new(dir: impl Into<PathBuf>) -> CacheConfig {
        CacheConfig {
            dir: dir.into(),
            max_bytes: DEFAULT_MAX_BYTES,
            layers: false,
        }
    }

    /// The usual place for a user's cache: `$XDG_CACHE_HOME/dockreg`, else
    /// `$HOME/.cache/dockreg`; `None` when neither variable is set to an
    /// absolute path.
    pub fn default_dir() -> Option<PathBuf> {
        let absolute = |var: &str| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        absolute("XDG_CACHE_HOME")
            .map(|d| d.join("dockreg"))
            .or_else(|| absolute("HOME").map(|h| h.join(".cache").join("dockreg")))
    }

    /// The most bytes the cache's files may take together (default
    /// [`DEFAULT_MAX_BYTES`]); past it the least recently used files are
    /// evicted, down to nine tenths of it. An entry larger than the whole
    /// bound is not kept.
    pub fn max_bytes(mut self, max_bytes: u64) -> CacheConfig {
        self.max_bytes = max_bytes;
        self
    }

    /// Whether layer blobs are kept too (default `false`): every blob
    /// downloaded to a file ([`Client::download_blob`](crate::Client::download_blob),
    /// a pull into an OCI layout, [`pull_artifact`](crate::Repository::pull_artifact))
    /// is then copied out of the cache when it holds it, hashed on the way,
    /// and kept after a verified download. A blob larger than
    /// [`max_bytes`](CacheConfig::max_bytes) is never kept, so raise the
    /// bound with it. Streams ([`Client::blob_stream`](crate::Client::blob_stream))
    /// and copies between registries pass the cache by.
    pub fn layers(mut self, layers: bool) -> CacheConfig {
        self.layers = layers;
        self
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl From<PathBuf> for CacheConfig {
    fn from(dir: PathBuf) -> CacheConfig {
        CacheConfig::new(dir)
    }
}

impl From<&Path> for CacheConfig {
    fn from(dir: &Path) -> CacheConfig {
        CacheConfig::new(dir)
    }
}

impl From<&str> for CacheConfig {
    fn from(dir: &str) -> CacheConfig {
        CacheConfig::new(dir)
    }
}

impl From<String> for CacheConfig {
    fn from(dir: String) -> CacheConfig {
        CacheConfig::new(dir)
    }
}

/// What a client's cache did so far (see
/// [`Client::cache_stats`](crate::Client::cache_stats)); counts since the
/// client was built, shared by its clones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Entries read and verified.
    pub hits: u64,
    /// Entries looked for and not there (fetched from the registry).
    pub misses: u64,
    /// Entries written (a pack counts each of its entries; entries moved
    /// out of a bad pack are not counted again).
    pub writes: u64,
    /// Entries dropped because they did not verify or were not regular
    /// files within the size limit (when read, each also counts as a miss),
    /// and symlinks and files that are no pack, dropped when the directory
    /// is read or evicted.
    pub dropped: u64,
    /// Files evicted to stay under [`CacheConfig::max_bytes`].
    pub evicted: u64,
    /// Reads and writes that failed (disk full, read-only, permissions): the
    /// registry answered instead.
    pub errors: u64,
}
