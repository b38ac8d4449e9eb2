//! A thread fed with body chunks through a bounded async channel: how
//! downloads hash and write off the task that receives them, without ever
//! blocking that task.

use std::fmt;
use std::future::{poll_fn, Future};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::channel::{mpsc, oneshot};
use futures::executor::BlockingStream;

/// The chunks as the worker's thread sees them: an iterator that waits
/// for the next one (on that thread, never on the runtime's).
pub(crate) type Chunks = BlockingStream<mpsc::Receiver<Bytes>>;

/// A thread that consumes chunks and yields a result once the chunks end.
///
/// The sending side is async: [`ChunkWorker::poll_ready`] (or
/// [`ChunkWorker::send`]) waits without blocking while the thread is
/// `queue` chunks behind, so memory stays bounded, and the result arrives
/// through a oneshot channel ([`ChunkWorker::poll_result`],
/// [`ChunkWorker::finish`]). Dropping the worker closes the channel, which
/// ends the thread without waiting for it.
pub(crate) struct ChunkWorker<R> {
    tx: Option<mpsc::Sender<Bytes>>,
    result: oneshot::Receiver<R>,
}

impl<R: Send + 'static> ChunkWorker<R> {
    /// Starts a thread named `name` running `work` on the chunks sent.
    pub(crate) fn spawn(
        name: &str,
        queue: usize,
        work: impl FnOnce(Chunks) -> R + Send + 'static,
    ) -> std::io::Result<ChunkWorker<R>> {
        // The channel holds `buffer` chunks plus one per sender.
        let (tx, rx) = mpsc::channel::<Bytes>(queue.saturating_sub(1));
        let (result_tx, result) = oneshot::channel();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let _ = result_tx.send(work(futures::executor::block_on_stream(rx)));
            })?;
        Ok(ChunkWorker {
            tx: Some(tx),
            result,
        })
    }
}

impl<R> ChunkWorker<R> {
    /// Ready when the thread takes another chunk: `true`, or `false` when
    /// it stopped taking chunks (its result says why).
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        match &mut self.tx {
            Some(tx) => tx.poll_ready(cx).map(|ready| ready.is_ok()),
            None => Poll::Ready(false),
        }
    }

    /// Hands a chunk over after [`ChunkWorker::poll_ready`] said `true`;
    /// `false` when the thread stopped taking chunks.
    pub(crate) fn start_send(&mut self, chunk: Bytes) -> bool {
        self.tx
            .as_mut()
            .is_some_and(|tx| tx.start_send(chunk).is_ok())
    }

    /// Waits for room, then hands a chunk over; `false` when the thread
    /// stopped taking chunks (its result, from [`ChunkWorker::finish`],
    /// says why).
    pub(crate) async fn send(&mut self, chunk: Bytes) -> bool {
        poll_fn(|cx| self.poll_ready(cx)).await && self.start_send(chunk)
    }

    /// Ends the chunks and polls for the result; `None` if the thread
    /// panicked.
    pub(crate) fn poll_result(&mut self, cx: &mut Context<'_>) -> Poll<Option<R>> {
        drop(self.tx.take());
        std::pin::Pin::new(&mut self.result)
            .poll(cx)
            .map(Result::ok)
    }

    /// Ends the chunks and waits for the result; `None` if the thread
    /// panicked.
    pub(crate) async fn finish(mut self) -> Option<R> {
        poll_fn(|cx| self.poll_result(cx)).await
    }
}

impl<R> fmt::Debug for ChunkWorker<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChunkWorker")
    }
}
