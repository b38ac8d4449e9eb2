//! Status to error: a failed answer becomes [`Error::Registry`] with the
//! parsed error envelope or the start of the raw body, redacted (and a
//! hosted registry's known refusal gets its hint, see `hosted`).

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

use crate::error::Error;
use crate::models::ErrorEnvelope;

/// A response's headers and its whole body.
pub(crate) struct Fetched {
    pub(crate) headers: HeaderMap,
    pub(crate) body: bytes::Bytes,
}

/// Builds [`Error::Registry`] from a status and (the start of) a body.
pub(crate) fn registry_error(
    method: String,
    url: String,
    status: StatusCode,
    body: &[u8],
) -> Error {
    let (errors, body) = match serde_json::from_slice::<ErrorEnvelope>(body) {
        Ok(env) if !env.errors.is_empty() => (env.errors, None),
        _ if body.is_empty() => (Vec::new(), None),
        _ => {
            let end = body.len().min(4096);
            (
                Vec::new(),
                Some(String::from_utf8_lossy(&body[..end]).into_owned()),
            )
        }
    };
    super::hosted::explain(Error::Registry {
        method,
        url,
        status,
        errors,
        body,
    })
}

/// Reads up to `limit` bytes of a body, ignoring read errors (the status is
/// already the failure being reported).
pub(crate) async fn read_prefix(response: reqwest::Response, limit: u64) -> Vec<u8> {
    use futures::StreamExt;
    let mut out = Vec::new();
    let mut body = response.bytes_stream();
    while let Some(Ok(chunk)) = body.next().await {
        let room = (limit as usize).saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() as u64 >= limit {
            break;
        }
    }
    out
}
