//! Raw Docker Registry HTTP API V2 calls used to seed the registry, and a
//! small blocking request helper for tests that want to see exactly what the
//! registry answers.

use std::future::Future;

use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode, Url};

use super::{sha256_digest, Registry};

/// Runs `make()`'s future to completion on a fresh multi-thread tokio
/// runtime in a helper thread, so it can be called from sync tests and from
/// inside `#[tokio::test]` alike (the calling thread blocks meanwhile).
/// A panic in the future is re-raised in the caller.
pub(crate) fn block_on<F, Fut, T>(make: F) -> T
where
    F: FnOnce() -> Fut + Send,
    Fut: Future<Output = T>,
    T: Send,
{
    std::thread::scope(|s| {
        let handle = s.spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("build tokio runtime for the test harness");
            rt.block_on(make())
        });
        match handle.join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Runs `futs` with at most `limit` in flight; results in input order.
pub(crate) async fn bounded<T, Fut>(limit: usize, futs: Vec<Fut>) -> Vec<T>
where
    T: Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let n = futs.len();
    let mut set = tokio::task::JoinSet::new();
    let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
    let mut collect = |res: Result<(usize, T), tokio::task::JoinError>| match res {
        Ok((i, v)) => out[i] = Some(v),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("seeding task failed: {e}"),
    };
    for (i, fut) in futs.into_iter().enumerate() {
        while set.len() >= limit.max(1) {
            let res = set.join_next().await.expect("join set not empty");
            collect(res);
        }
        set.spawn(async move { (i, fut.await) });
    }
    while let Some(res) = set.join_next().await {
        collect(res);
    }
    out.into_iter()
        .map(|v| v.expect("every task finished"))
        .collect()
}

/// A reqwest client aimed at one registry (cheap to clone).
#[derive(Clone)]
pub(crate) struct Http {
    pub(crate) client: reqwest::Client,
    pub(crate) base: Url,
}

impl Http {
    pub(crate) fn new(reg: &Registry) -> Http {
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(32)
            .build()
            .expect("build reqwest client");
        let base = Url::parse(&reg.base_url).expect("registry base url");
        Http { client, base }
    }

    pub(crate) fn url(&self, path: &str) -> Url {
        self.base.join(path).expect("join url")
    }

    /// Monolithic upload: `POST /v2/REPO/blobs/uploads/` then
    /// `PUT <Location>&digest=...` with the whole body. Returns the digest.
    pub(crate) async fn push_blob(&self, repo: &str, data: Vec<u8>) -> String {
        let digest = sha256_digest(&data);
        self.push_blob_with_digest(repo, data, &digest).await;
        digest
    }

    /// Like [`push_blob`](Self::push_blob) with a digest computed elsewhere
    /// (the body is handed to reqwest as is, without another copy).
    pub(crate) async fn push_blob_with_digest(
        &self,
        repo: &str,
        body: impl Into<reqwest::Body>,
        digest: &str,
    ) {
        let location = self.start_upload(repo).await;
        let mut put = location;
        put.query_pairs_mut().append_pair("digest", digest);
        let resp = self
            .client
            .put(put.clone())
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("PUT {put}: {e}"));
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        assert_eq!(
            status,
            StatusCode::CREATED,
            "blob upload PUT {put} for {repo}: {status} {text}"
        );
        let got = header(&headers, "docker-content-digest");
        assert_eq!(
            got.as_deref(),
            Some(digest),
            "Docker-Content-Digest of blob PUT"
        );
    }

    /// `POST /v2/REPO/blobs/uploads/`, returns the absolute upload URL.
    pub(crate) async fn start_upload(&self, repo: &str) -> Url {
        let url = self.url(&format!("/v2/{repo}/blobs/uploads/"));
        let resp = self
            .client
            .post(url.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        let status = resp.status();
        let location = header(resp.headers(), "location");
        let text = resp.text().await.unwrap_or_default();
        assert_eq!(
            status,
            StatusCode::ACCEPTED,
            "POST {url} (start upload): {status} {text}"
        );
        let location = location.unwrap_or_else(|| panic!("POST {url}: no Location header"));
        // Location may be absolute or relative to the request URL.
        url.join(&location)
            .unwrap_or_else(|e| panic!("bad upload Location {location:?}: {e}"))
    }

    /// Cross-repository mount: `POST /v2/REPO/blobs/uploads/?mount=D&from=F`.
    pub(crate) async fn mount_blob(&self, repo: &str, digest: &str, from: &str) {
        let mut url = self.url(&format!("/v2/{repo}/blobs/uploads/"));
        url.query_pairs_mut()
            .append_pair("mount", digest)
            .append_pair("from", from);
        let resp = self
            .client
            .post(url.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert_eq!(
            status,
            StatusCode::CREATED,
            "mount {digest} from {from} into {repo}: {status} {text}"
        );
    }

    /// `PUT /v2/REPO/manifests/REFERENCE`; returns `Docker-Content-Digest`.
    pub(crate) async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: Vec<u8>,
    ) -> String {
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let resp = self
            .client
            .put(url.clone())
            .header(CONTENT_TYPE, media_type)
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("PUT {url}: {e}"));
        let status = resp.status();
        let digest = header(resp.headers(), "docker-content-digest");
        let text = resp.text().await.unwrap_or_default();
        assert_eq!(
            status,
            StatusCode::CREATED,
            "manifest PUT {url} ({media_type}): {status} {text}"
        );
        digest.unwrap_or_else(|| panic!("manifest PUT {url}: no Docker-Content-Digest"))
    }

    /// A request with optional headers, whole body read.
    pub(crate) async fn raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> RawResponse {
        self.send(method, path, headers, None).await
    }

    /// A request with optional headers and body, whole response read.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> RawResponse {
        let url = self.url(path);
        let mut req = self.client.request(method.clone(), url.clone());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(body) = body {
            req = req.body(body);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: reading body: {e}"))
            .to_vec();
        RawResponse {
            status,
            headers,
            body,
        }
    }

    /// HEAD a manifest with an Accept for every manifest type and return its
    /// Docker-Content-Digest.
    pub(crate) async fn manifest_digest(&self, repo: &str, reference: &str) -> String {
        let accept = super::media::ALL_MANIFESTS.join(", ");
        let r = self
            .raw(
                Method::HEAD,
                &format!("/v2/{repo}/manifests/{reference}"),
                &[(ACCEPT.as_str(), &accept)],
            )
            .await;
        assert_eq!(r.status, 200, "HEAD manifest {repo}:{reference}");
        r.header("docker-content-digest")
            .unwrap_or_else(|| panic!("HEAD manifest {repo}:{reference}: no digest"))
            .to_string()
    }
}

pub(crate) fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.to_string())
}

/// A whole HTTP response as the registry sent it (redirects not followed).
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// A header's value as text (first one if repeated).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (panics if it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }
}

/// Blocking raw-API helpers, for tests and for fixtures of their own.
impl Registry {
    /// Sends one request (e.g. `reg.raw("GET", "/v2/_catalog?n=5", &[])`)
    /// and returns the whole response; redirects are not followed.
    pub fn raw(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> RawResponse {
        self.send(method, path, headers, None)
    }

    /// Like [`raw`](Self::raw), with an optional request body.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> RawResponse {
        let http = Http::new(self);
        let method = Method::from_bytes(method.as_bytes()).expect("HTTP method");
        block_on(|| async move { http.send(method, path, headers, body).await })
    }

    /// `GET path` with an optional Accept header.
    pub fn get(&self, path: &str, accept: Option<&str>) -> RawResponse {
        match accept {
            Some(a) => self.raw("GET", path, &[("Accept", a)]),
            None => self.raw("GET", path, &[]),
        }
    }

    /// Uploads `data` as a blob of `repo` (monolithic); returns its digest.
    pub fn push_blob(&self, repo: &str, data: Vec<u8>) -> String {
        let http = Http::new(self);
        self.with_log("push_blob", || {
            block_on(|| async move { http.push_blob(repo, data).await })
        })
    }

    /// Mounts blob `digest` from repository `from` into `repo` (expects 201).
    pub fn mount_blob(&self, repo: &str, digest: &str, from: &str) {
        let http = Http::new(self);
        self.with_log("mount_blob", || {
            block_on(|| async move { http.mount_blob(repo, digest, from).await })
        })
    }

    /// Puts a manifest; returns the registry's `Docker-Content-Digest`.
    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: Vec<u8>,
    ) -> String {
        let http = Http::new(self);
        self.with_log("put_manifest", || {
            block_on(|| async move { http.put_manifest(repo, reference, media_type, body).await })
        })
    }

    /// HEADs a manifest (accepting every type); returns its digest.
    pub fn manifest_digest(&self, repo: &str, reference: &str) -> String {
        let http = Http::new(self);
        self.with_log("manifest_digest", || {
            block_on(|| async move { http.manifest_digest(repo, reference).await })
        })
    }
}
