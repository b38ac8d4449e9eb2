//! Checks a registry's API: `GET /v2/`.
//!
//! ```text
//! cargo run --example ping -- 127.0.0.1:5000
//! ```
mod common;

use std::process::ExitCode;

use common::Cli;

const USAGE: &str = "usage: ping HOST[:PORT] [--json]";

fn main() -> ExitCode {
    let cli = Cli::parse(USAGE, &[], &[]);
    let host = cli.positional(1)[0].clone();
    let host = dockreg::reference::parse_registry_host(&host)
        .unwrap_or_else(|e| cli.usage_error(&e.to_string()));
    common::run(async move {
        let client = cli.client(&host)?;
        let ping = client.ping().await?;
        let challenge = ping.challenge().map(ToString::to_string);
        if cli.json() {
            common::print_json(&serde_json::json!({
                "registry": client.base_url().as_str(),
                "status": ping.status.as_u16(),
                "api_version": ping.api_version,
                "ok": ping.is_ok(),
                "challenge": challenge,
                "scheme": ping.challenge().map(|c| c.scheme()),
                "realm": ping.challenge().and_then(|c| c.realm()),
                "service": ping.challenge().and_then(|c| c.service()),
            }));
        } else if ping.is_ok() {
            println!(
                "{}: OK ({})",
                client.base_url(),
                ping.api_version
                    .as_deref()
                    .unwrap_or("no API version header")
            );
        } else {
            println!(
                "{}: authentication required: {}",
                client.base_url(),
                challenge.as_deref().unwrap_or("no challenge sent")
            );
        }
        if ping.is_ok() {
            Ok(())
        } else {
            std::process::exit(1)
        }
    })
}
