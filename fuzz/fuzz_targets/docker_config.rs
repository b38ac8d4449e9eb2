//! `DockerConfig::from_json`, then the credential lookup for a few
//! registries when the config names no credential helper (a helper would be
//! a process to run). Input: `REGISTRY\0JSON` tries REGISTRY as well; without
//! a NUL byte the whole input is the JSON.
#![no_main]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use dockreg::auth::DockerConfig;
use libfuzzer_sys::fuzz_target;

const REGISTRIES: &[&str] = &[
    "docker.io",
    "registry-1.docker.io",
    "127.0.0.1:5000",
    "localhost:5000",
    "registry.example.com",
];

/// Polls a future that must not wait on anything (no helper runs).
fn now<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("credential lookup without a helper did not finish at once"),
    }
}

fuzz_target!(|data: &[u8]| {
    let (extra, json) = match data.iter().position(|&b| b == 0) {
        Some(i) => (Some(String::from_utf8_lossy(&data[..i])), &data[i + 1..]),
        None => (None, data),
    };
    let Ok(config) = DockerConfig::from_json(json) else {
        return;
    };
    assert!(config.path().is_none());
    // Debug lists the helpers last; only a config without any is queried.
    let shown = format!("{config:?}");
    if !shown.ends_with(", creds_store: None, cred_helpers: {}, .. }") {
        return;
    }
    for registry in REGISTRIES.iter().copied().chain(extra.as_deref()) {
        let _ = now(config.credential_for(registry));
    }
});
