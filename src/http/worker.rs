//! A thread fed with body chunks through a bounded channel: how downloads
//! hash and write off the task that receives them.

use std::fmt;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use bytes::Bytes;

/// A thread that consumes chunks and yields a result once the chunks end.
///
/// Sending blocks when the thread is `queue` chunks behind, so memory stays
/// bounded. Dropping the worker closes the channel, which ends the thread
/// without waiting for it.
pub(crate) struct ChunkWorker<R> {
    tx: Option<SyncSender<Bytes>>,
    handle: Option<JoinHandle<R>>,
}

impl<R: Send + 'static> ChunkWorker<R> {
    /// Starts a thread named `name` running `work` on the chunks sent.
    pub(crate) fn spawn(
        name: &str,
        queue: usize,
        work: impl FnOnce(Receiver<Bytes>) -> R + Send + 'static,
    ) -> std::io::Result<ChunkWorker<R>> {
        let (tx, rx) = sync_channel::<Bytes>(queue);
        let handle = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || work(rx))?;
        Ok(ChunkWorker {
            tx: Some(tx),
            handle: Some(handle),
        })
    }

    /// Hands a chunk over; `false` when the thread stopped taking chunks
    /// (its result, from [`ChunkWorker::finish`], says why).
    pub(crate) fn send(&mut self, chunk: Bytes) -> bool {
        self.tx.as_ref().is_some_and(|tx| tx.send(chunk).is_ok())
    }

    /// Ends the chunks and waits for the result; `None` if the thread panicked.
    pub(crate) fn finish(mut self) -> Option<R> {
        drop(self.tx.take());
        self.handle.take()?.join().ok()
    }
}

impl<R> Drop for ChunkWorker<R> {
    fn drop(&mut self) {
        drop(self.tx.take());
    }
}

impl<R> fmt::Debug for ChunkWorker<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChunkWorker")
    }
}
