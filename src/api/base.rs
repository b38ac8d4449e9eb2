//! `GET /v2/`: is this a V2 registry, and what authentication does it want?

use reqwest::StatusCode;

use crate::auth::{challenges_of, Challenge};
use crate::client::Client;
use crate::error::Error;
use crate::http::Request;
use crate::Result;

/// What `GET /v2/` told about the registry.
#[derive(Debug)]
#[non_exhaustive]
pub struct PingResponse {
    /// The final status: 200 when the API is open to this client (after
    /// authenticating, when the registry asked for it), 401 when the
    /// credentials (or their absence) were not accepted.
    pub status: StatusCode,
    /// The `Docker-Distribution-Api-Version` header (`registry/2.0`), if sent.
    pub api_version: Option<String>,
    /// The challenges the registry sent to an unauthenticated request
    /// (`WWW-Authenticate`), in the order sent; empty when it asked for none.
    pub challenges: Vec<Challenge>,
    /// Why authenticating failed, when it did (a token server that refused
    /// the credentials or could not be reached).
    pub auth_error: Option<Error>,
}

impl PingResponse {
    /// Whether the registry accepted the request (200).
    pub fn is_ok(&self) -> bool {
        self.status.is_success()
    }

    /// Whether the registry asks for authentication at all.
    pub fn auth_required(&self) -> bool {
        !self.challenges.is_empty()
    }

    /// Whether the request was still refused (401) in the end.
    pub fn needs_auth(&self) -> bool {
        self.status == StatusCode::UNAUTHORIZED
    }

    /// The challenge a client should answer: Bearer when offered, else the first.
    pub fn challenge(&self) -> Option<&Challenge> {
        self.challenges
            .iter()
            .find(|c| c.is_bearer())
            .or_else(|| self.challenges.first())
    }
}

fn api_version(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("docker-distribution-api-version")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

impl Client {
    /// Checks the registry's API: `GET /v2/`, and whether this client's
    /// authenticator gets in.
    ///
    /// The first request goes without credentials. A 200 ends there; a 401
    /// yields the parsed challenges (scheme, realm, service) and the request
    /// is repeated through the authenticator, whose outcome is the final
    /// [`PingResponse::status`] (or [`PingResponse::auth_error`]). Any other
    /// status is an [`Error::Registry`](crate::Error::Registry); a 404 means
    /// the server does not speak the V2 API.
    pub async fn ping(&self) -> Result<PingResponse> {
        let request = Request::get(self.url("/v2/")).anonymous();
        let response = self.send_any(request.clone()).await?;
        let status = response.status();
        if status.is_success() {
            return Ok(PingResponse {
                status,
                api_version: api_version(&response),
                challenges: Vec::new(),
                auth_error: None,
            });
        }
        if status != StatusCode::UNAUTHORIZED {
            return Err(self.status_error(&request.method, response).await);
        }
        let challenges = challenges_of(response.headers());
        let first_version = api_version(&response);
        match self.send_any(Request::get(self.url("/v2/"))).await {
            Ok(response) => Ok(PingResponse {
                status: response.status(),
                api_version: api_version(&response).or(first_version),
                challenges,
                auth_error: None,
            }),
            Err(e) => Ok(PingResponse {
                status,
                api_version: first_version,
                challenges,
                auth_error: Some(e),
            }),
        }
    }
}
