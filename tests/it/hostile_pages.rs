//! A registry whose `Link` headers never end a listing: cycles of pages,
//! a `last` that does not advance, an endless chain of new pages, more entries
//! than anyone keeps. Every listing ends, with the entries or a typed error,
//! for tags and the catalog alike.
//!
//! Each listing runs under a timeout, so a listing that would loop forever
//! fails the test instead of blocking it.

use crate::mock;

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dockreg::http::{Limits, Page, RetryConfig};
use dockreg::{Client, Error, RepositoryName};
use futures::TryStreamExt;
use proptest::prelude::*;
use wiremock::matchers::{path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TAGS: &str = "/v2/a/tags/list";
const CATALOG: &str = "/v2/_catalog";

fn name(s: &str) -> RepositoryName {
    s.parse().unwrap()
}

/// Runs a listing, failing the test if it has not ended within 10 s.
async fn bounded<T>(listing: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), listing)
        .await
        .expect("the listing did not end within 10 s: it follows Links forever")
}

/// Every tag of `a`, or the error that ended the listing.
async fn tags(client: &Client) -> Result<Vec<String>, Error> {
    bounded(client.tags(&name("a")).try_collect()).await
}

/// Every repository, or the error that ended the listing.
async fn catalog(client: &Client) -> Result<Vec<String>, Error> {
    bounded(client.catalog().try_collect()).await
}

/// A page of the listing at `at` (the catalog or the tags of `a`), with a
/// `Link` to `next` when given.
fn page(at: &str, entries: &[&str], next: Option<&str>) -> ResponseTemplate {
    let body = if at == CATALOG {
        serde_json::json!({ "repositories": entries })
    } else {
        serde_json::json!({ "name": "a", "tags": entries })
    };
    let page = mock::json(200, "application/json", body.to_string());
    match next {
        Some(next) => page.insert_header("link", format!(r#"<{next}>; rel="next""#)),
        None => page,
    }
}

/// One page a mock serves: to the request whose query has `key=value`
/// (`None`: the first page, with neither `last` nor `next_page`), these
/// entries and a Link to the URL given.
type Serve<'a> = (Option<(&'a str, &'a str)>, &'a [&'a str], Option<&'a str>);

/// Mounts the pages of the listing at `at`.
async fn serve(server: &MockServer, at: &str, pages: &[Serve<'_>]) {
    for &(when, entries, next) in pages {
        let mock = Mock::given(path(at));
        let mock = match when {
            Some((key, value)) => mock.and(query_param(key, value)),
            None => mock
                .and(query_param_is_missing("last"))
                .and(query_param_is_missing("next_page")),
        };
        mock.respond_with(page(at, entries, next))
            .mount(server)
            .await;
    }
}

/// Answers every page of the listing at `at` with one new entry
/// (`{prefix}00001`, `{prefix}00002`, ...) and a Link past it, forever.
fn endless(at: &'static str, prefix: &'static str) -> impl Fn(&Request) -> ResponseTemplate {
    move |req| {
        let k: u64 = query(req, "last")
            .and_then(|l| l.strip_prefix(prefix)?.parse().ok())
            .unwrap_or(0);
        let entry = format!("{prefix}{:05}", k + 1);
        page(at, &[&entry], Some(&format!("{at}?n=1&last={entry}")))
    }
}

/// A client for the mock with these caps on listings.
fn client_with(server: &MockServer, pages: u64, entries: u64) -> Client {
    let mut limits = Limits::default();
    limits.pages = pages;
    limits.entries = entries;
    Client::builder(server.uri())
        .retry(RetryConfig::disabled())
        .limits(limits)
        .build()
        .unwrap()
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap_or_default().len()
}

fn query(req: &Request, key: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// Asserts a listing ended in a protocol error whose message has `says`.
fn refused(listed: Result<Vec<String>, Error>, says: &[&str]) {
    let err = match listed {
        Ok(entries) => panic!(
            "the listing should have been refused, got {} entries",
            entries.len()
        ),
        Err(err) => err,
    };
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    let msg = err.to_string();
    for part in says {
        assert!(msg.contains(part), "{part:?} not in: {msg}");
    }
}

// ---------------------------------------------------------------------------
// Cycles

#[tokio::test]
async fn a_cycle_of_two_pages_ends_with_an_error() {
    let server = mock::server().await;
    serve(
        &server,
        TAGS,
        &[
            (None, &["t1", "t2"], Some("/v2/a/tags/list?last=t2")),
            (Some(("last", "t2")), &["t3"], Some(TAGS)),
        ],
    )
    .await;
    refused(
        tags(&mock::client(&server)).await,
        &["tag listing of a", "already fetched"],
    );
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn a_cycle_of_three_pages_with_reordered_parameters_ends_with_an_error() {
    // Quay-style opaque tokens (no `last`), and the link back to the first
    // token names its parameters in another order: still the same page.
    let server = mock::server().await;
    serve(
        &server,
        TAGS,
        &[
            (None, &["t1"], Some("/v2/a/tags/list?n=1&next_page=x")),
            (
                Some(("next_page", "x")),
                &["t2"],
                Some("/v2/a/tags/list?n=1&next_page=y"),
            ),
            (
                Some(("next_page", "y")),
                &["t3"],
                Some("/v2/a/tags/list?next_page=x&n=1"),
            ),
        ],
    )
    .await;
    let client = mock::client(&server);
    let listed = bounded(client.tags(&name("a")).page_size(1).try_collect()).await;
    refused(listed, &["already fetched"]);
    assert_eq!(requests(&server).await, 3);
}

#[tokio::test]
async fn the_pages_stream_stops_at_a_cycle_too() {
    let server = mock::server().await;
    serve(
        &server,
        TAGS,
        &[
            (None, &["t1"], Some("/v2/a/tags/list?next_page=x")),
            (Some(("next_page", "x")), &["t2"], Some(TAGS)),
        ],
    )
    .await;
    let client = mock::client(&server);
    let pages: Result<Vec<Page>, Error> =
        bounded(client.tags(&name("a")).pages().try_collect()).await;
    let err = pages.unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    assert_eq!(requests(&server).await, 2);
}

// ---------------------------------------------------------------------------
// `last` must advance

#[tokio::test]
async fn a_last_that_goes_backwards_is_refused() {
    // a, then b, then a2: a2 sorts before b, so the registry went back.
    let server = mock::server().await;
    serve(
        &server,
        TAGS,
        &[
            (None, &["a"], Some("/v2/a/tags/list?last=a")),
            (Some(("last", "a")), &["b"], Some("/v2/a/tags/list?last=b")),
            (Some(("last", "b")), &["c"], Some("/v2/a/tags/list?last=a2")),
            (Some(("last", "a2")), &["b", "c"], None),
        ],
    )
    .await;
    refused(
        tags(&mock::client(&server)).await,
        &[r#"last="a2" does not sort after last="b""#],
    );
    assert_eq!(requests(&server).await, 3);
}

#[tokio::test]
async fn an_ever_new_last_that_goes_backwards_is_refused() {
    // Every Link names a `last` never seen before, each one smaller.
    let server = mock::server().await;
    Mock::given(path(TAGS))
        .respond_with(|req: &Request| {
            let k = query(req, "last")
                .and_then(|l| l.strip_prefix('t')?.parse::<u32>().ok())
                .unwrap_or(10_000);
            let next = k.checked_sub(1).map(|k| format!("{TAGS}?last=t{k:05}"));
            page(TAGS, &["x"], next.as_deref())
        })
        .mount(&server)
        .await;
    refused(tags(&mock::client(&server)).await, &["does not sort after"]);
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn a_last_repeated_under_ever_new_urls_is_refused() {
    // `n` changes on every Link, so each URL is new, but `last` stays put.
    let server = mock::server().await;
    Mock::given(path(TAGS))
        .respond_with(|req: &Request| {
            let n: u32 = query(req, "n").and_then(|n| n.parse().ok()).unwrap_or(1);
            page(TAGS, &["t2"], Some(&format!("{TAGS}?n={}&last=t2", n + 1)))
        })
        .mount(&server)
        .await;
    refused(tags(&mock::client(&server)).await, &["does not sort after"]);
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn opaque_tokens_out_of_lexical_order_are_followed() {
    // Guard: Quay sends `next_page` tokens, not `last`; their order means
    // nothing, and a link without `last` after one with it is fine too.
    let server = mock::server().await;
    serve(
        &server,
        TAGS,
        &[
            (None, &["t1"], Some("/v2/a/tags/list?last=t1")),
            (
                Some(("last", "t1")),
                &["t2"],
                Some("/v2/a/tags/list?next_page=zz"),
            ),
            (
                Some(("next_page", "zz")),
                &["t3"],
                Some("/v2/a/tags/list?next_page=aa"),
            ),
            (Some(("next_page", "aa")), &["t4"], None),
        ],
    )
    .await;
    let all = tags(&mock::client(&server)).await.unwrap();
    assert_eq!(all, ["t1", "t2", "t3", "t4"]);
}

// ---------------------------------------------------------------------------
// Caps

#[tokio::test]
async fn an_endless_chain_of_new_pages_stops_at_the_pages_cap() {
    let server = mock::server().await;
    Mock::given(path(TAGS))
        .respond_with(endless(TAGS, "tag"))
        .mount(&server)
        .await;
    refused(
        tags(&client_with(&server, 25, u64::MAX)).await,
        &["tag listing of a", "25 pages", "Limits::pages"],
    );
    assert_eq!(requests(&server).await, 25);
}

#[tokio::test]
async fn a_listing_of_exactly_the_pages_cap_succeeds() {
    let server = mock::server().await;
    serve(
        &server,
        TAGS,
        &[
            (None, &["t1"], Some("/v2/a/tags/list?last=t1")),
            (
                Some(("last", "t1")),
                &["t2"],
                Some("/v2/a/tags/list?last=t2"),
            ),
            (Some(("last", "t2")), &["t3"], None),
        ],
    )
    .await;
    let all = tags(&client_with(&server, 3, 3)).await.unwrap();
    assert_eq!(all, ["t1", "t2", "t3"]);
    refused(tags(&client_with(&server, 2, 3)).await, &["2 pages"]);
}

#[tokio::test]
async fn the_entries_cap_ends_a_listing() {
    let server = mock::server().await;
    serve(
        &server,
        TAGS,
        &[
            (None, &["t1", "t2"], Some("/v2/a/tags/list?last=t2")),
            (
                Some(("last", "t2")),
                &["t3", "t4"],
                Some("/v2/a/tags/list?last=t4"),
            ),
            (Some(("last", "t4")), &["t5", "t6"], None),
        ],
    )
    .await;
    let all = tags(&client_with(&server, 100, 6)).await.unwrap();
    assert_eq!(all.len(), 6);
    refused(
        tags(&client_with(&server, 100, 5)).await,
        &["tag listing of a", "5 entries", "Limits::entries"],
    );
}

#[tokio::test]
async fn one_huge_page_passes_the_entries_cap_too() {
    let server = mock::server().await;
    let many: Vec<String> = (0..50).map(|i| format!("t{i:03}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    serve(&server, TAGS, &[(None, &many, None)]).await;
    refused(tags(&client_with(&server, 100, 49)).await, &["49 entries"]);
}

// ---------------------------------------------------------------------------
// The catalog goes through the same mechanism

#[tokio::test]
async fn a_catalog_cycle_ends_with_an_error() {
    let server = mock::server().await;
    serve(
        &server,
        CATALOG,
        &[
            (None, &["r1"], Some("/v2/_catalog?last=r1")),
            (Some(("last", "r1")), &["r2"], Some(CATALOG)),
        ],
    )
    .await;
    refused(
        catalog(&mock::client(&server)).await,
        &["catalog listing", "already fetched"],
    );
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn a_catalog_last_that_goes_backwards_is_refused() {
    // `l/z` (sent encoded) sorts before `m`.
    let server = mock::server().await;
    serve(
        &server,
        CATALOG,
        &[
            (None, &["m"], Some("/v2/_catalog?last=m")),
            (Some(("last", "m")), &["n"], Some("/v2/_catalog?last=l%2Fz")),
            (Some(("last", "l/z")), &["m", "n"], None),
        ],
    )
    .await;
    refused(
        catalog(&mock::client(&server)).await,
        &[r#"last="l/z" does not sort after last="m""#],
    );
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn an_endless_catalog_stops_at_the_pages_cap() {
    let server = mock::server().await;
    Mock::given(path(CATALOG))
        .respond_with(endless(CATALOG, "repo"))
        .mount(&server)
        .await;
    refused(
        catalog(&client_with(&server, 10, u64::MAX)).await,
        &["catalog listing", "10 pages", "Limits::pages"],
    );
    assert_eq!(requests(&server).await, 10);
}

// ---------------------------------------------------------------------------
// Property: any sequence of Links from a small set ends within the cap

const CAP: u64 = 8;

/// Link targets a hostile registry might pick from: the first page, pages by
/// `last` (in and out of order, with and without `n`, parameters reordered),
/// opaque tokens.
const TARGETS: &[&str] = &[
    "/v2/p/tags/list",
    "/v2/p/tags/list?n=1",
    "/v2/p/tags/list?last=a",
    "/v2/p/tags/list?last=b",
    "/v2/p/tags/list?last=c",
    "/v2/p/tags/list?n=1&last=b",
    "/v2/p/tags/list?last=b&n=1",
    "/v2/p/tags/list?n=2&last=b",
    "/v2/p/tags/list?next_page=x",
    "/v2/p/tags/list?next_page=y&n=1",
    "/v2/p/tags/list?n=1&next_page=y",
];

/// The page a request names, whatever the order of its parameters.
fn page_key(req: &Request) -> (String, Vec<(String, String)>) {
    let mut pairs: Vec<(String, String)> = req
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.sort();
    (req.url.path().to_owned(), pairs)
}

/// Serves the k-th request with a Link to `links[k]`, or no Link once the
/// sequence ends or names no target.
async fn walk(links: Vec<Option<usize>>) -> (Result<Vec<String>, Error>, Vec<Request>) {
    let server = mock::server().await;
    let served = Arc::new(AtomicUsize::new(0));
    Mock::given(path("/v2/p/tags/list"))
        .respond_with(move |_: &Request| {
            let k = served.fetch_add(1, Ordering::SeqCst);
            let next = links.get(k).copied().flatten().map(|i| TARGETS[i]);
            page("/v2/p/tags/list", &["t"], next)
        })
        .mount(&server)
        .await;
    let client = client_with(&server, CAP, u64::MAX);
    let listed = bounded(client.tags(&name("p")).try_collect()).await;
    let received = server.received_requests().await.unwrap_or_default();
    (listed, received)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_link_sequence_ends_within_the_pages_cap(
        links in proptest::collection::vec(
            proptest::option::weighted(0.9, 0..TARGETS.len()),
            0..40,
        )
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (listed, received) = runtime.block_on(walk(links.clone()));
        prop_assert!(received.len() as u64 <= CAP, "{} requests", received.len());
        // No page is fetched twice, whatever the order of its parameters.
        let keys: HashSet<_> = received.iter().map(page_key).collect();
        prop_assert_eq!(keys.len(), received.len());
        // Where two pages in a row both carry `last`, it went forward.
        for pair in received.windows(2) {
            if let (Some(a), Some(b)) = (query(&pair[0], "last"), query(&pair[1], "last")) {
                prop_assert!(a < b, "last went from {:?} to {:?}", a, b);
            }
        }
        match listed {
            Ok(tags) => prop_assert_eq!(tags.len(), received.len()),
            Err(e) => prop_assert!(matches!(e, Error::Protocol { .. }), "{:?}", e),
        }
    }
}

// ---------------------------------------------------------------------------
// What Link errors show

/// A page reached through an opaque token (`?next_page=SECRET`, an
/// `X-Amz-Signature`), whose own Link then goes to another origin, is
/// malformed, or names an unparsable target: the error names the page
/// without its query secrets, shows the registry's text escaped and cut
/// short, and never the full hostile target.
#[tokio::test]
async fn link_errors_keep_no_query_secrets_and_no_raw_targets() {
    const SECRET: &str = "s3cr3t-opaque-t0ken";
    let long_tail = "x".repeat(4000);
    for (bad, must_not_show) in [
        (
            format!(r#"<http://evil.example/v2/a/tags/list?sig={SECRET}2>; rel="next""#),
            format!("{SECRET}2"),
        ),
        (format!("no angle brackets {long_tail}"), long_tail.clone()),
        (
            format!("<http://[::1/{long_tail}>; rel=\"next\""),
            long_tail.clone(),
        ),
    ] {
        let server = mock::server().await;
        let second = format!("{TAGS}?n=1&last=v1&next_page={SECRET}&X-Amz-Signature={SECRET}");
        serve(&server, TAGS, &[(None, &["v1"], Some(&second))]).await;
        Mock::given(path(TAGS))
            .and(query_param("next_page", SECRET))
            .respond_with(page(TAGS, &["v2"], None).insert_header("link", bad.as_str()))
            .mount(&server)
            .await;
        let err = tags(&mock::client(&server)).await.unwrap_err();
        assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(SECRET), "{bad:.60}: {shown}");
        assert!(!shown.contains(&must_not_show), "{bad:.60}: {shown:.300}");
        assert!(shown.contains("/v2/a/tags/list"), "{shown:.300}");
    }
}
