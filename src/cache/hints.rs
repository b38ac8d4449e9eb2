//! Tag hints: per registry and repository, the digest each tag had at the
//! last report, in `DIR/tags/KEY` (`KEY` the SHA-256 of the registry's base
//! URL and the repository name).
//!
//! A hint only decides how a tag is asked for: with a `HEAD` when its
//! manifest is likely cached, else with a `GET` as without a cache. The
//! digest used is always the registry's answer, so a stale, corrupt or
//! forged hint costs at most a request, never a wrong byte.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::digest::Digest;

/// The first line of a hint file.
const HEADER: &str = "dockreg-tags 1";
/// Largest hint file read (about 80,000 tags); a larger one is ignored.
pub(crate) const MAX_HINTS_BYTES: u64 = 16 << 20;

/// The hints of one repository for one report, and what the report saw.
#[derive(Debug, Default)]
pub(crate) struct Hints {
    /// The file's name in `tags/`; `None` without a cache.
    pub(crate) key: Option<String>,
    /// Tags whose hinted manifest is in the cache.
    pub(crate) cached: HashMap<String, Digest>,
    /// Every hint the file held (cached or not).
    pub(crate) known: HashMap<String, Digest>,
    /// What this report found: tag -> digest.
    seen: Mutex<HashMap<String, Digest>>,
}

impl Hints {
    /// Hints read from `text` (unparsable lines skipped; a file without the
    /// header gives none).
    pub(crate) fn parse(key: String, text: &[u8]) -> Hints {
        let mut known = HashMap::new();
        let text = String::from_utf8_lossy(text);
        let mut lines = text.lines();
        if lines.next() == Some(HEADER) {
            for line in lines {
                let Some((tag, digest)) = line.split_once(' ') else {
                    continue;
                };
                let (Ok(_), Ok(digest)) = (tag.parse::<crate::Tag>(), digest.parse::<Digest>())
                else {
                    continue;
                };
                known.insert(tag.to_owned(), digest);
            }
        }
        Hints {
            key: Some(key),
            known,
            ..Hints::default()
        }
    }

    /// Whether `tag`'s manifest is likely cached: worth a `HEAD` first.
    pub(crate) fn likely_cached(&self, tag: &str) -> bool {
        self.cached.contains_key(tag)
    }

    /// Notes the digest `tag` has now.
    pub(crate) fn record(&self, tag: &str, digest: &Digest) {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tag.to_owned(), digest.clone());
    }

    /// The file to write when what was seen differs from what was known:
    /// every tag seen, sorted.
    pub(crate) fn to_write(&self) -> Option<Vec<u8>> {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if *seen == self.known {
            return None;
        }
        let mut rows: Vec<(&String, &Digest)> = seen.iter().collect();
        rows.sort();
        let mut text = String::with_capacity(16 + rows.len() * 96);
        text.push_str(HEADER);
        text.push('\n');
        for (tag, digest) in rows {
            text.push_str(tag);
            text.push(' ');
            text.push_str(digest.as_str());
            text.push('\n');
        }
        Some(text.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_hint_files_give_no_hints_for_bad_lines() {
        let d = Digest::sha256(b"m");
        let text = format!(
            "{HEADER}\nv1 {d}\n../x {d}\nv2 sha256:zz\nv3\n{}\nv4  {d}\n",
            "y".repeat(300)
        );
        let h = Hints::parse("k".into(), text.as_bytes());
        assert_eq!(h.known.len(), 1, "{:?}", h.known);
        assert_eq!(h.known["v1"], d);
        assert!(Hints::parse("k".into(), format!("v1 {d}\n").as_bytes())
            .known
            .is_empty());
        assert!(Hints::parse("k".into(), &[0xff, 0xfe, b'\n'])
            .known
            .is_empty());
    }

    #[test]
    fn unchanged_hints_are_not_written_again() {
        let d = Digest::sha256(b"m");
        let mut h = Hints::parse("k".into(), format!("{HEADER}\nv1 {d}\n").as_bytes());
        h.cached = h.known.clone();
        h.record("v1", &d);
        assert!(h.to_write().is_none());
        h.record("v2", &d);
        let text = String::from_utf8(h.to_write().unwrap()).unwrap();
        assert_eq!(text, format!("{HEADER}\nv1 {d}\nv2 {d}\n"));
    }
}
