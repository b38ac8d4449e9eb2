//! The response headers the registry protocol relies on, read in one place.

use reqwest::header::{HeaderMap, HeaderName, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, RANGE};

use crate::digest::Digest;
use crate::error::Error;
use crate::Result;

/// `Content-Length` as sent. (reqwest's own `content_length()` reports 0 for
/// the empty body of a `HEAD`, not the size the header announces.) Digits
/// only, as HTTP has it: no sign, no value past u64.
#[doc(hidden)]
pub fn content_length(headers: &HeaderMap) -> Option<u64> {
    number(headers.get(CONTENT_LENGTH)?.to_str().ok()?.trim())
}

/// A decimal number of digits only (`str::parse` also takes a `+`), or
/// `None`, also for one past u64.
fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A header's value as trimmed text; `missing` says what its absence means.
fn text<'a>(
    headers: &'a HeaderMap,
    name: HeaderName,
    missing: &str,
) -> std::result::Result<&'a str, String> {
    let value = headers.get(&name).ok_or_else(|| missing.to_owned())?;
    let value = value
        .to_str()
        .map_err(|_| format!("{name} is not valid text"))?;
    Ok(value.trim())
}

/// A value from the server as an error message shows it: quoted, control
/// characters escaped, and at most its first 40 characters.
pub(crate) fn shown(value: &str) -> String {
    match value.char_indices().nth(40) {
        Some((end, _)) => format!("{:?}...", &value[..end]),
        None => format!("{value:?}"),
    }
}

/// The `OCI-Subject` header a registry with the Referrers API answers a
/// manifest push with when it processed the manifest's `subject` (OCI 1.1):
/// the subject's digest, or `None` when absent. A value that is not a
/// digest counts as absent: the client then keeps the fallback tag itself,
/// which is never wrong.
pub(crate) fn oci_subject(headers: &HeaderMap) -> Option<Digest> {
    headers
        .get("oci-subject")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The filters a referrers listing says it applied (`OCI-Filters-Applied:
/// artifactType`), lower-cased, from every such header.
pub(crate) fn filters_applied(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("oci-filters-applied")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|f| f.trim().to_ascii_lowercase())
        .filter(|f| !f.is_empty())
        .collect()
}

/// `Content-Type`, when it is valid text.
pub(crate) fn content_type(headers: &HeaderMap) -> Option<String> {
    Some(headers.get(CONTENT_TYPE)?.to_str().ok()?.to_owned())
}

/// How many bytes an upload holds, from its `Range: 0-LAST` header (LAST is
/// inclusive). `0-0` reads as nothing received: registries send it for an
/// empty upload (and, ambiguously, for one of a single byte). A missing or
/// malformed header, or a LAST of u64::MAX (whose count does not fit), is
/// an error saying why.
#[doc(hidden)]
pub fn upload_offset(headers: &HeaderMap) -> std::result::Result<u64, String> {
    let value = text(headers, RANGE, "upload status without a Range header")?;
    let malformed = || format!("malformed upload Range {} (expected 0-LAST)", shown(value));
    let range = value.strip_prefix("bytes=").unwrap_or(value);
    let (first, last) = range.split_once('-').ok_or_else(malformed)?;
    if first.trim() != "0" {
        return Err(malformed());
    }
    let last = number(last.trim()).ok_or_else(malformed)?;
    if last == 0 {
        return Ok(0);
    }
    last.checked_add(1).ok_or_else(|| {
        format!(
            "upload Range {} counts more bytes than fit in 64 bits",
            shown(value)
        )
    })
}

/// A `Content-Range: bytes START-END/TOTAL` (TOTAL may be `*`), checked to
/// add up: END is inclusive and not before START, and before TOTAL.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    /// The first byte sent.
    pub start: u64,
    /// The last byte sent (inclusive).
    pub end: u64,
    /// The whole body's size, when the server knows it.
    pub total: Option<u64>,
}

/// `Content-Range` of a partial answer; `Err` says what was wrong.
#[doc(hidden)]
pub fn content_range(headers: &HeaderMap) -> std::result::Result<ContentRange, String> {
    let value = text(
        headers,
        CONTENT_RANGE,
        "a partial answer without a Content-Range",
    )?;
    let malformed = || format!("malformed Content-Range {}", shown(value));
    let (start, rest) = value
        .strip_prefix("bytes ")
        .and_then(|r| r.split_once('-'))
        .ok_or_else(malformed)?;
    let (end, total) = rest.split_once('/').ok_or_else(malformed)?;
    let start = number(start.trim()).ok_or_else(malformed)?;
    let end = number(end.trim()).ok_or_else(malformed)?;
    let total = match total.trim() {
        "*" => None,
        t => Some(number(t).ok_or_else(malformed)?),
    };
    if end < start || total.is_some_and(|t| end >= t) {
        return Err(format!("Content-Range {} does not add up", shown(value)));
    }
    Ok(ContentRange { start, end, total })
}

/// `OCI-Chunk-Min-Length`: the smallest chunk the registry takes in a
/// chunked upload, when it says so.
#[doc(hidden)]
pub fn chunk_min_length(headers: &HeaderMap) -> Option<u64> {
    number(headers.get("oci-chunk-min-length")?.to_str().ok()?.trim())
}

/// The size of the chunks an upload buffers: `requested` (at least 1),
/// raised to the registry's `demanded` minimum. A demand above `cap` (or
/// above what memory can address) is `Err(demanded)`: the buffer is never
/// sized by the registry's word alone.
#[doc(hidden)]
pub fn chunk_size(
    requested: usize,
    demanded: Option<u64>,
    cap: u64,
) -> std::result::Result<usize, u64> {
    let Some(demanded) = demanded else {
        return Ok(requested.max(1));
    };
    if demanded > cap {
        return Err(demanded);
    }
    let demanded = usize::try_from(demanded).map_err(|_| demanded)?;
    Ok(requested.max(demanded).max(1))
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

    fn with(name: reqwest::header::HeaderName, value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn content_length_is_digits_only() {
        for (value, want) in [
            ("0", Some(0)),
            (" 42 ", Some(42)),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551616", None),
            ("+5", None),
            ("-5", None),
            ("5 5", None),
            ("", None),
        ] {
            assert_eq!(
                content_length(&with(CONTENT_LENGTH, value)),
                want,
                "{value:?}"
            );
        }
    }

    #[test]
    fn upload_ranges() {
        for (value, want) in [
            ("0-0", Ok(0)),
            ("0-999", Ok(1000)),
            ("bytes=0-9", Ok(10)),
            ("0-18446744073709551614", Ok(u64::MAX)),
        ] {
            assert_eq!(upload_offset(&with(RANGE, value)), want, "{value:?}");
        }
        assert!(upload_offset(&HeaderMap::new()).is_err());
        for value in [
            "0-18446744073709551615",
            "0-18446744073709551616",
            "1-5",
            "5-3",
            "0-",
            "-5",
            "0-+5",
            "0--1",
            "abc",
        ] {
            let err = upload_offset(&with(RANGE, value)).unwrap_err();
            assert!(err.contains("Range"), "{value:?}: {err}");
        }
    }

    #[test]
    fn content_ranges_must_add_up() {
        assert_eq!(
            content_range(&with(CONTENT_RANGE, "bytes 4-9/10")),
            Ok(ContentRange {
                start: 4,
                end: 9,
                total: Some(10)
            })
        );
        assert_eq!(
            content_range(&with(CONTENT_RANGE, "bytes 0-0/*")).map(|r| r.total),
            Ok(None)
        );
        for value in [
            "bytes 4-2/10",
            "bytes 4-9/9",
            "bytes 4-18446744073709551615/10",
            "bytes 4-99999999999999999999/*",
            "bytes */10",
            "bytes 4-9",
            "4-9/10",
            "bytes +4-9/10",
        ] {
            assert!(
                content_range(&with(CONTENT_RANGE, value)).is_err(),
                "{value:?}"
            );
        }
    }

    #[test]
    fn chunk_minimums_are_capped() {
        let cap = 256 << 20;
        assert_eq!(chunk_size(1000, None, cap), Ok(1000));
        assert_eq!(chunk_size(0, None, cap), Ok(1));
        assert_eq!(chunk_size(100, Some(1000), cap), Ok(1000));
        assert_eq!(chunk_size(5000, Some(1000), cap), Ok(5000));
        assert_eq!(chunk_size(100, Some(cap), cap), Ok(cap as usize));
        assert_eq!(chunk_size(100, Some(cap + 1), cap), Err(cap + 1));
        assert_eq!(chunk_size(100, Some(1 << 40), cap), Err(1 << 40));
        assert_eq!(
            chunk_size(100, Some(u64::MAX), u64::MAX).ok(),
            usize::try_from(u64::MAX).ok()
        );
        let h = with(
            reqwest::header::HeaderName::from_static("oci-chunk-min-length"),
            "1099511627776",
        );
        assert_eq!(chunk_min_length(&h), Some(1 << 40));
    }
}
