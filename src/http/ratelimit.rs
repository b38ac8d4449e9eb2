//! The rate-limit headers registries send, read into one [`RateLimit`].
//!
//! | sender | headers |
//! |---|---|
//! | Docker Hub | `RateLimit-Limit: 100;w=21600`, `RateLimit-Remaining: 76;w=21600`, `Docker-RateLimit-Source: 192.0.2.1` |
//! | IETF drafts up to 06 | `RateLimit-Limit: 100`, `RateLimit-Remaining: 50`, `RateLimit-Reset: 30` |
//! | IETF draft 07 | `RateLimit: limit=100, remaining=50, reset=30`, `RateLimit-Policy: 100;w=60` |
//! | IETF draft 08 and later | `RateLimit-Policy: "burst";q=100;w=60`, `RateLimit: "burst";r=50;t=30` |
//!
//! Every number is the server's word and is clamped: counts to
//! [`MAX_COUNT`], durations to [`MAX_SECONDS`]. A negative, fractional or
//! malformed number is ignored, never an error and never a panic.

use std::time::Duration;

use reqwest::header::HeaderMap;

/// The largest count kept (the largest integer a structured field may
/// carry); larger ones are clamped to it.
pub const MAX_COUNT: u64 = 999_999_999_999_999;

/// The longest window or reset kept, in seconds (one year); longer ones are
/// clamped to it.
pub const MAX_SECONDS: u64 = 366 * 24 * 3600;

/// How much of one header value is read; a longer value is cut there.
const MAX_VALUE: usize = 4096;

/// How many list members of one header are looked at.
const MAX_MEMBERS: usize = 16;

/// What a registry said about its rate limit in one response.
///
/// Each field is `None` when the registry did not say (or said it in a form
/// that did not parse).
///
/// ```
/// use dockreg::http::RateLimit;
/// use reqwest::header::{HeaderMap, HeaderValue};
///
/// let mut headers = HeaderMap::new();
/// headers.insert("ratelimit-limit", HeaderValue::from_static("100;w=21600"));
/// headers.insert("ratelimit-remaining", HeaderValue::from_static("76;w=21600"));
/// let limit = RateLimit::from_headers(&headers).unwrap();
/// assert_eq!(limit.limit, Some(100));
/// assert_eq!(limit.remaining, Some(76));
/// assert_eq!(limit.window, Some(std::time::Duration::from_secs(21600)));
/// assert!(!limit.is_exhausted());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    /// Requests (quota units) allowed per window.
    pub limit: Option<u64>,
    /// Requests (quota units) left in the current window.
    pub remaining: Option<u64>,
    /// The length of the window.
    pub window: Option<Duration>,
    /// How long until the quota is restored.
    pub reset: Option<Duration>,
    /// The name of the policy the numbers belong to (IETF draft 08 and
    /// later), when named.
    pub policy: Option<String>,
    /// Docker Hub's `Docker-RateLimit-Source`: what the limit is counted
    /// against (an IP address or an account).
    pub source: Option<String>,
}

impl RateLimit {
    /// Reads the rate-limit headers of a response; `None` when it carries
    /// none that parse.
    pub fn from_headers(headers: &HeaderMap) -> Option<RateLimit> {
        let mut out = RateLimit::default();
        let text = |name: &str| -> Option<String> {
            let mut all = String::new();
            for v in headers.get_all(name) {
                let Ok(v) = v.to_str() else { continue };
                if !all.is_empty() {
                    all.push(',');
                }
                all.push_str(v);
                if all.len() >= MAX_VALUE {
                    break;
                }
            }
            let mut end = all.len().min(MAX_VALUE);
            while !all.is_char_boundary(end) {
                end -= 1;
            }
            all.truncate(end);
            (!all.trim().is_empty()).then_some(all)
        };

        // Separate fields: Docker Hub and the early drafts.
        if let Some(v) = text("ratelimit-limit") {
            if let Some(first) = members(&v).into_iter().next() {
                out.limit = first.value.as_deref().and_then(count);
                out.window = first.param("w").and_then(seconds);
            }
        }
        if let Some(v) = text("ratelimit-remaining") {
            if let Some(first) = members(&v).into_iter().next() {
                out.remaining = first.value.as_deref().and_then(count);
                out.window = out.window.or_else(|| first.param("w").and_then(seconds));
            }
        }
        if let Some(v) = text("ratelimit-reset") {
            out.reset = members(&v)
                .into_iter()
                .next()
                .and_then(|m| m.value.as_deref().and_then(seconds));
        }

        // The policy: `100;w=60` (draft 07) or `"name";q=100;w=60` (08+).
        let policies: Vec<Member> = text("ratelimit-policy")
            .map(|v| members(&v))
            .unwrap_or_default();

        // The current state: a dictionary (draft 07) or items (08+).
        if let Some(v) = text("ratelimit") {
            let items = members(&v);
            let dictionary = items
                .iter()
                .any(|m| matches!(m.key.as_deref(), Some("limit" | "remaining" | "reset")));
            if dictionary {
                for m in &items {
                    let n = m.value.as_deref();
                    match m.key.as_deref() {
                        Some("limit") => out.limit = n.and_then(count).or(out.limit),
                        Some("remaining") => out.remaining = n.and_then(count).or(out.remaining),
                        Some("reset") => out.reset = n.and_then(seconds).or(out.reset),
                        _ => {}
                    }
                }
            } else {
                // Several policies: the one with the least left binds.
                let binding = items
                    .iter()
                    .filter(|m| m.param("r").and_then(count).is_some())
                    .min_by_key(|m| m.param("r").and_then(count));
                if let Some(m) = binding {
                    out.remaining = m.param("r").and_then(count);
                    out.reset = m.param("t").and_then(seconds).or(out.reset);
                    out.policy = m.name.clone();
                }
            }
        }
        let policy = policies
            .iter()
            .find(|p| p.name.is_some() && p.name == out.policy)
            .or_else(|| policies.first());
        if let Some(p) = policy {
            let quota = p
                .param("q")
                .and_then(count)
                .or_else(|| p.value.as_deref().and_then(count));
            out.limit = out.limit.or(quota);
            out.window = out.window.or_else(|| p.param("w").and_then(seconds));
            if out.policy.is_none() {
                out.policy = p.name.clone();
            }
        }
        out.source = text("docker-ratelimit-source").map(|s| clean(&s, 256));

        let said_something = out.limit.is_some()
            || out.remaining.is_some()
            || out.window.is_some()
            || out.reset.is_some();
        said_something.then_some(out)
    }

    /// Whether the registry said nothing is left (`remaining` is 0): the
    /// next request would be refused.
    pub fn is_exhausted(&self) -> bool {
        self.remaining == Some(0)
    }

    /// How long to hold requests back once the quota is used up: until the
    /// reset when the registry gave one, else the time one request's worth
    /// of quota takes to return (window / limit), else the window. `None`
    /// when there is quota left or nothing to go by.
    pub fn pause(&self) -> Option<Duration> {
        if !self.is_exhausted() {
            return None;
        }
        if let Some(reset) = self.reset {
            return Some(reset);
        }
        let window = self.window?;
        match self.limit.filter(|l| *l > 0) {
            Some(limit) => Some(window / u32::try_from(limit).unwrap_or(u32::MAX)),
            None => Some(window),
        }
    }
}

/// One list or dictionary member: `key=value;p=1` / `"name";p=1` / `100;w=60`.
#[derive(Debug, Default)]
struct Member {
    /// The dictionary key, when the member was `key=value`.
    key: Option<String>,
    /// The value as text (a bare item or the dictionary value), unquoted.
    value: Option<String>,
    /// The member's name, when its value was a string or a token (08+).
    name: Option<String>,
    params: Vec<(String, String)>,
}

impl Member {
    fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

/// Splits a header value into members (at most [`MAX_MEMBERS`]): commas
/// between members, semicolons before parameters, quotes respected. A
/// lenient reading of RFC 8941 lists and dictionaries.
fn members(value: &str) -> Vec<Member> {
    split_outside_quotes(value, ',')
        .into_iter()
        .take(MAX_MEMBERS)
        .filter_map(|raw| {
            let mut parts = split_outside_quotes(raw, ';').into_iter();
            let head = parts.next()?.trim();
            if head.is_empty() {
                return None;
            }
            let mut m = Member::default();
            let bare = match head.split_once('=') {
                Some((k, v)) if !k.trim_start().starts_with('"') => {
                    m.key = Some(k.trim().to_ascii_lowercase());
                    v.trim()
                }
                _ => head,
            };
            let unquoted = unquote(bare);
            let is_number = unquoted.bytes().all(|b| b.is_ascii_digit() || b == b'-');
            if m.key.is_none() && !is_number {
                m.name = Some(clean(&unquoted, 64));
            }
            m.value = Some(unquoted);
            for p in parts {
                if let Some((k, v)) = p.split_once('=') {
                    m.params
                        .push((k.trim().to_ascii_lowercase(), unquote(v.trim())));
                }
            }
            Some(m)
        })
        .collect()
}

/// Splits at `sep` where it is not inside a quoted string.
fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// A quoted string's content, or the text as it is.
fn unquote(s: &str) -> String {
    match s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => s.to_owned(),
    }
}

/// Text from the server, safe to print: control characters replaced, at
/// most `max` bytes.
pub(crate) fn clean(s: &str, max: usize) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    out.trim().to_owned()
}

/// A non-negative integer, clamped to [`MAX_COUNT`]; `None` for anything
/// else (negative, fractional, empty, letters).
fn count(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // All digits: only too many of them can fail, and those are clamped.
    Some(s.parse::<u64>().unwrap_or(u64::MAX).min(MAX_COUNT))
}

/// A number of seconds, clamped to [`MAX_SECONDS`].
fn seconds(s: &str) -> Option<Duration> {
    count(s).map(|n| Duration::from_secs(n.min(MAX_SECONDS)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn parse(pairs: &[(&'static str, &str)]) -> Option<RateLimit> {
        RateLimit::from_headers(&headers(pairs))
    }

    #[test]
    fn docker_hub() {
        let r = parse(&[
            ("ratelimit-limit", "100;w=21600"),
            ("ratelimit-remaining", "76;w=21600"),
            ("docker-ratelimit-source", "192.0.2.1"),
        ])
        .unwrap();
        assert_eq!(r.limit, Some(100));
        assert_eq!(r.remaining, Some(76));
        assert_eq!(r.window, Some(Duration::from_secs(21600)));
        assert_eq!(r.reset, None);
        assert_eq!(r.source.as_deref(), Some("192.0.2.1"));
        assert_eq!(r.pause(), None);

        let r = parse(&[
            ("ratelimit-limit", "100;w=21600"),
            ("ratelimit-remaining", "0;w=21600"),
        ])
        .unwrap();
        assert!(r.is_exhausted());
        assert_eq!(
            r.pause(),
            Some(Duration::from_secs(216)),
            "one pull's worth"
        );
    }

    #[test]
    fn early_drafts_with_separate_fields() {
        let r = parse(&[
            ("ratelimit-limit", "10"),
            ("ratelimit-remaining", "0"),
            ("ratelimit-reset", "7"),
        ])
        .unwrap();
        assert_eq!((r.limit, r.remaining), (Some(10), Some(0)));
        assert_eq!(r.pause(), Some(Duration::from_secs(7)));
        // draft 03: the current limit first, then the policies.
        let r = parse(&[("ratelimit-limit", "10, 10;w=1, 1000;w=3600")]).unwrap();
        assert_eq!(r.limit, Some(10));
    }

    #[test]
    fn draft_07_dictionary() {
        let r = parse(&[
            ("ratelimit", "limit=100, remaining=50, reset=30"),
            ("ratelimit-policy", "100;w=60"),
        ])
        .unwrap();
        assert_eq!(r.limit, Some(100));
        assert_eq!(r.remaining, Some(50));
        assert_eq!(r.reset, Some(Duration::from_secs(30)));
        assert_eq!(r.window, Some(Duration::from_secs(60)));
    }

    #[test]
    fn draft_08_structured_fields() {
        let r = parse(&[
            (
                "ratelimit-policy",
                r#""burst";q=100;w=60, "daily";q=1000;w=86400"#,
            ),
            ("ratelimit", r#""daily";r=900;t=4000, "burst";r=0;t=12"#),
        ])
        .unwrap();
        assert_eq!(r.policy.as_deref(), Some("burst"), "the binding policy");
        assert_eq!(r.remaining, Some(0));
        assert_eq!(r.reset, Some(Duration::from_secs(12)));
        assert_eq!(r.limit, Some(100));
        assert_eq!(r.window, Some(Duration::from_secs(60)));
        assert_eq!(r.pause(), Some(Duration::from_secs(12)));
        // A token instead of a string, and the policy alone.
        let r = parse(&[("ratelimit-policy", "default;q=5;w=1")]).unwrap();
        assert_eq!((r.limit, r.remaining), (Some(5), None));
        assert_eq!(r.policy.as_deref(), Some("default"));
    }

    #[test]
    fn nothing_said_is_none() {
        assert_eq!(parse(&[]), None);
        assert_eq!(parse(&[("ratelimit-limit", "lots")]), None);
        assert_eq!(parse(&[("ratelimit", "")]), None);
    }

    #[test]
    fn hostile_numbers_are_clamped_or_ignored() {
        let max = u64::MAX.to_string();
        let r = parse(&[
            ("ratelimit-limit", &format!("{max};w={max}")),
            ("ratelimit-remaining", &format!("{max}{max}")),
            ("ratelimit-reset", "99999999999999999999999999999"),
        ])
        .unwrap();
        assert_eq!(r.limit, Some(MAX_COUNT));
        assert_eq!(r.remaining, Some(MAX_COUNT));
        assert_eq!(r.window, Some(Duration::from_secs(MAX_SECONDS)));
        assert_eq!(r.reset, Some(Duration::from_secs(MAX_SECONDS)));

        for bad in ["-1", "-0", "1.5", "0x10", "+3", " ", "１２", "1e9", "NaN"] {
            let r = parse(&[
                ("ratelimit-remaining", bad),
                ("ratelimit-limit", &format!("5;w={bad}")),
            ]);
            // (Non-ASCII values are not read at all.)
            let r = r.unwrap_or_default();
            assert_eq!(r.remaining, None, "{bad:?}");
            assert_eq!(r.window, None, "{bad:?}");
        }
        // Exhausted with a limit of 0 or a window of 0: no division by zero.
        let r = parse(&[("ratelimit-limit", "0;w=60"), ("ratelimit-remaining", "0")]).unwrap();
        assert_eq!(r.pause(), Some(Duration::from_secs(60)));
        let r = parse(&[("ratelimit-limit", "5;w=0"), ("ratelimit-remaining", "0")]).unwrap();
        assert_eq!(r.pause(), Some(Duration::ZERO));
    }

    #[test]
    fn hostile_text_is_bounded_and_printable() {
        let long = format!("{}\t[31m", "x".repeat(10_000));
        let r = parse(&[
            ("ratelimit-remaining", "3"),
            ("docker-ratelimit-source", &long),
        ])
        .unwrap();
        let source = r.source.unwrap();
        assert!(source.len() <= 256);
        assert!(!source.chars().any(char::is_control), "{source:?}");
        // A C1 control (CSI) in the raw bytes: not text, not kept.
        let mut h = headers(&[("ratelimit-remaining", "3")]);
        h.insert(
            "docker-ratelimit-source",
            HeaderValue::from_bytes("\u{9b}31m".as_bytes()).unwrap(),
        );
        assert_eq!(RateLimit::from_headers(&h).unwrap().source, None);
        // Unbalanced quotes and many members do not hurt.
        let many = vec![r#""a";r=1"#; 10_000].join(", ");
        let r = parse(&[("ratelimit", &many), ("ratelimit-policy", "\"open;q=1")]).unwrap();
        assert_eq!(r.remaining, Some(1));
    }
}
