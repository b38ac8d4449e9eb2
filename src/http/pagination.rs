//! Paginated lists (`_catalog`, `tags/list`) driven by the `Link` header.

use std::collections::HashSet;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::stream::{self, BoxStream};
use futures::{Stream, StreamExt, TryStreamExt};
use url::Url;

use crate::auth::Scope;
use crate::client::Client;
use crate::error::Error;
use crate::http::headers::shown;
use crate::http::next_link;
use crate::http::{retain_query, Request};
use crate::models::{ErrorCode, ListedManifest};
use crate::Result;

/// The largest `n` the CNCF registry accepts; a stream asked for larger pages
/// falls back to it when the registry answers `PAGINATION_NUMBER_INVALID`.
pub const REGISTRY_MAX_PAGE_SIZE: usize = 1000;

/// One page of a paginated list.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Page {
    /// The entries of this page, in the registry's order.
    pub items: Vec<String>,
    /// The next page's URL from the `Link` header, when there is one.
    pub next: Option<Url>,
    /// Of a tag listing, what the page says of the manifests its tags name
    /// ([`TagList::manifests`](crate::models::TagList::manifests); only
    /// Google's registries send it). Empty otherwise.
    pub manifests: Vec<ListedManifest>,
}

/// Decodes a page body into its entries and listed manifests; the `&str`
/// names the request.
pub(crate) type Decode = fn(&[u8], &str) -> Result<(Vec<String>, Vec<ListedManifest>)>;

/// A stream of every entry of a paginated list, fetched page by page as it
/// is consumed, following the registry's `Link` headers.
///
/// Set the page size with [`Paginated::page_size`] before polling. Pages larger
/// than the registry allows are lowered to what it accepts (see
/// [`REGISTRY_MAX_PAGE_SIZE`]) rather than failing, so every entry is listed.
///
/// Whatever `Link` headers the registry sends, the stream ends. It fails with
/// [`Error::Protocol`] when a `Link` leads back to a page already fetched
/// (the same URL, whatever the order of its query parameters), when its
/// `last` does not sort strictly after the `last` of the page just fetched
/// (the spec orders lists lexically and `last` names the previous page's last
/// entry; opaque tokens such as Quay's `next_page` are not compared), or when
/// the listing passes [`Limits::pages`](crate::http::Limits::pages)
/// pages or [`Limits::entries`](crate::http::Limits::entries) entries.
#[must_use = "streams do nothing unless polled"]
pub struct Paginated {
    state: State,
}

enum State {
    Unstarted {
        client: Client,
        listing: String,
        first: Url,
        decode: Decode,
        scope: Scope,
        page_size: Option<usize>,
    },
    Running(BoxStream<'static, Result<String>>),
}

impl fmt::Debug for Paginated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.state {
            State::Unstarted {
                listing,
                first,
                page_size,
                ..
            } => f
                .debug_struct("Paginated")
                .field("listing", listing)
                .field("first", &first.as_str())
                .field("page_size", page_size)
                .finish(),
            State::Running(_) => f.write_str("Paginated(running)"),
        }
    }
}

impl Paginated {
    /// A listing from `first` on; `listing` names it in errors (`"tag
    /// listing of team/app"`).
    pub(crate) fn new(
        client: Client,
        listing: String,
        first: Url,
        decode: Decode,
        scope: Scope,
    ) -> Paginated {
        Paginated {
            state: State::Unstarted {
                client,
                listing,
                first,
                decode,
                scope,
                page_size: None,
            },
        }
    }

    /// Asks for pages of `n` entries (`?n=`). Without it the registry picks
    /// its default page size. Has no effect once the stream was polled.
    pub fn page_size(mut self, n: usize) -> Paginated {
        if let State::Unstarted { page_size, .. } = &mut self.state {
            *page_size = Some(n.max(1));
        }
        self
    }

    /// The pages themselves rather than their entries.
    pub fn pages(self) -> impl Stream<Item = Result<Page>> + Send + 'static {
        match self.state {
            State::Unstarted {
                client,
                listing,
                first,
                decode,
                scope,
                page_size,
            } => {
                let mut first = first;
                if let Some(n) = page_size {
                    set_query(&mut first, "n", &n.to_string());
                }
                page_stream(client, listing, first, decode, scope).boxed()
            }
            State::Running(_) => stream::once(async {
                Err(Error::protocol(
                    "paginated list",
                    "pages() called on a stream that was already polled",
                ))
            })
            .boxed(),
        }
    }
}

impl Stream for Paginated {
    type Item = Result<String>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let State::Unstarted { .. } = self.state {
            let placeholder = State::Running(stream::empty().boxed());
            let unstarted = std::mem::replace(&mut self.state, placeholder);
            let entries = Paginated { state: unstarted }
                .pages()
                .map_ok(|page| stream::iter(page.items.into_iter().map(Ok)))
                .try_flatten()
                .boxed();
            self.state = State::Running(entries);
        }
        match &mut self.state {
            State::Running(s) => s.poll_next_unpin(cx),
            State::Unstarted { .. } => unreachable!("started above"),
        }
    }
}

/// Pages from `first` on, until a page has no `Link` to a next one or the
/// [`Walk`] refuses to follow it.
fn page_stream(
    client: Client,
    listing: String,
    first: Url,
    decode: Decode,
    scope: Scope,
) -> impl Stream<Item = Result<Page>> + Send + 'static {
    let walk = Walk::new(listing, client.limits().pages, client.limits().entries);
    stream::try_unfold((Some(first), walk), move |(url, mut walk)| {
        let client = client.clone();
        let scope = scope.clone();
        async move {
            let Some(url) = url else { return Ok(None) };
            let (page, requested) = fetch_capped(&client, url.clone(), decode, &scope).await?;
            walk.fetched(&url, &requested, page.items.len())?;
            if let Some(next) = &page.next {
                walk.check_next(&requested, next)?;
            }
            let next = page.next.clone();
            Ok(Some((page, (next, walk))))
        }
    })
}

/// What one listing has fetched so far, so that no chain of `Link` headers
/// can run forever: the pages visited, how many, and how many entries.
struct Walk {
    /// Names the listing in errors (`"tag listing of team/app"`).
    listing: String,
    max_pages: u64,
    max_entries: u64,
    visited: HashSet<PageKey>,
    pages: u64,
    entries: u64,
}

/// A page's URL with its query parameters sorted: two URLs that differ only
/// in the order of their parameters name the same page.
#[derive(Debug, PartialEq, Eq, Hash)]
struct PageKey {
    base: String,
    query: Vec<(String, String)>,
}

impl PageKey {
    fn of(url: &Url) -> PageKey {
        let mut base = url.clone();
        base.set_query(None);
        base.set_fragment(None);
        let mut query: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        query.sort();
        PageKey {
            base: base.into(),
            query,
        }
    }
}

impl Walk {
    fn new(listing: String, max_pages: u64, max_entries: u64) -> Walk {
        Walk {
            listing,
            max_pages,
            max_entries,
            visited: HashSet::new(),
            pages: 0,
            entries: 0,
        }
    }

    fn error(&self, url: &Url, reason: String) -> Error {
        let what = format!("{}: GET {}", self.listing, crate::http::redact::redact(url));
        Error::protocol(what, reason)
    }

    /// Records a page fetched from `url` (as `requested`, once `n` was
    /// lowered) that held `items` entries.
    fn fetched(&mut self, url: &Url, requested: &Url, items: usize) -> Result<()> {
        self.visited.insert(PageKey::of(url));
        self.visited.insert(PageKey::of(requested));
        self.pages = self.pages.saturating_add(1);
        let items = u64::try_from(items).unwrap_or(u64::MAX);
        self.entries = self.entries.saturating_add(items);
        if self.entries > self.max_entries {
            let reason = format!(
                "the listing passes {} entries, the most one listing may yield \
                 (Limits::entries)",
                self.max_entries
            );
            return Err(self.error(requested, reason));
        }
        Ok(())
    }

    /// Refuses a `Link` from the page fetched as `requested` to `next` when
    /// following it could keep the listing going forever.
    fn check_next(&self, requested: &Url, next: &Url) -> Result<()> {
        let key = PageKey::of(next);
        if key == PageKey::of(requested) {
            let reason = "the registry's Link points at the page just fetched".to_owned();
            return Err(self.error(requested, reason));
        }
        if self.visited.contains(&key) {
            let reason = format!(
                "the registry's Link leads back to a page already fetched: {}",
                crate::http::redact::redact(next)
            );
            return Err(self.error(requested, reason));
        }
        if let (Some(prev), Some(last)) =
            (query_value(requested, "last"), query_value(next, "last"))
        {
            if last <= prev {
                let reason = format!(
                    "the registry's Link goes back: last={} does not sort after last={} \
                     (lists are in lexical order)",
                    shown(&last),
                    shown(&prev)
                );
                return Err(self.error(requested, reason));
            }
        }
        if self.pages >= self.max_pages {
            let reason = format!(
                "the registry links past {} pages, the most one listing may follow \
                 (Limits::pages)",
                self.max_pages
            );
            return Err(self.error(requested, reason));
        }
        Ok(())
    }
}

/// Fetches a page, lowering `n` when the registry refuses it as too large.
/// Returns the page and the URL that produced it.
async fn fetch_capped(
    client: &Client,
    mut url: Url,
    decode: Decode,
    scope: &Scope,
) -> Result<(Page, Url)> {
    loop {
        match fetch_page(client, url.clone(), decode, scope).await {
            Err(e) if e.code() == Some(&ErrorCode::PaginationNumberInvalid) => {
                let n = query_value(&url, "n").and_then(|n| n.parse::<usize>().ok());
                match n {
                    Some(n) if n > REGISTRY_MAX_PAGE_SIZE => {
                        set_query(&mut url, "n", &REGISTRY_MAX_PAGE_SIZE.to_string())
                    }
                    Some(_) => remove_query(&mut url, "n"),
                    None => return Err(e),
                }
            }
            other => return other.map(|page| (page, client.decided_url(url))),
        }
    }
}

/// Fetches one page at `url`.
pub(crate) async fn fetch_page(
    client: &Client,
    url: Url,
    decode: Decode,
    scope: &Scope,
) -> Result<Page> {
    let request = Request::get(url.clone())
        .accept("application/json")
        .scope(scope.clone());
    let fetched = client.fetch(request, client.limits().page).await?;
    // Built before the http/https decision, the URL now names the scheme used.
    let url = client.decided_url(url);
    let next = next_link(&fetched.headers, &url)?;
    let body = fetched.body;
    let what = format!("GET {}", crate::http::redact::redact(&url));
    let (items, manifests) = decode(&body, &what)?;
    Ok(Page {
        items,
        next,
        manifests,
    })
}

/// The first URL of a list: `n` and `last` when given.
pub(crate) fn page_url(mut url: Url, n: Option<usize>, last: Option<&str>) -> Url {
    if let Some(n) = n {
        set_query(&mut url, "n", &n.to_string());
    }
    if let Some(last) = last {
        set_query(&mut url, "last", last);
    }
    url
}

fn query_value(url: &Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn set_query(url: &mut Url, key: &str, value: &str) {
    remove_query(url, key);
    url.query_pairs_mut().append_pair(key, value);
}

fn remove_query(url: &mut Url, key: &str) {
    retain_query(url, |k| k != key);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_editing() {
        let mut u = Url::parse("http://r/v2/_catalog?n=5000&last=a%2Fb").unwrap();
        set_query(&mut u, "n", "1000");
        assert_eq!(query_value(&u, "n").as_deref(), Some("1000"));
        assert_eq!(query_value(&u, "last").as_deref(), Some("a/b"));
        remove_query(&mut u, "n");
        remove_query(&mut u, "last");
        assert_eq!(u.as_str(), "http://r/v2/_catalog");
        let u = page_url(
            Url::parse("http://r/v2/x/tags/list").unwrap(),
            Some(2),
            Some("v1"),
        );
        assert_eq!(u.query(), Some("n=2&last=v1"));
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn a_page_is_its_url_whatever_the_parameter_order() {
        let key = |s| PageKey::of(&url(s));
        let a = key("http://r/v2/_catalog?n=2&last=a%2Fb");
        assert_eq!(a, key("http://r/v2/_catalog?last=a/b&n=2"));
        assert_eq!(a, key("http://r/v2/_catalog?last=a%2Fb&n=2#frag"));
        assert_ne!(a, key("http://r/v2/_catalog?n=3&last=a%2Fb"));
        assert_ne!(a, key("http://r/v2/other?n=2&last=a%2Fb"));
        assert_ne!(key("http://r/v2/x?a=1&a=2"), key("http://r/v2/x?a=1"));
    }

    #[test]
    fn walk_refuses_loops_regressions_and_overruns() {
        let first = url("http://r/v2/a/tags/list?n=1");
        let second = url("http://r/v2/a/tags/list?n=1&last=b");
        let mut walk = Walk::new("tag listing of a".into(), 3, 10);
        walk.fetched(&first, &first, 1).unwrap();
        walk.check_next(&first, &second).unwrap();
        walk.fetched(&second, &second, 1).unwrap();
        for (next, says) in [
            ("http://r/v2/a/tags/list?last=b&n=1", "page just fetched"),
            ("http://r/v2/a/tags/list?n=1", "already fetched"),
            ("http://r/v2/a/tags/list?n=2&last=b", "does not sort after"),
            ("http://r/v2/a/tags/list?n=1&last=a9", "does not sort after"),
        ] {
            let err = walk.check_next(&second, &url(next)).unwrap_err();
            assert!(err.to_string().contains(says), "{next}: {err}");
        }
        // Opaque tokens are not compared; only the page count stops them.
        walk.check_next(&second, &url("http://r/v2/a/tags/list?next_page=0"))
            .unwrap();
        walk.fetched(&second, &second, 1).unwrap();
        let err = walk
            .check_next(&second, &url("http://r/v2/a/tags/list?next_page=1"))
            .unwrap_err();
        assert!(err.to_string().contains("past 3 pages"), "{err}");
        let err = walk.fetched(&second, &second, 8).unwrap_err();
        assert!(err.to_string().contains("passes 10 entries"), "{err}");
    }

    #[test]
    fn counts_saturate_and_zero_caps_still_fetch_one_page() {
        let first = url("http://r/v2/_catalog");
        let mut walk = Walk::new("catalog listing".into(), 0, u64::MAX);
        walk.fetched(&first, &first, usize::MAX).unwrap();
        walk.fetched(&first, &first, usize::MAX).unwrap();
        assert_eq!(walk.entries, u64::MAX);
        let next = url("http://r/v2/_catalog?last=a");
        assert!(walk.check_next(&first, &next).is_err());
    }

    #[test]
    fn registry_values_in_errors_are_escaped_and_cut() {
        assert_eq!(shown("a\u{1b}[2J"), r#""a\u{1b}[2J""#);
        let long = "é".repeat(100);
        let cut = shown(&long);
        assert!(cut.ends_with("...") && cut.chars().filter(|&c| c == 'é').count() == 40);
    }
}
