//! The cache's writes, made by one thread of its own: a report's tags never
//! wait on the disk, and a client's entries are not created by many threads
//! at once (each create takes the directory's lock). Only the rare writes
//! off this thread (moving a bad pack's good entries, keeping a layer
//! file, a write when no thread could start) come from the blocking pool.
//!
//! Entries are gathered, and written together as packs (see
//! [`super::pack`]): when a call that fetched through the cache settles the
//! writes before it returns (so that its files are there when it does),
//! when a pack's worth is gathered, when no entry came for a second, and
//! when the client is dropped. Meanwhile they are read from memory. A
//! report's entries are so one pack, or a few when other calls of the same
//! client settle meanwhile or the registry pauses for over a second.

use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::channel::oneshot;

use super::Store;
use crate::digest::Digest;

/// Gathered entries are written after this long without a new one.
const IDLE_FLUSH: Duration = Duration::from_secs(1);

/// One write, or a mark to answer once every write before it is done.
enum Job {
    Put(Digest, Bytes),
    Tags(String, Vec<u8>),
    Settled(oneshot::Sender<()>),
}

impl Job {
    /// Does the job on the calling thread, alone.
    fn run(self, store: &Store) {
        let mut batch = Batch::default();
        batch.take(self, store);
        batch.flush(store);
    }
}

/// The entries gathered and not yet written.
#[derive(Default)]
struct Batch {
    entries: Vec<(Digest, Bytes)>,
    bytes: u64,
}

impl Batch {
    /// Takes one job: an entry is gathered (and written with the others
    /// once a pack's worth is there); tag hints are written at once (they
    /// are only hints: an entry they name that is not written yet costs a
    /// request at most); a settle mark writes what is gathered first.
    fn take(&mut self, job: Job, store: &Store) {
        match job {
            Job::Put(digest, bytes) => {
                self.bytes += bytes.len() as u64;
                self.entries.push((digest, bytes));
                if self.bytes >= store.pack_bytes() {
                    self.flush(store);
                }
            }
            Job::Tags(name, bytes) => store.write_tags(&name, &bytes),
            Job::Settled(done) => {
                self.flush(store);
                let _ = done.send(());
            }
        }
    }

    fn flush(&mut self, store: &Store) {
        if !self.entries.is_empty() {
            store.write_batch(std::mem::take(&mut self.entries), true);
        }
        self.bytes = 0;
    }
}

/// The writing thread: takes jobs until the cache is dropped, then writes
/// what is left.
fn write_jobs(store: &Store, jobs: &mpsc::Receiver<Job>) {
    let mut batch = Batch::default();
    loop {
        let job = if batch.entries.is_empty() {
            jobs.recv()
                .map_err(|_| mpsc::RecvTimeoutError::Disconnected)
        } else {
            jobs.recv_timeout(IDLE_FLUSH)
        };
        match job {
            Ok(job) => batch.take(job, store),
            Err(mpsc::RecvTimeoutError::Timeout) => batch.flush(store),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    batch.flush(store);
}

/// The store and its writing thread, started with the first write. The
/// thread ends when the writer is dropped (with the client), after the
/// writes already asked for.
pub(crate) struct Cache {
    store: Arc<Store>,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
}

impl Cache {
    pub(crate) fn new(store: Store) -> Cache {
        Cache {
            store: Arc::new(store),
            jobs: Mutex::new(None),
        }
    }

    pub(crate) fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Hands `job` to the writing thread (started when there is none), or
    /// gives it back when no thread can take it.
    fn send(&self, job: Job) -> Result<(), Job> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        if jobs.is_none() {
            let (tx, rx) = mpsc::channel::<Job>();
            let store = Arc::clone(&self.store);
            let started = std::thread::Builder::new()
                .name("dockreg-cache".into())
                .spawn(move || write_jobs(&store, &rx));
            if started.is_err() {
                return Err(job);
            }
            *jobs = Some(tx);
        }
        let sent = jobs.as_ref().map(|tx| tx.send(job));
        match sent {
            Some(Ok(())) => Ok(()),
            // The thread is gone (it panicked), with what it gathered: the
            // next job starts another, and what was queued is fetched again.
            Some(Err(mpsc::SendError(job))) => {
                *jobs = None;
                self.store.writer_gone();
                Err(job)
            }
            None => unreachable!("set above"),
        }
    }

    /// Queues `job`; when no thread takes it, does it on the blocking pool
    /// and waits for it.
    async fn queue(&self, job: Job) {
        if let Err(job) = self.send(job) {
            let store = Arc::clone(&self.store);
            let _ = tokio::task::spawn_blocking(move || job.run(&store)).await;
        }
    }

    /// Keeps verified `bytes` as the entry of `digest`, in the background
    /// (read from memory until written); nothing when the cache knows the
    /// entry already.
    pub(crate) async fn put(&self, digest: Digest, bytes: Bytes) {
        if self.store.pend(&digest, &bytes) {
            self.queue(Job::Put(digest, bytes)).await;
        }
    }

    /// Replaces `tags/NAME`, in the background.
    pub(crate) async fn write_tags(&self, name: String, bytes: Vec<u8>) {
        self.queue(Job::Tags(name, bytes)).await;
    }

    /// Waits until every write asked for so far is done (or failed, which
    /// the stats count).
    pub(crate) async fn settled(&self) {
        let started = self
            .jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        if !started {
            // No write was ever queued (or its thread is gone with them).
            return;
        }
        let (done, wait) = oneshot::channel();
        self.queue(Job::Settled(done)).await;
        // A thread that died drops the sender: nothing is left to wait for.
        let _ = wait.await;
    }
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::CacheConfig;

    #[tokio::test]
    async fn writes_are_there_once_settled_and_the_thread_ends_with_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(Store::open(&CacheConfig::new(dir.path())).unwrap());
        let entries: Vec<(Digest, Bytes)> = (0..50)
            .map(|i| {
                let bytes = Bytes::from(format!("entry {i}"));
                (Digest::sha256(&bytes), bytes)
            })
            .collect();
        for (digest, bytes) in &entries {
            cache.put(digest.clone(), bytes.clone()).await;
        }
        cache
            .write_tags("key".into(), b"v1 sha256:x\n".to_vec())
            .await;
        cache.settled().await;
        let store = Arc::clone(cache.store());
        // Written together: one pack, read back by another process.
        let packs = std::fs::read_dir(dir.path().join("packs")).unwrap().count();
        assert_eq!(packs, 1);
        let other = Store::open(&CacheConfig::new(dir.path())).unwrap();
        other.reload();
        for (digest, bytes) in &entries {
            let got = other.get(digest, 100, Ok::<_, crate::cache::store::Refusal>);
            assert_eq!(got.as_ref(), Some(bytes));
        }
        assert_eq!(store.read_tags("key", 100).unwrap(), b"v1 sha256:x\n");
        assert_eq!(store.stats().writes, 50);
        // The thread held the other reference; dropping the cache ends it.
        drop(cache);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while Arc::strong_count(&store) > 1 {
            assert!(
                std::time::Instant::now() < deadline,
                "the writer thread outlived its cache"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}
