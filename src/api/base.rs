//! `GET /v2/`: is this a V2 registry, what authentication does it want,
//! and the token it hands out.

use reqwest::StatusCode;

use crate::auth::{challenges_of, AuthContext, Challenge, Scope, TokenInfo};
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

/// What [`Client::token`] found: a token, or why there is none to give.
#[derive(Debug)]
#[non_exhaustive]
pub enum TokenGrant {
    /// The registry answered `GET /v2/` without asking for credentials:
    /// requests need no token.
    NotNeeded,
    /// The registry asks for `Basic` authentication: there is no token to
    /// fetch; every request carries the username and password
    /// (`curl -u USER:PASSWORD`).
    Basic {
        /// The challenge's `realm`, when it named one.
        realm: Option<String>,
    },
    /// A bearer token, for `Authorization: Bearer TOKEN`.
    Bearer(TokenInfo),
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

    /// The bearer token this client's authenticator gets for `scopes`, the
    /// way the registry asks for one: `GET /v2/` without credentials, then
    /// the token flow at the realm of its `Bearer` challenge (docker's
    /// `auth/token.md`, OAuth2 included), with the authenticator's
    /// credentials. For a person or a script that wants the token itself:
    /// `curl -H "Authorization: Bearer TOKEN"`.
    ///
    /// The token is fetched afresh (and kept for the client's own
    /// requests). The registry's challenge `scope`, if any, is asked for
    /// too. [`TokenInfo::granted`] tells what the token server actually
    /// granted, which may be less than asked: a token server grants what
    /// the user may do and refuses only wrong credentials.
    ///
    /// A registry that answers `GET /v2/` gives [`TokenGrant::NotNeeded`],
    /// one that asks for `Basic` gives [`TokenGrant::Basic`]. An
    /// authenticator that fetches no tokens itself
    /// ([`Authenticator::fetch_token`](crate::auth::Authenticator::fetch_token)
    /// answers `None`) gives the bearer token of its answer to the
    /// challenge, with no expiry known. Errors: the token server's refusal
    /// ([`Error::Registry`](crate::Error::Registry), 401 for wrong
    /// credentials), a challenge of another scheme, a status other than 200
    /// or 401.
    ///
    /// ```no_run
    /// use dockreg::api::TokenGrant;
    /// use dockreg::auth::{CredentialChain, Scope};
    ///
    /// # async fn run() -> dockreg::Result<()> {
    /// let client = dockreg::Client::builder("registry.example.com")
    ///     .authenticator(CredentialChain::from_env()?)
    ///     .build()?;
    /// let scope = Scope::pull(&"team/app".parse()?);
    /// match client.token(&[scope]).await? {
    ///     TokenGrant::Bearer(info) => {
    ///         eprintln!("from {} for {:?}, expires {:?}", info.realm, info.service, info.expires_at());
    ///         println!("{}", info.token.expose());
    ///     }
    ///     TokenGrant::Basic { .. } => eprintln!("no token: Basic authentication, curl -u USER:PASSWORD"),
    ///     TokenGrant::NotNeeded => eprintln!("no token needed"),
    ///     _ => {}
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn token(&self, scopes: &[Scope]) -> Result<TokenGrant> {
        let request = Request::get(self.url("/v2/")).anonymous();
        let response = self.send_any(request.clone()).await?;
        let status = response.status();
        if status.is_success() {
            return Ok(TokenGrant::NotNeeded);
        }
        if status != StatusCode::UNAUTHORIZED {
            return Err(self.status_error(&request.method, response).await);
        }
        let what = || format!("GET {}", crate::http::redact(response.url()));
        let challenges = challenges_of(response.headers());
        let Some(bearer) = challenges.iter().find(|c| c.is_bearer()) else {
            if let Some(basic) = challenges.iter().find(|c| c.is_basic()) {
                return Ok(TokenGrant::Basic {
                    realm: basic.realm().map(str::to_owned),
                });
            }
            let reason = match challenges.first() {
                Some(other) => format!(
                    "401 asking for {} authentication, neither Bearer nor Basic",
                    other.scheme()
                ),
                None => "401 without a WWW-Authenticate challenge".to_owned(),
            };
            return Err(Error::protocol(what(), reason));
        };
        let from_challenge = bearer.scope().map(Scope::parse_list).unwrap_or_default();
        let scopes = Scope::merge(scopes.iter().cloned().chain(from_challenge));
        let inner = &self.inner;
        let ctx = AuthContext {
            registry: self.base(),
            scopes: &scopes,
            http: &inner.token_http,
            allow_insecure_realm: inner.allow_insecure_realm,
        };
        if let Some(info) = inner
            .authenticator
            .fetch_token(&ctx, bearer, &scopes)
            .await?
        {
            return Ok(TokenGrant::Bearer(info));
        }
        let answer = match inner.authenticator.answer(&ctx, &challenges, None).await? {
            Some(answer) => Some(answer),
            None => inner.authenticator.authorize(&ctx).await?,
        };
        let token = answer.as_ref().and_then(|a| {
            a.header_value()
                .to_str()
                .ok()?
                .strip_prefix("Bearer ")
                .map(str::to_owned)
        });
        let Some(token) = token else {
            return Err(Error::protocol(
                what(),
                "the registry asks for a bearer token and the authenticator gives none",
            ));
        };
        let mut info = TokenInfo::new(token, bearer.realm().unwrap_or_default());
        info.service = bearer.service().map(str::to_owned);
        info.requested = scopes;
        Ok(TokenGrant::Bearer(info))
    }
}
