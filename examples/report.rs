//! Every tag of a repository with its digest and created date, sorted by
//! created date: the report people write with curl and jq, fetched
//! concurrently.
//!
//! ```text
//! cargo run --release --example report -- 127.0.0.1:5000/team/app
//! cargo run --release --example report -- 127.0.0.1:5000/team/app --json --concurrency 32
//! ```
mod common;

use std::process::ExitCode;

use common::Cli;
use dockreg::models::Platform;

const USAGE: &str =
    "usage: report HOST[:PORT]/NAME [--concurrency N] [--platform OS/ARCH[/VARIANT]] [--json]
  --concurrency N  tags fetched at once (default 16)
  --platform P     for multi-platform tags, whose config gives the date (default linux/amd64)
plain output: one line per tag, `TAG DIGEST CREATED`, oldest first";

fn main() -> ExitCode {
    let cli = Cli::parse(USAGE, &["--concurrency", "--platform"], &[]);
    let reference = cli.reference(&cli.positional(1)[0]);
    let concurrency: usize = cli.parsed("--concurrency", 16);
    if concurrency == 0 {
        cli.usage_error("--concurrency must be at least 1");
    }
    let platform: Platform = cli.parsed("--platform", Platform::new("linux", "amd64"));
    common::run(async move {
        let client = cli.client(reference.registry())?;
        let rows = client
            .tag_report(reference.repository(), &platform, concurrency)
            .await?;
        for r in rows {
            if cli.json() {
                common::print_json(&serde_json::json!({
                    "tag": r.tag,
                    "digest": r.digest.to_string(),
                    "created": r.created,
                    "media_type": r.media_type,
                    "platform": r.platform.map(|p| p.to_string()),
                }));
            } else {
                println!(
                    "{} {} {}",
                    r.tag,
                    r.digest,
                    r.created.as_deref().unwrap_or("-")
                );
            }
        }
        Ok(())
    })
}
