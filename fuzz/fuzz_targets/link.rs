//! `next_link`: the input, split at line feeds, becomes the `Link` header
//! values (those that are valid header values). Nothing may panic, and a
//! returned URL is always on the origin of the request.
#![no_main]

use dockreg::http::next_link;
use http::header::{HeaderMap, HeaderValue, LINK};
use libfuzzer_sys::fuzz_target;
use url::Url;

const BASES: &[&str] = &[
    "http://127.0.0.1:5000/v2/_catalog?n=2",
    "https://registry.example.com/v2/team/app/tags/list?n=100&last=v1",
    "http://[::1]:5000/v2/a/b/tags/list",
];

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    for line in data.split(|&b| b == b'\n') {
        if let Ok(v) = HeaderValue::from_bytes(line) {
            headers.append(LINK, v);
        }
    }
    if headers.is_empty() {
        return;
    }
    for base in BASES {
        let base = Url::parse(base).expect("valid base");
        if let Ok(Some(next)) = next_link(&headers, &base) {
            assert_eq!(
                next.origin(),
                base.origin(),
                "{next} is not on {base}'s origin"
            );
            assert_eq!(next.scheme(), base.scheme());
            assert_eq!(next.host_str(), base.host_str());
            assert_eq!(next.port_or_known_default(), base.port_or_known_default());
        }
    }
});
