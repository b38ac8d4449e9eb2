//! Blob bodies that survive a broken connection: the transfer continues
//! with `Range: bytes=N-` from the byte it reached.

use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use reqwest::header::{HeaderMap, HeaderValue, RANGE};
use reqwest::StatusCode;

use crate::client::Client;
use crate::error::Error;
use crate::http::{redact, Request};
use crate::Result;

use super::headers::{content_range, ContentRange};
use super::retry::Attempts;

/// Reconnects one body may make in all, progress or not: a server that cuts
/// every answer after a few bytes must not keep a download going forever.
const MAX_RESUMES: u32 = 64;

/// The longest wait before a reconnect: the body's server answered a
/// moment ago.
const MAX_RESUME_WAIT: Duration = Duration::from_secs(5);

struct State {
    client: Client,
    request: Request,
    body: Option<BoxStream<'static, reqwest::Result<Bytes>>>,
    /// Bytes delivered to the consumer so far.
    offset: u64,
    /// The whole body's size, as the first answer announced it.
    total: Option<u64>,
    /// Bytes still to drop from a body that restarted from zero.
    skip: u64,
    /// The attempts since the last byte of progress, under the retry
    /// policy.
    attempts: Attempts,
    /// Reconnects so far.
    resumes: u32,
    done: bool,
}

/// The body of `response` (to `request`, a `GET`), resumed with range
/// requests when it breaks. Gives up after the retry policy's number of
/// failures in a row that made no progress (or 64 reconnects in all). A
/// server that answers a range request with 200 sends the whole body again:
/// its first bytes are dropped.
pub(crate) fn resuming_body(
    client: Client,
    request: Request,
    response: reqwest::Response,
) -> BoxStream<'static, Result<Bytes>> {
    let total = super::content_length(response.headers());
    let mut attempts = Attempts::new(*client.retry_config());
    attempts.next();
    let state = State {
        client,
        request,
        body: Some(response.bytes_stream().boxed()),
        offset: 0,
        total,
        skip: 0,
        attempts,
        resumes: 0,
        done: false,
    };
    futures::stream::try_unfold(state, |mut st| async move {
        loop {
            if st.done {
                return Ok(None);
            }
            let Some(body) = st.body.as_mut() else {
                reopen(&mut st).await?;
                continue;
            };
            match body.next().await {
                None => return Ok(None),
                Some(Ok(mut chunk)) => {
                    if st.skip > 0 {
                        let drop = st.skip.min(chunk.len() as u64);
                        st.skip -= drop;
                        chunk = chunk.slice(drop as usize..);
                        if chunk.is_empty() {
                            continue;
                        }
                    }
                    st.offset = st.offset.saturating_add(chunk.len() as u64);
                    st.attempts.progressed();
                    return Ok(Some((chunk, st)));
                }
                Some(Err(source)) => {
                    st.body = None;
                    st.resumes += 1;
                    let reason = format!("the body broke at byte {}: {source}", st.offset);
                    let delay = if st.resumes > MAX_RESUMES {
                        None
                    } else {
                        st.attempts.retry(&reason, None, None)
                    };
                    let Some(delay) = delay else {
                        st.done = true;
                        return Err(st.attempts.give_up(Error::Http {
                            method: "GET".into(),
                            url: redact(&st.request.url),
                            source,
                        }));
                    };
                    tokio::time::sleep(delay.min(MAX_RESUME_WAIT)).await;
                    st.attempts.next();
                }
            }
        }
    })
    .boxed()
}

/// Asks for the rest of the body from `offset`.
async fn reopen(st: &mut State) -> Result<()> {
    let mut request = st.request.clone();
    if st.offset > 0 {
        let range = HeaderValue::from_str(&format!("bytes={}-", st.offset))
            .expect("digits are a valid header");
        request.headers.insert(RANGE, range);
    }
    let method = request.method.clone();
    let response = st.client.send_any(request).await?;
    match response.status() {
        StatusCode::PARTIAL_CONTENT if st.offset > 0 => {
            if let Err(reason) = check_resumed_range(response.headers(), st.offset, st.total) {
                st.done = true;
                return Err(Error::protocol(
                    format!("GET {}", redact(&st.request.url)),
                    format!("resuming at byte {}: {reason}", st.offset),
                ));
            }
        }
        s if s.is_success() => st.skip = st.offset,
        _ => {
            st.done = true;
            return Err(st.client.status_error(&method, response).await);
        }
    }
    crate::trace::info!(
        url = %redact(&st.request.url),
        offset = st.offset,
        total = st.total,
        status = response.status().as_u16(),
        "download resumed"
    );
    st.body = Some(response.bytes_stream().boxed());
    Ok(())
}

/// Checks the `Content-Range` of a 206 to a request for the bytes from
/// `offset` on, of a body first announced as `total` bytes: it must add up,
/// start at `offset`, and stay within `total`.
#[doc(hidden)]
pub fn check_resumed_range(
    headers: &HeaderMap,
    offset: u64,
    total: Option<u64>,
) -> std::result::Result<ContentRange, String> {
    let range = content_range(headers)?;
    if range.start != offset {
        return Err(format!(
            "the registry sent Content-Range from byte {}",
            range.start
        ));
    }
    if let Some(total) = total {
        if range.end >= total || range.total.is_some_and(|t| t != total) {
            return Err(format!(
                "Content-Range {}-{} of {} does not fit the {total} bytes first announced",
                range.start,
                range.end,
                range.total.map_or("*".to_owned(), |t| t.to_string()),
            ));
        }
    }
    Ok(range)
}
