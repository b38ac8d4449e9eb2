//! The registry's rate limit, read without spending it.

use crate::auth::Scope;
use crate::client::Client;
use crate::http::RateLimit;
use crate::http::Request;
use crate::models::media_type;
use crate::reference::{RepositoryName, TagOrDigest};
use crate::Result;

impl Client {
    /// What the registry says about this client's rate limit, read from the
    /// headers of a `HEAD` on a manifest (Docker Hub counts `GET`s of
    /// manifests, not `HEAD`s): `None` when it sends no rate-limit headers.
    ///
    /// Sent once, never retried, so that the answer comes at once: a 429 is
    /// not an error here, it carries the numbers too (and pauses the host
    /// like any 429). Any other failure status is an
    /// [`Error::Registry`](crate::Error::Registry).
    ///
    /// Every response's rate-limit headers are also respected as they come:
    /// no more requests are sent at once than the quota has left, and none
    /// once it is used up, until its reset (see
    /// [`ClientBuilder::max_in_flight`](crate::ClientBuilder::max_in_flight)).
    ///
    /// ```no_run
    /// # async fn run() -> dockreg::Result<()> {
    /// let client = dockreg::Client::builder("docker.io").build()?;
    /// let name: dockreg::RepositoryName = "library/alpine".parse()?;
    /// if let Some(limit) = client.rate_limit(&name, &"latest".parse()?).await? {
    ///     println!("{:?} of {:?} left", limit.remaining, limit.limit);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn rate_limit(
        &self,
        name: &RepositoryName,
        reference: &TagOrDigest,
    ) -> Result<Option<RateLimit>> {
        let url = self.repo_url(name, &format!("manifests/{reference}"));
        let head = Request::head(url)
            .accept(media_type::manifest_accept())
            .scope(Scope::pull(name))
            .repeatable(false);
        let response = self.send_any(head.clone()).await?;
        let status = response.status();
        if status.is_success() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Ok(RateLimit::from_headers(response.headers()));
        }
        Err(self.status_error(&head.method, response).await)
    }
}
