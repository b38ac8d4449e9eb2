//! The request pipeline every endpoint shares: the host's gate, the
//! authenticator and its one answer to a 401, retries and back-off by the
//! host's streak of shed answers, and status to error.

use reqwest::header::AUTHORIZATION;
use reqwest::{Method, StatusCode};
use url::Url;

use super::redact::{dropped_query_values, redact, scrub};
use super::request::{Failure, Request};
use super::retry::Attempts;
use super::scheme;
use super::status::{read_prefix, registry_error, Fetched};
use super::{read_limited, retry_after, retryable_error, retryable_status, Closed};
use crate::auth::{challenges_of, AuthContext, Authorization};
use crate::client::Client;
use crate::error::Error;
use crate::trace;
use crate::Result;

impl Client {
    /// `request` moved to the decided scheme when it was built before the
    /// decision (`None`: send it as it is).
    async fn negotiated(&self, request: &Request) -> Result<Option<Request>> {
        if self.inner.negotiation.is_none() {
            return Ok(None);
        }
        let decided = self.negotiated_base_url().await?;
        if decided == &self.inner.base {
            return Ok(None);
        }
        Ok(
            scheme::rebase(&request.url, &self.inner.base, decided).map(|url| Request {
                url,
                ..request.clone()
            }),
        )
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
    /// see `http/gate.rs`), which learns from every answer. A shed
    /// answer (429, 502, 503) backs off and gives up by the host's streak of
    /// shed answers, not by this request's luck alone.
    pub(crate) async fn send_any(&self, request: Request) -> Result<reqwest::Response> {
        let gate = self.inner.gates.gate(&request.url);
        let mut attempts = Attempts::new(self.inner.retry);
        loop {
            let attempt = attempts.next();
            let span = trace::request_span(&request.method, &request.url, attempt);
            let sent = trace::in_span(span.clone(), async {
                let place = match gate.acquire(attempts.budget_left()).await {
                    Ok(place) => place,
                    Err(closed) => return Err(not_sent(&request, attempt, closed)),
                };
                let _permit = self.inner.in_flight.acquire().await;
                let result = self.send_authenticated(&request).await;
                let shed = match &result {
                    // An answer from where a redirect led (blob storage, a
                    // CDN) speaks for that host: it neither pauses nor
                    // slows the registry, and its warnings are not the
                    // registry's.
                    Ok(r) if same_server(&request.url, r.url()) => {
                        self.inner.warnings.observe(r.headers());
                        place.answered(r.status(), r.headers())
                    }
                    Ok(_) | Err(_) => None,
                };
                if let Ok(r) = &result {
                    trace::record_status(&span, r.status());
                }
                Ok((result, shed))
            })
            .await;
            let (result, shed) = sent?;
            let (failure, hint) = match &result {
                Ok(r) if retryable_status(r.status()) => {
                    (Failure::Status(r.status()), retry_after(r.headers()))
                }
                Err(Error::Http { source, .. }) if retryable_error(source) => {
                    let failure = if source.is_connect() {
                        Failure::NotConnected
                    } else {
                        Failure::Transport
                    };
                    (failure, None)
                }
                _ => return result,
            };
            let delay = if request.may_resend(failure) {
                let reason = match &result {
                    Ok(r) => format!("the registry answered {}", r.status()),
                    Err(e) => e.to_string(),
                };
                trace::in_span(span, async { attempts.retry(&reason, shed, hint) }).await
            } else {
                None
            };
            let Some(delay) = delay else {
                if attempt == 1 {
                    return result;
                }
                let last = match result {
                    Ok(response) => self.status_error(&request.method, response).await,
                    Err(e) => e,
                };
                return Err(attempts.give_up(last));
            };
            gate.wait(delay).await;
        }
    }

    /// One attempt: credentials from the authenticator, one answer to a 401.
    async fn send_authenticated(&self, request: &Request) -> Result<reqwest::Response> {
        let negotiated = self.negotiated(request).await?;
        let request = negotiated.as_ref().unwrap_or(request);
        let inner = &self.inner;
        if request.anonymous || request.url.origin() != self.base().origin() {
            return self.send_once(request, None).await;
        }
        let ctx = AuthContext {
            registry: self.base(),
            scopes: &request.scopes,
            http: &inner.token_http,
            allow_insecure_realm: inner.allow_insecure_realm,
        };
        let authorization = inner.authenticator.authorize(&ctx).await?;
        let response = self.send_once(request, authorization.as_ref()).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        // Only the registry's own challenges count: a 401 from storage the
        // request was redirected to must not choose where the user's
        // credentials go, nor become the registry's known challenge.
        if response.url().origin() != self.base().origin() {
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
        let response = builder
            .send()
            .await
            .map_err(|source| Error::http(request.method.as_str(), &request.url, source))?;
        // dockreg's own redirect policy refuses this before it happens; an
        // injected client follows its own policy, so check where it ended.
        if request.url.scheme() == "https" && response.url().scheme() != "https" {
            return Err(Error::protocol(
                format!("{} {}", request.method, redact(&request.url)),
                format!(
                    "redirect from https to plain http refused (to {})",
                    redact(response.url())
                ),
            ));
        }
        Ok(response)
    }

    /// Turns a failed response into [`Error::Registry`], reading at most
    /// [`Limits::error_body`] bytes of its body.
    pub(crate) async fn status_error(&self, method: &Method, response: reqwest::Response) -> Error {
        let status = response.status();
        let url = redact(response.url());
        let secrets = dropped_query_values(response.url());
        let method = method.to_string();
        let limit = self.inner.limits.error_body;
        let mut body = read_prefix(response, limit).await;
        for secret in &secrets {
            scrub(&mut body, secret.as_bytes());
        }
        registry_error(method, url, status, &body)
    }

    /// Sends a request and reads its body whole (up to `limit` bytes). A
    /// body that breaks (reset, truncated, stalled) fails the attempt, and a
    /// repeatable request is sent again under the retry policy.
    pub(crate) async fn fetch(&self, request: Request, limit: u64) -> Result<Fetched> {
        let mut attempts = Attempts::new(self.inner.retry);
        loop {
            attempts.next();
            let response = self.send(request.clone()).await?;
            let headers = response.headers().clone();
            let failure = match read_limited(response, limit, request.method.as_str()).await {
                Ok(body) => return Ok(Fetched { headers, body }),
                Err(e) => e,
            };
            let retryable =
                matches!(&failure, Error::Http { source, .. } if retryable_error(source));
            let delay = if retryable && request.repeatable {
                attempts.retry(&format_args!("the body broke: {failure}"), None, None)
            } else {
                None
            };
            match delay {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Err(attempts.give_up(failure)),
            }
        }
    }
}

/// Whether `answered` (a response's final URL) is the server `sent` went
/// to: the same host and port. A scheme negotiated from http to https
/// keeps the server when both ports are the schemes' defaults.
fn same_server(sent: &Url, answered: &Url) -> bool {
    if sent.host_str() != answered.host_str() {
        return false;
    }
    sent.port_or_known_default() == answered.port_or_known_default()
        || (sent.port().is_none() && answered.port().is_none())
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
