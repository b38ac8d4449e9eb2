//! One request as the pipeline sends it.

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT};
use reqwest::{Method, StatusCode};
use url::Url;

use crate::auth::Scope;

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
    /// Whether it may be sent again after the server answered it with a
    /// status that says it took none of it (408, 429, 502, 503, 504), or
    /// after the connection could not be made: for requests that are not
    /// `repeatable` blindly, such as upload `POST`,
    /// `PATCH` and `PUT`.
    pub(crate) resend_answered: bool,
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
            resend_answered: false,
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

    /// Marks a request safe to send again once the server answered that it
    /// took none of it (see `resend_answered`).
    pub(crate) fn resend_when_refused(mut self) -> Request {
        self.resend_answered = true;
        self
    }

    /// Whether the request may be sent again after `failure`: an answer
    /// with a retryable status, or a transport error worth retrying.
    pub(crate) fn may_resend(&self, failure: Failure) -> bool {
        if self.repeatable {
            return true;
        }
        self.resend_answered
            && match failure {
                Failure::Status(status) => {
                    matches!(status.as_u16(), 408 | 429 | 502 | 503 | 504)
                }
                Failure::NotConnected => true,
                Failure::Transport => false,
            }
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

/// How an attempt failed, for [`Request::may_resend`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The server answered with a retryable status.
    Status(StatusCode),
    /// The connection could not be made: nothing was sent.
    NotConnected,
    /// The connection broke or timed out: part of the request may have
    /// arrived.
    Transport,
}
