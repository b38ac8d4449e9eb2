//! `GET /v2/_catalog`: the repositories of a registry.

use crate::auth::Scope;
use crate::client::Client;
use crate::error::Error;
use crate::http::{fetch_page, page_url, Page, Paginated};
use crate::models::{Catalog, ListedManifest};
use crate::Result;

fn decode(body: &[u8], what: &str) -> Result<(Vec<String>, Vec<ListedManifest>)> {
    serde_json::from_slice::<Catalog>(body)
        .map(|c| (c.repositories, Vec::new()))
        .map_err(|e| Error::decode(format!("catalog from {what}"), e))
}

impl Client {
    /// Every repository of the registry, as a stream that fetches pages as
    /// it is consumed (following `Link`).
    ///
    /// ```no_run
    /// # async fn run(client: dockreg::Client) -> dockreg::Result<()> {
    /// use futures::TryStreamExt;
    /// let repos: Vec<String> = client.catalog().page_size(1000).try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn catalog(&self) -> Paginated {
        Paginated::new(
            self.clone(),
            "catalog listing".to_owned(),
            self.url("/v2/_catalog"),
            decode,
            Scope::catalog(),
        )
    }

    /// One page of the catalog: at most `n` repositories after `last`.
    pub async fn catalog_page(&self, n: Option<usize>, last: Option<&str>) -> Result<Page> {
        let url = page_url(self.url("/v2/_catalog"), n, last);
        fetch_page(self, url, decode, &Scope::catalog()).await
    }
}
