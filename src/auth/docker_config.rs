//! Credentials as `docker login` and `podman login` store them: the Docker
//! config file, credential stores and credential helpers.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{
    AuthContext, Authenticator, Authorization, Challenge, Credential, Scope, Secret, TokenFlow,
    TokenInfo,
};
use crate::error::Error;
use crate::Result;

/// The key `docker login` uses for Docker Hub.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";
/// Largest config file read.
const CONFIG_LIMIT: u64 = 4 << 20;
/// Largest answer read from a credential helper (a real one is a few
/// hundred bytes of JSON); a helper that says more fails the lookup.
const HELPER_OUTPUT_LIMIT: u64 = 1 << 20;
/// How much of a credential helper's standard error is kept for the error
/// message; the rest is read and dropped.
const HELPER_STDERR_LIMIT: u64 = 64 << 10;
/// How long a credential helper may take by default.
const DEFAULT_HELPER_TIMEOUT: Duration = Duration::from_secs(30);

/// Credentials from the Docker config (`auths`, `credsStore`, `credHelpers`),
/// used through the token flow for each registry.
///
/// [`DockerConfig::load`] reads the first file that exists of:
/// `$REGISTRY_AUTH_FILE` (podman), `$DOCKER_CONFIG/config.json`,
/// `~/.docker/config.json`, `$XDG_RUNTIME_DIR/containers/auth.json` (podman).
/// No file at all means no credentials, not an error.
///
/// For a registry, a `credHelpers` entry wins, then an `auths` entry (`auth`
/// as base64 `user:password`, `username`/`password`, or `identitytoken`),
/// then `credsStore`. Docker Hub is found under any of its keys
/// (`https://index.docker.io/v1/`, `docker.io`, `registry-1.docker.io`).
///
/// Helpers run as `docker-credential-NAME get` (found on `PATH`, or in
/// [`DockerConfig::helper_dir`]) with the server on standard input, once per
/// registry per authenticator: concurrent first requests to a registry wait
/// for the one lookup. A helper name is a name, not a path: only ASCII
/// letters, digits, `.`, `_` and `-` (and not `.` or `..`), else
/// [`Error::Invalid`] before anything runs. A helper that has not answered
/// within 30 seconds ([`DockerConfig::helper_timeout`]) is killed and the
/// lookup fails with a `TimedOut` [`Error::Io`]; an answer over 1 MiB is
/// [`Error::TooLarge`], refused without reading the rest.
pub struct DockerConfig {
    path: Option<PathBuf>,
    file: ConfigFile,
    /// One slot per registry host, locked while its lookup runs.
    flows: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
    helpers: Helpers,
}

/// Where credential helpers are found and how long they may take.
struct Helpers {
    dir: Option<PathBuf>,
    timeout: Duration,
}

impl Default for Helpers {
    fn default() -> Self {
        Helpers {
            dir: None,
            timeout: DEFAULT_HELPER_TIMEOUT,
        }
    }
}

/// The credential lookup of one registry host.
#[derive(Default)]
enum Slot {
    /// Not looked up yet (or the last lookup failed before this caller came).
    #[default]
    Empty,
    /// Looked up: the flow every request to the host shares.
    Ready(Arc<TokenFlow>),
    /// The lookup failed at `at`; callers that were waiting for it share the
    /// failure instead of running the helper again, later ones retry.
    Failed { message: String, at: Instant },
}

impl fmt::Debug for DockerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let registries: Vec<&String> = self.file.auths.keys().collect();
        f.debug_struct("DockerConfig")
            .field("path", &self.path)
            .field("registries", &registries)
            .field("creds_store", &self.file.creds_store)
            .field("cred_helpers", &self.file.cred_helpers)
            .field("helper_dir", &self.helpers.dir)
            .field("helper_timeout", &self.helpers.timeout)
            .finish_non_exhaustive()
    }
}

#[derive(Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: HashMap<String, String>,
}

#[derive(Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

#[derive(Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

impl DockerConfig {
    /// Loads the config from its usual places (see the type's docs).
    pub fn load() -> Result<DockerConfig> {
        DockerConfig::load_with(|key| std::env::var_os(key))
    }

    /// Loads the config from its usual places, reading the environment
    /// (`REGISTRY_AUTH_FILE`, `DOCKER_CONFIG`, `HOME`, `XDG_RUNTIME_DIR`)
    /// through `env` instead of the process's: what tests and programs that
    /// keep their own environment use. An empty value counts as unset.
    pub fn load_with(env: impl Fn(&str) -> Option<std::ffi::OsString>) -> Result<DockerConfig> {
        let env = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        let candidates = [
            env("REGISTRY_AUTH_FILE"),
            env("DOCKER_CONFIG").map(|d| d.join("config.json")),
            env("HOME").map(|h| h.join(".docker").join("config.json")),
            env("XDG_RUNTIME_DIR").map(|d| d.join("containers").join("auth.json")),
        ];
        for path in candidates.into_iter().flatten() {
            if path.is_file() {
                return DockerConfig::from_path(&path);
            }
        }
        Ok(DockerConfig::empty())
    }

    /// Reads one config file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<DockerConfig> {
        let path = path.as_ref();
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > CONFIG_LIMIT {
            return Err(Error::TooLarge {
                what: path.display().to_string(),
                limit: CONFIG_LIMIT,
            });
        }
        let bytes = std::fs::read(path).map_err(io)?;
        let mut config = DockerConfig::from_json(&bytes).map_err(|e| match e {
            Error::Decode { source, .. } => Error::decode(path.display().to_string(), source),
            other => other,
        })?;
        config.path = Some(path.to_owned());
        Ok(config)
    }

    /// Parses a config file's contents.
    pub fn from_json(bytes: &[u8]) -> Result<DockerConfig> {
        let file: ConfigFile =
            serde_json::from_slice(bytes).map_err(|e| Error::decode("Docker config", e))?;
        Ok(DockerConfig {
            path: None,
            file,
            flows: Mutex::new(HashMap::new()),
            helpers: Helpers::default(),
        })
    }

    /// A config with no credentials at all.
    pub fn empty() -> DockerConfig {
        DockerConfig {
            path: None,
            file: ConfigFile::default(),
            flows: Mutex::new(HashMap::new()),
            helpers: Helpers::default(),
        }
    }

    /// Runs credential helpers from `dir` (`dir/docker-credential-NAME`)
    /// instead of looking them up on `PATH`.
    pub fn helper_dir(mut self, dir: impl Into<PathBuf>) -> DockerConfig {
        self.helpers.dir = Some(dir.into());
        self
    }

    /// How long a credential helper may take before it is killed and the
    /// lookup fails (default 30 seconds).
    pub fn helper_timeout(mut self, timeout: Duration) -> DockerConfig {
        self.helpers.timeout = timeout;
        self
    }

    /// The file the config was read from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The credentials stored for a registry (`HOST[:PORT]`), running a
    /// credential helper when the config names one.
    pub async fn credential_for(&self, registry: &str) -> Result<Option<Credential>> {
        let keys = lookup_keys(registry);
        if let Some(helper) = keys.iter().find_map(|k| self.file.cred_helpers.get(k)) {
            return run_helper(&self.helpers, helper, &helper_server(registry)).await;
        }
        let entry = self.file.auths.iter().find_map(|(key, entry)| {
            let normal = normalize_key(key);
            keys.contains(&normal).then_some(entry)
        });
        if let Some(entry) = entry {
            if let Some(credential) = entry_credential(entry, registry)? {
                return Ok(Some(credential));
            }
        }
        match &self.file.creds_store {
            Some(store) if !store.is_empty() => {
                run_helper(&self.helpers, store, &helper_server(registry)).await
            }
            _ => Ok(None),
        }
    }

    /// The token flow of a registry host, its credentials looked up once:
    /// concurrent first callers wait for one lookup and share its outcome.
    async fn flow(&self, ctx: &AuthContext<'_>) -> Result<Arc<TokenFlow>> {
        let host = registry_host(ctx.registry);
        let slot = self
            .flows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(host.clone())
            .or_default()
            .clone();
        let asked = Instant::now();
        let mut slot = slot.lock().await;
        match &*slot {
            Slot::Ready(flow) => return Ok(flow.clone()),
            Slot::Failed { message, at } if *at >= asked => {
                return Err(Error::protocol(
                    format!("credentials for {host}"),
                    format!("the lookup failed: {message}"),
                ));
            }
            _ => {}
        }
        match self.credential_for(&host).await {
            Ok(credential) => {
                let flow = Arc::new(TokenFlow::new(credential));
                *slot = Slot::Ready(flow.clone());
                Ok(flow)
            }
            Err(e) => {
                *slot = Slot::Failed {
                    message: e.to_string(),
                    at: Instant::now(),
                };
                Err(e)
            }
        }
    }
}

#[async_trait]
impl Authenticator for DockerConfig {
    async fn authorize(&self, ctx: &AuthContext<'_>) -> Result<Option<Authorization>> {
        self.flow(ctx).await?.authorize(ctx).await
    }

    async fn answer(
        &self,
        ctx: &AuthContext<'_>,
        challenges: &[Challenge],
        failed: Option<&Authorization>,
    ) -> Result<Option<Authorization>> {
        self.flow(ctx).await?.answer(ctx, challenges, failed).await
    }

    async fn fetch_token(
        &self,
        ctx: &AuthContext<'_>,
        challenge: &Challenge,
        scopes: &[Scope],
    ) -> Result<Option<TokenInfo>> {
        self.flow(ctx)
            .await?
            .fetch_token(ctx, challenge, scopes)
            .await
    }
}

/// `host[:port]` of a registry URL.
fn registry_host(url: &url::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => String::new(),
    }
}

fn is_docker_hub(host: &str) -> bool {
    matches!(
        host,
        "docker.io" | "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com"
    )
}

/// The normalized keys a registry's credentials may be stored under.
fn lookup_keys(registry: &str) -> Vec<String> {
    let host = normalize_key(registry);
    if is_docker_hub(&host) {
        [
            "docker.io",
            "index.docker.io",
            "registry-1.docker.io",
            "registry.hub.docker.com",
        ]
        .map(str::to_owned)
        .to_vec()
    } else {
        vec![host]
    }
}

/// A config key without scheme and path: `https://host:5000/v1/` → `host:5000`.
fn normalize_key(key: &str) -> String {
    let key = key.trim();
    let key = key.split_once("://").map_or(key, |(_, rest)| rest);
    key.split('/').next().unwrap_or(key).to_ascii_lowercase()
}

/// What a credential helper is asked for: Docker Hub's historical key, else the host.
fn helper_server(registry: &str) -> String {
    if is_docker_hub(&normalize_key(registry)) {
        DOCKER_HUB_KEY.to_owned()
    } else {
        registry.to_owned()
    }
}

fn entry_credential(entry: &AuthEntry, registry: &str) -> Result<Option<Credential>> {
    let bad = |reason: &str| Error::invalid("Docker config entry", registry, reason);
    if let Some(token) = entry.identitytoken.as_deref().filter(|t| !t.is_empty()) {
        let username = entry.username.clone().or_else(|| {
            entry
                .auth
                .as_deref()
                .and_then(|a| decode_auth(a).ok())
                .map(|(u, _)| u)
        });
        return Ok(Some(Credential::IdentityToken {
            username,
            token: Secret::new(token),
        }));
    }
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let (username, password) =
            decode_auth(auth).map_err(|_| bad("`auth` is not base64 of user:password"))?;
        return Ok(Some(Credential::password(username, password)));
    }
    match (&entry.username, &entry.password) {
        (Some(u), Some(p)) if !u.is_empty() => Ok(Some(Credential::password(u.clone(), p.clone()))),
        _ => Ok(None),
    }
}

fn decode_auth(auth: &str) -> std::result::Result<(String, String), ()> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .map_err(|_| ())?;
    let text = String::from_utf8(raw).map_err(|_| ())?;
    let (u, p) = text.split_once(':').ok_or(())?;
    Ok((u.to_owned(), p.to_owned()))
}

/// Refuses a helper name that is not a plain name: `docker-credential-NAME`
/// must not become a path (`x/../../run`) or anything a shell might read.
fn check_helper_name(name: &str) -> Result<()> {
    let plain = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if plain && !matches!(name, "" | "." | "..") {
        Ok(())
    } else {
        Err(Error::invalid(
            "credential helper name",
            name,
            "only ASCII letters, digits, '.', '_' and '-' are allowed",
        ))
    }
}

/// What a helper process said before it exited.
struct HelperOutput {
    status: std::process::ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Runs `docker-credential-NAME get` with `server` on stdin, within the
/// timeout, reading at most [`HELPER_OUTPUT_LIMIT`] bytes of its answer.
async fn run_helper(helpers: &Helpers, name: &str, server: &str) -> Result<Option<Credential>> {
    check_helper_name(name)?;
    let program = format!("docker-credential-{name}");
    let io = |source| Error::Io {
        path: PathBuf::from(&program),
        source,
    };
    let command = helpers
        .dir
        .as_ref()
        .map_or_else(|| PathBuf::from(&program), |dir| dir.join(&program));
    // Killed when dropped: on a timeout, an oversized answer or any error.
    let mut child = tokio::process::Command::new(&command)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(io)?;
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(io(std::io::Error::other("helper pipes missing")));
    };
    let talk = async {
        let write = async {
            match stdin.write_all(server.as_bytes()).await {
                // A helper that exits without reading says why below.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(io(e)),
                _ => {}
            }
            drop(stdin);
            Ok(())
        };
        let answer = async {
            let mut out = Vec::new();
            stdout
                .take(HELPER_OUTPUT_LIMIT + 1)
                .read_to_end(&mut out)
                .await
                .map_err(io)?;
            if out.len() as u64 > HELPER_OUTPUT_LIMIT {
                return Err(Error::TooLarge {
                    what: format!("{program} get answer"),
                    limit: HELPER_OUTPUT_LIMIT,
                });
            }
            Ok(out)
        };
        let complaints = async {
            let mut err = Vec::new();
            let mut stderr = stderr;
            (&mut stderr)
                .take(HELPER_STDERR_LIMIT)
                .read_to_end(&mut err)
                .await
                .map_err(io)?;
            tokio::io::copy(&mut stderr, &mut tokio::io::sink())
                .await
                .map_err(io)?;
            Ok(err)
        };
        let ((), stdout, stderr) = futures::try_join!(write, answer, complaints)?;
        let status = child.wait().await.map_err(io)?;
        Ok::<_, Error>(HelperOutput {
            status,
            stdout,
            stderr,
        })
    };
    let output = tokio::time::timeout(helpers.timeout, talk)
        .await
        .map_err(|_| {
            io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "credential helper gave no answer within {:?}",
                    helpers.timeout
                ),
            ))
        })??;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        if said.contains("credentials not found") {
            return Ok(None);
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let message = if said.is_empty() {
            stderr.trim()
        } else {
            said.as_str()
        };
        return Err(Error::protocol(
            format!("{program} get {server}"),
            format!("credential helper failed ({}): {message}", output.status),
        ));
    }
    let answer: HelperAnswer = serde_json::from_slice(&output.stdout)
        .map_err(|e| Error::decode(format!("{program} get answer"), e))?;
    if answer.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(if answer.username == "<token>" {
        Credential::identity_token(answer.secret)
    } else {
        Credential::password(answer.username, answer.secret)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> DockerConfig {
        DockerConfig::from_json(json.as_bytes()).unwrap()
    }

    #[tokio::test]
    async fn finds_auths_by_any_key_form() {
        let c = config(
            r#"{"auths":{
                "https://index.docker.io/v1/":{"auth":"aHViOnNlY3JldA=="},
                "http://registry.example.com:5000/v2/":{"username":"u","password":"p"},
                "tok.example.com":{"auth":"dTo=","identitytoken":"refresh"}
            }}"#,
        );
        assert_eq!(
            c.credential_for("registry-1.docker.io").await.unwrap(),
            Some(Credential::password("hub", "secret"))
        );
        assert_eq!(
            c.credential_for("registry.example.com:5000").await.unwrap(),
            Some(Credential::password("u", "p"))
        );
        assert!(matches!(
            c.credential_for("tok.example.com").await.unwrap(),
            Some(Credential::IdentityToken { username: Some(ref u), .. }) if u == "u"
        ));
        assert_eq!(c.credential_for("other.example.com").await.unwrap(), None);
    }

    #[tokio::test]
    async fn bad_entries_are_typed_errors() {
        let c = config(r#"{"auths":{"r.example.com":{"auth":"!!!"}}}"#);
        assert!(matches!(
            c.credential_for("r.example.com").await,
            Err(Error::Invalid { .. })
        ));
        assert!(matches!(
            DockerConfig::from_json(b"{not json"),
            Err(Error::Decode { .. })
        ));
    }

    #[tokio::test]
    async fn a_missing_helper_is_an_io_error_naming_it() {
        let c = config(r#"{"credHelpers":{"r.example.com":"dockreg-test-none"}}"#);
        let err = c.credential_for("r.example.com").await.unwrap_err();
        assert!(
            err.to_string()
                .contains("docker-credential-dockreg-test-none"),
            "{err}"
        );
    }

    #[test]
    fn helper_names_are_names_not_paths() {
        for good in ["osxkeychain", "ecr-login", "desktop.exe", "pass", "gcr_1.2"] {
            assert!(check_helper_name(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "../x", "/usr/bin/id", "a b", "x\0", "é"] {
            assert!(
                matches!(check_helper_name(bad), Err(Error::Invalid { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn debug_shows_no_secret() {
        let c = config(r#"{"auths":{"r":{"auth":"dXNlcjpodW50ZXIy"}}}"#);
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("dXNlcjpodW50ZXIy") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
