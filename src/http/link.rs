//! The `Link` header (RFC 8288) that registries use for pagination.

use reqwest::header::{HeaderMap, LINK};
use url::Url;

use super::headers::shown;
use crate::error::Error;
use crate::http::redact;
use crate::Result;

/// Finds the `rel="next"` target among the `Link` headers of a response,
/// resolved against the URL that was requested.
///
/// Relative targets (`</v2/_catalog?last=x&n=100>`) and absolute ones are
/// accepted. A target on another origin (scheme, host or port) is refused with
/// [`Error::Protocol`]: following it would send the next request, and the
/// credentials that go with it, somewhere the caller never chose.
///
/// Errors name URLs as `redact` shows them (no credentials, no query
/// parameters but the API's own) and the registry's text escaped and cut
/// short.
pub fn next_link(headers: &HeaderMap, request_url: &Url) -> Result<Option<Url>> {
    let what = || redact(request_url);
    for value in headers.get_all(LINK) {
        let value = value
            .to_str()
            .map_err(|_| Error::protocol(what(), "Link header is not valid text"))?;
        for link in split_links(value) {
            let Some((target, params)) = parse_link(link) else {
                return Err(Error::protocol(
                    what(),
                    format!("malformed Link header {}", shown(value)),
                ));
            };
            if !params.iter().any(|rel| {
                rel.split_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
            }) {
                continue;
            }
            let next = request_url.join(target).map_err(|e| {
                Error::protocol(what(), format!("bad Link target {}: {e}", shown(target)))
            })?;
            if next.origin() != request_url.origin() {
                return Err(Error::protocol(
                    what(),
                    format!("Link to another origin refused: {}", redact(&next)),
                ));
            }
            let next = without_foreign_prefix(next, request_url);
            if !next.username().is_empty() || next.password().is_some() {
                // reqwest would send them as Basic credentials: a registry
                // does not get to choose what this client authenticates with.
                return Err(Error::protocol(
                    what(),
                    "Link with credentials in its URL refused",
                ));
            }
            return Ok(Some(next));
        }
    }
    Ok(None)
}

/// `next` with the path prefix before its `/v2/` replaced by the request's,
/// when the two differ and `next` names the very endpoint that was
/// requested. Nexus on a Docker connector port puts its internal
/// `/repository/NAME/` prefix into the Link, a path that port does not
/// serve (sonatype/nexus-public#1011); the same endpoint under the
/// request's own prefix is what the registry means. A Link to any other
/// endpoint is left as it is (and then checked like every Link).
fn without_foreign_prefix(next: Url, request_url: &Url) -> Url {
    let split = |path: &str| {
        path.find("/v2/")
            .map(|at| (path[..at].to_owned(), path[at..].to_owned()))
    };
    let (Some((theirs, endpoint)), Some((ours, requested))) =
        (split(next.path()), split(request_url.path()))
    else {
        return next;
    };
    if theirs == ours || endpoint != requested {
        return next;
    }
    let mut fixed = next;
    fixed.set_path(&format!("{ours}{endpoint}"));
    fixed
}

/// Splits a header value into its comma-separated links, ignoring commas
/// inside `<...>` and quoted strings.
fn split_links(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut in_angle, mut in_quote, mut escaped) = (0, false, false, false);
    for (i, c) in value.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quote => escaped = true,
            '"' if !in_angle => in_quote = !in_quote,
            '<' if !in_quote => in_angle = true,
            '>' if !in_quote => in_angle = false,
            ',' if !in_angle && !in_quote => {
                out.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(value[start..].trim());
    out.retain(|s| !s.is_empty());
    out
}

/// Parses one `<target>; rel="next"; ...` link into its target and the values
/// of its `rel` parameters.
fn parse_link(link: &str) -> Option<(&str, Vec<String>)> {
    let rest = link.trim().strip_prefix('<')?;
    let end = rest.find('>')?;
    let target = rest[..end].trim();
    let mut rels = Vec::new();
    for param in rest[end + 1..]
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let (name, value) = param.split_once('=').unwrap_or((param, ""));
        if name.trim().eq_ignore_ascii_case("rel") {
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            rels.push(value.to_owned());
        }
    }
    Some((target, rels))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(LINK, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn base() -> Url {
        Url::parse("http://127.0.0.1:5000/v2/_catalog?n=2").unwrap()
    }

    #[test]
    fn relative_and_absolute_targets() {
        let next = next_link(
            &headers(&[r#"</v2/_catalog?last=b&n=2>; rel="next""#]),
            &base(),
        );
        assert_eq!(
            next.unwrap().unwrap().as_str(),
            "http://127.0.0.1:5000/v2/_catalog?last=b&n=2"
        );
        let next = next_link(
            &headers(&["<http://127.0.0.1:5000/v2/_catalog?n=2&last=c>;rel=next"]),
            &base(),
        );
        assert_eq!(next.unwrap().unwrap().query(), Some("n=2&last=c"));
    }

    #[test]
    fn picks_next_among_several_links() {
        let h = headers(&[
            r#"</v2/_catalog?first>; rel="first", </v2/_catalog?last=z,y&n=2>; rel="prev next""#,
        ]);
        let next = next_link(&h, &base()).unwrap().unwrap();
        assert_eq!(next.query(), Some("last=z,y&n=2"));
    }

    #[test]
    fn no_link_or_no_next() {
        assert!(next_link(&HeaderMap::new(), &base()).unwrap().is_none());
        let h = headers(&[r#"</v2/_catalog?x>; rel="prev""#]);
        assert!(next_link(&h, &base()).unwrap().is_none());
    }

    #[test]
    fn a_foreign_prefix_before_the_same_endpoint_is_dropped() {
        let request = Url::parse("http://nexus:5002/v2/renovate/renovate/tags/list?n=2").unwrap();
        let next = |link: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(LINK, link.parse().unwrap());
            next_link(&headers, &request).unwrap().unwrap().to_string()
        };
        assert_eq!(
            next("<http://nexus:5002/repository/docker-proxy/v2/renovate/renovate/tags/list?n=2&last=x>; rel=\"next\""),
            "http://nexus:5002/v2/renovate/renovate/tags/list?n=2&last=x"
        );
        // Another endpoint under a prefix is not rewritten.
        assert_eq!(
            next("</repository/p/v2/other/tags/list?last=x>; rel=\"next\""),
            "http://nexus:5002/repository/p/v2/other/tags/list?last=x"
        );
        // A registry under a path prefix keeps it.
        let request = Url::parse("http://r/prefix/v2/_catalog").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(LINK, "</v2/_catalog?last=a>; rel=\"next\"".parse().unwrap());
        assert_eq!(
            next_link(&headers, &request).unwrap().unwrap().as_str(),
            "http://r/prefix/v2/_catalog?last=a"
        );
    }

    #[test]
    fn refuses_other_origins_and_garbage() {
        for bad in [
            r#"<http://evil.example.com/v2/_catalog?last=b>; rel="next""#,
            r#"<https://127.0.0.1:5000/v2/_catalog?last=b>; rel="next""#,
            r#"<http://127.0.0.1:5001/v2/_catalog?last=b>; rel="next""#,
            r#"/v2/_catalog?last=b; rel="next""#,
            r#"<//user:pw@127.0.0.1:5000/v2/_catalog?last=b>; rel="next""#,
        ] {
            let err = next_link(&headers(&[bad]), &base()).unwrap_err();
            assert!(matches!(err, Error::Protocol { .. }), "{bad}: {err}");
        }
    }
}
