//! The bearer token flow (docker's `auth/token.md`, OAuth2 from
//! `auth/oauth.md`) with a token cache shared by concurrent requests.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::StatusCode;
use serde::Deserialize;
use url::{Origin, Url};

use super::{AuthContext, Authenticator, Authorization, Challenge, Credential, Scope, Secret};
use crate::error::Error;
use crate::http::read_limited;
use crate::http::{redact, registry_error};
use crate::models::parse_rfc3339;
use crate::Result;

/// Largest token response read (tokens are small; a huge body is an attack).
const TOKEN_RESPONSE_LIMIT: u64 = 1 << 20;
/// A challenge's realm for a trace: without credentials or query.
#[cfg(feature = "tracing")]
fn realm_shown(challenge: &Challenge) -> String {
    match challenge.realm().map(Url::parse) {
        Some(Ok(url)) => redact(&url),
        Some(Err(_)) => "<unparsable realm>".to_owned(),
        None => "<none>".to_owned(),
    }
}

/// Scopes for a trace, as the token request names them.
#[cfg(feature = "tracing")]
fn scopes_shown(scopes: &[Scope]) -> String {
    let shown: Vec<String> = scopes.iter().map(ToString::to_string).collect();
    shown.join(" ")
}

/// Lifetime of a token whose response has no `expires_in` (the spec's default).
const DEFAULT_EXPIRES_IN: u64 = 60;
/// The shortest lifetime a token is given, whatever `expires_in` says
/// (0 or negative included).
pub(crate) const MIN_LIFETIME: Duration = Duration::from_secs(1);
/// The longest lifetime a token is given: a token server may promise
/// more (`expires_in: 18446744073709551615`), but the token is asked for
/// again after a day.
pub(crate) const MAX_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// Tokens kept at most; past it, those no request is waiting on are dropped.
const CACHE_ENTRIES: usize = 1024;
/// The client id sent to token servers, for their audit logs.
const DEFAULT_CLIENT_ID: &str = "dockreg";

/// The token flow: answers `Bearer` challenges by fetching a token from the
/// realm (with credentials when it has them, anonymously otherwise) and
/// `Basic` challenges with its username and password.
///
/// - Tokens are cached per registry origin, realm, service and scope set, so
///   a flow shared by clients of several registries never hands one
///   registry a token fetched for another; concurrent requests that need
///   the same token share one fetch. Refresh tokens are kept per registry
///   origin, realm and service.
/// - A token is refreshed shortly before it expires (`expires_in`, default
///   60 s, counted from `issued_at` when sent and not in the future). A
///   lifetime is taken as at least 1 s and at most 24 h, whatever the token
///   server says.
/// - A realm with credentials in its URL (`https://user:pass@host/token`)
///   is refused. Token requests follow no redirect to another origin, and
///   the OAuth2 `POST` body (a password or refresh token) is sent so that no
///   redirect can send it again, anywhere.
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
    cache: Mutex<HashMap<TokenKey, Arc<tokio::sync::Mutex<Option<CachedToken>>>>>,
    known: Mutex<HashMap<Origin, Challenge>>,
    refresh_tokens: Mutex<HashMap<RefreshKey, Secret>>,
}

/// What a cached token is for: who asked (the registry's origin) and what
/// the challenge named. Fields, not a joined string, so no two distinct
/// keys can collide.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TokenKey {
    registry: Origin,
    realm: String,
    service: Option<String>,
    scopes: Vec<Scope>,
}

/// What a refresh token was issued for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RefreshKey {
    registry: Origin,
    realm: String,
    service: Option<String>,
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
    /// Any JSON: a hostile or sloppy server sends huge, negative,
    /// fractional or quoted numbers; [`lifetime`] makes sense of them.
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    issued_at: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
}

/// A bearer token as a token server issued it, and what the server said of
/// it: what [`Client::token`](crate::Client::token) returns to a program or
/// a person who wants the token itself (for `curl -H "Authorization: Bearer
/// ..."`). The token shows as `<redacted>` in `Debug`.
///
/// ```
/// use dockreg::auth::TokenInfo;
/// // A JWT as docker's token servers issue it (signature elided here).
/// let claims = r#"{"exp":4102444800,"access":[{"type":"repository","name":"team/app","actions":["pull"]}]}"#;
/// # use base64::Engine as _;
/// let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims);
/// let info = TokenInfo::new(format!("eyJhbGciOiJSUzI1NiJ9.{payload}.c2ln"), "https://auth.example.com/token");
/// let granted = info.granted().unwrap();
/// assert_eq!(granted[0].to_string(), "repository:team/app:pull");
/// assert_eq!(
///     info.expires_at(),
///     Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(4102444800))
/// );
/// // An opaque token says nothing of itself.
/// assert!(TokenInfo::new("opaque", "https://auth.example.com/token").granted().is_none());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TokenInfo {
    /// The token (the answer's `token`, else its `access_token`). Do not
    /// log it.
    pub token: Secret,
    /// The realm it came from (the challenge's `realm`).
    pub realm: String,
    /// The challenge's `service`, when it named one.
    pub service: Option<String>,
    /// The scopes asked for. What the token server granted may be less:
    /// see [`TokenInfo::granted`].
    pub requested: Vec<Scope>,
    /// The answer's `expires_in`, clamped to 1 s..=24 h; `None` when it sent
    /// none (the spec's default is then 60 s).
    pub expires_in: Option<Duration>,
    /// The answer's `issued_at`, when it sent one that reads as RFC 3339
    /// and is not in the future.
    pub issued_at: Option<SystemTime>,
    /// When the token was asked for (`None`: not from a token response).
    fetched_at: Option<SystemTime>,
}

impl TokenInfo {
    /// A token from `realm`, known by nothing else (no service, scopes or
    /// expiry): for an [`Authenticator`] of your own, and for tests.
    pub fn new(token: impl Into<Secret>, realm: impl Into<String>) -> TokenInfo {
        TokenInfo {
            token: token.into(),
            realm: realm.into(),
            service: None,
            requested: Vec::new(),
            expires_in: None,
            issued_at: None,
            fetched_at: None,
        }
    }

    /// The scopes granted, read from the token's `access` claim when the
    /// token is a JWT (as docker's token server and most others issue):
    /// each with the actions granted, none when nothing was. `None` when
    /// the token is not a JWT or carries no `access` claim. The claims are
    /// read, not verified: the registry checks the signature.
    pub fn granted(&self) -> Option<Vec<Scope>> {
        let access = jwt_claims(self.token.expose())?;
        let access = access.get("access")?.as_array()?;
        Some(
            access
                .iter()
                .filter_map(|entry| {
                    let resource_type = entry.get("type")?.as_str()?;
                    let name = entry.get("name")?.as_str()?;
                    let actions = entry
                        .get("actions")
                        .and_then(serde_json::Value::as_array)
                        .map(|a| a.iter().filter_map(serde_json::Value::as_str).collect())
                        .unwrap_or_else(Vec::new);
                    Some(Scope::new(resource_type, name, actions))
                })
                .collect(),
        )
    }

    /// When the token expires: the JWT's `exp` claim when it has one, else
    /// `issued_at` (or the time it was asked for) plus `expires_in` (60 s
    /// when not sent). `None` when neither the token nor a token response
    /// says ([`TokenInfo::new`]).
    pub fn expires_at(&self) -> Option<SystemTime> {
        let exp = jwt_claims(self.token.expose())
            .and_then(|c| c.get("exp").and_then(serde_json::Value::as_u64))
            .and_then(|secs| UNIX_EPOCH.checked_add(Duration::from_secs(secs)));
        exp.or_else(|| {
            let from = self.issued_at.or(self.fetched_at)?;
            let lifetime = self
                .expires_in
                .unwrap_or(Duration::from_secs(DEFAULT_EXPIRES_IN));
            Some(from.checked_add(lifetime).unwrap_or(from))
        })
    }
}

/// The claims of a JWT (`HEADER.CLAIMS.SIGNATURE`, base64url), unverified;
/// `None` for anything else.
fn jwt_claims(token: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    use base64::Engine as _;
    let mut parts = token.split('.');
    let (_, claims, _) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(claims.trim_end_matches('='))
        .ok()?;
    match serde_json::from_slice(&decoded).ok()? {
        serde_json::Value::Object(map) => Some(map),
        _ => None,
    }
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
        let slot = self.slot(ctx, challenge, scopes);
        let mut slot = slot.lock().await;
        if let Some(cached) = slot.as_ref() {
            let refused = failed == Some(&cached.authorization);
            if !refused && Instant::now() < cached.refresh_at {
                return Ok(cached.authorization.clone());
            }
            crate::trace::info!(
                realm = %realm_shown(challenge),
                scopes = %scopes_shown(scopes),
                reason = if refused { "the registry refused it" } else { "it is due to expire" },
                "refreshing token"
            );
        }
        let (fetched, _) = self.fetch(ctx, challenge, scopes).await?;
        let authorization = fetched.authorization.clone();
        *slot = Some(fetched);
        Ok(authorization)
    }

    /// The cache slot of a token for the challenge's realm and these scopes.
    fn slot(
        &self,
        ctx: &AuthContext<'_>,
        challenge: &Challenge,
        scopes: &[Scope],
    ) -> Arc<tokio::sync::Mutex<Option<CachedToken>>> {
        let key = TokenKey {
            registry: ctx.registry.origin(),
            realm: challenge.realm().unwrap_or_default().to_owned(),
            service: challenge.service().map(str::to_owned),
            scopes: scopes.to_vec(),
        };
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_ENTRIES && !cache.contains_key(&key) {
            // Slots held only by the map have no request waiting on them.
            cache.retain(|_, slot| Arc::strong_count(slot) > 1);
        }
        cache.entry(key).or_default().clone()
    }

    async fn fetch(
        &self,
        ctx: &AuthContext<'_>,
        challenge: &Challenge,
        scopes: &[Scope],
    ) -> Result<(CachedToken, TokenInfo)> {
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
        if !realm_url.username().is_empty() || realm_url.password().is_some() {
            // reqwest would send them as Basic credentials: a registry does
            // not get to choose what this client authenticates with.
            return Err(Error::protocol(
                format!("authenticating to {registry}"),
                format!(
                    "token realm {} with credentials in its URL refused",
                    redact(&realm_url)
                ),
            ));
        }
        match realm_url.scheme() {
            "https" => {}
            "http" if ctx.registry.scheme() == "http" || ctx.allow_insecure_realm => {}
            "http" => {
                return Err(Error::protocol(
                    format!("authenticating to {registry}"),
                    format!(
                        "token realm {} is plain http for an https registry: refused \
                         (ClientBuilder::danger_allow_insecure_realm allows it)",
                        redact(&realm_url)
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
        let refresh_key = RefreshKey {
            registry: ctx.registry.origin(),
            realm: realm.to_owned(),
            service: service.map(str::to_owned),
        };
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
                .header(CONTENT_LENGTH, body.len())
                .body(one_shot(body))
                .send()
                .await
                .map_err(|source| Error::http("POST", &realm_url, source))?;
            check_origin(&sent, &realm_url, "POST")?;
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
                    .map_err(|source| Error::http("GET", &realm_url, source))?;
                check_origin(&sent, &realm_url, "GET")?;
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
            let mut kept = self
                .refresh_tokens
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if kept.len() < CACHE_ENTRIES || kept.contains_key(&refresh_key) {
                kept.insert(refresh_key, Secret::new(refresh_token));
            }
        }
        let expires_in = sent_lifetime(parsed.expires_in.as_ref());
        let lifetime = expires_in.unwrap_or(Duration::from_secs(DEFAULT_EXPIRES_IN));
        let now = SystemTime::now();
        let issued_at = parsed
            .issued_at
            .as_deref()
            .and_then(parse_rfc3339)
            .filter(|t| *t <= now);
        let issued = issued_at.unwrap_or(started);
        let wait = refresh_in(lifetime, issued, now);
        crate::trace::info!(
            realm = %redact(&realm_url),
            service,
            scopes = %scopes_shown(scopes),
            method,
            grant = match (&refresh, &password_post) {
                (Some(_), _) => "refresh_token",
                (None, Some(_)) if method == "POST" => "password",
                _ if self.credential.is_some() => "basic",
                _ => "anonymous",
            },
            lifetime_s = lifetime.as_secs(),
            refresh_in_s = wait.as_secs(),
            "token fetched"
        );
        let authorization = Authorization::bearer(&token)?;
        let info = TokenInfo {
            token: Secret::new(token),
            realm: realm.to_owned(),
            service: service.map(str::to_owned),
            requested: scopes.to_vec(),
            expires_in,
            issued_at,
            fetched_at: Some(started),
        };
        let now = Instant::now();
        Ok((
            CachedToken {
                authorization,
                refresh_at: now.checked_add(wait).unwrap_or(now),
            },
            info,
        ))
    }

    fn remember(&self, ctx: &AuthContext<'_>, challenge: &Challenge) {
        self.known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(ctx.registry.origin(), challenge.clone());
    }

    fn known(&self, ctx: &AuthContext<'_>) -> Option<Challenge> {
        self.known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&ctx.registry.origin())
            .cloned()
    }
}

/// A request body no redirect can send again: reqwest (through tower-http)
/// replays a body on 307/308 only when it can clone it, and a stream it
/// cannot. The length still goes in `Content-Length`.
fn one_shot(body: String) -> reqwest::Body {
    let chunk = bytes::Bytes::from(body);
    reqwest::Body::wrap_stream(futures::stream::once(async move {
        Ok::<_, std::io::Error>(chunk)
    }))
}

/// Refuses a token answer that is a redirect (one to another origin is not
/// followed, and a `POST` is never resent) or that came from another origin
/// than the realm's (an injected `reqwest::Client` follows its own policy).
fn check_origin(response: &reqwest::Response, realm: &Url, method: &str) -> Result<()> {
    let what = || format!("token {method} {}", redact(realm));
    if response.status().is_redirection() {
        let target = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| response.url().join(l).ok())
            .map(|u| format!(" to {}", redact(&u)))
            .unwrap_or_default();
        return Err(Error::protocol(
            what(),
            format!(
                "{} redirect{target} refused: token requests follow redirects only \
                 within the realm's origin, and never send a POST body again",
                response.status()
            ),
        ));
    }
    if response.url().origin() != realm.origin() {
        return Err(Error::protocol(
            what(),
            format!(
                "the answer came from {} after a redirect to another origin: refused",
                redact(response.url())
            ),
        ));
    }
    Ok(())
}

/// A token's lifetime from its `expires_in`: absent or not a number, the
/// spec's 60 s; otherwise clamped to [`MIN_LIFETIME`]..=[`MAX_LIFETIME`]
/// (negative, zero, fractional, huge and quoted numbers included).
#[cfg(test)]
fn lifetime(expires_in: Option<&serde_json::Value>) -> Duration {
    sent_lifetime(expires_in).unwrap_or(Duration::from_secs(DEFAULT_EXPIRES_IN))
}

/// The lifetime `expires_in` states, clamped to [`MIN_LIFETIME`]..=
/// [`MAX_LIFETIME`]; `None` when it states none (absent, null, not a number).
fn sent_lifetime(expires_in: Option<&serde_json::Value>) -> Option<Duration> {
    let secs = match expires_in {
        Some(serde_json::Value::Number(n)) => n.as_f64(),
        Some(serde_json::Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    let secs = secs.filter(|s| !s.is_nan())?;
    let secs = secs.clamp(MIN_LIFETIME.as_secs_f64(), MAX_LIFETIME.as_secs_f64());
    Some(Duration::try_from_secs_f64(secs).unwrap_or(MAX_LIFETIME))
}

/// How long a token issued at `issued` (not after `now`) with `lifetime`
/// may be used before it is fetched again: until it expires, less a margin
/// of a tenth of its lifetime (at most 30 s). Never overflows.
fn refresh_in(lifetime: Duration, issued: SystemTime, now: SystemTime) -> Duration {
    let left = issued
        .checked_add(lifetime)
        .and_then(|expires| expires.duration_since(now).ok())
        .unwrap_or_default()
        .min(lifetime);
    let margin = (lifetime / 10).min(Duration::from_secs(30));
    left.saturating_sub(margin)
}

#[async_trait]
impl Authenticator for TokenFlow {
    async fn fetch_token(
        &self,
        ctx: &AuthContext<'_>,
        challenge: &Challenge,
        scopes: &[Scope],
    ) -> Result<Option<TokenInfo>> {
        if !challenge.is_bearer() {
            return Ok(None);
        }
        self.remember(ctx, challenge);
        let slot = self.slot(ctx, challenge, scopes);
        let mut slot = slot.lock().await;
        let (fetched, info) = self.fetch(ctx, challenge, scopes).await?;
        *slot = Some(fetched);
        Ok(Some(info))
    }

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
    fn lifetimes_are_clamped_whatever_the_server_sends() {
        use serde_json::json;
        let day = Duration::from_secs(86_400);
        for (sent, expected) in [
            (None, Duration::from_secs(60)),
            (Some(json!(null)), Duration::from_secs(60)),
            (Some(json!("soon")), Duration::from_secs(60)),
            (Some(json!(true)), Duration::from_secs(60)),
            (Some(json!(300)), Duration::from_secs(300)),
            (Some(json!(" 300 ")), Duration::from_secs(300)),
            (Some(json!(2.5)), Duration::from_millis(2500)),
            (Some(json!(u64::MAX)), day),
            (Some(json!(1e300)), day),
            (Some(json!("1e999")), day),
            (Some(json!(0)), MIN_LIFETIME),
            (Some(json!(0.001)), MIN_LIFETIME),
            (Some(json!(-1)), MIN_LIFETIME),
            (Some(json!(i64::MIN)), MIN_LIFETIME),
        ] {
            assert_eq!(lifetime(sent.as_ref()), expected, "{sent:?}");
        }
        assert_eq!(MAX_LIFETIME, day);
    }

    #[test]
    fn refresh_comes_before_expiry_and_never_overflows() {
        let now = SystemTime::now();
        let min = Duration::from_secs(60);
        // Issued now: a tenth early, at most 30 s.
        assert_eq!(refresh_in(min, now, now), Duration::from_secs(54));
        assert_eq!(
            refresh_in(MAX_LIFETIME, now, now),
            MAX_LIFETIME - Duration::from_secs(30)
        );
        // Issued long ago: expired, fetched again at once.
        let ancient = parse_rfc3339("0001-01-01T00:00:00Z").unwrap();
        assert_eq!(refresh_in(MAX_LIFETIME, ancient, now), Duration::ZERO);
        assert_eq!(refresh_in(Duration::MAX, ancient, now), Duration::ZERO);
        // A lifetime no clock can hold (callers clamp it first) does not panic.
        let _ = refresh_in(Duration::MAX, now, now);
    }

    proptest::proptest! {
        #[test]
        fn any_expires_in_and_issued_at_are_safe(
            int in proptest::num::i64::ANY,
            uint in proptest::num::u64::ANY,
            float in proptest::num::f64::ANY,
            ago in proptest::num::u64::ANY,
        ) {
            let now = SystemTime::now();
            let issued = now.checked_sub(Duration::from_secs(ago)).unwrap_or(now);
            for sent in [
                serde_json::json!(int),
                serde_json::json!(uint),
                serde_json::json!(float),
                serde_json::json!(float.to_string()),
            ] {
                let life = lifetime(Some(&sent));
                proptest::prop_assert!((MIN_LIFETIME..=MAX_LIFETIME).contains(&life), "{sent}");
                let wait = refresh_in(life, issued, now);
                proptest::prop_assert!(wait <= life);
                proptest::prop_assert!(Instant::now().checked_add(wait).is_some());
            }
        }
    }

    #[test]
    fn cache_keys_are_fields_not_joined_text() {
        let origin = |u: &str| Url::parse(u).unwrap().origin();
        let key = |registry: &str, realm: &str, service: Option<&str>, scopes: &[&str]| TokenKey {
            registry: origin(registry),
            realm: realm.to_owned(),
            service: service.map(str::to_owned),
            scopes: scopes.iter().map(|s| Scope::parse(s).unwrap()).collect(),
        };
        let a = key(
            "http://a:5000",
            "https://t/token",
            Some("s"),
            &["repository:x:pull"],
        );
        assert_eq!(
            a,
            key(
                "http://a:5000/",
                "https://t/token",
                Some("s"),
                &["repository:x:pull"]
            )
        );
        // Another registry naming the same realm, service and scope.
        assert_ne!(
            a,
            key(
                "http://b:5000",
                "https://t/token",
                Some("s"),
                &["repository:x:pull"]
            )
        );
        // Once joined with spaces, these two were the same key.
        assert_ne!(
            key(
                "http://a:5000",
                "https://t/token",
                Some("s repository:x:pull"),
                &[]
            ),
            key(
                "http://a:5000",
                "https://t/token",
                Some("s"),
                &["repository:x:pull"]
            ),
        );
        assert_ne!(
            key("http://a:5000", "https://t/token", None, &[]),
            key("http://a:5000", "https://t/token", Some(""), &[]),
        );
    }

    #[test]
    fn a_realm_with_credentials_is_refused_before_any_request() {
        let err = answer(
            "https://registry.example.com/",
            "https://planted:secret@127.0.0.1:9/token",
            false,
        )
        .unwrap_err();
        assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
        let shown = err.to_string();
        assert!(shown.contains("credentials in its URL"), "{shown}");
        assert!(
            !shown.contains("secret") && !shown.contains("planted"),
            "{shown}"
        );
    }

    #[test]
    fn token_info_reads_jwt_claims_and_survives_anything_else() {
        use base64::Engine as _;
        let jwt = |claims: &str| {
            let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
            format!("{}.{}.sig", b64(r#"{"alg":"RS256"}"#), b64(claims))
        };
        let info = |token: String| TokenInfo::new(token, "https://auth.example.com/token");
        let granted = |token: String| {
            info(token)
                .granted()
                .map(|g| g.iter().map(ToString::to_string).collect::<Vec<_>>())
        };
        assert_eq!(
            granted(jwt(
                r#"{"access":[{"type":"repository","name":"a/b","actions":["push","pull"]},
                   {"type":"repository","name":"c","actions":[]},{"name":"no-type"},
                   {"type":"registry","name":"catalog","actions":["*",7]}]}"#
            )),
            Some(vec![
                "repository:a/b:pull,push".to_owned(),
                "repository:c:".to_owned(),
                "registry:catalog:*".to_owned(),
            ])
        );
        // Not a JWT, or no readable access claim: unknown, never a panic.
        for token in [
            "opaque".to_owned(),
            "a.b".to_owned(),
            "a.b.c.d".to_owned(),
            "x.%%%.y".to_owned(),
            jwt("[1,2]"),
            jwt("not json"),
            jwt(r#"{"access":"all"}"#),
            jwt(r#"{"sub":"me"}"#),
        ] {
            assert_eq!(granted(token.clone()), None, "{token}");
        }
        // exp: read when it is a plain number of seconds, else unknown.
        let exp = |claims: &str| info(jwt(claims)).expires_at();
        assert_eq!(
            exp(r#"{"exp":60}"#),
            Some(UNIX_EPOCH + Duration::from_secs(60))
        );
        for hostile in [
            r#"{"exp":-5}"#,
            r#"{"exp":1e300}"#,
            r#"{"exp":"soon"}"#,
            r#"{"exp":18446744073709551615}"#,
        ] {
            let _ = exp(hostile);
        }
        assert_eq!(exp(r#"{"exp":"soon"}"#), None);
        // From a token answer: issued_at (or when asked) plus expires_in.
        let mut answered = info("opaque".to_owned());
        answered.fetched_at = Some(UNIX_EPOCH + Duration::from_secs(1000));
        assert_eq!(
            answered.expires_at(),
            Some(UNIX_EPOCH + Duration::from_secs(1060)),
            "the spec's default of 60 s"
        );
        answered.expires_in = Some(Duration::from_secs(300));
        answered.issued_at = Some(UNIX_EPOCH + Duration::from_secs(900));
        assert_eq!(
            answered.expires_at(),
            Some(UNIX_EPOCH + Duration::from_secs(1200))
        );
        assert!(!format!("{answered:?}").contains("opaque"), "{answered:?}");
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
