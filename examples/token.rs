//! Gets the bearer token a registry hands out, for `curl` and scripts: where
//! does the token come from, and what is it good for?
//!
//! It asks `GET /v2/` without credentials, reads the `WWW-Authenticate:
//! Bearer realm=...,service=...` challenge, and runs the token flow at that
//! realm with your credentials (the same flags, environment and Docker
//! config as every example). The token alone goes to stdout; the realm, the
//! service, the scope granted and the expiry go to stderr.
//!
//! ```text
//! TOKEN=$(cargo run -q --example token -- 127.0.0.1:5000/team/app)
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:5000/v2/team/app/tags/list
//! cargo run -q --example token -- registry.example.com/team/app --scope pull,push --json
//! ```
mod common;

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;
use common::Common;
use dockreg::api::TokenGrant;
use dockreg::auth::{Scope, TokenInfo};
use dockreg::RepositoryName;

const DETAILS: &str = "\
Prints the bearer token alone on stdout, for
curl -H \"Authorization: Bearer $(token ...)\"; the realm, service, scope granted
and expiry on stderr.
--json: one object on stdout {\"auth\":\"bearer\",\"token\",\"realm\",\"service\",
\"scope\":[...],\"scope_from\",\"expires_at\",\"expires_in\",\"issued_at\"} (TokenInfo's
field names), or {\"auth\":\"basic\"|\"none\",\"token\":null,\"registry\"}.
Exit status: 0 a token (or none needed: an open registry prints nothing on
stdout), 1 failure, or a registry using Basic authentication (no token exists),
2 usage error.";

/// Gets the bearer token a registry hands out, for curl and scripts: runs
/// the registry's challenge and token flow with your credentials.
#[derive(Parser)]
#[command(name = "token")]
struct Args {
    /// The repository the token is for (HOST[:PORT] alone with --scope
    /// catalog)
    #[arg(value_name = "HOST[:PORT]/NAME")]
    target: String,
    /// The actions on NAME, comma separated (pull, push, delete, *),
    /// `catalog` (registry:catalog:*), or a full scope TYPE:NAME:ACTIONS
    #[arg(long, value_name = "SCOPE", default_value = "pull")]
    scope: String,
    #[command(flatten)]
    common: Common,
}

fn main() -> ExitCode {
    let args: Args = common::parse(DETAILS);
    let arg = &args.target;
    let (registry, name) = if arg.contains('/') {
        let reference: dockreg::Reference = arg
            .parse()
            .unwrap_or_else(|e: dockreg::Error| common::usage_error::<Args>(e));
        (
            reference.registry().to_owned(),
            Some(reference.repository().clone()),
        )
    } else {
        let host = common::registry_host(arg).unwrap_or_else(|e| common::usage_error::<Args>(e));
        (host, None)
    };
    let scope = scope(&args.scope, name.as_ref());
    let cli = args.common;
    common::run(async move {
        let (auth, source) = cli.credentials()?;
        let client = cli.client_with(&registry, auth)?;
        match client.token(std::slice::from_ref(&scope)).await? {
            TokenGrant::Bearer(info) => {
                show(&cli, &info, &source);
                Ok(ExitCode::SUCCESS)
            }
            TokenGrant::Basic { realm } => {
                let realm = realm.map(|r| format!(" (realm {r:?})")).unwrap_or_default();
                if cli.json {
                    common::print_json(&serde_json::json!({
                        "auth": "basic",
                        "token": null,
                        "registry": client.base_url().as_str(),
                    }));
                }
                eprintln!(
                    "{} uses Basic authentication{realm}, not tokens: there is no token to get. \
                     Send the username and password with every request: curl -u USER:PASSWORD {}v2/",
                    client.base_url(),
                    client.base_url(),
                );
                Ok(ExitCode::from(1))
            }
            TokenGrant::NotNeeded => {
                if cli.json {
                    common::print_json(&serde_json::json!({
                        "auth": "none",
                        "token": null,
                        "registry": client.base_url().as_str(),
                    }));
                }
                eprintln!(
                    "{} asks for no authentication: no token is needed (curl {}v2/ as it is)",
                    client.base_url(),
                    client.base_url(),
                );
                Ok(ExitCode::SUCCESS)
            }
            other => {
                eprintln!("error: an answer this example does not know: {other:?}");
                Ok(ExitCode::from(1))
            }
        }
    })
}

/// The scope `--scope` names; exits 2 when it is malformed or needs a
/// repository name that was not given.
fn scope(value: &str, name: Option<&RepositoryName>) -> Scope {
    if value == "catalog" {
        return Scope::catalog();
    }
    if value.contains(':') {
        return Scope::parse(value).unwrap_or_else(|| {
            common::usage_error::<Args>(format!("bad scope {value:?}: TYPE:NAME:ACTIONS"))
        });
    }
    let actions: Vec<&str> = value.split(',').map(str::trim).collect();
    if let Some(bad) = actions
        .iter()
        .find(|a| !matches!(**a, "pull" | "push" | "delete" | "*"))
    {
        common::usage_error::<Args>(format!(
            "bad --scope action {bad:?}: pull, push, delete or *, comma separated, or catalog"
        ));
    }
    let Some(name) = name else {
        common::usage_error::<Args>(
            "--scope with actions needs HOST/NAME (or use --scope catalog)",
        );
    };
    Scope::new("repository", name.as_str(), actions)
}

/// The token on stdout, what it is on stderr (or one JSON object).
fn show(cli: &Common, info: &TokenInfo, source: &str) {
    let granted = info.granted();
    let (scope, from) = match &granted {
        Some(g) => (g.clone(), "token"),
        None => (info.requested.clone(), "request"),
    };
    let expires_at = info.expires_at();
    if cli.json {
        common::print_json(&serde_json::json!({
            "auth": "bearer",
            "token": info.token.expose(),
            "realm": info.realm,
            "service": info.service,
            "scope": scope.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "scope_from": from,
            "expires_at": expires_at.map(rfc3339),
            "expires_in": info.expires_in.map(|d| d.as_secs()),
            "issued_at": info.issued_at.map(rfc3339),
        }));
    } else {
        println!("{}", info.token.expose());
    }
    eprintln!("realm: {}", info.realm);
    match &info.service {
        Some(s) => eprintln!("service: {s}"),
        None => eprintln!("service: (none named by the registry's challenge)"),
    }
    let joined = |scopes: &[Scope]| {
        scopes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    };
    match &granted {
        Some(g) => {
            eprintln!("granted: {}", joined(g));
            for asked in &info.requested {
                let got: Vec<&str> = g
                    .iter()
                    .filter(|s| {
                        s.resource_type() == asked.resource_type() && s.name() == asked.name()
                    })
                    .flat_map(|s| s.actions())
                    .collect();
                let missing: Vec<&str> = asked.actions().filter(|a| !got.contains(a)).collect();
                if got.is_empty() {
                    eprintln!(
                        "warning: the token server granted none of the actions asked on {asked} \
                         (these credentials may not use {}; the token opens nothing there)",
                        asked.name()
                    );
                } else if !missing.is_empty() {
                    eprintln!(
                        "warning: asked {asked}, the token server left out {}",
                        missing.join(",")
                    );
                }
            }
        }
        None => eprintln!(
            "scope: {} (requested; the token is not a JWT, so what was granted could not be read)",
            joined(&info.requested)
        ),
    }
    let now = SystemTime::now();
    match expires_at {
        Some(at) => {
            let left = match at.duration_since(now) {
                Ok(d) => format!("in {} s", d.as_secs()),
                Err(_) => "already expired".to_owned(),
            };
            let said = match (info.expires_in, info.issued_at) {
                (Some(e), Some(i)) => format!(
                    "; expires_in {} s from issued_at {}",
                    e.as_secs(),
                    rfc3339(i)
                ),
                (Some(e), None) => format!("; expires_in {} s", e.as_secs()),
                (None, _) => "; the answer sent no expires_in".to_owned(),
            };
            eprintln!("expires: {} ({left}{said})", rfc3339(at));
        }
        None => eprintln!("expires: unknown (neither the token nor its answer says)"),
    }
    eprintln!("credentials: {source}");
}

/// `2026-12-01T11:05:00Z`, to the second.
fn rfc3339(t: SystemTime) -> String {
    let whole = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => UNIX_EPOCH + Duration::from_secs(d.as_secs()),
        Err(_) => t,
    };
    dockreg::models::format_rfc3339(whole)
}
