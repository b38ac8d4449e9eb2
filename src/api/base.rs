//! `GET /v2/`: is this a V2 registry, and what authentication does it want?

use reqwest::header::WWW_AUTHENTICATE;
use reqwest::StatusCode;

use crate::auth::{parse_challenges, Challenge};
use crate::client::{Client, Request};
use crate::Result;

/// What `GET /v2/` told about the registry.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PingResponse {
    /// 200 when the API is open to this client, 401 when it wants credentials.
    pub status: StatusCode,
    /// The `Docker-Distribution-Api-Version` header (`registry/2.0`), if sent.
    pub api_version: Option<String>,
    /// The challenges of a 401 (`WWW-Authenticate`), in the order sent.
    pub challenges: Vec<Challenge>,
}

impl PingResponse {
    /// Whether the registry accepted the request (200).
    pub fn is_ok(&self) -> bool {
        self.status.is_success()
    }

    /// Whether the registry asked for authentication (401).
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

impl Client {
    /// Checks the registry's API: `GET /v2/`.
    ///
    /// A 200 and a 401 are both answers (a 401 carries the parsed challenge,
    /// with the scheme, realm and service to authenticate against); any other
    /// status is an [`Error::Registry`](crate::Error::Registry), and a 404 means
    /// the server does not speak the V2 API.
    pub async fn ping(&self) -> Result<PingResponse> {
        let request = Request::get(self.url("/v2/"));
        let method = request.method.clone();
        let response = self.send_any(request).await?;
        let status = response.status();
        if !(status.is_success() || status == StatusCode::UNAUTHORIZED) {
            return Err(self.status_error(&method, response).await);
        }
        let api_version = response
            .headers()
            .get("docker-distribution-api-version")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let challenges = response
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(parse_challenges)
            .collect();
        Ok(PingResponse {
            status,
            api_version,
            challenges,
        })
    }
}
