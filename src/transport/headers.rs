//! The response headers the registry protocol relies on, read in one place.

use reqwest::header::{HeaderMap, CONTENT_LENGTH, CONTENT_TYPE};

use crate::digest::Digest;
use crate::error::Error;
use crate::Result;

/// `Content-Length` as sent. (reqwest's own `content_length()` reports 0 for
/// the empty body of a `HEAD`, not the size the header announces.)
pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// `Content-Type`, when it is valid text.
pub(crate) fn content_type(headers: &HeaderMap) -> Option<String> {
    Some(headers.get(CONTENT_TYPE)?.to_str().ok()?.to_owned())
}

/// How many bytes an upload holds, from its `Range: 0-LAST` header (LAST is
/// inclusive). `0-0` reads as nothing received: registries send it for an
/// empty upload (and, ambiguously, for one of a single byte).
pub(crate) fn upload_offset(headers: &HeaderMap) -> Option<u64> {
    let value = headers.get(reqwest::header::RANGE)?.to_str().ok()?.trim();
    let value = value.strip_prefix("bytes=").unwrap_or(value);
    let (first, last) = value.split_once('-')?;
    if first.trim() != "0" {
        return None;
    }
    let last: u64 = last.trim().parse().ok()?;
    Some(if last == 0 { 0 } else { last + 1 })
}

/// `Docker-Content-Digest`, validated, when present; a malformed one is a
/// protocol error naming `what` was asked.
pub(crate) fn content_digest(headers: &HeaderMap, what: &str) -> Result<Option<Digest>> {
    let Some(value) = headers.get("docker-content-digest") else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| Error::protocol(what, "Docker-Content-Digest is not valid text"))?;
    text.trim().parse().map(Some).map_err(|e| {
        Error::protocol(
            what,
            format!("malformed Docker-Content-Digest {text:?}: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn reads_the_protocol_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(content_length(&h), None);
        assert_eq!(content_digest(&h, "x").unwrap(), None);
        h.insert(CONTENT_LENGTH, HeaderValue::from_static("67108864"));
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        h.insert(
            "docker-content-digest",
            HeaderValue::from_static(
                "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
            ),
        );
        assert_eq!(content_length(&h), Some(64 << 20));
        assert_eq!(content_type(&h).as_deref(), Some("application/json"));
        assert_eq!(
            content_digest(&h, "x").unwrap(),
            Some(Digest::sha256(b"foo"))
        );
        h.insert(
            "docker-content-digest",
            HeaderValue::from_static("sha256:nothex"),
        );
        assert!(matches!(
            content_digest(&h, "x"),
            Err(Error::Protocol { .. })
        ));
    }
}
