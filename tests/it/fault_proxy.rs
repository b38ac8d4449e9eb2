//! A fault-injecting HTTP/1.1 proxy in front of the real test registry.
//!
//! ```ignore
//! mod faults;
//! mod registry;
//!
//! #[tokio::test]
//! async fn survives_a_reset() {
//!     let Some(reg) = registry::shared() else { return };
//!     let proxy = faults::FaultProxy::start(&reg.host).await;
//!     proxy.set(Rule::new(Fault::ResetMidBody { after: 1 << 20 }).get("/blobs/").times(1));
//!     let client = dockreg::Client::builder(&proxy.host).build().unwrap();
//!     // ... download through the proxy, then look at proxy.ranges() ...
//! }
//! ```
//!
//! * The proxy listens on `127.0.0.1:0` ([`FaultProxy::host`]) and serves one
//!   request per connection (`Connection: close`): request line, headers and
//!   a `Content-Length` or chunked body are read, then the request is
//!   forwarded to the registry with reqwest (redirects not followed, the
//!   client's `Host` kept so that upload `Location`s point back at the proxy,
//!   `Range` passed on, so blob resumes get the registry's 206). The answer
//!   is written back with a `Content-Length` (a chunked upstream body is
//!   buffered first).
//! * A shared [`Scenario`] holds [`Rule`]s, tried in order: the first one
//!   whose method and path filters match and that has uses left applies its
//!   [`Fault`] to that request (and uses one up). Requests no rule takes are
//!   forwarded untouched. Every request is logged ([`Seen`]): method, path,
//!   `Range` header, the fault applied, when it arrived.
//! * The proxy's tasks run on the runtime that called [`FaultProxy::start`]
//!   and stop when the [`FaultProxy`] is dropped.
#![allow(dead_code)]

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use futures::stream::{self, BoxStream, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// The `Docker-Content-Digest` that [`Fault::WrongDigestHeader`] announces:
/// a valid digest of other bytes.
pub const OTHER_DIGEST: &str =
    "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

/// The body of [`Fault::NotJson`].
pub const NOT_JSON_BODY: &str = "upstream exploded: this is not JSON\n";

/// How long [`Fault::ResetMidBody`] waits after the bytes it sends before the
/// reset, so the client reads them before the RST discards its buffers.
const RESET_GRACE: Duration = Duration::from_millis(20);

/// What the proxy does to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Sends the headers (with the real `Content-Length`) and `after` bytes
    /// of the body, then resets the connection (`SO_LINGER` 0: an RST).
    ResetMidBody { after: u64 },
    /// Answers `code` itself (with `Retry-After: retry_after` when given)
    /// and a registry error envelope; the registry never sees the request.
    Status {
        code: u16,
        retry_after: Option<String>,
    },
    /// Like `Status`, with `Retry-After` the HTTP date `wait` after the
    /// moment of the answer (whole seconds: between `wait - 1s` and `wait`).
    StatusUntil { code: u16, wait: Duration },
    /// Sends the headers and `after` bytes of the body, waits `for_`, then
    /// goes on sending (to a client that timed out: into the void).
    Stall { after: u64, for_: Duration },
    /// Sends the headers (with the real `Content-Length`) and `after` bytes
    /// of the body, then closes cleanly (FIN): a body shorter than announced.
    Truncate { after: u64 },
    /// Forwards the response with the byte at offset `at` of its body
    /// XOR-ed with 1 (a hex digit stays a hex digit, JSON stays JSON).
    FlipByte { at: u64 },
    /// Answers `code` with an HTML error page ([`html_page`]) instead.
    Html { code: u16 },
    /// Answers 500 with [`NOT_JSON_BODY`] as `text/plain`.
    NotJson,
    /// Forwards the response with `Docker-Content-Digest` set to
    /// [`OTHER_DIGEST`].
    WrongDigestHeader,
    /// Forwards untouched: a rule with `Pass` first lets the first `times`
    /// matching requests through before the next rule takes over.
    Pass,
    /// Resets the connection as soon as the request is read: the registry
    /// never sees it (a connection failure before any answer).
    ResetEarly,
    /// Forwards the request, then resets the connection before a byte of
    /// the answer: the registry acted on it, the client never learns how.
    LoseAnswer,
    /// Forwards the request without its `Range` header: the registry answers
    /// 200 with the whole body.
    IgnoreRange,
    /// Forwards the response with the first byte of its `Content-Range`
    /// moved one byte further (`bytes 100-199/200` becomes
    /// `bytes 101-199/200`), as a registry that resumed at the wrong place.
    ShiftContentRange,
}

impl Fault {
    /// Where in the body a cut, a reset or a stall happens.
    fn trigger(&self) -> Option<u64> {
        match self {
            Fault::ResetMidBody { after }
            | Fault::Stall { after, .. }
            | Fault::Truncate { after } => Some(*after),
            _ => None,
        }
    }
}

/// A fault with the requests it applies to.
#[derive(Debug, Clone)]
pub struct Rule {
    pub fault: Fault,
    /// Only requests with this method (any when `None`).
    pub method: Option<String>,
    /// Only requests whose path (with query) contains this (any when `None`).
    pub path: Option<String>,
    /// Only the first `n` matching requests (all when `None`).
    pub times: Option<u32>,
}

impl Rule {
    /// `fault` for every request, until narrowed down.
    pub fn new(fault: Fault) -> Rule {
        Rule {
            fault,
            method: None,
            path: None,
            times: None,
        }
    }

    /// Only requests with this method.
    pub fn method(mut self, method: &str) -> Rule {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    /// Only requests whose path (with query) contains `substring`.
    pub fn path(mut self, substring: &str) -> Rule {
        self.path = Some(substring.to_string());
        self
    }

    /// Only `GET`s whose path contains `substring`.
    pub fn get(self, substring: &str) -> Rule {
        self.method("GET").path(substring)
    }

    /// Only the first `n` matching requests.
    pub fn times(mut self, n: u32) -> Rule {
        self.times = Some(n);
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m == method)
            && self.path.as_deref().is_none_or(|p| path.contains(p))
    }
}

/// One request the proxy received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// The request target: path and query.
    pub path: String,
    /// The `Range` header, when sent.
    pub range: Option<String>,
    /// The fault applied to it, if any.
    pub fault: Option<Fault>,
    /// When its head was read.
    pub at: Instant,
}

/// The proxy's mutable state: the rules in force and the request log.
#[derive(Debug, Default)]
pub struct Scenario {
    /// Each rule with how many requests it took so far.
    rules: Vec<(Rule, u32)>,
    seen: Vec<Seen>,
}

impl Scenario {
    /// Logs a request and picks the fault for it.
    fn pick(&mut self, method: &str, path: &str, range: Option<String>) -> Option<Fault> {
        let fault = self
            .rules
            .iter_mut()
            .find(|(rule, used)| rule.matches(method, path) && rule.times.is_none_or(|n| *used < n))
            .map(|(rule, used)| {
                *used += 1;
                rule.fault.clone()
            });
        self.seen.push(Seen {
            method: method.to_string(),
            path: path.to_string(),
            range,
            fault: fault.clone(),
            at: Instant::now(),
        });
        fault
    }
}

/// The running proxy. Dropping it stops it (and every connection it serves).
pub struct FaultProxy {
    /// `127.0.0.1:PORT`: give it to `dockreg::Client::builder`.
    pub host: String,
    pub port: u16,
    scenario: Arc<Mutex<Scenario>>,
    task: JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(m: &Mutex<Scenario>) -> MutexGuard<'_, Scenario> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl FaultProxy {
    /// Starts a proxy to the plain-http registry at `upstream`
    /// (`127.0.0.1:PORT`), with no rules: everything is forwarded.
    pub async fn start(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fault proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("reqwest client of the fault proxy");
        let scenario = Arc::new(Mutex::new(Scenario::default()));
        let shared = scenario.clone();
        let upstream = upstream.to_string();
        let task = tokio::spawn(async move {
            // Aborting this task drops the set, which aborts the connections.
            let mut connections = JoinSet::new();
            loop {
                while connections.try_join_next().is_some() {}
                let Ok((sock, _)) = listener.accept().await else {
                    continue;
                };
                let (http, upstream, scenario) = (http.clone(), upstream.clone(), shared.clone());
                connections.spawn(async move {
                    // A client that went away is not the proxy's problem.
                    let _ = serve(sock, &http, &upstream, &scenario).await;
                });
            }
        });
        FaultProxy {
            host: format!("127.0.0.1:{port}"),
            port,
            scenario,
            task,
        }
    }

    /// Replaces the rules with this one.
    pub fn set(&self, rule: Rule) {
        lock(&self.scenario).rules = vec![(rule, 0)];
    }

    /// Adds a rule after the others.
    pub fn push(&self, rule: Rule) {
        lock(&self.scenario).rules.push((rule, 0));
    }

    /// Removes every rule: everything is forwarded from now on.
    pub fn clear(&self) {
        lock(&self.scenario).rules.clear();
    }

    /// Forgets the requests seen so far.
    pub fn reset_log(&self) {
        lock(&self.scenario).seen.clear();
    }

    /// Every request seen so far, in order of arrival.
    pub fn requests(&self) -> Vec<Seen> {
        lock(&self.scenario).seen.clone()
    }

    /// The requests seen with this method and a path containing `path`.
    pub fn matching(&self, method: &str, path: &str) -> Vec<Seen> {
        lock(&self.scenario)
            .seen
            .iter()
            .filter(|s| s.method == method && s.path.contains(path))
            .cloned()
            .collect()
    }

    /// How many requests were seen with this method and a path containing
    /// `path`.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.matching(method, path).len()
    }

    /// The `Range` headers of the requests seen, in order.
    pub fn ranges(&self) -> Vec<String> {
        lock(&self.scenario)
            .seen
            .iter()
            .filter_map(|s| s.range.clone())
            .collect()
    }

    /// How many requests a fault was applied to.
    pub fn faults_applied(&self) -> usize {
        lock(&self.scenario)
            .seen
            .iter()
            .filter(|s| s.fault.is_some())
            .count()
    }
}

/// The HTML page of [`Fault::Html`]: a proxy's error page, padded to about
/// 20 KiB (more than a client should keep of an error body).
pub fn html_page(code: u16) -> String {
    let title = format!("{code} {}", reason(code));
    let mut page = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n\
         <center><h1>{title}</h1></center>\r\n<hr><center>faultproxy</center>\r\n"
    );
    while page.len() < 20 << 10 {
        page.push_str("<!-- a padding to make the error page longer than what is kept -->\r\n");
    }
    page.push_str("</body>\r\n</html>\r\n");
    page
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), for `Retry-After`.
pub fn http_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (rest / 3600, rest % 3600 / 60, rest % 60);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {day:02} {} {year} {h:02}:{m:02}:{s:02} GMT",
        WEEKDAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize]
    )
}

fn reason(code: u16) -> &'static str {
    reqwest::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown")
}

/// The registry error code a status stands for, for [`Fault::Status`].
fn error_code(code: u16) -> &'static str {
    match code {
        429 => "TOOMANYREQUESTS",
        503 => "UNAVAILABLE",
        401 => "UNAUTHORIZED",
        403 => "DENIED",
        _ => "UNKNOWN",
    }
}

/// Headers that belong to one connection, not to the message.
fn hop_by_hop(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "content-length"
    )
}

/// A request as read from the client.
struct Incoming {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Incoming {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

async fn read_line(r: &mut BufReader<TcpStream>) -> std::io::Result<String> {
    let mut buf = Vec::new();
    r.read_until(b'\n', &mut buf).await?;
    let text = String::from_utf8_lossy(&buf);
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}

/// Reads one request (`None` when the client closed without sending one).
async fn read_request(r: &mut BufReader<TcpStream>) -> std::io::Result<Option<Incoming>> {
    let line = read_line(r).await?;
    if line.is_empty() {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or("/").to_string();
    let mut headers = Vec::new();
    loop {
        let line = read_line(r).await?;
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut req = Incoming {
        method,
        target,
        headers,
        body: Vec::new(),
    };
    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        loop {
            let size_line = read_line(r).await?;
            let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !read_line(r).await?.is_empty() {}
                break;
            }
            let start = req.body.len();
            req.body.resize(start + size, 0);
            r.read_exact(&mut req.body[start..]).await?;
            read_line(r).await?;
        }
    } else if let Some(len) = req.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        req.body.resize(len, 0);
        r.read_exact(&mut req.body).await?;
    }
    Ok(Some(req))
}

/// Writes a status line and headers (plus `Content-Length` and
/// `Connection: close`).
async fn write_head(
    sock: &mut TcpStream,
    code: u16,
    headers: &[(String, String)],
    content_length: Option<u64>,
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {code} {}\r\n", reason(code));
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(len) = content_length {
        head.push_str(&format!("Content-Length: {len}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    sock.write_all(head.as_bytes()).await
}

/// A whole answer made up by the proxy.
async fn answer(
    mut sock: TcpStream,
    head_only: bool,
    code: u16,
    mut headers: Vec<(String, String)>,
    body: &[u8],
) -> std::io::Result<()> {
    headers.push(("Date".into(), http_date(SystemTime::now())));
    write_head(&mut sock, code, &headers, Some(body.len() as u64)).await?;
    if !head_only {
        sock.write_all(body).await?;
    }
    sock.flush().await?;
    sock.shutdown().await
}

/// An error status with a registry error envelope (and `Retry-After`).
async fn injected_status(
    sock: TcpStream,
    head_only: bool,
    code: u16,
    retry_after: Option<&str>,
) -> std::io::Result<()> {
    let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
    if let Some(v) = retry_after {
        headers.push(("Retry-After".into(), v.to_string()));
    }
    let body = format!(
        r#"{{"errors":[{{"code":"{}","message":"injected {code} by the fault proxy","detail":null}}]}}"#,
        error_code(code)
    );
    answer(sock, head_only, code, headers, body.as_bytes()).await
}

async fn serve(
    sock: TcpStream,
    http: &reqwest::Client,
    upstream: &str,
    scenario: &Mutex<Scenario>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(sock);
    // A TLS ClientHello (a client trying https on a loopback host first):
    // answered as the Go registry behind us answers it, a plain-http 400.
    if reader.fill_buf().await?.first() == Some(&0x16) {
        let mut sock = reader.into_inner();
        sock.write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
            .await?;
        return sock.shutdown().await;
    }
    let Some(req) = read_request(&mut reader).await? else {
        return Ok(());
    };
    let sock = reader.into_inner();
    let range = req.header("range").map(str::to_string);
    let fault = lock(scenario).pick(&req.method, &req.target, range);
    let head_only = req.method == "HEAD";

    match &fault {
        Some(Fault::ResetEarly) => return reset(sock).await,
        Some(Fault::Status { code, retry_after }) => {
            return injected_status(sock, head_only, *code, retry_after.as_deref()).await;
        }
        Some(Fault::StatusUntil { code, wait }) => {
            let date = http_date(SystemTime::now() + *wait);
            return injected_status(sock, head_only, *code, Some(&date)).await;
        }
        Some(Fault::Html { code }) => {
            let headers = vec![(
                "Content-Type".to_string(),
                "text/html; charset=utf-8".to_string(),
            )];
            return answer(sock, head_only, *code, headers, html_page(*code).as_bytes()).await;
        }
        Some(Fault::NotJson) => {
            let headers = vec![("Content-Type".to_string(), "text/plain".to_string())];
            return answer(sock, head_only, 500, headers, NOT_JSON_BODY.as_bytes()).await;
        }
        _ => {}
    }

    // Forward.
    let method = reqwest::Method::from_bytes(req.method.as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    let mut out = http.request(method, format!("http://{upstream}{}", req.target));
    for (k, v) in &req.headers {
        if hop_by_hop(k) || (fault == Some(Fault::IgnoreRange) && k.eq_ignore_ascii_case("range")) {
            continue;
        }
        out = out.header(k.as_str(), v.as_str());
    }
    if !(req.body.is_empty() && matches!(req.method.as_str(), "GET" | "HEAD" | "DELETE")) {
        out = out.body(req.body);
    }
    let response = match out.send().await {
        Ok(r) => r,
        Err(e) => {
            let body = format!("fault proxy: upstream failed: {e}\n");
            let headers = vec![("Content-Type".to_string(), "text/plain".to_string())];
            return answer(sock, head_only, 502, headers, body.as_bytes()).await;
        }
    };
    if fault == Some(Fault::LoseAnswer) {
        return reset(sock).await;
    }
    forward(sock, head_only, fault, response).await
}

/// Closes the connection with an RST (`SO_LINGER` 0) instead of a FIN.
async fn reset(sock: TcpStream) -> std::io::Result<()> {
    sock.set_zero_linger()?;
    drop(sock);
    Ok(())
}

/// Writes the registry's answer to the client, applying `fault`.
async fn forward(
    mut sock: TcpStream,
    head_only: bool,
    fault: Option<Fault>,
    response: reqwest::Response,
) -> std::io::Result<()> {
    let code = response.status().as_u16();
    let announced: Option<u64> = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(k, _)| !hop_by_hop(k.as_str()))
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    match &fault {
        Some(Fault::WrongDigestHeader) => {
            headers.retain(|(k, _)| !k.eq_ignore_ascii_case("docker-content-digest"));
            headers.push(("Docker-Content-Digest".into(), OTHER_DIGEST.into()));
        }
        Some(Fault::ShiftContentRange) => {
            for (k, v) in headers.iter_mut() {
                if k.eq_ignore_ascii_case("content-range") {
                    *v = shift_content_range(v);
                }
            }
        }
        _ => {}
    }

    if head_only {
        write_head(&mut sock, code, &headers, announced).await?;
        sock.flush().await?;
        return sock.shutdown().await;
    }

    // The body as a stream, with its length known before the first byte.
    let (length, mut body): (u64, BoxStream<'static, reqwest::Result<Bytes>>) = match announced {
        Some(len) => (len, response.bytes_stream().boxed()),
        None => {
            let all = match response.bytes().await {
                Ok(b) => b,
                Err(_) => return Ok(()),
            };
            (all.len() as u64, stream::once(async { Ok(all) }).boxed())
        }
    };
    write_head(&mut sock, code, &headers, Some(length)).await?;

    let flip_at = match &fault {
        Some(Fault::FlipByte { at }) => Some(*at),
        _ => None,
    };
    let mut armed = fault.as_ref().and_then(Fault::trigger);
    let mut pos: u64 = 0;
    if armed == Some(0) {
        armed = None;
        if !act(&mut sock, fault.as_ref()).await? {
            return Ok(());
        }
    }
    while let Some(next) = body.next().await {
        // The registry broke off: so does the proxy (the client sees a short
        // body).
        let Ok(mut chunk) = next else {
            return Ok(());
        };
        let len = chunk.len() as u64;
        if let Some(at) = flip_at.filter(|at| (pos..pos + len).contains(at)) {
            let mut copy = BytesMut::from(&chunk[..]);
            copy[(at - pos) as usize] ^= 1;
            chunk = copy.freeze();
        }
        if let Some(t) = armed.filter(|t| pos + len >= *t) {
            let k = (t - pos) as usize;
            sock.write_all(&chunk[..k]).await?;
            pos += k as u64;
            chunk = chunk.slice(k..);
            armed = None;
            if !act(&mut sock, fault.as_ref()).await? {
                return Ok(());
            }
        }
        sock.write_all(&chunk).await?;
        pos += chunk.len() as u64;
    }
    sock.flush().await?;
    sock.shutdown().await
}

/// Does what a reset, a cut or a stall does at its point in the body;
/// whether to go on sending.
async fn act(sock: &mut TcpStream, fault: Option<&Fault>) -> std::io::Result<bool> {
    sock.flush().await?;
    match fault {
        Some(Fault::ResetMidBody { .. }) => {
            tokio::time::sleep(RESET_GRACE).await;
            // Closing with SO_LINGER 0 sends an RST instead of a FIN.
            sock.set_zero_linger()?;
            Ok(false)
        }
        Some(Fault::Truncate { .. }) => {
            sock.shutdown().await?;
            Ok(false)
        }
        Some(Fault::Stall { for_, .. }) => {
            tokio::time::sleep(*for_).await;
            Ok(true)
        }
        _ => Ok(true),
    }
}

/// `bytes A-B/T` with A one further.
fn shift_content_range(v: &str) -> String {
    let Some(rest) = v.trim().strip_prefix("bytes ") else {
        return v.to_string();
    };
    let Some((first, tail)) = rest.split_once('-') else {
        return v.to_string();
    };
    match first.trim().parse::<u64>() {
        Ok(a) => format!("bytes {}-{tail}", a + 1),
        Err(_) => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(http_date(t), "Tue, 29 Feb 2000 00:00:00 GMT");
    }

    #[test]
    fn content_ranges_shift() {
        assert_eq!(
            shift_content_range("bytes 100-199/200"),
            "bytes 101-199/200"
        );
        assert_eq!(shift_content_range("nonsense"), "nonsense");
    }
}
