//! Integration-test harness: a real CNCF `docker-registry` (distribution
//! 2.8.x) on a loopback port, plus fixtures that seed it with content.
//!
//! Every integration test file uses it with `mod registry;`:
//!
//! ```ignore
//! mod registry;
//!
//! #[tokio::test]
//! async fn lists_tags() {
//!     let Some(reg) = registry::shared() else { return };
//!     let seeded = reg.seed_many_tags("tags/app", 1100);
//!     // ... point the client at reg.base_url and compare with `seeded` ...
//! }
//! ```
//!
//! * [`shared`] gives one registry per test binary (default config: delete
//!   and schema1 enabled); [`start`] gives a private one with its own config.
//!   When `docker-registry` is not installed the test fails, naming the
//!   package to install: a test that cannot run never passes
//!   ([`require_programs`]; scripts/test installs everything).
//! * The `seed_*` methods are idempotent per registry and per arguments:
//!   parallel tests in one binary that ask for the same fixture seed it once
//!   and all get the same description back. Different fixtures live in
//!   different repositories, so a test that lists the whole catalog of the
//!   shared registry must expect the other fixtures' repositories too
//!   (filter by prefix, e.g. `many/`).
//! * Seeding uses the raw HTTP API through reqwest on a private tokio runtime
//!   in a helper thread, so it works from sync and async tests alike
//!   (it blocks the calling thread while it runs).
//! * The registry's own log goes to a file in its temp dir and is shown only
//!   when something fails ([`Registry::log`] returns it).
//! * Secured registries (htpasswd over TLS, bearer tokens from an in-process
//!   token server) live in [`secure`]: see `shared_htpasswd` and
//!   `shared_token` there. They need `openssl` (and `htpasswd`) too, under
//!   the same rule.
//!
//! Facts about distribution 2.8.2 that the client must cope with are written
//! down in `tests/it/harness.rs` (its token and htpasswd auth: `tests/it/auth.rs`),
//! next to the tests that check them.
#![allow(dead_code)]

mod http;
mod secure;
mod seed;
mod skopeo;
mod tiny;

// Each test file uses a subset of these.
#[allow(unused_imports)]
pub use http::RawResponse;
#[allow(unused_imports)]
pub use secure::{
    shared_htpasswd, shared_mtls, shared_token, skopeo_json, start_htpasswd,
    start_https_redirector, start_mtls, start_token, start_token_with_realm, HtpasswdRegistry,
    HttpsRedirector, MtlsRegistry, RecordedRequest, RecordingProxy, SecureImage, SecureImages,
    TokenRegistry, TokenRequest, TokenServer, DEFAULT_EXPIRES_IN, HTPASSWD_REALM, TOKEN_ISSUER,
    TOKEN_SERVICE, USERS,
};
#[allow(unused_imports)]
pub use seed::{
    big_blob_bytes, big_blob_reader, BigBlob, ManyRepos, ManyTags, ReportEntry, ReportRepo,
};
#[allow(unused_imports)]
pub use skopeo::{
    skopeo_inspect, skopeo_inspect_config, skopeo_list_tags, PlatformImage, PushedImage,
    PushedIndex, SkopeoImages, MULTI_CREATED, SKOPEO_IMAGE_CREATED, SKOPEO_IMAGE_LABEL,
};
#[allow(unused_imports)]
pub use tiny::{rfc3339, sha256_digest, tiny_layer, TinyLayer};

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// Media types used by the fixtures.
pub mod media {
    pub const DOCKER_MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_MANIFEST_V1_SIGNED: &str =
        "application/vnd.docker.distribution.manifest.v1+prettyjws";
    pub const DOCKER_MANIFEST_V1: &str = "application/vnd.docker.distribution.manifest.v1+json";
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    /// Every manifest type, for an `Accept` header that takes anything.
    pub const ALL_MANIFESTS: &[&str] = &[
        OCI_MANIFEST,
        OCI_INDEX,
        DOCKER_MANIFEST_V2,
        DOCKER_MANIFEST_LIST,
        DOCKER_MANIFEST_V1_SIGNED,
        DOCKER_MANIFEST_V1,
    ];
}

/// How long to wait for a fresh registry to answer `GET /v2/`.
/// Override with `DOCKREG_TEST_REGISTRY_TIMEOUT_SECS`.
const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(20);
/// How many times to pick a new port when the registry cannot bind its port.
const START_ATTEMPTS: usize = 5;
/// Response header (set through `http.headers`) that proves the registry
/// answering on our port is ours and not another process that grabbed it.
const ID_HEADER: &str = "X-Dockreg-Test-Registry";

/// Configuration of a test registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistryConfig {
    /// `storage.delete.enabled`: without it DELETE answers 405 UNSUPPORTED.
    pub delete_enabled: bool,
    /// `compatibility.schema1.enabled`: accept schema1 manifest pushes.
    pub schema1: bool,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            delete_enabled: true,
            schema1: true,
        }
    }
}

/// What a secured registry adds to the plain configuration; built by
/// [`secure`] once the registry's temp dir exists (it writes its
/// certificates and password file there). `RegistryConfig` stays a plain
/// `Copy` struct so that existing `RegistryConfig { .. }` literals keep
/// compiling.
#[derive(Debug, Clone, Default)]
pub(crate) struct Security {
    /// YAML lines added inside the `http:` section (indented two spaces),
    /// e.g. `  tls:` with its certificate and key.
    pub(crate) http_yaml: String,
    /// Top-level YAML sections added at the end, e.g. `auth:`.
    pub(crate) top_yaml: String,
    /// The registry serves https: `base_url` is `https://...` and readiness
    /// is probed over TLS (the registry's certificate is not checked there).
    pub(crate) tls: bool,
    /// The registry asks for credentials: `GET /v2/` answering 401 (with
    /// our id header) counts as ready.
    pub(crate) auth: bool,
}

/// A running `docker-registry serve` child process with its own temp dir
/// (config file, filesystem storage root, log). Killed and removed on drop;
/// if the test process dies first (or the registry lives in a static, which
/// is never dropped), a small shell wrapper notices its stdin pipe closing and
/// kills the registry and removes the directory.
pub struct Registry {
    /// `127.0.0.1:PORT`, as used in image references (`HOST/NAME:TAG`).
    pub host: String,
    /// `http://127.0.0.1:PORT` (`https://` for a TLS registry of
    /// [`secure`]), no trailing slash.
    pub base_url: String,
    /// The configuration it was started with.
    pub config: RegistryConfig,
    port: u16,
    child: Option<Child>,
    dir: Option<tempfile::TempDir>,
    pub(crate) fixtures: Fixtures,
}

/// Fixture results, keyed by arguments. Each lock is held while the fixture
/// is seeded, so concurrent callers wait for the first one and then share it.
#[derive(Default)]
pub(crate) struct Fixtures {
    pub(crate) many_repos: Mutex<HashMap<usize, ManyRepos>>,
    pub(crate) many_tags: Mutex<HashMap<(String, usize), ManyTags>>,
    pub(crate) report: Mutex<HashMap<(String, usize), ReportRepo>>,
    pub(crate) big_blob: Mutex<HashMap<(String, u64), BigBlob>>,
    pub(crate) skopeo: Mutex<Option<SkopeoImages>>,
}

/// Locks a fixture mutex, ignoring poisoning: a fixture that panicked half
/// way left nothing in the map, so the next caller simply tries again.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Is `CI=true` set?
pub fn under_ci() -> bool {
    std::env::var("CI").map(|v| v == "true").unwrap_or(false)
}

/// Finds an executable on `PATH`.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(p)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// The rule for tests whose tools are missing: they fail, naming what to
/// install, and never pass without running (scripts/test installs every
/// tool from Debian's packages). Panics listing the missing `programs`.
pub fn require_programs(programs: &[&str]) {
    let missing: Vec<&str> = programs
        .iter()
        .copied()
        .filter(|t| find_program(t).is_none())
        .collect();
    if missing.is_empty() {
        return;
    }
    let packages: Vec<&str> = missing
        .iter()
        .map(|t| match *t {
            "htpasswd" => "apache2-utils",
            other => other,
        })
        .collect();
    panic!(
        "this test needs {} and cannot run without it: run scripts/test, which installs \
         what is missing, or apt-get install {}",
        missing.join(", "),
        packages.join(" ")
    );
}

/// The built example `name` (`target/debug/examples/NAME`, beside this test
/// binary's directory). `cargo build --examples` builds them (scripts/test
/// runs it before the tests); a missing one fails the test. Never `None`.
pub fn example(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().expect("test binary path");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary in target/PROFILE/deps")
        .join("examples")
        .join(name);
    assert!(
        path.is_file(),
        "example {name} is not built at {}: run cargo build --examples first (scripts/test does)",
        path.display()
    );
    Some(path)
}

/// Runs a built example as a user would on a clean machine: an empty Docker
/// config, no credentials, proxies or `SSL_CERT_*` from the environment, the
/// certs.d roots pointed at an empty directory, and `tests/fixtures` first on
/// `PATH` (for the test credential helper); then `env` on top (it may set
/// `DOCKER_CONFIG`, a proxy, ...). Feeds `stdin`, and kills the example and
/// fails the test if it runs longer than two minutes.
pub fn run_example(
    example: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: &str,
) -> std::process::Output {
    let scratch = tempfile::tempdir().expect("scratch dir");
    std::fs::write(scratch.path().join("config.json"), "{}").expect("empty Docker config");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let path = format!(
        "{}:{}",
        fixtures.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new(example);
    cmd.args(args)
        .env("DOCKER_CONFIG", scratch.path())
        .env("DOCKREG_CERTS_D", scratch.path().join("no-certs.d"))
        // A cache of its own, empty, removed with the scratch directory.
        .env("XDG_CACHE_HOME", scratch.path().join("cache"))
        .env("PATH", path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in [
        "REGISTRY_USERNAME",
        "REGISTRY_PASSWORD",
        "REGISTRY_AUTH_FILE",
        "XDG_RUNTIME_DIR",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
    ] {
        cmd.env_remove(var).env_remove(var.to_ascii_lowercase());
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run example");
    let pid = child.id();
    {
        // Dropped at the end of the block: the example sees end of input.
        let mut input = child.stdin.take().expect("example stdin");
        input
            .write_all(stdin.as_bytes())
            .expect("write example stdin");
    }
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match result.recv_timeout(Duration::from_secs(120)) {
        Ok(output) => output.expect("example output"),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!(
                "example {} {args:?} ran over two minutes",
                example.display()
            );
        }
    }
}

/// `docker-registry` is installed, or the test fails ([`require_programs`]).
fn registry_available() -> bool {
    require_programs(&["docker-registry"]);
    true
}

/// The registry shared by all tests of this test binary, started on first use
/// with [`RegistryConfig::default`]. Never `None`: without `docker-registry`
/// the test fails ([`require_programs`]).
///
/// If it cannot be started, the first test panics with the reason and every
/// later one panics at once with the same reason (no new attempts).
pub fn shared() -> Option<&'static Registry> {
    static SHARED: OnceLock<Result<Option<Registry>, String>> = OnceLock::new();
    let started = SHARED.get_or_init(|| {
        std::panic::catch_unwind(|| start(RegistryConfig::default()))
            .map_err(|p| panic_message(p.as_ref()))
    });
    match started {
        Ok(reg) => reg.as_ref(),
        Err(msg) => panic!("the shared test registry could not be started: {msg}"),
    }
}

/// A second registry (default configuration), started once per test
/// binary: the other end of copies between registries. Shared by the copy,
/// referrers and example tests, which use repository names of their own.
pub fn second() -> Option<&'static Registry> {
    static SECOND: OnceLock<Option<Registry>> = OnceLock::new();
    SECOND
        .get_or_init(|| start(RegistryConfig::default()))
        .as_ref()
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(non-string panic)".to_string())
}

/// A private registry with its own configuration, stopped when dropped.
/// Never `None`: without `docker-registry` the test fails.
pub fn start(cfg: RegistryConfig) -> Option<Registry> {
    if !registry_available() {
        return None;
    }
    Some(Registry::start(cfg))
}

/// Shell wrapper around the registry: kills it when our end of its stdin
/// pipe closes (Registry dropped, or the test process gone for any reason),
/// and then removes the temp dir, which a registry in a static never does.
const WRAPPER: &str = r#"
exec 3<&0 0</dev/null
docker-registry serve "$1" 3<&- >>"$2/registry.log" 2>&1 &
reg=$!
{ cat <&3 >/dev/null; : >"$2/.stopping"; kill -TERM "$reg" 2>/dev/null; } &
watch=$!
exec 3<&-
wait "$reg"
status=$?
if [ -e "$2/.stopping" ]; then
  rm -rf "$2"
else
  kill -TERM "$watch" 2>/dev/null
fi
exit "$status"
"#;

impl Registry {
    /// A dockreg client for this registry, with default settings.
    pub fn client(&self) -> dockreg::Client {
        dockreg::Client::builder(&self.host)
            .build()
            .expect("client for the test registry")
    }

    /// Starts a registry (panics with its log if it does not come up).
    /// Does not apply the skip rule: use [`start`] or [`shared`] in tests.
    pub fn start(cfg: RegistryConfig) -> Registry {
        Registry::start_secured(cfg, |_| Security::default())
    }

    /// Like [`start`](Self::start), with what `security` returns (called
    /// once, with the registry's temp dir, before the first start attempt)
    /// added to the configuration.
    pub(crate) fn start_secured(
        cfg: RegistryConfig,
        security: impl FnOnce(&Path) -> Security,
    ) -> Registry {
        assert!(
            find_program("docker-registry").is_some(),
            "docker-registry is not on PATH; install the Debian package docker-registry"
        );
        let dir = tempfile::Builder::new()
            .prefix("dockreg-test-registry-")
            .tempdir()
            .expect("create temp dir for the test registry");
        let timeout = std::env::var("DOCKREG_TEST_REGISTRY_TIMEOUT_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_START_TIMEOUT);
        // A value only this registry sends back (see ID_HEADER).
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let seed = format!("{}-{nanos}-{}", std::process::id(), dir.path().display());
        let token = sha256_digest(seed.as_bytes())[7..23].to_string();
        let security = security(dir.path());
        let scheme = if security.tls { "https" } else { "http" };

        let mut failures = Vec::new();
        for attempt in 1..=START_ATTEMPTS {
            let port = free_port();
            let config_path = dir.path().join("config.yml");
            std::fs::write(
                &config_path,
                config_yaml(&cfg, dir.path(), port, &token, &security),
            )
            .expect("write registry config");
            let log_path = dir.path().join("registry.log");
            let _ = std::fs::write(&log_path, b"");
            let mut child = Command::new("sh")
                .arg("-c")
                .arg(WRAPPER)
                .arg("dockreg-test-registry")
                .arg(&config_path)
                .arg(dir.path())
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn sh to run docker-registry");
            match wait_ready(&mut child, port, &token, timeout, &security) {
                Ok(()) => {
                    return Registry {
                        host: format!("127.0.0.1:{port}"),
                        base_url: format!("{scheme}://127.0.0.1:{port}"),
                        config: cfg,
                        port,
                        child: Some(child),
                        dir: Some(dir),
                        fixtures: Fixtures::default(),
                    };
                }
                Err(reason) => {
                    stop_child(&mut child);
                    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                    let retry = log.contains("address already in use");
                    failures.push(format!(
                        "attempt {attempt} on port {port}: {reason}\n--- registry log ---\n{log}"
                    ));
                    if !retry {
                        break;
                    }
                }
            }
        }
        panic!(
            "docker-registry did not start (config {cfg:?}):\n{}",
            failures.join("\n")
        );
    }

    /// `base_url` + `path` (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// The port the registry listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The registry's temp dir (config.yml, storage/, registry.log, ...).
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("registry dir").path()
    }

    /// The config file it was started with (for `docker-registry
    /// garbage-collect CONFIG`).
    pub fn config_path(&self) -> PathBuf {
        self.dir().join("config.yml")
    }

    /// The filesystem storage root.
    pub fn storage_root(&self) -> PathBuf {
        self.dir().join("storage")
    }

    /// What the registry logged so far (warnings and errors only).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir().join("registry.log")).unwrap_or_default()
    }

    /// The last `n` lines of [`log`](Self::log).
    pub fn log_tail(&self, n: usize) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Runs a fixture; if it panics, panics again with the registry's log
    /// appended, so that a failing seed shows what the registry said.
    pub(crate) fn with_log<T>(&self, what: &str, f: impl FnOnce() -> T) -> T {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            Ok(v) => v,
            Err(payload) => {
                let msg = panic_message(payload.as_ref());
                panic!(
                    "{what} failed: {msg}\n--- registry log at {} (last 40 lines) ---\n{}",
                    self.base_url,
                    self.log_tail(40)
                );
            }
        }
    }

    /// Is the registry process still running?
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = writeln!(
                std::io::stderr().lock(),
                "--- log of the test registry at {} ---\n{}",
                self.base_url,
                self.log()
            );
        }
        if let Some(mut child) = self.child.take() {
            stop_child(&mut child);
        }
        // TempDir's own drop removes whatever the wrapper left.
        drop(self.dir.take());
    }
}

/// Closes the wrapper's stdin (which makes it kill the registry) and waits
/// for it; kills the wrapper outright if it takes too long.
fn stop_child(child: &mut Child) {
    drop(child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
        }
    }
}

/// A port that was free a moment ago (the registry retries if it is taken).
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

fn config_yaml(
    cfg: &RegistryConfig,
    dir: &Path,
    port: u16,
    token: &str,
    security: &Security,
) -> String {
    format!(
        "version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: {delete}
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
  secret: dockreg-test-secret-{token}
  headers:
    {ID_HEADER}: [\"{token}\"]
{http_extra}compatibility:
  schema1:
    enabled: {schema1}
{top_extra}",
        root = dir.join("storage").display(),
        delete = cfg.delete_enabled,
        schema1 = cfg.schema1,
        http_extra = security.http_yaml,
        top_extra = security.top_yaml,
    )
}

/// Waits until our registry answers `GET /v2/` on `port` (checked by the id
/// header), or fails when it exits or the timeout passes. A registry that
/// asks for credentials is ready when it answers 401.
fn wait_ready(
    child: &mut Child,
    port: u16,
    token: &str,
    timeout: Duration,
    security: &Security,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let ready = if security.auth { 401 } else { 200 };
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("docker-registry exited early ({status})"));
        }
        let probe = if security.tls {
            secure::probe_v2_tls(port)
        } else {
            probe_v2(port)
        };
        let last = match probe {
            Ok((status, head)) if status == ready && head_has_token(&head, token) => return Ok(()),
            Ok((status, _)) => format!("GET /v2/ answered {status} (not our registry?)"),
            Err(e) => e,
        };
        if Instant::now() >= deadline {
            return Err(format!(
                "no answer to GET /v2/ within {timeout:?}; last: {last}"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn head_has_token(head: &str, token: &str) -> bool {
    head.lines().any(|l| {
        l.split_once(':')
            .is_some_and(|(k, v)| k.trim().eq_ignore_ascii_case(ID_HEADER) && v.trim() == token)
    })
}

/// A minimal blocking `GET /v2/` (no runtime needed): (status, header block).
fn probe_v2(port: u16) -> Result<(u16, String), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500))
        .map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok();
    s.set_write_timeout(Some(Duration::from_secs(2))).ok();
    write!(
        s,
        "GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&buf);
    let head = text.split("\r\n\r\n").next().unwrap_or("").to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad HTTP answer: {head:?}"))?;
    Ok((status, head))
}

/// Runs a future on a fresh two-thread runtime of its own (on a thread of
/// its own, so it works from sync tests and from inside another runtime),
/// failing the test when it takes longer than `deadline`.
pub fn run_async<T: Send>(
    deadline: Duration,
    fut: impl std::future::Future<Output = T> + Send,
) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap()
                .block_on(async { tokio::time::timeout(deadline, fut).await })
                .expect("test timed out")
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}
