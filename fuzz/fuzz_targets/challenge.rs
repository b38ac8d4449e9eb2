//! `WWW-Authenticate` parsing (`parse_challenges`) and token scopes
//! (`Scope::parse`, `Scope::parse_list`, `Scope::merge`). Nothing may panic;
//! every challenge prints back to a value that parses to that challenge
//! alone, and every scope prints back to itself.
#![no_main]

use dockreg::auth::{parse_challenges, Scope};
use libfuzzer_sys::fuzz_target;

fn check_scopes(list: &str) {
    let scopes = Scope::parse_list(list);
    for scope in &scopes {
        let shown = scope.to_string();
        assert_eq!(
            Scope::parse(&shown).as_ref(),
            Some(scope),
            "scope {scope:?} printed as {shown:?}"
        );
    }
    let merged = Scope::merge(scopes.iter().cloned());
    assert_eq!(
        Scope::merge(merged.iter().cloned()),
        merged,
        "merge is not idempotent"
    );
    let mut reversed = scopes.clone();
    reversed.reverse();
    assert_eq!(Scope::merge(reversed), merged, "merge depends on order");
    assert!(
        merged.windows(2).all(|w| w[0] < w[1]),
        "merge result not sorted/unique"
    );
}

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let s = s.as_ref();

    for c in parse_challenges(s) {
        assert!(!c.scheme().is_empty());
        assert!(c.token68().is_none() || c.params().is_empty());
        for (k, _) in c.params() {
            assert!(!k.is_empty());
            assert_eq!(*k, k.to_ascii_lowercase());
            assert!(c.param(&k.to_ascii_uppercase()).is_some());
        }
        let _ = (
            c.is_bearer(),
            c.is_basic(),
            c.realm(),
            c.service(),
            c.error(),
        );
        let shown = c.to_string();
        let again = parse_challenges(&shown);
        assert_eq!(again, [c.clone()], "{s:?}: {c:?} printed as {shown:?}");
        if let Some(scope) = c.scope() {
            check_scopes(scope);
        }
    }

    let _ = Scope::parse(s);
    check_scopes(s);
});
