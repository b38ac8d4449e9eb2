//! Paginated lists (`_catalog`, `tags/list`) driven by the `Link` header.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::stream::{self, BoxStream};
use futures::{Stream, StreamExt, TryStreamExt};
use url::Url;

use crate::auth::Scope;
use crate::client::{Client, Request};
use crate::error::Error;
use crate::models::ErrorCode;
use crate::transport::next_link;
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
}

/// Decodes a page body into its entries; the `&str` names the request.
pub(crate) type Decode = fn(&[u8], &str) -> Result<Vec<String>>;

/// A stream of every entry of a paginated list, fetched page by page as it
/// is consumed, following the registry's `Link` headers.
///
/// Set the page size with [`Paginated::page_size`] before polling. Pages larger
/// than the registry allows are lowered to what it accepts (see
/// [`REGISTRY_MAX_PAGE_SIZE`]) rather than failing, so every entry is listed.
#[must_use = "streams do nothing unless polled"]
pub struct Paginated {
    state: State,
}

enum State {
    Unstarted {
        client: Client,
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
                first, page_size, ..
            } => f
                .debug_struct("Paginated")
                .field("first", &first.as_str())
                .field("page_size", page_size)
                .finish(),
            State::Running(_) => f.write_str("Paginated(running)"),
        }
    }
}

impl Paginated {
    pub(crate) fn new(client: Client, first: Url, decode: Decode, scope: Scope) -> Paginated {
        Paginated {
            state: State::Unstarted {
                client,
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
                first,
                decode,
                scope,
                page_size,
            } => {
                let mut first = first;
                if let Some(n) = page_size {
                    set_query(&mut first, "n", &n.to_string());
                }
                page_stream(client, first, decode, scope).boxed()
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

/// Pages from `first` on, until a page has no `Link` to a next one.
fn page_stream(
    client: Client,
    first: Url,
    decode: Decode,
    scope: Scope,
) -> impl Stream<Item = Result<Page>> + Send + 'static {
    stream::try_unfold(Some(first), move |url| {
        let client = client.clone();
        let scope = scope.clone();
        async move {
            let Some(url) = url else { return Ok(None) };
            let (page, requested) = fetch_capped(&client, url, decode, &scope).await?;
            if page.next.as_ref() == Some(&requested) {
                return Err(Error::protocol(
                    format!("GET {}", crate::client::redact(&requested)),
                    "the registry's Link points at the page just fetched",
                ));
            }
            let next = page.next.clone();
            Ok(Some((page, next)))
        }
    })
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
    let what = format!("GET {}", crate::client::redact(&url));
    let items = decode(&body, &what)?;
    Ok(Page { items, next })
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
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != key)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.push((key.to_owned(), value.to_owned()));
    url.query_pairs_mut().clear().extend_pairs(pairs);
}

fn remove_query(url: &mut Url, key: &str) {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != key)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if pairs.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
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
}
