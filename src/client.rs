//! [`Client`] and [`ClientBuilder`]: connection settings and the request
//! plumbing every endpoint shares.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, USER_AGENT};
use reqwest::{Method, StatusCode};
use url::Url;

use crate::auth::{challenges_of, Anonymous, AuthContext, Authenticator, Authorization, Scope};
use crate::error::Error;
use crate::models::ErrorEnvelope;
use crate::reference::{parse_registry_host, RepositoryName};
use crate::transport::{
    read_limited, retry_after, retryable_error, retryable_status, shed_exhausted, Closed, Gates,
    Limits, RetryConfig, Warnings,
};
use crate::Result;

/// The user agent sent unless [`ClientBuilder::user_agent`] says otherwise.
pub const DEFAULT_USER_AGENT: &str = concat!("dockreg/", env!("CARGO_PKG_VERSION"));

/// An async client for one registry.
///
/// Cheap to clone: clones share one connection pool and configuration, so
/// hand a clone to every task instead of wrapping it in an `Arc`.
///
/// ```no_run
/// # async fn run() -> dockreg::Result<()> {
/// use futures::TryStreamExt;
///
/// let client = dockreg::Client::builder("127.0.0.1:5000").build()?;
/// client.ping().await?;
/// let repos: Vec<String> = client.catalog().try_collect().await?;
/// let name: dockreg::RepositoryName = "team/app".parse()?;
/// let tags: Vec<String> = client.tags(&name).try_collect().await?;
/// let manifest = client.manifest(&name, &"v1".parse()?).await?;
/// println!("{} {} {}", manifest.media_type(), manifest.digest()?, repos.len() + tags.len());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    limits: Limits,
    retry: RetryConfig,
    in_flight: Arc<tokio::sync::Semaphore>,
    gates: Gates,
    warnings: Warnings,
    sync_downloads: bool,
    authenticator: Arc<dyn Authenticator>,
    allow_insecure_realm: bool,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("registry", &self.inner.base.as_str())
            .field("limits", &self.inner.limits)
            .field("authenticator", &self.inner.authenticator)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`]; see [`Client::builder`].
#[must_use = "a builder does nothing until build() is called"]
#[derive(Debug)]
pub struct ClientBuilder {
    registry: String,
    plain_http: Option<bool>,
    timeout: Option<Duration>,
    connect_timeout: Duration,
    user_agent: String,
    read_timeout: Duration,
    retry: RetryConfig,
    max_in_flight: usize,
    sync_downloads: bool,
    root_certificates: Vec<reqwest::Certificate>,
    identity: Option<reqwest::Identity>,
    pem_errors: Vec<String>,
    accept_invalid_certs: bool,
    http: Option<reqwest::Client>,
    limits: Limits,
    authenticator: Arc<dyn Authenticator>,
    allow_insecure_realm: bool,
    warnings: Warnings,
}

impl Client {
    /// Starts building a client for `registry`: a host (`127.0.0.1:5000`,
    /// `registry.example.com`, `docker.io`) or a base URL
    /// (`http://127.0.0.1:5000`, `https://registry.example.com`).
    ///
    /// A bare host is reached over plain http when it is `localhost` or a
    /// loopback address, and over https otherwise; `docker.io` is reached at
    /// `registry-1.docker.io`. [`ClientBuilder::plain_http`] overrides the
    /// choice.
    pub fn builder(registry: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            registry: registry.into(),
            plain_http: None,
            timeout: None,
            connect_timeout: Duration::from_secs(30),
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            read_timeout: Duration::from_secs(30),
            retry: RetryConfig::default(),
            max_in_flight: 16,
            sync_downloads: false,
            root_certificates: Vec::new(),
            identity: None,
            pem_errors: Vec::new(),
            accept_invalid_certs: false,
            http: None,
            limits: Limits::default(),
            authenticator: Arc::new(Anonymous::new()),
            allow_insecure_realm: false,
            warnings: Warnings::default(),
        }
    }

    /// The registry's base URL (`http://127.0.0.1:5000/`).
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// Whether downloads are flushed to disk before they are renamed into
    /// place (see [`ClientBuilder::sync_downloads`]).
    pub fn sync_downloads(&self) -> bool {
        self.inner.sync_downloads
    }

    /// The retry policy in force.
    pub fn retry_config(&self) -> &RetryConfig {
        &self.inner.retry
    }

    /// The body-size limits in force.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The distinct OCI warnings (`Warning: 299 - "..."`) the registry sent
    /// to this client and its clones so far, in the order first seen: at
    /// most 64, each at most 1 KiB, control characters replaced. See
    /// [`ClientBuilder::on_warning`] to hear of them as they come.
    pub fn warnings(&self) -> Vec<String> {
        self.inner.warnings.seen()
    }

    /// The URL of a path below the base (`/v2/...`).
    pub(crate) fn url(&self, path: &str) -> Url {
        let mut url = self.inner.base.clone();
        url.set_path(path);
        url
    }

    /// `/v2/NAME/SUFFIX` for a repository.
    pub(crate) fn repo_url(&self, name: &RepositoryName, suffix: &str) -> Url {
        self.url(&format!("/v2/{name}/{suffix}"))
    }

    /// Sends a request and returns the response when its status is a success.
    ///
    /// Any other status becomes [`Error::Registry`] with the parsed error
    /// envelope (or the capped raw body).
    pub(crate) async fn send(&self, request: Request) -> Result<reqwest::Response> {
        let method = request.method.clone();
        let response = self.send_any(request).await?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(self.status_error(&method, response).await)
        }
    }

    /// Sends a request and returns the response whatever its status; only a
    /// transport failure is an error.
    ///
    /// Requests to the registry's origin carry what the authenticator gives;
    /// a `401` with a challenge is answered once and the request sent once
    /// more. Requests elsewhere carry no credentials.
    ///
    /// Every attempt passes the host's gate (pause and adaptive concurrency,
    /// see `transport/gate.rs`), which learns from every answer. A shed
    /// answer (429, 502, 503) backs off and gives up by the host's streak of
    /// shed answers, not by this request's luck alone.
    pub(crate) async fn send_any(&self, request: Request) -> Result<reqwest::Response> {
        let retry = self.inner.retry;
        let started = std::time::Instant::now();
        let gate = self.inner.gates.gate(&request.url);
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let (result, shed) = {
                let budget_left = retry.budget.saturating_sub(started.elapsed());
                let place = match gate.acquire(budget_left).await {
                    Ok(place) => place,
                    Err(closed) => return Err(not_sent(&request, attempt, closed)),
                };
                let _permit = self.inner.in_flight.acquire().await;
                let result = self.send_authenticated(&request).await;
                let shed = match &result {
                    Ok(r) => {
                        self.inner.warnings.observe(r.headers());
                        place.answered(r.status(), r.headers())
                    }
                    Err(_) => None,
                };
                (result, shed)
            };
            let wait_hint = match &result {
                Ok(r) if retryable_status(r.status()) => Some(retry_after(r.headers())),
                Err(Error::Http { source, .. }) if retryable_error(source) => Some(None),
                _ => None,
            };
            let Some(hint) = wait_hint else {
                return result;
            };
            let delay = retry.delay(shed.map_or(attempt, |streak| streak.min(attempt)), hint);
            let in_budget = started.elapsed() + delay <= retry.budget;
            let exhausted = shed.map_or(attempt > retry.max_retries, |streak| {
                shed_exhausted(streak, attempt, retry.max_retries)
            });
            if !request.repeatable || exhausted || !in_budget {
                if attempt == 1 {
                    return result;
                }
                let last = match result {
                    Ok(response) => self.status_error(&request.method, response).await,
                    Err(e) => e,
                };
                return Err(Error::RetriesExhausted {
                    attempts: attempt,
                    source: Box::new(last),
                });
            }
            gate.wait(delay).await;
        }
    }

    /// One attempt: credentials from the authenticator, one answer to a 401.
    async fn send_authenticated(&self, request: &Request) -> Result<reqwest::Response> {
        let inner = &self.inner;
        if request.anonymous || request.url.origin() != inner.base.origin() {
            return self.send_once(request, None).await;
        }
        let ctx = AuthContext {
            registry: &inner.base,
            scopes: &request.scopes,
            http: &inner.http,
            allow_insecure_realm: inner.allow_insecure_realm,
        };
        let authorization = inner.authenticator.authorize(&ctx).await?;
        let response = self.send_once(request, authorization.as_ref()).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let challenges = challenges_of(response.headers());
        if challenges.is_empty() {
            return Ok(response);
        }
        match inner
            .authenticator
            .answer(&ctx, &challenges, authorization.as_ref())
            .await?
        {
            Some(retry) if Some(&retry) != authorization.as_ref() => {
                self.send_once(request, Some(&retry)).await
            }
            _ => Ok(response),
        }
    }

    async fn send_once(
        &self,
        request: &Request,
        authorization: Option<&Authorization>,
    ) -> Result<reqwest::Response> {
        let mut builder = self
            .inner
            .http
            .request(request.method.clone(), request.url.clone())
            .headers(request.headers.clone());
        if let Some(auth) = authorization {
            builder = builder.header(AUTHORIZATION, auth.header_value().clone());
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        builder.send().await.map_err(|source| Error::Http {
            method: request.method.to_string(),
            url: redact(&request.url),
            source,
        })
    }

    /// Turns a failed response into [`Error::Registry`], reading at most
    /// [`Limits::error_body`] bytes of its body.
    pub(crate) async fn status_error(&self, method: &Method, response: reqwest::Response) -> Error {
        let status = response.status();
        let url = redact(response.url());
        let method = method.to_string();
        let limit = self.inner.limits.error_body;
        let body = read_prefix(response, limit).await;
        registry_error(method, url, status, &body)
    }

    /// Sends a request and reads its body whole (up to `limit` bytes). A
    /// body that breaks (reset, truncated, stalled) fails the attempt, and a
    /// repeatable request is sent again under the retry policy.
    pub(crate) async fn fetch(&self, request: Request, limit: u64) -> Result<Fetched> {
        let retry = self.inner.retry;
        let started = std::time::Instant::now();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let response = self.send(request.clone()).await?;
            let headers = response.headers().clone();
            let failure = match read_limited(response, limit, request.method.as_str()).await {
                Ok(body) => return Ok(Fetched { headers, body }),
                Err(e) => e,
            };
            let retryable =
                matches!(&failure, Error::Http { source, .. } if retryable_error(source));
            let delay = retry.delay(attempt, None);
            if !retryable
                || !request.repeatable
                || attempt > retry.max_retries
                || started.elapsed() + delay > retry.budget
            {
                return Err(if attempt == 1 {
                    failure
                } else {
                    Error::RetriesExhausted {
                        attempts: attempt,
                        source: Box::new(failure),
                    }
                });
            }
            tokio::time::sleep(delay).await;
        }
    }
}

/// The error for a request the host's gate held back: the host is paused
/// (`Retry-After`, a used-up rate limit) past the request's retry budget.
fn not_sent(request: &Request, attempt: u32, closed: Closed) -> Error {
    let error = Error::Registry {
        method: request.method.to_string(),
        url: redact(&request.url),
        status: closed.status,
        errors: Vec::new(),
        body: Some(format!(
            "not sent: {}; requests to this host wait {} s more, past the retry budget",
            closed.why,
            closed.wait.as_secs()
        )),
    };
    if attempt == 1 {
        error
    } else {
        Error::RetriesExhausted {
            attempts: attempt - 1,
            source: Box::new(error),
        }
    }
}

/// A response's headers and its whole body.
pub(crate) struct Fetched {
    pub(crate) headers: HeaderMap,
    pub(crate) body: bytes::Bytes,
}

/// Builds [`Error::Registry`] from a status and (the start of) a body.
pub(crate) fn registry_error(
    method: String,
    url: String,
    status: StatusCode,
    body: &[u8],
) -> Error {
    let (errors, body) = match serde_json::from_slice::<ErrorEnvelope>(body) {
        Ok(env) if !env.errors.is_empty() => (env.errors, None),
        _ if body.is_empty() => (Vec::new(), None),
        _ => {
            let end = body.len().min(4096);
            (
                Vec::new(),
                Some(String::from_utf8_lossy(&body[..end]).into_owned()),
            )
        }
    };
    Error::Registry {
        method,
        url,
        status,
        errors,
        body,
    }
}

/// Reads up to `limit` bytes of a body, ignoring read errors (the status is
/// already the failure being reported).
async fn read_prefix(response: reqwest::Response, limit: u64) -> Vec<u8> {
    use futures::StreamExt;
    let mut out = Vec::new();
    let mut body = response.bytes_stream();
    while let Some(Ok(chunk)) = body.next().await {
        let room = (limit as usize).saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() as u64 >= limit {
            break;
        }
    }
    out
}

/// A URL as it may appear in errors: without user name or password.
pub(crate) fn redact(url: &Url) -> String {
    if url.username().is_empty() && url.password().is_none() {
        return url.to_string();
    }
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}

/// One request to send: method, URL and extra headers.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) headers: HeaderMap,
    /// What the operation needs from the token flow.
    pub(crate) scopes: Vec<Scope>,
    /// The body; `Bytes` so a request can be sent again after a 401.
    pub(crate) body: Option<bytes::Bytes>,
    /// Whether sending it twice is harmless, so it may be retried.
    pub(crate) repeatable: bool,
    /// Sent without consulting the authenticator.
    pub(crate) anonymous: bool,
}

impl Request {
    pub(crate) fn new(method: Method, url: Url) -> Request {
        Request {
            url,
            headers: HeaderMap::new(),
            scopes: Vec::new(),
            body: None,
            repeatable: matches!(method, Method::GET | Method::HEAD | Method::DELETE),
            anonymous: false,
            method,
        }
    }

    /// Sends the request without credentials.
    pub(crate) fn anonymous(mut self) -> Request {
        self.anonymous = true;
        self
    }

    /// Marks a request safe (or not) to send again.
    pub(crate) fn repeatable(mut self, repeatable: bool) -> Request {
        self.repeatable = repeatable;
        self
    }

    pub(crate) fn get(url: Url) -> Request {
        Request::new(Method::GET, url)
    }

    pub(crate) fn head(url: Url) -> Request {
        Request::new(Method::HEAD, url)
    }

    pub(crate) fn scope(mut self, scope: Scope) -> Request {
        self.scopes.push(scope);
        self
    }

    /// A body with its content type.
    pub(crate) fn body(mut self, body: bytes::Bytes, content_type: &str) -> Request {
        if let Ok(v) = HeaderValue::from_str(content_type) {
            self.headers.insert(reqwest::header::CONTENT_TYPE, v);
        }
        self.body = Some(body);
        self
    }

    pub(crate) fn header(
        mut self,
        name: reqwest::header::HeaderName,
        value: HeaderValue,
    ) -> Request {
        self.headers.insert(name, value);
        self
    }

    pub(crate) fn accept(mut self, accept: &'static str) -> Request {
        self.headers
            .insert(ACCEPT, HeaderValue::from_static(accept));
        self
    }
}

impl ClientBuilder {
    /// Forces plain http (`true`) or https (`false`) whatever the host.
    pub fn plain_http(mut self, plain_http: bool) -> Self {
        self.plain_http = Some(plain_http);
        self
    }

    /// Flushes each downloaded file to disk (`fdatasync`) before renaming it
    /// into place (default off). The rename is atomic either way, so a failed
    /// or cancelled download never shows at its destination; syncing also
    /// makes a finished one survive a power loss, at the cost of waiting for
    /// the disk (about 0.4 s per GiB here).
    pub fn sync_downloads(mut self, sync: bool) -> Self {
        self.sync_downloads = sync;
        self
    }

    /// How failed requests are retried (see [`RetryConfig`] for what and
    /// the defaults).
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// Requests in flight at once from this client and its clones (default
    /// 16): reports, copies and streams share it. Counts a request until its
    /// response headers arrive; bodies being read do not hold a place.
    ///
    /// It is a ceiling: while a host sheds load (429, 502, 503) the number
    /// sent to it at once halves, down to 1, and grows back by one per
    /// window of successes; a `Retry-After` or a used-up rate limit
    /// (`RateLimit-Remaining: 0`) pauses every request to the host.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.max(1);
        self
    }

    /// How long a response may stall between two reads of its body before it
    /// fails (default 30 s). A stalled blob download then resumes where it
    /// stopped. Separate from [`ClientBuilder::timeout`], which bounds a whole
    /// request.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// A total time limit per request, body included (default: none, since a
    /// large blob may take long; see [`ClientBuilder::connect_timeout`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The time allowed to establish a connection (default 30 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The `User-Agent` header (default `dockreg/VERSION`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Trusts an extra root certificate (for a registry with a private CA).
    pub fn root_certificate(mut self, certificate: reqwest::Certificate) -> Self {
        self.root_certificates.push(certificate);
        self
    }

    /// Trusts the root certificates in a PEM bundle. A malformed bundle makes
    /// [`ClientBuilder::build`] fail.
    pub fn root_certificate_pem(mut self, pem: &[u8]) -> Self {
        match reqwest::Certificate::from_pem_bundle(pem) {
            Ok(certs) if !certs.is_empty() => self.root_certificates.extend(certs),
            Ok(_) => self
                .pem_errors
                .push("the PEM bundle holds no certificate".into()),
            Err(e) => self.pem_errors.push(format!("bad PEM certificate: {e}")),
        }
        self
    }

    /// Presents a client certificate (mutual TLS) from PEM: the
    /// certificate chain and its private key in one buffer (with the
    /// `native-tls` feature: PKCS#8 key). A malformed one makes
    /// [`ClientBuilder::build`] fail.
    pub fn client_identity_pem(mut self, pem: &[u8]) -> Self {
        #[cfg(feature = "rustls")]
        let identity = reqwest::Identity::from_pem(pem);
        #[cfg(all(feature = "native-tls", not(feature = "rustls")))]
        let identity = reqwest::Identity::from_pkcs8_pem(pem, pem);
        #[cfg(not(any(feature = "rustls", feature = "native-tls")))]
        let identity: std::result::Result<reqwest::Identity, String> =
            Err("no TLS feature enabled".to_owned());
        match identity {
            Ok(identity) => self.identity = Some(identity),
            Err(e) => self
                .pem_errors
                .push(format!("bad client certificate or key: {e}")),
        }
        self
    }

    /// Skips TLS certificate verification. Dangerous: anyone on the path can
    /// read and change the traffic. Only for test registries.
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.accept_invalid_certs = accept;
        self
    }

    /// Uses this `reqwest::Client` instead of building one. Timeouts, TLS
    /// settings and the user agent of this builder are then not applied:
    /// configure them on the injected client.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// How requests authenticate (default [`Anonymous`], which still fetches
    /// anonymous bearer tokens). See [`crate::auth`].
    pub fn authenticator(self, authenticator: impl Authenticator + 'static) -> Self {
        self.shared_authenticator(Arc::new(authenticator))
    }

    /// Like [`ClientBuilder::authenticator`], with an authenticator shared
    /// with other clients (its token cache is shared too).
    pub fn shared_authenticator(mut self, authenticator: Arc<dyn Authenticator>) -> Self {
        self.authenticator = authenticator;
        self
    }

    /// Lets an https registry send credentials to a plain-http token realm.
    /// Dangerous: the credentials cross the network in clear text.
    pub fn danger_allow_insecure_realm(mut self, allow: bool) -> Self {
        self.allow_insecure_realm = allow;
        self
    }

    /// Caps on bodies read into memory (see [`Limits`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Calls `callback` with each OCI warning the registry sends
    /// (`Warning: 299 - "..."`, the distribution spec's way to tell the
    /// user something), once per distinct text per client, unquoted and
    /// with control characters replaced. Without a callback the warnings
    /// are only kept for [`Client::warnings`].
    ///
    /// ```no_run
    /// let client = dockreg::Client::builder("registry.example.com")
    ///     .on_warning(|w| eprintln!("warning: {w}"))
    ///     .build()?;
    /// # Ok::<(), dockreg::Error>(())
    /// ```
    pub fn on_warning(mut self, callback: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.warnings = Warnings::with_callback(Arc::new(callback));
        self
    }

    /// Builds the client. Fails with [`Error::Invalid`] for a malformed
    /// registry and [`Error::Build`] for bad TLS material.
    pub fn build(self) -> Result<Client> {
        let base = base_url(&self.registry, self.plain_http)?;
        if let Some(e) = self.pem_errors.into_iter().next() {
            return Err(Error::Build(e));
        }
        let http = match self.http {
            Some(http) => http,
            None => {
                let mut headers = HeaderMap::new();
                headers.insert(
                    USER_AGENT,
                    HeaderValue::from_str(&self.user_agent)
                        .map_err(|_| Error::Build("user agent is not a valid header".into()))?,
                );
                let mut b = reqwest::Client::builder()
                    .default_headers(headers)
                    .connect_timeout(self.connect_timeout)
                    .read_timeout(self.read_timeout)
                    .redirect(redirect_policy())
                    .danger_accept_invalid_certs(self.accept_invalid_certs);
                if let Some(t) = self.timeout {
                    b = b.timeout(t);
                }
                for cert in self.root_certificates {
                    b = b.add_root_certificate(cert);
                }
                if let Some(identity) = self.identity {
                    b = b.identity(identity);
                }
                b.build().map_err(|e| Error::Build(e.to_string()))?
            }
        };
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                limits: self.limits,
                retry: self.retry,
                in_flight: Arc::new(tokio::sync::Semaphore::new(self.max_in_flight)),
                gates: Gates::new(self.max_in_flight),
                warnings: self.warnings,
                sync_downloads: self.sync_downloads,
                authenticator: self.authenticator,
                allow_insecure_realm: self.allow_insecure_realm,
            }),
        })
    }
}

/// Follows up to 10 redirects, never from https down to http. (reqwest
/// already drops `Authorization` on a redirect to another host.)
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let downgrade = attempt.url().scheme() == "http"
            && attempt
                .previous()
                .last()
                .is_some_and(|prev| prev.scheme() == "https");
        if downgrade {
            attempt.error("redirect from https to plain http refused")
        } else if attempt.previous().len() >= 10 {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    })
}

/// The base URL for a registry given as a host or a URL.
fn base_url(registry: &str, plain_http: Option<bool>) -> Result<Url> {
    let registry = registry.trim();
    let (scheme, host) = if let Some((scheme, rest)) = registry.split_once("://") {
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(Error::invalid(
                "registry",
                registry,
                "the scheme must be http or https",
            ));
        }
        let host = rest.strip_suffix('/').unwrap_or(rest);
        (Some(scheme), host)
    } else {
        (None, registry.strip_suffix('/').unwrap_or(registry))
    };
    let host = parse_registry_host(host).map_err(|e| match e {
        Error::Invalid { reason, .. } => Error::invalid("registry", registry, reason),
        other => other,
    })?;
    let host = match host.as_str() {
        "docker.io" | "index.docker.io" => "registry-1.docker.io".to_owned(),
        _ => host,
    };
    let scheme = match (plain_http, scheme) {
        (Some(true), _) => "http".to_owned(),
        (Some(false), _) => "https".to_owned(),
        (None, Some(s)) => s,
        (None, None) if is_local(&host) => "http".to_owned(),
        (None, None) => "https".to_owned(),
    };
    Url::parse(&format!("{scheme}://{host}/"))
        .map_err(|e| Error::invalid("registry", registry, e.to_string()))
}

/// Whether a `host[:port]` is localhost or a loopback address.
fn is_local(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_and_error_are_send_sync() {
        fn check<T: Send + Sync + Clone>() {}
        check::<Client>();
        fn check_err<T: Send + Sync + std::error::Error + 'static>() {}
        check_err::<Error>();
    }

    #[test]
    fn base_urls() {
        let b = |r: &str, p| base_url(r, p).map(|u| u.to_string());
        assert_eq!(b("127.0.0.1:5000", None).unwrap(), "http://127.0.0.1:5000/");
        assert_eq!(b("127.1.2.3:5000", None).unwrap(), "http://127.1.2.3:5000/");
        assert_eq!(b("localhost:5000", None).unwrap(), "http://localhost:5000/");
        assert_eq!(b("[::1]:5000", None).unwrap(), "http://[::1]:5000/");
        assert_eq!(
            b("registry.example.com", None).unwrap(),
            "https://registry.example.com/"
        );
        assert_eq!(
            b("docker.io", None).unwrap(),
            "https://registry-1.docker.io/"
        );
        assert_eq!(
            b("https://127.0.0.1:5000/", None).unwrap(),
            "https://127.0.0.1:5000/"
        );
        assert_eq!(
            b("registry.example.com:5000", Some(true)).unwrap(),
            "http://registry.example.com:5000/"
        );
        assert_eq!(
            b("http://localhost", Some(false)).unwrap(),
            "https://localhost/"
        );
    }

    #[test]
    fn bad_registries_are_refused() {
        for bad in ["", "ftp://x", "http://x/path", "a b", "x:99999", "http://"] {
            let err = base_url(bad, None).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Invalid {
                        what: "registry",
                        ..
                    }
                ),
                "{bad:?}: {err}"
            );
        }
    }

    #[test]
    fn registry_errors_keep_envelope_or_raw_body() {
        let e = registry_error(
            "GET".into(),
            "http://r/v2/x/manifests/v1".into(),
            StatusCode::NOT_FOUND,
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"v1"}}]}"#,
        );
        assert!(e.is_not_found());
        assert_eq!(e.code(), Some(&crate::models::ErrorCode::ManifestUnknown));
        assert_eq!(
            e.to_string(),
            "GET http://r/v2/x/manifests/v1: 404 Not Found: MANIFEST_UNKNOWN: manifest unknown"
        );

        let e = registry_error(
            "GET".into(),
            "http://r/v2/".into(),
            StatusCode::BAD_GATEWAY,
            b"<html><body>\n<h1>502 Bad Gateway</h1>\n</body></html>",
        );
        assert_eq!(e.status(), Some(StatusCode::BAD_GATEWAY));
        assert!(e.code().is_none());
        assert!(e.to_string().contains("<h1>502 Bad Gateway</h1>"), "{e}");
    }

    #[test]
    fn bad_tls_material_fails_the_build() {
        let err = Client::builder("r.example.com")
            .client_identity_pem(b"-----BEGIN NOTHING-----")
            .build()
            .unwrap_err();
        assert!(
            matches!(err, Error::Build(ref m) if m.contains("client certificate")),
            "{err:?}"
        );
        let err = Client::builder("r.example.com")
            .root_certificate_pem(b"not a certificate")
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Build(_)), "{err:?}");
    }

    #[test]
    fn urls_in_errors_carry_no_credentials() {
        let url = Url::parse("https://user:secret@r.example.com/v2/").unwrap();
        assert_eq!(redact(&url), "https://r.example.com/v2/");
    }
}
