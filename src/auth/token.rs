//! The bearer token flow (docker's `auth/token.md`, OAuth2 from
//! `auth/oauth.md`) with a token cache shared by concurrent requests.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::StatusCode;
use serde::Deserialize;
use url::Url;

use super::{AuthContext, Authenticator, Authorization, Challenge, Credential, Scope, Secret};
use crate::client::{redact, registry_error};
use crate::error::Error;
use crate::models::parse_rfc3339;
use crate::transport::read_limited;
use crate::Result;

/// Largest token response read (tokens are small; a huge body is an attack).
const TOKEN_RESPONSE_LIMIT: u64 = 1 << 20;
/// Lifetime of a token whose response has no `expires_in` (the spec's default).
const DEFAULT_EXPIRES_IN: u64 = 60;
/// The client id sent to token servers, for their audit logs.
const DEFAULT_CLIENT_ID: &str = "dockreg";

/// The token flow: answers `Bearer` challenges by fetching a token from the
/// realm (with credentials when it has them, anonymously otherwise) and
/// `Basic` challenges with its username and password.
///
/// - Tokens are cached per realm, service and scope set; concurrent requests
///   that need the same token share one fetch.
/// - A token is refreshed shortly before it expires (`expires_in`, default
///   60 s, counted from `issued_at` when sent).
/// - Once a registry's challenge is known, tokens are fetched before the
///   request, saving the `401` round trip.
/// - An identity token (OAuth2 refresh token) is exchanged with a `POST`
///   (`grant_type=refresh_token`); with [`TokenFlow::oauth2_password`] a
///   password is too (`grant_type=password`). A token server that answers
///   the `POST` with 404 or 405 is asked again with `GET`.
pub struct TokenFlow {
    credential: Option<Credential>,
    client_id: String,
    oauth2_password: bool,
    cache: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<CachedToken>>>>>,
    known: Mutex<HashMap<String, Challenge>>,
    refresh_tokens: Mutex<HashMap<String, Secret>>,
}

struct CachedToken {
    authorization: Authorization,
    refresh_at: Instant,
}

impl fmt::Debug for TokenFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = match &self.credential {
            None => "anonymous".to_owned(),
            Some(Credential::Password { username, .. }) => {
                format!("{username} (password <redacted>)")
            }
            Some(Credential::IdentityToken { username, .. }) => format!(
                "{} (identity token <redacted>)",
                username.as_deref().unwrap_or("-")
            ),
        };
        f.debug_struct("TokenFlow")
            .field("credential", &who)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl Default for TokenFlow {
    fn default() -> Self {
        TokenFlow::new(None)
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    issued_at: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
}

impl TokenFlow {
    /// A token flow with these credentials (`None`: anonymous).
    pub fn new(credential: Option<Credential>) -> TokenFlow {
        TokenFlow {
            credential,
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            oauth2_password: false,
            cache: Mutex::new(HashMap::new()),
            known: Mutex::new(HashMap::new()),
            refresh_tokens: Mutex::new(HashMap::new()),
        }
    }

    /// The `client_id` sent to token servers (default `dockreg`).
    pub fn client_id(mut self, client_id: impl Into<String>) -> TokenFlow {
        self.client_id = client_id.into();
        self
    }

    /// Exchanges a password with an OAuth2 `POST` (`grant_type=password`)
    /// instead of a `GET` with Basic credentials, keeping the refresh token
    /// the server returns for later tokens.
    pub fn oauth2_password(mut self, enabled: bool) -> TokenFlow {
        self.oauth2_password = enabled;
        self
    }

    fn basic(&self) -> Result<Option<Authorization>> {
        match &self.credential {
            Some(Credential::Password { username, password }) => {
                Authorization::basic(username, password).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// A valid token for the challenge's realm and these scopes, fetched
    /// once however many callers ask at the same time. `failed` is a token
    /// the registry just refused: it is dropped rather than reused.
    async fn token(
        &self,
        ctx: &AuthContext<'_>,
        challenge: &Challenge,
        scopes: &[Scope],
        failed: Option<&Authorization>,
    ) -> Result<Authorization> {
        let realm = challenge.realm().unwrap_or_default();
        let service = challenge.service().unwrap_or_default();
        let scope_key: Vec<String> = scopes.iter().map(ToString::to_string).collect();
        let key = format!("{realm} {service} {}", scope_key.join(" "));
        let slot = {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            cache.entry(key).or_default().clone()
        };
        let mut slot = slot.lock().await;
        if let Some(cached) = slot.as_ref() {
            let refused = failed == Some(&cached.authorization);
            if !refused && Instant::now() < cached.refresh_at {
                return Ok(cached.authorization.clone());
            }
        }
        let fetched = self.fetch(ctx, challenge, scopes).await?;
        let authorization = fetched.authorization.clone();
        *slot = Some(fetched);
        Ok(authorization)
    }

    async fn fetch(
        &self,
        ctx: &AuthContext<'_>,
        challenge: &Challenge,
        scopes: &[Scope],
    ) -> Result<CachedToken> {
        let registry = redact(ctx.registry);
        let realm = challenge.realm().ok_or_else(|| {
            Error::protocol(
                format!("authenticating to {registry}"),
                format!("Bearer challenge without a realm: {challenge}"),
            )
        })?;
        let realm_url = Url::parse(realm).map_err(|e| {
            Error::protocol(
                format!("authenticating to {registry}"),
                format!("bad token realm {realm:?}: {e}"),
            )
        })?;
        match realm_url.scheme() {
            "https" => {}
            "http" if ctx.registry.scheme() == "http" || ctx.allow_insecure_realm => {}
            "http" => {
                return Err(Error::protocol(
                    format!("authenticating to {registry}"),
                    format!(
                        "token realm {realm} is plain http for an https registry: refused \
                         (ClientBuilder::danger_allow_insecure_realm allows it)"
                    ),
                ))
            }
            other => {
                return Err(Error::protocol(
                    format!("authenticating to {registry}"),
                    format!("token realm scheme {other:?} is not http(s)"),
                ))
            }
        }
        let service = challenge.service();
        let refresh_key = format!("{realm} {}", service.unwrap_or_default());
        let refresh = match &self.credential {
            Some(Credential::IdentityToken { token, .. }) => Some(("refresh_token", token.clone())),
            _ => self
                .refresh_tokens
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&refresh_key)
                .cloned()
                .map(|t| ("refresh_token", t)),
        };
        let password_post = match (&self.credential, self.oauth2_password) {
            (Some(Credential::Password { username, password }), true) if refresh.is_none() => {
                Some((username.clone(), password.clone()))
            }
            _ => None,
        };

        let started = SystemTime::now();
        let mut response = None;
        if refresh.is_some() || password_post.is_some() {
            let body = {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                if let Some((_, token)) = &refresh {
                    form.append_pair("grant_type", "refresh_token");
                    form.append_pair("refresh_token", token.expose());
                } else if let Some((username, password)) = &password_post {
                    form.append_pair("grant_type", "password");
                    form.append_pair("username", username);
                    form.append_pair("password", password.expose());
                    form.append_pair("access_type", "offline");
                }
                form.append_pair("client_id", &self.client_id);
                if let Some(service) = service {
                    form.append_pair("service", service);
                }
                let scope: Vec<String> = scopes.iter().map(ToString::to_string).collect();
                if !scope.is_empty() {
                    form.append_pair("scope", &scope.join(" "));
                }
                form.finish()
            };
            let sent = ctx
                .http
                .post(realm_url.clone())
                .header(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                )
                .body(body)
                .send()
                .await
                .map_err(|source| http_error("POST", &realm_url, source))?;
            if !matches!(
                sent.status(),
                StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
            ) {
                response = Some(("POST", sent));
            }
        }
        let (method, response) = match response {
            Some(r) => r,
            None => {
                let mut url = realm_url.clone();
                {
                    let mut q = url.query_pairs_mut();
                    if let Some(service) = service {
                        q.append_pair("service", service);
                    }
                    for s in scopes {
                        q.append_pair("scope", &s.to_string());
                    }
                    q.append_pair("client_id", &self.client_id);
                }
                let mut request = ctx.http.get(url.clone());
                if let Some(basic) = self.basic()? {
                    request = request.header(AUTHORIZATION, basic.header_value().clone());
                }
                let sent = request
                    .send()
                    .await
                    .map_err(|source| http_error("GET", &realm_url, source))?;
                ("GET", sent)
            }
        };
        let what = format!("token {method} {}", redact(&realm_url));
        let status = response.status();
        if !status.is_success() {
            let body = read_limited(response, 64 << 10, method)
                .await
                .unwrap_or_default();
            return Err(registry_error(
                method.to_owned(),
                redact(&realm_url),
                status,
                &body,
            ));
        }
        let body = read_limited(response, TOKEN_RESPONSE_LIMIT, method).await?;
        let parsed: TokenResponse =
            serde_json::from_slice(&body).map_err(|e| Error::decode(what.clone(), e))?;
        let token = parsed
            .token
            .filter(|t| !t.is_empty())
            .or(parsed.access_token.filter(|t| !t.is_empty()))
            .ok_or_else(|| {
                Error::protocol(&what, "token response has neither token nor access_token")
            })?;
        if let Some(refresh_token) = parsed.refresh_token.filter(|t| !t.is_empty()) {
            self.refresh_tokens
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(refresh_key, Secret::new(refresh_token));
        }
        let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(DEFAULT_EXPIRES_IN));
        let issued = parsed
            .issued_at
            .as_deref()
            .and_then(parse_rfc3339)
            .filter(|t| *t <= SystemTime::now())
            .unwrap_or(started);
        let left = (issued + lifetime)
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        // Refresh a little early: a tenth of the lifetime, at most 30 s.
        let margin = (lifetime / 10).min(Duration::from_secs(30));
        Ok(CachedToken {
            authorization: Authorization::bearer(&token)?,
            refresh_at: Instant::now() + left.saturating_sub(margin),
        })
    }

    fn remember(&self, ctx: &AuthContext<'_>, challenge: &Challenge) {
        self.known.lock().unwrap_or_else(|e| e.into_inner()).insert(
            ctx.registry.origin().ascii_serialization(),
            challenge.clone(),
        );
    }

    fn known(&self, ctx: &AuthContext<'_>) -> Option<Challenge> {
        self.known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&ctx.registry.origin().ascii_serialization())
            .cloned()
    }
}

fn http_error(method: &str, url: &Url, source: reqwest::Error) -> Error {
    Error::Http {
        method: method.to_owned(),
        url: redact(url),
        source,
    }
}

#[async_trait]
impl Authenticator for TokenFlow {
    async fn authorize(&self, ctx: &AuthContext<'_>) -> Result<Option<Authorization>> {
        match self.known(ctx) {
            Some(c) if c.is_bearer() => {
                let scopes = Scope::merge(ctx.scopes.iter().cloned());
                self.token(ctx, &c, &scopes, None).await.map(Some)
            }
            Some(c) if c.is_basic() => self.basic(),
            _ => Ok(None),
        }
    }

    async fn answer(
        &self,
        ctx: &AuthContext<'_>,
        challenges: &[Challenge],
        failed: Option<&Authorization>,
    ) -> Result<Option<Authorization>> {
        if let Some(bearer) = challenges.iter().find(|c| c.is_bearer()) {
            self.remember(ctx, bearer);
            let from_challenge = bearer.scope().map(Scope::parse_list).unwrap_or_default();
            let scopes = Scope::merge(ctx.scopes.iter().cloned().chain(from_challenge));
            return self.token(ctx, bearer, &scopes, failed).await.map(Some);
        }
        if let Some(basic) = challenges.iter().find(|c| c.is_basic()) {
            self.remember(ctx, basic);
            let auth = self.basic()?;
            // The same credentials were just refused: retrying cannot help.
            if auth.is_some() && auth.as_ref() == failed {
                return Ok(None);
            }
            return Ok(auth);
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::parse_challenges;

    fn answer(registry: &str, realm: &str, allow: bool) -> Result<Option<Authorization>> {
        let registry = Url::parse(registry).unwrap();
        let http = reqwest::Client::new();
        let ctx = AuthContext {
            registry: &registry,
            scopes: &[],
            http: &http,
            allow_insecure_realm: allow,
        };
        let challenges = parse_challenges(&format!(r#"Bearer realm="{realm}",service="s""#));
        let flow = TokenFlow::new(Some(Credential::password("u", "p")));
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(flow.answer(&ctx, &challenges, None))
    }

    #[test]
    fn a_plain_http_realm_for_an_https_registry_is_refused() {
        // Port 9 (discard) on loopback: were a request sent, it would fail
        // with an HTTP error, not this protocol error.
        let err = answer(
            "https://registry.example.com/",
            "http://127.0.0.1:9/token",
            false,
        )
        .unwrap_err();
        assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
        assert!(err.to_string().contains("plain http"), "{err}");
        let err = answer(
            "https://registry.example.com/",
            "ftp://127.0.0.1:9/token",
            true,
        )
        .unwrap_err();
        assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
        // Opting in sends the request (which then fails to connect).
        let err = answer(
            "https://registry.example.com/",
            "http://127.0.0.1:9/token",
            true,
        )
        .unwrap_err();
        assert!(matches!(err, Error::Http { .. }), "{err:?}");
    }

    #[test]
    fn debug_names_the_user_but_not_the_secret() {
        let flow = TokenFlow::new(Some(Credential::password("alice", "hunter2")));
        let shown = format!("{flow:?}");
        assert!(
            shown.contains("alice") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
