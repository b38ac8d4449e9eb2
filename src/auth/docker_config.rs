//! Credentials as `docker login` and `podman login` store them: the Docker
//! config file, credential stores and credential helpers.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine as _;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use super::{AuthContext, Authenticator, Authorization, Challenge, Credential, Secret, TokenFlow};
use crate::error::Error;
use crate::Result;

/// The key `docker login` uses for Docker Hub.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";
/// Largest config file or helper answer read.
const CONFIG_LIMIT: u64 = 4 << 20;

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
/// then `credsStore`. Helpers run as `docker-credential-NAME get` with the
/// server on standard input, once per registry per authenticator. Docker Hub
/// is found under any of its keys (`https://index.docker.io/v1/`,
/// `docker.io`, `registry-1.docker.io`).
pub struct DockerConfig {
    path: Option<PathBuf>,
    file: ConfigFile,
    flows: Mutex<HashMap<String, Arc<TokenFlow>>>,
}

impl fmt::Debug for DockerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let registries: Vec<&String> = self.file.auths.keys().collect();
        f.debug_struct("DockerConfig")
            .field("path", &self.path)
            .field("registries", &registries)
            .field("creds_store", &self.file.creds_store)
            .field("cred_helpers", &self.file.cred_helpers)
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
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
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
        })
    }

    /// A config with no credentials at all.
    pub fn empty() -> DockerConfig {
        DockerConfig {
            path: None,
            file: ConfigFile::default(),
            flows: Mutex::new(HashMap::new()),
        }
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
            return run_helper(helper, &helper_server(registry)).await;
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
            Some(store) if !store.is_empty() => run_helper(store, &helper_server(registry)).await,
            _ => Ok(None),
        }
    }

    async fn flow(&self, ctx: &AuthContext<'_>) -> Result<Arc<TokenFlow>> {
        let host = registry_host(ctx.registry);
        if let Some(flow) = self
            .flows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&host)
        {
            return Ok(flow.clone());
        }
        let credential = self.credential_for(&host).await?;
        let flow = Arc::new(TokenFlow::new(credential));
        Ok(self
            .flows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(host)
            .or_insert(flow)
            .clone())
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

/// Runs `docker-credential-NAME get` with `server` on stdin.
async fn run_helper(name: &str, server: &str) -> Result<Option<Credential>> {
    let program = format!("docker-credential-{name}");
    let io = |source| Error::Io {
        path: PathBuf::from(&program),
        source,
    };
    let mut child = tokio::process::Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(io)?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(server.as_bytes()).await.map_err(io)?;
    }
    let output = child.wait_with_output().await.map_err(io)?;
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
    if output.stdout.len() as u64 > CONFIG_LIMIT {
        return Err(Error::TooLarge {
            what: format!("{program} get"),
            limit: CONFIG_LIMIT,
        });
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
    fn debug_shows_no_secret() {
        let c = config(r#"{"auths":{"r":{"auth":"dXNlcjpodW50ZXIy"}}}"#);
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("dXNlcjpodW50ZXIy") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
