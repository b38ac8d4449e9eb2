//! Verification: bytes checked against the digest (and size) they must
//! have, whole ([`Digest::verify`]), fed in pieces ([`Verifier`]) or as
//! they stream ([`VerifyingStream`]), before they are trusted.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;

use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::Error;
use crate::Result;

impl Digest {
    /// Checks that `bytes` hash to this digest; `what` names them in the error.
    pub fn verify(&self, bytes: &[u8], what: &str) -> Result<()> {
        let actual = Digest::compute(self.algorithm(), bytes);
        if actual == *self {
            Ok(())
        } else {
            Err(Error::digest_mismatch(
                what.to_owned(),
                self.clone(),
                actual,
            ))
        }
    }
}

/// Checks a body, fed in pieces, against an expected digest and (optionally)
/// size. A body longer than its announced size is refused as soon as the
/// extra byte arrives, so a lying registry cannot make us read forever.
///
/// Hashing happens on the caller's thread; a [`VerifyingStream`] can move
/// it to a thread of its own ([`VerifyingStream::in_background`]).
#[derive(Debug)]
pub struct Verifier {
    what: String,
    expected: Digest,
    size: Option<u64>,
    seen: u64,
    /// `None` while a [`VerifyingStream`]'s background hasher has the bytes.
    hasher: Option<Hasher>,
}

/// Chunks the background hasher may trail behind by (about 6 MiB of blob
/// chunks as reqwest yields them): enough to keep both cores busy, bounded so
/// memory stays flat.
const BACKGROUND_QUEUE: usize = 16;

/// A hasher on a thread of its own, so that hashing (the most expensive step
/// of a verified download) overlaps with receiving and writing.
type BackgroundHasher = crate::http::ChunkWorker<Digest>;

fn spawn_hasher(algorithm: Algorithm) -> std::io::Result<BackgroundHasher> {
    BackgroundHasher::spawn("dockreg-hash", BACKGROUND_QUEUE, move |chunks| {
        let mut hasher = Hasher::new(algorithm);
        for chunk in chunks {
            hasher.update(&chunk);
        }
        hasher.finish()
    })
}

impl Verifier {
    /// A verifier for a body that must hash to `expected` and, when given,
    /// have exactly `size` bytes. `what` names the body in errors.
    pub fn new(what: impl Into<String>, expected: Digest, size: Option<u64>) -> Verifier {
        Verifier {
            what: what.into(),
            hasher: Some(expected.algorithm().hasher()),
            expected,
            size,
            seen: 0,
        }
    }

    fn count(&mut self, len: usize) -> Result<()> {
        self.seen += len as u64;
        if let Some(size) = self.size {
            if self.seen > size {
                return Err(Error::SizeMismatch {
                    what: self.what.clone(),
                    expected: size,
                    actual: self.seen,
                });
            }
        }
        Ok(())
    }

    /// Feeds a piece of the body; fails when the body grew past its size.
    pub fn update(&mut self, bytes: &[u8]) -> Result<()> {
        self.count(bytes.len())?;
        if let Some(h) = &mut self.hasher {
            h.update(bytes);
        }
        Ok(())
    }

    /// Like [`Verifier::update`], for a chunk held as [`Bytes`].
    pub fn update_bytes(&mut self, bytes: &Bytes) -> Result<()> {
        self.update(bytes)
    }

    /// How many bytes were fed so far.
    pub fn bytes_seen(&self) -> u64 {
        self.seen
    }

    /// The digest the body must have.
    pub fn expected(&self) -> &Digest {
        &self.expected
    }

    /// Ends the body: checks its size and digest.
    pub fn finish(mut self) -> Result<Digest> {
        let hasher = self.hasher.take();
        let actual = hasher.map(Hasher::finish);
        self.check(actual)
    }

    /// Checks the size and `actual`, the digest of the bytes fed (`None`:
    /// the hashing failed).
    fn check(self, actual: Option<Digest>) -> Result<Digest> {
        if let Some(size) = self.size {
            if self.seen != size {
                return Err(Error::SizeMismatch {
                    what: self.what,
                    expected: size,
                    actual: self.seen,
                });
            }
        }
        let actual =
            actual.ok_or_else(|| Error::protocol(&self.what, "the hashing thread failed"))?;
        if actual != self.expected {
            return Err(Error::digest_mismatch(self.what, self.expected, actual));
        }
        Ok(actual)
    }
}

/// A byte stream that verifies what passes through it.
///
/// Each chunk is hashed as it is yielded; when the inner stream ends, the size
/// and digest are checked and a mismatch is yielded as the stream's last item
/// (an `Err`). A consumer that writes chunks somewhere must therefore treat
/// the data as untrusted until the stream ended without error.
///
/// Nothing in it blocks: with [`VerifyingStream::in_background`] the chunks
/// go to a hashing thread through a bounded async channel (the stream waits
/// for room as any stream waits), and the digest comes back through a
/// oneshot channel.
pub struct VerifyingStream<S> {
    inner: S,
    verifier: Option<Verifier>,
    seen: u64,
    /// The hashing thread, when hashing in the background.
    background: Option<BackgroundHasher>,
    /// The inner stream ended: waiting for the background digest.
    ended: bool,
}

impl<S> VerifyingStream<S> {
    /// Wraps `inner`, checking it with `verifier`.
    pub fn new(inner: S, verifier: Verifier) -> Self {
        VerifyingStream {
            inner,
            verifier: Some(verifier),
            seen: 0,
            background: None,
            ended: false,
        }
    }

    /// Moves the hashing to a thread of its own, a few chunks behind the
    /// stream, so that it overlaps with receiving and writing (worth it for
    /// large bodies). Stays inline when no thread can be started or the
    /// verifier was fed already.
    pub fn in_background(mut self) -> Self {
        if let Some(verifier) = &mut self.verifier {
            if self.background.is_none() && verifier.seen == 0 {
                if let Ok(bg) = spawn_hasher(verifier.expected.algorithm()) {
                    verifier.hasher = None;
                    self.background = Some(bg);
                }
            }
        }
        self
    }

    /// Bytes that went through so far (all of them once the stream ended).
    pub fn bytes_seen(&self) -> u64 {
        self.seen
    }

    /// Ends the stream with `item`: nothing more is verified.
    fn end(&mut self, item: Option<Result<Bytes>>) -> Poll<Option<Result<Bytes>>> {
        self.verifier = None;
        self.background = None;
        Poll::Ready(item)
    }
}

impl<S> fmt::Debug for VerifyingStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingStream")
            .field("verifier", &self.verifier)
            .field("background", &self.background.is_some())
            .finish_non_exhaustive()
    }
}

impl<S> Stream for VerifyingStream<S>
where
    S: Stream<Item = Result<Bytes>> + Unpin,
{
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.verifier.is_none() {
            return Poll::Ready(None);
        }
        if let Some(bg) = &mut this.background {
            if this.ended {
                let actual = std::task::ready!(bg.poll_result(cx));
                let verifier = this.verifier.take().expect("checked above");
                this.background = None;
                return match verifier.check(actual) {
                    Ok(_) => Poll::Ready(None),
                    Err(e) => Poll::Ready(Some(Err(e))),
                };
            }
            // Room for the next chunk first, so that it is never held.
            if !std::task::ready!(bg.poll_ready(cx)) {
                let what = this.verifier.as_ref().map(|v| v.what.clone());
                return this.end(Some(Err(Error::protocol(
                    what.unwrap_or_default(),
                    "the hashing thread failed",
                ))));
            }
        }
        let verifier = this.verifier.as_mut().expect("checked above");
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => match verifier.update_bytes(&chunk) {
                Ok(()) => {
                    this.seen = verifier.bytes_seen();
                    if let Some(bg) = &mut this.background {
                        // A refused chunk means the thread ended: its
                        // result says so at the end.
                        bg.start_send(chunk.clone());
                    }
                    Poll::Ready(Some(Ok(chunk)))
                }
                Err(e) => this.end(Some(Err(e))),
            },
            Poll::Ready(Some(Err(e))) => this.end(Some(Err(e))),
            Poll::Ready(None) if this.background.is_some() => {
                this.ended = true;
                // Polls the result (and registers the waker) at once.
                Pin::new(this).poll_next(cx)
            }
            Poll::Ready(None) => {
                let verifier = this.verifier.take().expect("checked above");
                match verifier.finish() {
                    Ok(_) => Poll::Ready(None),
                    Err(e) => Poll::Ready(Some(Err(e))),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::{stream, StreamExt};

    const FOO: &str = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

    #[test]
    fn verifier_checks_size_and_digest() {
        let mut v = Verifier::new("x", Digest::sha256(b"foo"), Some(3));
        v.update(b"fo").unwrap();
        v.update(b"o").unwrap();
        assert_eq!(v.finish().unwrap().as_str(), FOO);

        let mut v = Verifier::new("x", Digest::sha256(b"foo"), Some(3));
        assert!(matches!(v.update(b"food"), Err(Error::SizeMismatch { .. })));

        let mut v = Verifier::new("x", Digest::sha256(b"foo"), None);
        v.update(b"bar").unwrap();
        assert!(matches!(v.finish(), Err(Error::DigestMismatch { .. })));
    }

    #[tokio::test]
    async fn background_hashing_gives_the_same_answers() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let digest = Digest::sha256(&data);
        let chunks = || {
            stream::iter(
                data.chunks(65_536)
                    .map(|c| Ok(Bytes::copy_from_slice(c)))
                    .collect::<Vec<_>>(),
            )
        };
        let v = Verifier::new("x", digest.clone(), Some(data.len() as u64));
        let s = VerifyingStream::new(chunks(), v).in_background();
        assert!(s.background.is_some());
        let items: Vec<_> = s.collect().await;
        assert!(items.iter().all(Result::is_ok));
        assert_eq!(items.len(), data.len().div_ceil(65_536));

        let v = Verifier::new("x", Digest::sha256(b"other"), None);
        let items: Vec<_> = VerifyingStream::new(chunks(), v)
            .in_background()
            .collect()
            .await;
        assert!(matches!(
            items.last(),
            Some(Err(Error::DigestMismatch { .. }))
        ));
    }

    #[tokio::test]
    async fn verifying_stream_fails_at_end_on_mismatch() {
        let chunks = || {
            stream::iter(vec![
                Ok(Bytes::from_static(b"fo")),
                Ok(Bytes::from_static(b"x")),
            ])
        };
        let s = VerifyingStream::new(chunks(), Verifier::new("b", Digest::sha256(b"foo"), None));
        let items: Vec<_> = s.collect().await;
        assert_eq!(items.len(), 3);
        assert!(matches!(items[2], Err(Error::DigestMismatch { .. })));

        let mut s =
            VerifyingStream::new(chunks(), Verifier::new("b", Digest::sha256(b"fox"), None));
        let items: Vec<_> = s.by_ref().collect().await;
        assert_eq!(items.len(), 2);
        assert!(items.iter().all(Result::is_ok));
        assert_eq!(
            s.bytes_seen(),
            3,
            "the count survives the end of the stream"
        );
    }
}
