//! Checks a registry's API (`GET /v2/`): which authentication it asks for,
//! and whether the credentials given get in.
//!
//! ```text
//! cargo run --example ping -- 127.0.0.1:5000
//! echo "$PASSWORD" | cargo run --example ping -- registry.example.com --username me --password-stdin
//! ```
mod common;

use std::process::ExitCode;

use clap::Parser;
use common::Common;

const DETAILS: &str = "\
Exit status 0 when the API answers 200 to these credentials, 1 otherwise.
Plain output: `URL: OK|refused (API VERSION), SCHEME authentication (realm, service): OUTCOME`.
--json: {\"registry\",\"ok\",\"status\",\"api_version\",\"auth_required\",\"scheme\",
\"realm\",\"service\",\"credentials\",\"outcome\"} (the names of PingResponse's
fields and methods, and of its challenge's).";

/// Checks a registry's API (GET /v2/): which authentication it asks for,
/// and whether the credentials given get in.
#[derive(Parser)]
#[command(name = "ping")]
struct Args {
    /// The registry
    #[arg(value_name = "HOST[:PORT]", value_parser = common::registry_host)]
    host: String,
    #[command(flatten)]
    common: Common,
}

fn main() -> ExitCode {
    let args: Args = common::parse(DETAILS);
    let cli = args.common;
    common::run(async move {
        let (auth, source) = cli.credentials()?;
        let client = cli.client_with(&args.host, auth)?;
        let ping = client.ping().await?;
        let challenge = ping.challenge();
        let outcome = match (ping.auth_required(), ping.is_ok(), &ping.auth_error) {
            (false, _, _) => "no authentication required".to_owned(),
            (true, true, _) => format!("credentials accepted ({source})"),
            (true, false, Some(e)) => format!("authentication failed ({source}): {e}"),
            (true, false, None) => format!("credentials rejected ({source})"),
        };
        if cli.json {
            common::print_json(&serde_json::json!({
                "registry": client.base_url().as_str(),
                "ok": ping.is_ok(),
                "status": ping.status.as_u16(),
                "api_version": ping.api_version,
                "auth_required": ping.auth_required(),
                "scheme": challenge.map(|c| c.scheme()),
                "realm": challenge.and_then(|c| c.realm()),
                "service": challenge.and_then(|c| c.service()),
                "credentials": source,
                "outcome": outcome,
            }));
        } else {
            let scheme = match challenge {
                None => String::new(),
                Some(c) => {
                    let mut s = format!(", {} authentication", c.scheme());
                    let params: Vec<String> = [("realm", c.realm()), ("service", c.service())]
                        .iter()
                        .filter_map(|(k, v)| v.map(|v| format!("{k} {v:?}")))
                        .collect();
                    if !params.is_empty() {
                        s.push_str(&format!(" ({})", params.join(", ")));
                    }
                    s
                }
            };
            println!(
                "{}: {} ({}){scheme}: {outcome}",
                client.base_url(),
                if ping.is_ok() { "OK" } else { "refused" },
                ping.api_version
                    .as_deref()
                    .unwrap_or("no API version header"),
            );
        }
        // Refused: already said on stdout; the status says it to scripts.
        Ok(if ping.is_ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    })
}
