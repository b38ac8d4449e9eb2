//! A registry that sheds load: a proxy in front of the real registry answers
//! every second request with 503, with 429 and `Retry-After: 1`, or with a
//! 502 HTML page. The report of 300 tags must complete at the default
//! concurrency with the same lines as without faults: a shed answer is about
//! the host, so the client backs off host-wide (the gate) instead of letting
//! each request burn its own retries while the others keep hammering.
//!
//! The tests assert what the report says, never how long it took.
//!
//! Also here, against a mock registry: the rate-limit headers (read with a
//! `HEAD`, respected before the quota runs out, hostile numbers clamped) and
//! the OCI `Warning` headers (to the caller once each, and on the examples'
//! stderr).

use crate::fault_proxy as faults;
use crate::mock;
use crate::registry;

use registry::example;

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dockreg::http::{RateLimit, RetryConfig, MAX_COUNT, MAX_SECONDS};
use dockreg::models::Platform;
use dockreg::{Client, RepositoryName};
use faults::{Fault, FaultProxy, Rule};
use futures::TryStreamExt;
use proptest::prelude::*;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::StatusCode;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Tags in the report, as in the issue.
const TAGS: usize = 300;

/// Long enough for a slow machine; a hang fails instead of blocking.
const PATIENCE: Duration = Duration::from_secs(300);

fn name(s: &str) -> RepositoryName {
    s.parse().unwrap()
}

/// The repository of the report, seeded once per test binary.
fn report_repo(reg: &registry::Registry) -> RepositoryName {
    name(&reg.seed_report_repo("shedding/app", TAGS).repo)
}

/// Every second request the proxy sees gets `fault`, the others pass: one
/// `Pass` and one `fault` rule of one use each, alternating, for more
/// requests than any test sends.
fn every_second_request(proxy: &FaultProxy, fault: Fault) {
    proxy.clear();
    proxy.reset_log();
    for _ in 0..20 * TAGS {
        proxy.push(Rule::new(Fault::Pass).times(1));
        proxy.push(Rule::new(fault.clone()).times(1));
    }
}

/// The report as the example prints it: `TAG DIGEST CREATED`, one a line.
async fn report_lines(client: &Client, repo: &RepositoryName) -> dockreg::Result<Vec<String>> {
    let platform = Platform::new("linux", "amd64");
    let rows = tokio::time::timeout(PATIENCE, client.tag_report(repo, &platform, 16))
        .await
        .expect("the report hung")?
        .complete()?;
    Ok(rows
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r.tag,
                r.digest,
                r.created.as_deref().unwrap_or("-")
            )
        })
        .collect())
}

/// The report through the proxy without faults, then with `fault` on every
/// second request, with a client of default settings: the same lines.
async fn report_survives(fault: Fault) {
    let Some(reg) = registry::shared() else {
        return;
    };
    let repo = report_repo(reg);
    let proxy = FaultProxy::start(&reg.host).await;
    let clean = report_lines(&Client::builder(&proxy.host).build().unwrap(), &repo)
        .await
        .expect("the report without faults");
    assert_eq!(clean.len(), TAGS);

    every_second_request(&proxy, fault.clone());
    let client = Client::builder(&proxy.host).build().unwrap();
    let shed = report_lines(&client, &repo).await;
    let applied = proxy
        .requests()
        .iter()
        .filter(|r| r.fault.as_ref().is_some_and(|f| *f != Fault::Pass))
        .count();
    let shed = shed.unwrap_or_else(|e| panic!("{fault:?} on every second request: {e}"));
    assert!(applied >= TAGS, "only {applied} faults applied");
    assert_eq!(shed, clean, "{fault:?}: other lines than without faults");
}

#[tokio::test]
async fn a_report_completes_when_every_second_request_is_a_503() {
    report_survives(Fault::Status {
        code: 503,
        retry_after: None,
    })
    .await;
}

#[tokio::test]
async fn a_report_completes_when_every_second_request_is_a_429_with_retry_after() {
    report_survives(Fault::Status {
        code: 429,
        retry_after: Some("1".into()),
    })
    .await;
}

#[tokio::test]
async fn a_report_completes_when_every_second_request_is_a_502_html_page() {
    report_survives(Fault::Html { code: 502 }).await;
}

/// `report HOST/NAME` as the issue ran it, through a proxy shedding every
/// second request with a 503: exit 0 and the lines of the fault-free run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_example_completes_through_a_shedding_proxy() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let Some(report) = example("report") else {
        return;
    };
    let repo = report_repo(reg);
    let proxy = FaultProxy::start(&reg.host).await;
    let run = |proxy_host: String| {
        let report = report.clone();
        let target = format!("{proxy_host}/{repo}");
        tokio::task::spawn_blocking(move || {
            Command::new(report)
                .arg(target)
                .env("DOCKER_CONFIG", "/nonexistent")
                .env_remove("REGISTRY_USERNAME")
                .env_remove("REGISTRY_PASSWORD")
                .output()
                .expect("run the report example")
        })
    };
    let clean = run(proxy.host.clone()).await.unwrap();
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    every_second_request(
        &proxy,
        Fault::Status {
            code: 503,
            retry_after: None,
        },
    );
    let shed = tokio::time::timeout(PATIENCE, run(proxy.host.clone()))
        .await
        .expect("the report example hung")
        .unwrap();
    assert!(
        shed.status.success(),
        "exit {:?}: {}",
        shed.status,
        String::from_utf8_lossy(&shed.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&shed.stdout),
        String::from_utf8_lossy(&clean.stdout)
    );
    assert_eq!(String::from_utf8_lossy(&clean.stdout).lines().count(), TAGS);
}

// ---- rate-limit headers ------------------------------------------------------

/// Docker Hub's answer to a manifest `HEAD`, with its rate-limit headers.
fn hub_head(remaining: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header(
            "content-type",
            "application/vnd.docker.distribution.manifest.v2+json",
        )
        .insert_header("ratelimit-limit", "100;w=21600")
        .insert_header("ratelimit-remaining", remaining)
        .insert_header("docker-ratelimit-source", "192.0.2.1")
}

fn alpine() -> RepositoryName {
    name("library/alpine")
}

/// A mock registry answering `HEAD /v2/library/alpine/manifests/latest`
/// with `response`, a client for it, and what `rate_limit` read.
async fn rate_limit_of(response: ResponseTemplate) -> (MockServer, Client, Option<RateLimit>) {
    let server = mock::server().await;
    Mock::given(method("HEAD"))
        .and(path("/v2/library/alpine/manifests/latest"))
        .respond_with(response)
        .mount(&server)
        .await;
    let client = mock::client(&server);
    let limit = client
        .rate_limit(&alpine(), &"latest".parse().unwrap())
        .await
        .unwrap();
    (server, client, limit)
}

#[tokio::test]
async fn rate_limit_reads_docker_hubs_headers_with_a_head() {
    let (server, _, limit) = rate_limit_of(hub_head("76;w=21600")).await;
    let limit = limit.expect("rate-limit headers");

    assert_eq!(limit.limit, Some(100));
    assert_eq!(limit.remaining, Some(76));
    assert_eq!(limit.window, Some(Duration::from_secs(21600)));
    assert_eq!(limit.source.as_deref(), Some("192.0.2.1"));
    let sent = server.received_requests().await.unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].method.as_str(),
        "HEAD",
        "a HEAD, which Docker Hub does not count"
    );

    // A registry without the headers: nothing to say.
    let (_, _, none) = rate_limit_of(ResponseTemplate::new(200)).await;
    assert_eq!(none, None);
}

#[tokio::test]
async fn a_used_up_quota_pauses_the_host_before_the_next_request() {
    let (server, client, limit) = rate_limit_of(hub_head("0;w=21600")).await;
    assert!(limit.unwrap().is_exhausted());

    // Nothing left, no reset given: a pull's worth of the window (216 s)
    // is past the retry budget, so the next request is not sent at all.
    let err = tokio::time::timeout(PATIENCE, client.tags(&alpine()).try_collect::<Vec<_>>())
        .await
        .expect("not waited for")
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::TOO_MANY_REQUESTS), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("not sent: the registry's rate limit is used up (0 of 100 left per 21600 s)"),
        "{text}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 1, "{text}");
}

#[tokio::test]
async fn a_hostile_reset_pauses_at_most_a_day() {
    let (server, client, limit) = rate_limit_of(
        ResponseTemplate::new(200)
            .insert_header(
                "ratelimit-limit",
                "18446744073709551615;w=18446744073709551615",
            )
            .insert_header("ratelimit-remaining", "0")
            .insert_header("ratelimit-reset", "99999999999999999999999999"),
    )
    .await;
    let limit = limit.unwrap();
    assert_eq!(limit.limit, Some(MAX_COUNT));
    assert_eq!(limit.reset, Some(Duration::from_secs(MAX_SECONDS)));

    let err = client.ping().await.unwrap_err();
    let text = err.to_string();
    let wait: u64 = text
        .split("wait ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no wait in {text}"));
    assert!(wait <= 24 * 3600, "{text}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_429_answer_to_rate_limit_still_tells_the_numbers() {
    let (server, _, limit) = rate_limit_of(
        ResponseTemplate::new(429)
            .insert_header("ratelimit-limit", "100;w=21600")
            .insert_header("ratelimit-remaining", "0;w=21600"),
    )
    .await;
    let limit = limit.unwrap();
    assert_eq!((limit.limit, limit.remaining), (Some(100), Some(0)));
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "not retried"
    );
}

fn header_map(pairs: &[(&'static str, String)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.append(*k, v);
        }
    }
    h
}

/// Text a header may carry, hostile: digits, signs, separators, quotes,
/// letters, huge numbers.
fn header_text() -> BoxedStrategy<String> {
    prop_oneof![
        "[0-9;=,\" a-z.+-]{0,40}",
        "[0-9]{15,40}(;w=[0-9]{0,40})?",
        "-?[0-9]{1,5};w=-?[0-9]{1,25}",
        "(\"[a-z]{0,5}\";)?(r|t|q|w)=-?[0-9]{0,25}(, ?[a-z]+=[0-9a-z]{0,25}){0,4}",
    ]
    .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn rate_limit_headers_never_panic_and_stay_clamped(
        limit in header_text(),
        remaining in header_text(),
        reset in header_text(),
        ietf in header_text(),
        policy in header_text(),
    ) {
        let h = header_map(&[
            ("ratelimit-limit", limit),
            ("ratelimit-remaining", remaining),
            ("ratelimit-reset", reset),
            ("ratelimit", ietf),
            ("ratelimit-policy", policy),
        ]);
        if let Some(r) = RateLimit::from_headers(&h) {
            prop_assert!(r.limit.is_none_or(|n| n <= MAX_COUNT));
            prop_assert!(r.remaining.is_none_or(|n| n <= MAX_COUNT));
            let max = Duration::from_secs(MAX_SECONDS);
            prop_assert!(r.window.is_none_or(|d| d <= max));
            prop_assert!(r.reset.is_none_or(|d| d <= max));
            prop_assert!(r.pause().is_none_or(|d| d <= max));
            prop_assert_eq!(r.pause().is_some(), r.is_exhausted() && (r.reset.is_some() || r.window.is_some()));
        }
    }

    #[test]
    fn remaining_is_the_number_sent_clamped(n in any::<u64>(), w in any::<u64>(), negative in any::<bool>()) {
        let sign = if negative { "-" } else { "" };
        let h = header_map(&[("ratelimit-remaining", format!("{sign}{n};w={w}"))]);
        let r = RateLimit::from_headers(&h);
        if negative {
            prop_assert_eq!(r.and_then(|r| r.remaining), None);
        } else {
            let r = r.unwrap();
            prop_assert_eq!(r.remaining, Some(n.min(MAX_COUNT)));
            prop_assert_eq!(r.window, Some(Duration::from_secs(w.min(MAX_SECONDS))));
        }
    }
}

// ---- OCI warnings -----------------------------------------------------------

const EXPIRES: &str = "Your auth token will expire in 30 seconds.";
const DEPRECATED: &str = "team/app is deprecated: use team/app2";

/// `GET /v2/team/app/tags/list` in two pages, both with warnings, one of
/// them hostile (a C1 control that would clear a terminal).
async fn tags_with_warnings() -> MockServer {
    let server = mock::server().await;
    let warn = |text: &str| format!("299 - \"{text}\"");
    Mock::given(method("GET"))
        .and(path("/v2/team/app/tags/list"))
        .and(query_param("last", "v1"))
        .respond_with(
            mock::json(
                200,
                "application/json",
                r#"{"name":"team/app","tags":["v2"]}"#,
            )
            .append_header("warning", warn(EXPIRES).as_str())
            .append_header("warning", "299 - \"\u{9b}2J wiped\""),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/team/app/tags/list"))
        .respond_with(
            mock::json(
                200,
                "application/json",
                r#"{"name":"team/app","tags":["v1"]}"#,
            )
            .insert_header("link", "</v2/team/app/tags/list?n=1&last=v1>; rel=\"next\"")
            .append_header(
                "warning",
                format!("{}, {}", warn(EXPIRES), warn(DEPRECATED)).as_str(),
            )
            .append_header("warning", "199 proxy \"not the registry's\""),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn oci_warnings_reach_the_caller_once_each() {
    let server = tags_with_warnings().await;
    let heard = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = heard.clone();
    let client = Client::builder(server.uri())
        .retry(RetryConfig::disabled())
        .on_warning(move |w| sink.lock().unwrap().push(w.to_owned()))
        .build()
        .unwrap();

    for _ in 0..3 {
        let tags: Vec<String> = client
            .tags(&name("team/app"))
            .page_size(1)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(tags, ["v1", "v2"]);
    }

    let heard = heard.lock().unwrap().clone();
    assert_eq!(heard, [EXPIRES, DEPRECATED, "2J wiped"].map(String::from));
    assert_eq!(client.warnings(), heard, "kept for the caller too");

    // Without a callback they are still kept.
    let quiet = mock::client(&server);
    let _: Vec<String> = quiet.tags(&name("team/app")).try_collect().await.unwrap();
    assert_eq!(quiet.warnings()[..2], [EXPIRES, DEPRECATED]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_examples_print_each_warning_once_on_stderr() {
    let Some(tags) = example("tags") else {
        return;
    };
    let server = tags_with_warnings().await;
    let target = format!("{}/team/app", server.address());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(tags)
            .args([target.as_str(), "--page-size", "1"])
            .env("DOCKER_CONFIG", "/nonexistent")
            .env_remove("REGISTRY_USERNAME")
            .env_remove("REGISTRY_PASSWORD")
            .output()
            .expect("run the tags example")
    })
    .await
    .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout, "v1\nv2\n");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(
        warnings,
        [
            format!("warning: {EXPIRES}"),
            format!("warning: {DEPRECATED}"),
            "warning: 2J wiped".to_owned(),
        ],
        "{stderr}"
    );
    assert!(
        !stderr.contains('\u{9b}'),
        "a control character reached the terminal"
    );
}

// ---- answers from a redirect target ----------------------------------------

/// A blob redirected to storage that answers 429 with an hour's
/// `Retry-After`, or says its rate limit is used up for a day: that is the
/// storage host's word about itself. The registry's own requests go on,
/// and a `Warning` from storage does not reach the caller as the
/// registry's.
#[tokio::test]
async fn a_redirect_target_cannot_pause_the_registry_or_speak_for_it() {
    let digest = dockreg::Digest::sha256(b"a layer in storage");
    for storage_says in [
        ResponseTemplate::new(429).insert_header("retry-after", "3600"),
        ResponseTemplate::new(503).insert_header("retry-after", "86400"),
        ResponseTemplate::new(200)
            .insert_header("ratelimit-limit", "100;w=21600")
            .insert_header("ratelimit-remaining", "0;w=21600")
            .insert_header("ratelimit-reset", "86400")
            .set_body_bytes(b"a layer in storage".to_vec()),
    ] {
        let registry = mock::server().await;
        let storage = mock::server().await;
        Mock::given(method("GET"))
            .and(path(format!("/v2/a/blobs/{digest}")))
            .respond_with(
                ResponseTemplate::new(307)
                    .insert_header("location", format!("{}/bucket/blob", storage.uri())),
            )
            .mount(&registry)
            .await;
        Mock::given(method("GET"))
            .and(path("/v2/a/tags/list"))
            .respond_with(mock::json(
                200,
                "application/json",
                r#"{"name":"a","tags":["v1"]}"#,
            ))
            .mount(&registry)
            .await;
        Mock::given(path("/bucket/blob"))
            .respond_with(storage_says.append_header("warning", "299 - \"storage speaking\""))
            .mount(&storage)
            .await;
        let client = mock::client(&registry);

        let _ = tokio::time::timeout(PATIENCE, client.blob_bytes(&name("a"), &digest, 1 << 20))
            .await
            .expect("the blob GET ended");
        let tags = tokio::time::timeout(
            Duration::from_secs(20),
            client.tags(&name("a")).try_collect::<Vec<_>>(),
        )
        .await
        .expect("tags not held back by storage's pause");
        assert_eq!(tags.unwrap(), ["v1"]);
        assert!(client.warnings().is_empty(), "{:?}", client.warnings());
    }
}
