//! The credential chain every registry tool walks: credentials the caller
//! gives, then the environment, then the Docker/podman config.

use std::fmt;
use std::path::PathBuf;

use async_trait::async_trait;

use super::{
    AuthContext, Authenticator, Authorization, Basic, Challenge, Credential, DockerConfig, Scope,
    TokenInfo,
};
use crate::Result;

/// The environment variable holding the user name.
pub const USERNAME_VAR: &str = "REGISTRY_USERNAME";
/// The environment variable holding the password (or access token).
pub const PASSWORD_VAR: &str = "REGISTRY_PASSWORD";

/// Where a [`CredentialChain`] found its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialSource {
    /// Given by the caller ([`CredentialChainBuilder::credentials`]), for
    /// every registry.
    Explicit {
        /// The user name.
        username: String,
    },
    /// [`REGISTRY_USERNAME`](USERNAME_VAR) and
    /// [`REGISTRY_PASSWORD`](PASSWORD_VAR), for every registry.
    Environment {
        /// The user name.
        username: String,
    },
    /// The Docker/podman config, looked up per registry host (an entry, a
    /// credential store or a helper; a host it does not name goes
    /// anonymous).
    DockerConfig {
        /// The file read, or `None` when no config file exists.
        path: Option<PathBuf>,
    },
}

impl fmt::Display for CredentialSource {
    /// `user me (given)`, `user me (REGISTRY_USERNAME)`,
    /// `Docker config /home/me/.docker/config.json`, `no credentials`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSource::Explicit { username } => write!(f, "user {username} (given)"),
            CredentialSource::Environment { username } => {
                write!(f, "user {username} ({USERNAME_VAR})")
            }
            CredentialSource::DockerConfig { path: Some(p) } => {
                write!(f, "Docker config {}", p.display())
            }
            CredentialSource::DockerConfig { path: None } => f.write_str("no credentials"),
        }
    }
}

/// What the chain settled on.
#[derive(Debug)]
enum Chosen {
    /// One username and password for every registry.
    Fixed(Credential, Basic),
    /// The Docker config, per registry host.
    Config(DockerConfig),
}

/// Credentials the way `docker`, `skopeo` and CI jobs find them, as one
/// [`Authenticator`]:
///
/// 1. credentials the caller gives ([`CredentialChainBuilder::credentials`],
///    a `--username` flag, say);
/// 2. else `REGISTRY_USERNAME` and `REGISTRY_PASSWORD`, when both are set
///    and not empty;
/// 3. else the Docker/podman config ([`DockerConfig::load`]), resolved per
///    registry host: its entry, credential store or helper for that host, or
///    anonymous for a host it does not name.
///
/// The first two hold for every registry the client talks to. The Docker
/// config is read only when neither is there, so a broken config file does
/// not stop a job that brings its own credentials. [`CredentialChain::source`]
/// says which link was taken, for a message such as
/// `credentials accepted (user me (REGISTRY_USERNAME))`.
///
/// ```no_run
/// use dockreg::auth::CredentialChain;
///
/// let chain = CredentialChain::from_env()?;
/// println!("credentials: {}", chain.source());
/// let client = dockreg::Client::builder("registry.example.com")
///     .authenticator(chain)
///     .build()?;
/// # Ok::<(), dockreg::Error>(())
/// ```
///
/// Tests and programs that keep their own environment read it through a
/// function instead of the process's:
///
/// ```
/// use dockreg::auth::{CredentialChain, CredentialSource};
///
/// let env = |key: &str| match key {
///     "REGISTRY_USERNAME" => Some("ci".to_owned()),
///     "REGISTRY_PASSWORD" => Some("token".to_owned()),
///     _ => None,
/// };
/// let chain = CredentialChain::from_env_with(env)?;
/// assert_eq!(chain.source(), &CredentialSource::Environment { username: "ci".into() });
/// # Ok::<(), dockreg::Error>(())
/// ```
#[derive(Debug)]
pub struct CredentialChain {
    chosen: Chosen,
    source: CredentialSource,
}

/// Reads one environment variable.
type EnvReader = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Builds a [`CredentialChain`]: the caller's credentials, where the
/// environment comes from, a Docker config of the caller's.
#[must_use]
pub struct CredentialChainBuilder {
    explicit: Option<(String, super::Secret)>,
    env: EnvReader,
    config: Option<DockerConfig>,
}

impl fmt::Debug for CredentialChainBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialChainBuilder")
            .field(
                "explicit",
                &self.explicit.as_ref().map(|(u, p)| (u.as_str(), p)),
            )
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl CredentialChainBuilder {
    /// Credentials that come before everything else, for every registry
    /// (a `--username` flag with the password read from standard input).
    pub fn credentials(
        mut self,
        username: impl Into<String>,
        password: impl Into<super::Secret>,
    ) -> Self {
        self.explicit = Some((username.into(), password.into()));
        self
    }

    /// Reads the environment through `env` instead of the process's (for
    /// `REGISTRY_USERNAME`, `REGISTRY_PASSWORD` and the variables that
    /// locate the Docker config; see [`DockerConfig::load_with`]).
    pub fn env_with(
        mut self,
        env: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.env = Box::new(env);
        self
    }

    /// Uses `config` as the last link instead of loading one from its usual
    /// places (a config with [`DockerConfig::helper_dir`], say).
    pub fn docker_config(mut self, config: DockerConfig) -> Self {
        self.config = Some(config);
        self
    }

    /// Walks the chain. Fails only when the Docker config is needed and
    /// cannot be read (unreadable, too large, not JSON).
    pub fn build(self) -> Result<CredentialChain> {
        if let Some((username, password)) = self.explicit {
            return Ok(CredentialChain {
                source: CredentialSource::Explicit {
                    username: username.clone(),
                },
                chosen: fixed(username, password),
            });
        }
        let env = |key: &str| (self.env)(key).filter(|v| !v.is_empty());
        if let (Some(username), Some(password)) = (env(USERNAME_VAR), env(PASSWORD_VAR)) {
            return Ok(CredentialChain {
                source: CredentialSource::Environment {
                    username: username.clone(),
                },
                chosen: fixed(username, password.into()),
            });
        }
        let config = match self.config {
            Some(config) => config,
            None => DockerConfig::load_with(|key| (self.env)(key).map(Into::into))?,
        };
        Ok(CredentialChain {
            source: CredentialSource::DockerConfig {
                path: config.path().map(ToOwned::to_owned),
            },
            chosen: Chosen::Config(config),
        })
    }
}

fn fixed(username: String, password: super::Secret) -> Chosen {
    Chosen::Fixed(
        Credential::password(username.clone(), password.clone()),
        Basic::new(username, password),
    )
}

impl CredentialChain {
    /// A builder reading the process's environment.
    pub fn builder() -> CredentialChainBuilder {
        CredentialChainBuilder {
            explicit: None,
            env: Box::new(|key| std::env::var(key).ok()),
            config: None,
        }
    }

    /// The environment, then the Docker config, from the process's
    /// environment.
    pub fn from_env() -> Result<CredentialChain> {
        CredentialChain::builder().build()
    }

    /// The environment, then the Docker config, reading the environment
    /// through `env` (`Some(value)` for a set variable).
    pub fn from_env_with(
        env: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Result<CredentialChain> {
        CredentialChain::builder().env_with(env).build()
    }

    /// Which link of the chain the credentials come from.
    pub fn source(&self) -> &CredentialSource {
        &self.source
    }

    /// The credentials the chain has for a registry (`HOST[:PORT]`): the
    /// fixed ones, or the Docker config's for that host (running a
    /// credential helper when it names one); `None` means anonymous.
    pub async fn credential_for(&self, registry: &str) -> Result<Option<Credential>> {
        match &self.chosen {
            Chosen::Fixed(credential, _) => Ok(Some(credential.clone())),
            Chosen::Config(config) => config.credential_for(registry).await,
        }
    }

    fn authenticator(&self) -> &dyn Authenticator {
        match &self.chosen {
            Chosen::Fixed(_, basic) => basic,
            Chosen::Config(config) => config,
        }
    }
}

#[async_trait]
impl Authenticator for CredentialChain {
    async fn authorize(&self, ctx: &AuthContext<'_>) -> Result<Option<Authorization>> {
        self.authenticator().authorize(ctx).await
    }

    async fn answer(
        &self,
        ctx: &AuthContext<'_>,
        challenges: &[Challenge],
        failed: Option<&Authorization>,
    ) -> Result<Option<Authorization>> {
        self.authenticator().answer(ctx, challenges, failed).await
    }

    async fn fetch_token(
        &self,
        ctx: &AuthContext<'_>,
        challenge: &Challenge,
        scopes: &[Scope],
    ) -> Result<Option<TokenInfo>> {
        self.authenticator()
            .fetch_token(ctx, challenge, scopes)
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::error::Error;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |key| map.get(key).cloned()
    }

    /// A Docker config directory holding `json`, and the environment naming it.
    fn config_dir(json: &str) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), json).unwrap();
        let path = dir.path().to_str().unwrap().to_owned();
        (dir, path)
    }

    const ALICE_AT_R: &str = r#"{"auths":{"r.example.com":{"auth":"YWxpY2U6YWxpY2UtcGFzcw=="}}}"#;

    #[tokio::test]
    async fn explicit_credentials_come_first() {
        let (_dir, docker) = config_dir(ALICE_AT_R);
        let chain = CredentialChain::builder()
            .credentials("me", "pw")
            .env_with(env_of(&[
                ("REGISTRY_USERNAME", "ci"),
                ("REGISTRY_PASSWORD", "token"),
                ("DOCKER_CONFIG", &docker),
            ]))
            .build()
            .unwrap();
        assert_eq!(
            chain.source(),
            &CredentialSource::Explicit {
                username: "me".into()
            }
        );
        assert_eq!(chain.source().to_string(), "user me (given)");
        assert_eq!(
            chain.credential_for("r.example.com").await.unwrap(),
            Some(Credential::password("me", "pw"))
        );
    }

    #[tokio::test]
    async fn the_environment_comes_before_the_docker_config() {
        let (_dir, docker) = config_dir(ALICE_AT_R);
        let chain = CredentialChain::from_env_with(env_of(&[
            ("REGISTRY_USERNAME", "ci"),
            ("REGISTRY_PASSWORD", "token"),
            ("DOCKER_CONFIG", &docker),
        ]))
        .unwrap();
        assert_eq!(chain.source().to_string(), "user ci (REGISTRY_USERNAME)");
        for host in ["r.example.com", "other.example.com"] {
            assert_eq!(
                chain.credential_for(host).await.unwrap(),
                Some(Credential::password("ci", "token")),
                "{host}"
            );
        }
    }

    #[tokio::test]
    async fn half_an_environment_falls_through_to_the_docker_config() {
        let (dir, docker) = config_dir(ALICE_AT_R);
        for half in [
            vec![("REGISTRY_USERNAME", "ci")],
            vec![("REGISTRY_PASSWORD", "token")],
            vec![("REGISTRY_USERNAME", "ci"), ("REGISTRY_PASSWORD", "")],
        ] {
            let mut env = half.clone();
            env.push(("DOCKER_CONFIG", &docker));
            let chain = CredentialChain::from_env_with(env_of(&env)).unwrap();
            let path = dir.path().join("config.json");
            assert_eq!(
                chain.source(),
                &CredentialSource::DockerConfig {
                    path: Some(path.clone())
                },
                "{half:?}"
            );
            assert_eq!(
                chain.source().to_string(),
                format!("Docker config {}", path.display())
            );
            // Per host: the entry for r.example.com, nothing for another.
            assert_eq!(
                chain.credential_for("r.example.com").await.unwrap(),
                Some(Credential::password("alice", "alice-pass"))
            );
            assert_eq!(
                chain.credential_for("other.example.com").await.unwrap(),
                None
            );
        }
    }

    #[test]
    fn no_config_anywhere_is_no_credentials() {
        let empty = tempfile::tempdir().unwrap();
        let home = empty.path().to_str().unwrap().to_owned();
        let chain = CredentialChain::from_env_with(env_of(&[("HOME", &home)])).unwrap();
        assert_eq!(
            chain.source(),
            &CredentialSource::DockerConfig { path: None }
        );
        assert_eq!(chain.source().to_string(), "no credentials");
    }

    #[test]
    fn a_broken_config_fails_only_when_it_is_needed() {
        let (_dir, docker) = config_dir("{not json");
        let err =
            CredentialChain::from_env_with(env_of(&[("DOCKER_CONFIG", &docker)])).unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{err:?}");
        let chain = CredentialChain::from_env_with(env_of(&[
            ("DOCKER_CONFIG", &docker),
            ("REGISTRY_USERNAME", "ci"),
            ("REGISTRY_PASSWORD", "token"),
        ]))
        .unwrap();
        assert!(matches!(
            chain.source(),
            CredentialSource::Environment { .. }
        ));
        CredentialChain::builder()
            .credentials("me", "pw")
            .env_with(env_of(&[("DOCKER_CONFIG", &docker)]))
            .build()
            .unwrap();
    }

    #[test]
    fn secrets_never_print() {
        let builder = CredentialChain::builder().credentials("me", "hunter2");
        assert!(!format!("{builder:?}").contains("hunter2"), "{builder:?}");
        let chain = builder.build().unwrap();
        assert!(!format!("{chain:?}").contains("hunter2"), "{chain:?}");
        let chain = CredentialChain::from_env_with(env_of(&[
            ("REGISTRY_USERNAME", "ci"),
            ("REGISTRY_PASSWORD", "s3cret-token"),
        ]))
        .unwrap();
        assert!(!format!("{chain:?}").contains("s3cret-token"), "{chain:?}");
    }
}
