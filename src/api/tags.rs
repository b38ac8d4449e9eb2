//! `GET /v2/NAME/tags/list`: the tags of a repository.

use crate::auth::Scope;
use crate::client::Client;
use crate::error::Error;
use crate::http::{fetch_page, page_url, Page, Paginated};
use crate::models::{ListedManifest, TagList};
use crate::reference::RepositoryName;
use crate::Result;

fn decode(body: &[u8], what: &str) -> Result<(Vec<String>, Vec<ListedManifest>)> {
    serde_json::from_slice::<TagList>(body)
        .map(|t| (t.tags, t.manifests))
        .map_err(|e| Error::decode(format!("tag list from {what}"), e))
}

impl Client {
    /// Every tag of a repository, as a stream that fetches pages as it is
    /// consumed (following `Link`). A repository whose tags are `null` (all
    /// deleted) yields nothing.
    pub fn tags(&self, name: &RepositoryName) -> Paginated {
        let url = self.repo_url(name, "tags/list");
        let listing = format!("tag listing of {name}");
        Paginated::new(self.clone(), listing, url, decode, Scope::pull(name))
    }

    /// One page of a repository's tags: at most `n` tags after `last`.
    pub async fn tags_page(
        &self,
        name: &RepositoryName,
        n: Option<usize>,
        last: Option<&str>,
    ) -> Result<Page> {
        let url = page_url(self.repo_url(name, "tags/list"), n, last);
        fetch_page(self, url, decode, &Scope::pull(name)).await
    }
}
