//! One request as the pipeline sends it.

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT};
use reqwest::Method;
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
