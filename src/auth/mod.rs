//! Authentication: a pluggable [`Authenticator`], the challenges registries
//! send, the bearer token flow with its cache, and Docker's credential store.
//!
//! The client consults its authenticator for every request to the registry's
//! own origin ([`Authenticator::authorize`]) and, when the registry answers
//! `401` with a challenge, asks it once to answer the challenge
//! ([`Authenticator::answer`]) and retries once. Only a `401` from the
//! registry's own origin is answered: one from storage a request was
//! redirected to is returned as it is. Built in:
//!
//! | authenticator | what it does |
//! |---|---|
//! | [`Anonymous`] (the default) | no credentials; still fetches anonymous bearer tokens, as public registries require |
//! | [`Basic`] | a username and password: `Basic` when the registry asks for it, else the token flow with them |
//! | [`BearerToken`] | a token you already have, sent as is |
//! | [`TokenFlow`] | the engine behind the first two: bearer token flow, OAuth2, token cache |
//! | [`DockerConfig`] | credentials from `docker login` / `podman login`, credential helpers included |
//! | [`CredentialChain`] | given credentials, else `REGISTRY_USERNAME` / `REGISTRY_PASSWORD`, else the Docker config per host |
//!
//! Credentials and tokens never print: [`Secret`] and [`Authorization`] show
//! `<redacted>` in `Debug` and `Display`.

mod chain;
mod challenge;
mod docker_config;
mod scope;
mod token;

use std::fmt;

use async_trait::async_trait;
use base64::Engine as _;
use reqwest::header::HeaderValue;
use url::Url;

pub use chain::{
    CredentialChain, CredentialChainBuilder, CredentialSource, PASSWORD_VAR, USERNAME_VAR,
};
pub use challenge::{challenges_of, parse_challenges, Challenge};
pub use docker_config::DockerConfig;
pub use scope::Scope;
pub use token::{TokenFlow, TokenInfo};

use crate::error::Error;
use crate::Result;

/// Answers a registry's authentication: attaches credentials to requests and
/// responds to `401` challenges.
///
/// Implement it to plug in your own credentials (a cloud provider's token, a
/// secret manager); both methods have defaults that do nothing, so implement
/// the one you need. The client calls it only for requests to the registry's
/// own origin; credentials never go elsewhere.
///
/// ```
/// use dockreg::auth::{AuthContext, Authenticator, Authorization};
///
/// /// Sends a token fetched from somewhere else with every request.
/// #[derive(Debug)]
/// struct FromEnv;
///
/// #[async_trait::async_trait]
/// impl Authenticator for FromEnv {
///     async fn authorize(&self, _: &AuthContext<'_>) -> dockreg::Result<Option<Authorization>> {
///         Ok(std::env::var("MY_REGISTRY_TOKEN").ok().map(|t| Authorization::bearer(&t)).transpose()?)
///     }
/// }
/// let client = dockreg::Client::builder("registry.example.com").authenticator(FromEnv).build()?;
/// # Ok::<(), dockreg::Error>(())
/// ```
#[async_trait]
pub trait Authenticator: fmt::Debug + Send + Sync {
    /// The `Authorization` to send with a request before any challenge (a
    /// cached token, known credentials), or `None` to send it without.
    async fn authorize(&self, ctx: &AuthContext<'_>) -> Result<Option<Authorization>> {
        let _ = ctx;
        Ok(None)
    }

    /// Answers a `401`: the `Authorization` to retry the request with, or
    /// `None` to give up and return the `401` to the caller. `failed` is what
    /// the request was sent with, so a rejected token can be dropped from a
    /// cache. Called at most once per request.
    async fn answer(
        &self,
        ctx: &AuthContext<'_>,
        challenges: &[Challenge],
        failed: Option<&Authorization>,
    ) -> Result<Option<Authorization>> {
        let _ = (ctx, challenges, failed);
        Ok(None)
    }

    /// Fetches a fresh token for a `Bearer` challenge and these scopes,
    /// with what the token server said of it: what
    /// [`Client::token`](crate::Client::token) shows to a person who wants
    /// the token itself. `None` (the default): this authenticator fetches
    /// no tokens, and [`Client::token`](crate::Client::token) falls back on
    /// [`Authenticator::answer`].
    async fn fetch_token(
        &self,
        ctx: &AuthContext<'_>,
        challenge: &Challenge,
        scopes: &[Scope],
    ) -> Result<Option<TokenInfo>> {
        let _ = (ctx, challenge, scopes);
        Ok(None)
    }
}

/// What an [`Authenticator`] knows of the request it authorizes.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct AuthContext<'a> {
    /// The registry's base URL (its origin is where credentials may go).
    pub registry: &'a Url,
    /// The scopes the operation needs (`repository:NAME:pull`, ...).
    pub scopes: &'a [Scope],
    /// The client's HTTP client for token requests: the same TLS settings
    /// and timeouts as the client's own, but it follows redirects only
    /// within the origin of the URL first asked (a token request never
    /// lands on another host) and sends no `Referer`. With
    /// [`ClientBuilder::http_client`](crate::ClientBuilder::http_client),
    /// the injected client itself.
    pub http: &'a reqwest::Client,
    /// Whether a plain-http token realm may serve an https registry.
    pub allow_insecure_realm: bool,
}

/// A secret string (password, token): shows as `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Secret {
        Secret(secret.into())
    }

    /// The secret itself. Do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Secret {
        Secret(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret(s.to_owned())
    }
}

/// An `Authorization` header value; shows as `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Authorization(HeaderValue);

impl Authorization {
    /// `Basic base64(username:password)`.
    pub fn basic(username: &str, password: &Secret) -> Result<Authorization> {
        let raw = format!("{username}:{}", password.expose());
        let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
        Authorization::from_value(format!("Basic {encoded}"))
    }

    /// `Bearer TOKEN`.
    pub fn bearer(token: &str) -> Result<Authorization> {
        Authorization::from_value(format!("Bearer {token}"))
    }

    fn from_value(value: String) -> Result<Authorization> {
        let mut v = HeaderValue::from_str(&value).map_err(|_| {
            Error::invalid(
                "credential",
                "<redacted>",
                "contains characters not allowed in an HTTP header",
            )
        })?;
        v.set_sensitive(true);
        Ok(Authorization(v))
    }

    /// The header value (marked sensitive).
    pub fn header_value(&self) -> &HeaderValue {
        &self.0
    }
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Authorization(<redacted>)")
    }
}

/// Credentials for a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credential {
    /// A username and a password (or a personal access token used as one).
    Password {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
    /// An OAuth2 refresh token (Docker's `identitytoken`), exchanged at the
    /// token realm with `grant_type=refresh_token`.
    IdentityToken {
        /// The user name, when known.
        username: Option<String>,
        /// The refresh token.
        token: Secret,
    },
}

impl Credential {
    /// A username and password.
    pub fn password(username: impl Into<String>, password: impl Into<Secret>) -> Credential {
        Credential::Password {
            username: username.into(),
            password: password.into(),
        }
    }

    /// An identity (refresh) token.
    pub fn identity_token(token: impl Into<Secret>) -> Credential {
        Credential::IdentityToken {
            username: None,
            token: token.into(),
        }
    }
}

/// No credentials; anonymous bearer tokens are still fetched when a registry
/// asks for them (public repositories on Docker Hub need one). The default.
#[derive(Debug, Default)]
pub struct Anonymous(TokenFlow);

impl Anonymous {
    /// The anonymous authenticator.
    pub fn new() -> Anonymous {
        Anonymous(TokenFlow::new(None))
    }
}

/// A username and a password: sent as `Basic` to a registry that asks for
/// Basic, exchanged for bearer tokens at a registry that asks for Bearer (as
/// `docker login` credentials are).
#[derive(Debug)]
pub struct Basic(TokenFlow);

impl Basic {
    /// Credentials from a username and a password.
    pub fn new(username: impl Into<String>, password: impl Into<Secret>) -> Basic {
        Basic(TokenFlow::new(Some(Credential::password(
            username, password,
        ))))
    }
}

macro_rules! delegate_to_flow {
    ($($t:ty),*) => {$(
        #[async_trait]
        impl Authenticator for $t {
            async fn authorize(&self, ctx: &AuthContext<'_>) -> Result<Option<Authorization>> {
                self.0.authorize(ctx).await
            }
            async fn answer(
                &self,
                ctx: &AuthContext<'_>,
                challenges: &[Challenge],
                failed: Option<&Authorization>,
            ) -> Result<Option<Authorization>> {
                self.0.answer(ctx, challenges, failed).await
            }
            async fn fetch_token(
                &self,
                ctx: &AuthContext<'_>,
                challenge: &Challenge,
                scopes: &[Scope],
            ) -> Result<Option<TokenInfo>> {
                self.0.fetch_token(ctx, challenge, scopes).await
            }
        }
    )*};
}
delegate_to_flow!(Anonymous, Basic);

/// A bearer token you already have, sent with every request to the registry.
#[derive(Debug)]
pub struct BearerToken(Authorization);

impl BearerToken {
    /// Sends `Authorization: Bearer TOKEN`. Fails on characters a header
    /// cannot carry.
    pub fn new(token: impl Into<Secret>) -> Result<BearerToken> {
        Authorization::bearer(token.into().expose()).map(BearerToken)
    }
}

#[async_trait]
impl Authenticator for BearerToken {
    async fn authorize(&self, _: &AuthContext<'_>) -> Result<Option<Authorization>> {
        Ok(Some(self.0.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "<redacted> <redacted>");
        let a = Authorization::basic("user", &s).unwrap();
        assert!(!format!("{a:?}").contains("hunter2"));
        assert!(!format!("{:?}", a.header_value()).contains("dXNlcjpodW50ZXIy"));
        let b = Basic::new("user", "hunter2");
        assert!(!format!("{b:?}").contains("hunter2"), "{b:?}");
        let c = Credential::identity_token("refresh-me");
        assert!(!format!("{c:?}").contains("refresh-me"));
        let t = BearerToken::new("tok-123").unwrap();
        assert!(!format!("{t:?}").contains("tok-123"));
    }

    #[test]
    fn basic_header_encoding() {
        let a = Authorization::basic("user", &"pass".into()).unwrap();
        assert_eq!(a.header_value().to_str().unwrap(), "Basic dXNlcjpwYXNz");
        assert!(a.header_value().is_sensitive());
        assert!(Authorization::bearer("bad\ntoken").is_err());
    }
}
