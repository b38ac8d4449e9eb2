//! The registry's error body (`{"errors":[...]}`), and the catalog and tag
//! list bodies. Nothing may panic; an envelope serializes and reads back with
//! the same codes and messages.
#![no_main]

use dockreg::models::{Catalog, ErrorCode, ErrorEnvelope, TagList};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = serde_json::from_slice::<ErrorEnvelope>(data) {
        for e in &env.errors {
            assert_eq!(ErrorCode::from_code(e.code.as_str()), e.code);
            assert_eq!(e.code.to_string(), e.code.as_str());
        }
        let json = serde_json::to_vec(&env).expect("an envelope serializes");
        let back: ErrorEnvelope = serde_json::from_slice(&json).expect("and reads back");
        assert_eq!(back.errors.len(), env.errors.len());
        for (a, b) in back.errors.iter().zip(&env.errors) {
            assert_eq!(a.code, b.code);
            assert_eq!(a.message, b.message);
            assert_eq!(a.detail.is_some(), b.detail.is_some());
        }
    }
    let _ = serde_json::from_slice::<Catalog>(data);
    let _ = serde_json::from_slice::<TagList>(data);
});
