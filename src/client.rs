//! [`Client`] and [`ClientBuilder`]: connection settings and the request
//! plumbing every endpoint shares.
//!
//! TLS trust (system store, `SSL_CERT_FILE`, certs.d, exact-certificate
//! trust) lives in `tls`, the http/https rule in `scheme`.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, USER_AGENT};
use url::Url;

use crate::auth::{Anonymous, Authenticator};
use crate::cache::CacheConfig;
use crate::error::Error;
use crate::http::{scheme, tls};
use crate::http::{Gates, Limits, RetryConfig, Warnings};
use crate::reference::RepositoryName;
use crate::Result;

/// The user agent sent unless [`ClientBuilder::user_agent`] says otherwise.
pub const DEFAULT_USER_AGENT: &str = concat!("dockreg/", env!("CARGO_PKG_VERSION"));

/// An async client for one registry.
///
/// Cheap to clone: clones share one connection pool and configuration, so
/// hand a clone to every task instead of wrapping it in an `Arc`. The
/// per-repository calls are on [`Repository`](crate::Repository), from
/// [`Client::repository`] or [`Client::repository_for`].
///
/// ```no_run
/// # async fn run() -> dockreg::Result<()> {
/// use futures::TryStreamExt;
///
/// let client = dockreg::Client::builder("127.0.0.1:5000").build()?;
/// client.ping().await?;
/// let repos: Vec<dockreg::RepositoryName> = client.repositories().try_collect().await?;
/// let repo = client.repository("team/app")?;
/// let tags: Vec<dockreg::Tag> = repo.tags().try_collect().await?;
/// let manifest = repo.manifest("v1").await?;
/// println!("{} {} {}", manifest.media_type(), manifest.digest()?, repos.len() + tags.len());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    /// For token requests: follows redirects only within the first URL's
    /// origin (the injected client when there is one).
    pub(crate) token_http: reqwest::Client,
    /// The base URL; for a negotiating host, its https form until the first
    /// request has decided.
    pub(crate) base: Url,
    /// The http/https decision for localhost, loopback and insecure hosts.
    pub(crate) negotiation: Option<scheme::Negotiation>,
    pub(crate) limits: Limits,
    pub(crate) retry: RetryConfig,
    pub(crate) in_flight: Arc<tokio::sync::Semaphore>,
    pub(crate) gates: Gates,
    pub(crate) warnings: Warnings,
    pub(crate) sync_downloads: bool,
    pub(crate) authenticator: Arc<dyn Authenticator>,
    pub(crate) allow_insecure_realm: bool,
    /// The on-disk manifest and config cache, when one was asked for.
    pub(crate) cache: Option<crate::cache::Cache>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("registry", &self.base().as_str())
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
    roots: Vec<rustls_pki_types::CertificateDer<'static>>,
    identity: Option<tls::IdentityPem>,
    cert_dir: Option<PathBuf>,
    certs_d_roots: Option<Vec<PathBuf>>,
    insecure_registry: bool,
    pem_errors: Vec<String>,
    accept_invalid_certs: bool,
    http1_only: bool,
    http: Option<reqwest::Client>,
    limits: Limits,
    authenticator: Arc<dyn Authenticator>,
    allow_insecure_realm: bool,
    warnings: Warnings,
    cache: Option<CacheConfig>,
}

impl Client {
    /// Starts building a client for `registry`: a host (`127.0.0.1:5000`,
    /// `registry.example.com`, `docker.io`) or a base URL
    /// (`http://127.0.0.1:5000`, `https://registry.example.com`).
    ///
    /// A bare host is reached over https. For `localhost`, `127.0.0.0/8`,
    /// `::1` and hosts marked [`ClientBuilder::insecure_registry`], https
    /// is tried first and plain http is used when the server answers in
    /// plain http (docker's rule; decided by the first request, see
    /// [`Client::base_url`]); TLS material for the host (a root or client
    /// certificate, a certs.d directory) means https only. A URL's written
    /// scheme is kept, and [`ClientBuilder::plain_http`] forces either.
    /// `docker.io` is reached at `registry-1.docker.io`.
    ///
    /// Certificates are checked against the system store (or
    /// `SSL_CERT_FILE` / `SSL_CERT_DIR`), the certificates given to the
    /// builder and the host's certs.d directory; see
    /// [`ClientBuilder::cert_dir`] and [`ClientBuilder::root_certificate_pem`]
    /// for how a self-signed certificate is trusted.
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
            roots: Vec::new(),
            identity: None,
            cert_dir: None,
            certs_d_roots: None,
            insecure_registry: false,
            pem_errors: Vec::new(),
            accept_invalid_certs: false,
            http1_only: false,
            http: None,
            limits: Limits::default(),
            authenticator: Arc::new(Anonymous::new()),
            allow_insecure_realm: false,
            warnings: Warnings::default(),
            cache: None,
        }
    }

    /// The registry's base URL (`https://registry.example.com/`).
    ///
    /// For a host whose scheme is negotiated (`localhost`, loopback,
    /// [`ClientBuilder::insecure_registry`]) this is the https URL until the
    /// first request has decided, and the decided one after;
    /// [`Client::negotiated_base_url`] decides first.
    pub fn base_url(&self) -> &Url {
        self.base()
    }

    /// The base URL after the http/https decision: for a negotiating host
    /// the first call sends `GET /v2/` over https (without credentials) and
    /// keeps plain http when the server answers in plain http; later calls,
    /// and calls from clones, reuse that answer. A failure (untrusted
    /// certificate, refused connection) is returned and decides nothing.
    pub async fn negotiated_base_url(&self) -> Result<&Url> {
        match &self.inner.negotiation {
            None => Ok(&self.inner.base),
            Some(n) => n.decide(&self.inner.http, &self.inner.base).await,
        }
    }

    pub(crate) fn base(&self) -> &Url {
        self.inner
            .negotiation
            .as_ref()
            .and_then(|n| n.decided())
            .unwrap_or(&self.inner.base)
    }

    /// `url` on the decided scheme, when it was built on the registry's
    /// origin before the http/https decision.
    pub(crate) fn decided_url(&self, url: Url) -> Url {
        let base = self.base();
        if base == &self.inner.base {
            return url;
        }
        scheme::rebase(&url, &self.inner.base, base).unwrap_or(url)
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
        let mut url = self.base().clone();
        url.set_path(path);
        url
    }

    /// `/v2/NAME/SUFFIX` for a repository.
    pub(crate) fn repo_url(&self, name: &RepositoryName, suffix: &str) -> Url {
        self.url(&format!("/v2/{name}/{suffix}"))
    }
}

impl ClientBuilder {
    /// Forces plain http (`true`) or https (`false`) whatever the host.
    pub fn plain_http(mut self, plain_http: bool) -> Self {
        self.plain_http = Some(plain_http);
        self
    }

    /// Marks the host insecure, as docker's `insecure-registries` does: try
    /// https first and use plain http when the server answers in plain http
    /// (as for loopback hosts). Certificates are still verified over https;
    /// add [`ClientBuilder::danger_accept_invalid_certs`] for docker's full
    /// meaning (the examples' `--insecure` sets both).
    pub fn insecure_registry(mut self, insecure: bool) -> Self {
        self.insecure_registry = insecure;
        self
    }

    /// Reads TLS material from this directory instead of the host's certs.d
    /// directory (skopeo's `--cert-dir`): every `*.crt` is a trusted
    /// certificate, a `NAME.cert` with its `NAME.key` a client certificate
    /// (the first pair by name, when there are several). A `.cert` without
    /// its `.key` or the reverse, or a file that does not parse, makes
    /// [`ClientBuilder::build`] fail. The host is then reached over https
    /// only.
    pub fn cert_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cert_dir = Some(dir.into());
        self
    }

    /// The directories searched for the host's certs.d directory
    /// (`ROOT/HOST[:PORT]/`, same layout as [`ClientBuilder::cert_dir`]);
    /// the first that exists is read. Default: the directories in
    /// `$DOCKREG_CERTS_D` (`:`-separated) when it is set, else
    /// `~/.config/containers/certs.d`, `/etc/containers/certs.d` and
    /// `/etc/docker/certs.d`, as podman, skopeo and docker read them. An
    /// empty list turns the lookup off. Found material means https only.
    pub fn certs_d_roots(mut self, roots: Vec<PathBuf>) -> Self {
        self.certs_d_roots = Some(roots);
        self
    }

    /// Flushes each downloaded file to disk (`fdatasync`) before renaming it
    /// into place, and its directory after (default off). The rename is atomic either way, so a failed
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

    /// Trusts a certificate given as DER (see
    /// [`ClientBuilder::root_certificate_pem`] for what trusting means). One
    /// that is not an X.509 certificate makes [`ClientBuilder::build`] fail.
    pub fn root_certificate_der(mut self, der: &[u8]) -> Self {
        if tls::looks_like_certificate(der) {
            self.roots
                .push(rustls_pki_types::CertificateDer::from(der.to_vec()));
        } else {
            self.pem_errors.push("bad DER certificate".into());
        }
        self
    }

    /// Trusts the certificates in a PEM bundle: CAs that sign the
    /// registry's certificate, or the registry's own certificate. A
    /// malformed bundle, or one without a certificate, makes
    /// [`ClientBuilder::build`] fail. The host is then reached over https
    /// only.
    ///
    /// With the `rustls` feature (the default) a server that presents
    /// exactly one of these certificates is accepted even when it is marked
    /// as a CA (`basicConstraints CA:TRUE`, what `openssl req -x509` makes
    /// and webpki otherwise refuses as `CaUsedAsEndEntity`), as docker,
    /// skopeo and curl accept it. The name the client connects to and the
    /// validity period are still checked, and the server must prove in the
    /// handshake that it holds the certificate's key. With `native-tls`
    /// only, the platform library's rules apply.
    pub fn root_certificate_pem(mut self, pem: &[u8]) -> Self {
        match tls::pem_certificates(pem) {
            Ok(certs) if !certs.is_empty() => self.roots.extend(certs),
            Ok(_) => self
                .pem_errors
                .push("the PEM bundle holds no certificate".into()),
            Err(e) => self.pem_errors.push(e),
        }
        self
    }

    /// Presents a client certificate (mutual TLS) from PEM: the
    /// certificate chain and its private key (PKCS#8, SEC1 or PKCS#1; with
    /// the `native-tls` feature: PKCS#8) in one buffer. It takes precedence
    /// over a client certificate in a certs.d directory. A malformed one
    /// makes [`ClientBuilder::build`] fail. The host is then reached over
    /// https only.
    pub fn client_identity_pem(mut self, pem: &[u8]) -> Self {
        match tls::IdentityPem::parse(pem, pem) {
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

    /// Pins HTTP/1.1 (default `false`). By default a TLS connection offers
    /// HTTP/2 and HTTP/1.1 through ALPN and speaks HTTP/2 when the registry
    /// picks it (the CNCF registry does), HTTP/1.1 otherwise: one connection
    /// then carries every request in flight. With `true` only HTTP/1.1 is
    /// offered and spoken, on as many connections as requests in flight, for
    /// a proxy or server whose HTTP/2 misbehaves. Plain http is always
    /// HTTP/1.1. Token requests follow the same setting; a client given
    /// with [`ClientBuilder::http_client`] keeps its own.
    pub fn http1_only(mut self, http1_only: bool) -> Self {
        self.http1_only = http1_only;
        self
    }

    /// Uses this `reqwest::Client` instead of building one, for registry
    /// and token requests alike.
    ///
    /// **What is lost.** A `reqwest::Client` cannot be changed or inspected
    /// once built, so none of this builder's transport settings apply to it:
    /// timeouts ([`read_timeout`](Self::read_timeout), which a stalled blob
    /// download needs to fail and resume, [`timeout`](Self::timeout),
    /// [`connect_timeout`](Self::connect_timeout)), TLS roots and client
    /// certificates (certs.d directories included), the user agent, and
    /// dockreg's redirect rules. Build the
    /// injected client with at least:
    ///
    /// ```
    /// # use std::time::Duration;
    /// let http = reqwest::Client::builder()
    ///     .read_timeout(Duration::from_secs(30)) // without it a stalled body waits forever
    ///     .referer(false)                        // redirect targets learn no registry URLs
    ///     .build()?;
    /// let client = dockreg::Client::builder("registry.example.com").http_client(http).build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// **What is kept.** dockreg still refuses any answer that a redirect
    /// brought down from https to plain http (the request may have reached
    /// the http host, without `Authorization`, which reqwest strips whenever
    /// scheme, host or port change), answers `401` challenges only from the
    /// registry's origin, and refuses a token whose answer came from another
    /// origin than its realm. The OAuth2 token `POST` is sent with a body
    /// that no redirect can replay. Without an injected client, token
    /// requests follow no redirect to another origin at all.
    ///
    /// **Refused together.** Setting any of the transport settings above
    /// as well makes [`build`](Self::build) fail with [`Error::Build`]
    /// naming them, rather than ignoring them silently.
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

    /// Keeps manifests and image configs in an on-disk, content-addressed
    /// cache (default: none), so that a repeated
    /// [`tag_report`](Client::tag_report), retention
    /// [`plan`](crate::retention::Policy::plan) or
    /// [`usage`](Client::usage) of unchanged tags costs a `HEAD` per tag
    /// instead of a `GET` per manifest and config. Everything read from it
    /// is verified again; see [`crate::cache`] for what it holds, its size
    /// bound and how it fails.
    ///
    /// A path gives the defaults; [`CacheConfig`] sets the bound.
    /// [`build`](Self::build) fails with [`Error::Invalid`] when the
    /// directory is a symlink or holds one where the cache keeps a
    /// directory; a directory that cannot be created or written is no
    /// error (the registry answers instead).
    ///
    /// ```no_run
    /// let client = dockreg::Client::builder("registry.example.com")
    ///     .cache("/var/cache/dockreg")
    ///     .build()?;
    /// # Ok::<(), dockreg::Error>(())
    /// ```
    pub fn cache(mut self, cache: impl Into<CacheConfig>) -> Self {
        self.cache = Some(cache.into());
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
    /// registry, [`Error::Build`] for bad TLS material and [`Error::Io`]
    /// for a [`ClientBuilder::cert_dir`] that cannot be read.
    ///
    /// Unless [`ClientBuilder::http_client`] injected one, two
    /// `reqwest::Client`s with the same settings are built: one for the
    /// registry (up to 10 redirects, never from https down to http) and one
    /// for token requests (redirects only within the realm's origin). Neither
    /// sends a `Referer`.
    pub fn build(self) -> Result<Client> {
        let target = scheme::parse_target(&self.registry)?;
        if let Some(e) = self.pem_errors.first() {
            return Err(Error::Build(e.clone()));
        }
        let ignored = self.ignored_by_injected_client();
        if !ignored.is_empty() {
            return Err(Error::Build(format!(
                "an injected reqwest::Client (http_client) keeps its own transport settings; \
                 these were set and would not apply to it: {}. Set them on the \
                 reqwest::Client instead, or do not inject one",
                ignored.join(", ")
            )));
        }
        // The host's certs.d directory (not read for an injected client,
        // which has its own TLS setup).
        let dir = match (&self.http, &self.cert_dir) {
            (Some(_), _) => None,
            (None, Some(dir)) => Some(dir.clone()),
            (None, None) => {
                let roots = self
                    .certs_d_roots
                    .clone()
                    .unwrap_or_else(tls::default_certs_d_roots);
                tls::find_host_dir(&roots, &target.host)
            }
        };
        let found = match &dir {
            Some(dir) => tls::read_cert_dir(dir)?,
            None => tls::CertDir::default(),
        };
        let mut roots = self.roots.clone();
        roots.extend(found.roots);
        let identity = self.identity.clone().or(found.identity);
        let rule = target.rule(
            self.plain_http,
            self.insecure_registry,
            !roots.is_empty() || identity.is_some(),
        );
        let base = target.url(if rule == scheme::Rule::Http {
            "http"
        } else {
            "https"
        })?;
        let negotiation = match rule {
            scheme::Rule::HttpsThenHttp => Some(scheme::Negotiation::new(target.url("http")?)),
            _ => None,
        };
        let tls = tls::TlsSettings {
            roots,
            identity,
            accept_invalid_certs: self.accept_invalid_certs,
            http1_only: self.http1_only,
        };
        let cache = match &self.cache {
            Some(config) => Some(crate::cache::Cache::new(crate::cache::Store::open(config)?)),
            None => None,
        };
        let (http, token_http) = match &self.http {
            Some(http) => (http.clone(), http.clone()),
            None => (
                self.reqwest_client(redirect_policy(), tls.clone())?,
                self.reqwest_client(token_redirect_policy(), tls)?,
            ),
        };
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                token_http,
                base,
                negotiation,
                limits: self.limits,
                retry: self.retry,
                in_flight: Arc::new(tokio::sync::Semaphore::new(self.max_in_flight)),
                gates: Gates::new(self.max_in_flight),
                warnings: self.warnings,
                sync_downloads: self.sync_downloads,
                authenticator: self.authenticator,
                allow_insecure_realm: self.allow_insecure_realm,
                cache,
            }),
        })
    }
}

impl ClientBuilder {
    /// The transport settings given to this builder that an injected
    /// `reqwest::Client` would not apply (empty without one).
    fn ignored_by_injected_client(&self) -> Vec<&'static str> {
        if self.http.is_none() {
            return Vec::new();
        }
        let defaults = Client::builder(self.registry.clone());
        [
            ("timeout", self.timeout.is_some()),
            (
                "connect_timeout",
                self.connect_timeout != defaults.connect_timeout,
            ),
            ("read_timeout", self.read_timeout != defaults.read_timeout),
            ("user_agent", self.user_agent != defaults.user_agent),
            ("root_certificate_pem/der", !self.roots.is_empty()),
            ("client_identity_pem", self.identity.is_some()),
            ("cert_dir", self.cert_dir.is_some()),
            ("certs_d_roots", self.certs_d_roots.is_some()),
            ("danger_accept_invalid_certs", self.accept_invalid_certs),
            ("http1_only", self.http1_only),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }

    /// A `reqwest::Client` with this builder's settings, `policy` and `tls`.
    fn reqwest_client(
        &self,
        policy: reqwest::redirect::Policy,
        tls: tls::TlsSettings,
    ) -> Result<reqwest::Client> {
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
            .redirect(policy)
            // A redirect target (storage, a CDN) learns nothing of the
            // registry URL (upload state, repository, digest) it came from.
            .referer(false);
        if let Some(t) = self.timeout {
            b = b.timeout(t);
        }
        b = tls.apply(b)?;
        b.build().map_err(|e| Error::Build(e.to_string()))
    }
}

/// For token requests: follows redirects only while they stay on the
/// origin of the realm, at most 10. A redirect elsewhere is not followed;
/// the token flow refuses the redirect response it gets instead.
fn token_redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let elsewhere = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() != attempt.url().origin());
        if elsewhere {
            attempt.stop()
        } else if attempt.previous().len() >= 10 {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::redact::{dropped_query_values, redact, scrub};
    use crate::http::registry_error;
    use reqwest::StatusCode;

    #[test]
    fn an_injected_client_with_settings_it_would_ignore_is_refused() {
        let http = || reqwest::Client::builder().build().unwrap();
        let plain = Client::builder("r.example.com").http_client(http()).build();
        assert!(plain.is_ok(), "{plain:?}");
        let err = Client::builder("r.example.com")
            .read_timeout(Duration::from_secs(5))
            .user_agent("me")
            .http1_only(true)
            .http_client(http())
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Build(_)), "{err:?}");
        let text = err.to_string();
        for name in ["read_timeout", "user_agent", "http1_only"] {
            assert!(text.contains(name), "{text}");
        }
        assert!(!text.contains("connect_timeout"), "{text}");
    }

    #[test]
    fn client_and_error_are_send_sync() {
        fn check<T: Send + Sync + Clone>() {}
        check::<Client>();
        fn check_err<T: Send + Sync + std::error::Error + 'static>() {}
        check_err::<Error>();
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
        let err = Client::builder("r.example.com")
            .root_certificate_der(&[0x30, 0x03, 0x02, 0x01, 0x00])
            .build()
            .unwrap_err();
        assert!(
            matches!(err, Error::Build(ref m) if m.contains("DER")),
            "{err:?}"
        );
    }

    #[test]
    fn urls_in_errors_carry_no_credentials() {
        let url = Url::parse("https://user:secret@r.example.com/v2/").unwrap();
        assert_eq!(redact(&url), "https://r.example.com/v2/");
    }

    #[test]
    fn urls_in_errors_carry_no_signatures() {
        let r = |u: &str| redact(&Url::parse(u).unwrap());
        assert_eq!(
            r("https://s3.example.com/blob?X-Amz-Credential=AKID&X-Amz-Signature=abc#frag"),
            "https://s3.example.com/blob"
        );
        assert_eq!(
            r("https://acct.blob.core.windows.net/c/b?sv=2020&se=2030&sp=r&sig=abc%2Bdef"),
            "https://acct.blob.core.windows.net/c/b"
        );
        // The API's own parameters stay: they say what was asked.
        assert_eq!(
            r("http://r/v2/_catalog?n=1001&last=a%2Fb"),
            "http://r/v2/_catalog?n=1001&last=a%2Fb"
        );
        assert_eq!(
            r("http://r/v2/a/blobs/uploads/u?_state=opaque&digest=sha256%3Aab"),
            "http://r/v2/a/blobs/uploads/u?digest=sha256%3Aab"
        );
    }

    #[test]
    fn error_pages_echoing_a_signature_are_scrubbed() {
        let url =
            Url::parse("https://s/blob?n=100&sig=abc%2Bdef%3D&X-Amz-Signature=0123456789&k=ab")
                .unwrap();
        let secrets = dropped_query_values(&url);
        assert!(secrets.contains(&"abc%2Bdef%3D".to_owned()), "{secrets:?}");
        assert!(secrets.contains(&"abc+def=".to_owned()), "{secrets:?}");
        assert!(secrets.contains(&"0123456789".to_owned()), "{secrets:?}");
        assert!(!secrets.contains(&"100".to_owned()) && !secrets.contains(&"ab".to_owned()));
        let mut body = b"Denied: /blob?sig=abc%2Bdef%3D (abc+def=) 0123456789.".to_vec();
        for s in &secrets {
            scrub(&mut body, s.as_bytes());
        }
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "Denied: /blob?sig=<redacted> (<redacted>) <redacted>."
        );
    }

    #[test]
    fn registry_text_is_escaped_when_shown() {
        let e = registry_error(
            "GET".into(),
            "http://r/v2/".into(),
            StatusCode::FORBIDDEN,
            br#"{"errors":[{"code":"X\u001b[31m","message":"a\u0007b\r\u202ec"}]}"#,
        );
        assert_eq!(
            e.to_string(),
            r"GET http://r/v2/: 403 Forbidden: X\u{1b}[31m: a\u{7}b\r\u{202e}c"
        );
        let e = registry_error(
            "GET".into(),
            "http://r/v2/".into(),
            StatusCode::BAD_GATEWAY,
            "<h1>\u{1b}]0;title\u{7}\u{9b}2J</h1>".as_bytes(),
        );
        assert_eq!(
            e.to_string(),
            r"GET http://r/v2/: 502 Bad Gateway: <h1>\u{1b}]0;title\u{7}\u{9b}2J</h1>"
        );
    }
}
