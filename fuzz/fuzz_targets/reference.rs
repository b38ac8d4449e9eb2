//! The validated value types: `Reference`, `RepositoryName`, `Tag`,
//! `TagOrDigest`, `Digest`, registry hosts, platforms and RFC 3339
//! timestamps. Nothing may panic; whatever parses must print back to
//! something that parses to an equal value.
#![no_main]

use std::str::FromStr;

use dockreg::models::{parse_rfc3339, Platform};
use dockreg::reference::parse_registry_host;
use dockreg::{Digest, Reference, RepositoryName, Tag, TagOrDigest};
use libfuzzer_sys::fuzz_target;

/// `FromStr` and `TryFrom<String>` agree, and `Display` re-parses equal.
fn round_trip<T>(s: &str) -> Option<T>
where
    T: FromStr + TryFrom<String> + std::fmt::Display + std::fmt::Debug + PartialEq,
    <T as TryFrom<String>>::Error: std::fmt::Debug,
{
    let parsed = T::from_str(s).ok();
    let owned = T::try_from(s.to_owned()).ok();
    assert_eq!(
        parsed, owned,
        "FromStr and TryFrom<String> disagree on {s:?}"
    );
    if let Some(v) = &parsed {
        let shown = v.to_string();
        let again = T::from_str(&shown).ok();
        assert_eq!(again.as_ref(), Some(v), "{s:?} printed as {shown:?}");
    }
    parsed
}

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let s = s.as_ref();

    if let Some(name) = round_trip::<RepositoryName>(s) {
        assert_eq!(name.as_str(), s);
        assert!(name.as_str().len() <= 255);
        assert!(name.components().all(|c| !c.is_empty()));
    }
    if let Some(tag) = round_trip::<Tag>(s) {
        assert_eq!(tag.as_str(), s);
        assert!((1..=128).contains(&tag.as_str().len()));
        assert!(!tag.as_str().contains(':'));
    }
    if let Some(d) = round_trip::<Digest>(s) {
        assert_eq!(d.as_str(), s);
        assert_eq!(d.hex().len(), d.algorithm().hex_len());
        assert_eq!(Digest::new(d.algorithm(), d.hex()).ok().as_ref(), Some(&d));
    }
    if let Some(t) = round_trip::<TagOrDigest>(s) {
        assert_eq!(t.as_str(), s);
        assert!(t.as_tag().is_some() != t.as_digest().is_some());
    }

    if let Ok(r) = Reference::from_str(s) {
        let shown = r.to_string();
        let again: Reference = shown
            .parse()
            .unwrap_or_else(|e| panic!("{s:?} printed as {shown:?}, which fails: {e}"));
        assert_eq!(again, r, "{s:?} printed as {shown:?}");
        assert_eq!(again.to_string(), shown);
        // The parts are valid values of their own types.
        assert_eq!(
            r.repository()
                .as_str()
                .parse::<RepositoryName>()
                .ok()
                .as_ref(),
            Some(r.repository())
        );
        if let Some(t) = r.tag() {
            assert_eq!(t.as_str().parse::<Tag>().ok().as_ref(), Some(t));
        }
        if let Some(d) = r.digest() {
            assert_eq!(d.as_str().parse::<Digest>().ok().as_ref(), Some(d));
        }
        assert!(!r.registry_host().is_empty());
        assert!(
            parse_registry_host(r.registry()).is_ok(),
            "{s:?}: registry {:?}",
            r.registry()
        );
        // Rebuilding from the parts gives the same reference.
        let rebuilt = Reference::new(
            r.registry(),
            r.repository().clone(),
            r.tag().cloned(),
            r.digest().cloned(),
        )
        .unwrap_or_else(|e| panic!("{s:?}: Reference::new from its parts fails: {e}"));
        assert_eq!(rebuilt, r);
        let target = r.target();
        match (r.digest(), r.tag()) {
            (Some(d), _) => assert_eq!(target.as_digest(), Some(d)),
            (None, Some(t)) => assert_eq!(target.as_tag(), Some(t)),
            (None, None) => assert_eq!(target.as_str(), "latest"),
        }
        let json = serde_json::to_string(&r).expect("a reference serializes");
        let back: Reference = serde_json::from_str(&json).expect("and deserializes");
        assert_eq!(back, r);
    }

    if let Ok(host) = parse_registry_host(s) {
        assert_eq!(host, s);
    }

    if let Ok(p) = Platform::from_str(s) {
        let shown = p.to_string();
        assert_eq!(Platform::from_str(&shown).ok().as_ref(), Some(&p));
    }

    if let Some(t) = parse_rfc3339(s) {
        // The same instant with the other spellings of UTC.
        if let Some(base) = s.strip_suffix(['Z', 'z']) {
            assert_eq!(parse_rfc3339(&format!("{base}+00:00")), Some(t), "{s:?}");
            assert_eq!(parse_rfc3339(&format!("{base}-00:00")), Some(t), "{s:?}");
        }
    }
});
