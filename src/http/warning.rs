//! OCI `Warning` headers: `Warning: 299 - "Your token expires soon."`.
//!
//! The distribution spec lets a registry attach informational warnings to
//! any response, always with code 299 and agent `-`, and asks clients to
//! show them to the user. dockreg hands each distinct warning once to the
//! callback of [`ClientBuilder::on_warning`](crate::ClientBuilder::on_warning)
//! and keeps it for [`Client::warnings`](crate::Client::warnings).

use std::fmt;
use std::sync::{Arc, Mutex};

use reqwest::header::{HeaderMap, WARNING};

use super::ratelimit::clean;

/// Bytes of `Warning` headers read per response (the spec caps what a
/// registry may send at 4096).
const MAX_HEADER_BYTES: usize = 4096;
/// The longest warning text kept, in bytes.
const MAX_TEXT: usize = 1024;
/// Distinct warnings one client remembers; later new ones are dropped.
const MAX_DISTINCT: usize = 64;

/// The texts of the `299` warnings of a response, unquoted, with control
/// characters replaced, each at most [`MAX_TEXT`] bytes.
pub(crate) fn warnings_of(headers: &HeaderMap) -> Vec<String> {
    let mut out = Vec::new();
    let mut budget = MAX_HEADER_BYTES;
    for value in headers.get_all(WARNING) {
        let bytes = value.as_bytes();
        let Some(left) = budget.checked_sub(bytes.len()) else {
            break;
        };
        budget = left;
        let text = String::from_utf8_lossy(bytes);
        let mut rest = text.as_ref();
        while let Some((warning, tail)) = next_warning(rest) {
            if let Some(w) = warning.filter(|w| !w.is_empty()) {
                out.push(w);
            }
            rest = tail;
        }
    }
    out
}

/// Reads one `warn-code SP warn-agent SP warn-text [SP warn-date]` from
/// the front of `s`: `Some((text if the code is 299, rest))`, `None` at the
/// end or when nothing more parses.
fn next_warning(s: &str) -> Option<(Option<String>, &str)> {
    let s = s.trim_start_matches([' ', '\t', ',']);
    if s.is_empty() {
        return None;
    }
    let (code, s) = s.split_once(' ')?;
    let s = s.trim_start();
    let (_agent, s) = s.split_once(' ')?;
    let s = s.trim_start().strip_prefix('"')?;
    let (text, rest) = quoted(s)?;
    // An optional quoted warn-date, then the next member after a comma.
    let rest = rest.trim_start();
    let rest = match rest.strip_prefix('"') {
        Some(date) => quoted(date).map_or("", |(_, r)| r),
        None => rest,
    };
    let rest = match rest.trim_start().strip_prefix(',') {
        Some(r) => r,
        None if rest.trim().is_empty() => "",
        None => return None,
    };
    Some(((code == "299").then(|| clean(&text, MAX_TEXT)), rest))
}

/// The content of a quoted string whose opening quote is already gone, and
/// what follows its closing quote.
fn quoted(s: &str) -> Option<(String, &str)> {
    let mut text = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((text, &s[i + 1..])),
            '\\' => text.push(chars.next()?.1),
            c => text.push(c),
        }
        if text.len() > MAX_HEADER_BYTES {
            return None;
        }
    }
    None
}

/// A callback for warnings.
pub(crate) type WarningCallback = Arc<dyn Fn(&str) + Send + Sync>;

/// The warnings one client has seen, and who to tell about new ones.
#[derive(Clone, Default)]
pub(crate) struct Warnings {
    seen: Arc<Mutex<Vec<String>>>,
    callback: Option<WarningCallback>,
}

impl fmt::Debug for Warnings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Warnings")
            .field("seen", &self.seen().len())
            .field("callback", &self.callback.is_some())
            .finish()
    }
}

impl Warnings {
    /// Warnings that go to `callback` (once each) as well as to the list.
    pub(crate) fn with_callback(callback: WarningCallback) -> Warnings {
        Warnings {
            seen: Arc::default(),
            callback: Some(callback),
        }
    }

    /// Takes note of a response's warnings: each one not seen before is
    /// kept and handed to the callback.
    pub(crate) fn observe(&self, headers: &HeaderMap) {
        if !headers.contains_key(WARNING) {
            return;
        }
        let new: Vec<String> = {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            let mut fresh = Vec::new();
            for w in warnings_of(headers) {
                if seen.len() >= MAX_DISTINCT {
                    break;
                }
                if !seen.contains(&w) {
                    seen.push(w.clone());
                    fresh.push(w);
                }
            }
            fresh
        };
        if let Some(callback) = &self.callback {
            for w in &new {
                callback(w);
            }
        }
    }

    /// The distinct warnings seen so far, in order.
    pub(crate) fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(WARNING, HeaderValue::from_bytes(v.as_bytes()).unwrap());
        }
        h
    }

    #[test]
    fn reads_oci_warnings() {
        let h = headers(&[
            r#"299 - "Your auth token will expire in 30 seconds.""#,
            r#"299 - "This registry will be read-only tonight.", 299 - "a \"quoted\" word""#,
            r#"199 proxy "not from the registry""#,
            r#"299 - "with a date" "Sun, 06 Nov 1994 08:49:37 GMT""#,
        ]);
        assert_eq!(
            warnings_of(&h),
            [
                "Your auth token will expire in 30 seconds.",
                "This registry will be read-only tonight.",
                "a \"quoted\" word",
                "with a date",
            ]
        );
    }

    #[test]
    fn hostile_warnings_are_bounded_and_printable() {
        let h = headers(&[
            "299 - \"\u{9b}31mred\\\u{9b}0m\"",
            "garbage",
            "299 - \"unterminated",
            "299 -",
            "",
        ]);
        let w = warnings_of(&h);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w.iter().all(|w| !w.chars().any(char::is_control)), "{w:?}");

        let long = format!("299 - \"{}\"", "x".repeat(3000));
        let w = warnings_of(&headers(&[&long]));
        assert_eq!(w.len(), 1);
        assert!(w[0].len() <= MAX_TEXT);

        // Past 4096 bytes of Warning headers, the rest is not read.
        let one = format!("299 - \"{}\"", "y".repeat(1000));
        let many: Vec<&str> = vec![&one; 50];
        assert!(warnings_of(&headers(&many)).len() <= 4);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 512,
            failure_persistence: None,
            ..proptest::prelude::ProptestConfig::default()
        })]

        /// Whatever the headers hold: no panic, bounded, printable.
        #[test]
        fn any_warning_header_is_bounded_and_printable(
            values in proptest::collection::vec(
                proptest::prop_oneof![
                    "[\t -~\u{80}-\u{3000}]{0,200}",
                    "(299|199|2[0-9]{2}) [-a-z]{1,4} \"([^\"\\\\]|\\\\.){0,60}\"( \"[A-Za-z0-9 ,:]{0,30}\")?(, ?)?",
                ],
                0..12,
            )
        ) {
            let mut h = HeaderMap::new();
            for v in &values {
                if let Ok(v) = HeaderValue::from_bytes(v.as_bytes()) {
                    h.append(WARNING, v);
                }
            }
            let got = warnings_of(&h);
            proptest::prop_assert!(got.len() <= MAX_HEADER_BYTES / 8);
            for w in &got {
                proptest::prop_assert!(w.len() <= MAX_TEXT);
                proptest::prop_assert!(!w.is_empty());
                proptest::prop_assert!(!w.chars().any(char::is_control), "{:?}", w);
            }
        }
    }

    #[test]
    fn each_warning_reaches_the_callback_once() {
        let got = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = got.clone();
        let warnings = Warnings::with_callback(Arc::new(move |w: &str| {
            sink.lock().unwrap().push(w.to_owned())
        }));
        let h = headers(&[r#"299 - "one", 299 - "two", 299 - "one""#]);
        warnings.observe(&h);
        warnings.observe(&h);
        warnings.observe(&headers(&[r#"299 - "three""#]));
        assert_eq!(*got.lock().unwrap(), ["one", "two", "three"]);
        assert_eq!(warnings.seen(), ["one", "two", "three"]);

        // A registry with endless new warnings fills a bounded list.
        for i in 0..1000 {
            warnings.observe(&headers(&[&format!("299 - \"w{i}\"")]));
        }
        assert_eq!(warnings.seen().len(), MAX_DISTINCT);
        assert_eq!(got.lock().unwrap().len(), MAX_DISTINCT);
    }
}
