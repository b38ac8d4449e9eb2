//! The numbers a server sends: each line of the input becomes the value of
//! `Retry-After`, `Content-Length`, `Range` (an upload status),
//! `Content-Range` (a resumed download) and `OCI-Chunk-Min-Length` (those
//! lines `HeaderValue` accepts). Nothing may panic or overflow, and what is
//! accepted stays within its caps.
#![no_main]

use std::time::{Duration, Instant};

use dockreg::api::DEFAULT_CHUNK_SIZE;
use dockreg::http::numbers::{
    check_resumed_range, chunk_min_length, chunk_size, content_length, content_range,
    retry_after, upload_offset,
};
use dockreg::http::RetryConfig;
use http::header::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

const CHUNK_CAP: u64 = 256 << 20;

fn headers(name: &'static str, value: &HeaderValue) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(name, value.clone());
    h
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fuzz_target!(|data: &[u8]| {
    let configs = [
        RetryConfig::default(),
        RetryConfig::new(3, Duration::ZERO, Duration::ZERO, Duration::ZERO),
        RetryConfig::new(9, Duration::MAX, Duration::MAX, Duration::from_secs(1)),
    ];
    let started = Instant::now();
    for line in data.split(|&b| b == b'\n') {
        let Ok(value) = HeaderValue::from_bytes(line) else {
            continue;
        };
        let text = value.to_str().unwrap_or("").trim().to_owned();

        let hint = retry_after(&headers("retry-after", &value));
        for (i, c) in configs.iter().enumerate() {
            let delay = c.delay(i as u32 + 1, hint);
            assert!(delay <= c.budget.max(c.max_backoff), "{text:?}: {delay:?}");
            if c.fits_budget(started, delay) {
                assert!(delay <= c.budget);
            }
        }

        if let Some(n) = content_length(&headers("content-length", &value)) {
            assert!(digits(&text) && text.parse() == Ok(n), "{text:?} -> {n}");
        }

        if let Ok(n) = upload_offset(&headers("range", &value)) {
            let range = text.strip_prefix("bytes=").unwrap_or(&text);
            let (first, last) = range.split_once('-').expect("a range");
            assert_eq!(first.trim(), "0");
            let last: u64 = last.trim().parse().expect("digits");
            assert_eq!(n, if last == 0 { 0 } else { last + 1 });
        }

        let cr = headers("content-range", &value);
        if let Ok(r) = content_range(&cr) {
            assert!(r.start <= r.end && r.total.is_none_or(|t| r.end < t), "{r:?}");
            for offset in [0, 1, r.start, u64::MAX] {
                for total in [None, Some(10), Some(r.end.saturating_add(1)), Some(u64::MAX)] {
                    if let Ok(ok) = check_resumed_range(&cr, offset, total) {
                        assert_eq!(ok.start, offset);
                        assert!(total.is_none_or(|t| ok.end < t));
                    }
                }
            }
        }

        let demanded = chunk_min_length(&headers("oci-chunk-min-length", &value));
        match chunk_size(DEFAULT_CHUNK_SIZE, demanded, CHUNK_CAP) {
            Ok(size) => assert!(size as u64 <= CHUNK_CAP.max(DEFAULT_CHUNK_SIZE as u64)),
            Err(d) => assert!(Some(d) == demanded && d > CHUNK_CAP),
        }
    }
});
