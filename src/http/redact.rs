//! Redaction: what of a URL or a body may appear in an error. Credentials,
//! fragments and every query parameter but the API's own are left out, and
//! a secret the registry echoes back is scrubbed from its error page.

use url::Url;

/// Query parameters of the distribution API that carry no secret and help
/// to read an error (`?n=1001`, `?digest=sha256:...`). Any other parameter,
/// such as a presigned storage URL's signature (S3 `X-Amz-Signature`,
/// Azure SAS `sig`), is left out of URLs in errors.
const SHOWN_QUERY: &[&str] = &["n", "last", "digest", "mount", "from", "artifactType"];

/// A URL as it may appear in errors: [`redacted`], as text.
pub(crate) fn redact(url: &Url) -> String {
    redacted(url).into()
}

/// A URL without user name, password, fragment, or query parameters other
/// than the API's own ([`SHOWN_QUERY`]).
pub(crate) fn redacted(url: &Url) -> Url {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_fragment(None);
    retain_query(&mut url, |k| SHOWN_QUERY.contains(&k));
    url
}

/// Keeps only the query parameters whose name `keep` accepts, in their
/// order; a URL left with none has no `?` at all. (Shared by redaction and
/// by the listings' `n` and `last` editing.)
pub(crate) fn retain_query(url: &mut Url, keep: impl Fn(&str) -> bool) {
    if url.query().is_none() {
        return;
    }
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| keep(k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
}

/// The values [`redacted`] leaves out of a URL (as sent and decoded), so
/// that an error page echoing the URL does not show them either. Short
/// values are not worth hiding and would match by chance.
pub(crate) fn dropped_query_values(url: &Url) -> Vec<String> {
    let mut out = Vec::new();
    for raw in url.query().unwrap_or_default().split('&') {
        let (k, v) = raw.split_once('=').unwrap_or((raw, ""));
        let decoded = url::form_urlencoded::parse(raw.as_bytes()).next();
        let shown = decoded
            .as_ref()
            .is_some_and(|(k, _)| SHOWN_QUERY.contains(&k.as_ref()));
        if shown || k.is_empty() {
            continue;
        }
        out.push(v.to_owned());
        if let Some((_, v)) = decoded {
            out.push(v.into_owned());
        }
    }
    out.retain(|v| v.len() >= 6);
    out.sort_unstable_by_key(|v| std::cmp::Reverse(v.len()));
    out.dedup();
    out
}

/// Replaces every occurrence of `secret` in `body` with `<redacted>`.
pub(crate) fn scrub(body: &mut Vec<u8>, secret: &[u8]) {
    if secret.is_empty() || body.len() < secret.len() {
        return;
    }
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i..].starts_with(secret) {
            out.extend_from_slice(b"<redacted>");
            i += secret.len();
        } else {
            out.push(body[i]);
            i += 1;
        }
    }
    *body = out;
}
