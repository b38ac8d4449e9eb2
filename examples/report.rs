//! Every tag of a repository with its digest and created date, sorted by
//! created date: the report people write with curl and jq, fetched
//! concurrently. A tag that cannot be read is named on stderr, the others
//! are printed, and the exit status is 1.
//!
//! ```text
//! cargo run --release --example report -- 127.0.0.1:5000/team/app
//! cargo run --release --example report -- 127.0.0.1:5000/team/app --json --concurrency 32
//! ```
mod common;

use std::process::ExitCode;

use common::Cli;
use dockreg::models::Platform;
use dockreg::repository::ReportOptions;

const USAGE: &str =
    "usage: report HOST[:PORT]/NAME [--concurrency N] [--platform OS/ARCH[/VARIANT]] [--json]
  --concurrency N  tags fetched at once (default 16)
  --platform P     for multi-platform tags, whose config gives the date (default linux/amd64)
plain output: one line per tag, `TAG DIGEST CREATED`, oldest first
a tag that cannot be read (deleted since the listing, an unknown media type)
is one `error: TAG: MESSAGE` line on stderr; the other tags are still printed,
and the exit status is 1";

fn main() -> ExitCode {
    let cli = Cli::parse(USAGE, &["--concurrency", "--platform"], &[]);
    let reference = cli.reference(&cli.positional(1)[0]);
    let concurrency: usize = cli.parsed("--concurrency", 16);
    if concurrency == 0 {
        cli.usage_error("--concurrency must be at least 1");
    }
    let platform: Platform = cli.parsed("--platform", Platform::new("linux", "amd64"));
    common::run(async move {
        let (repo, _) = cli
            .client(reference.registry())?
            .repository_for(&reference)?;
        let options = ReportOptions::default()
            .platform(platform)
            .concurrency(concurrency);
        let report = repo.tag_report(&options).await?;
        let total = report.rows.len() + report.errors.len();
        for r in report.rows {
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
        if !report.errors.is_empty() {
            for failed in &report.errors {
                eprintln!("error: {}", common::one_line(&failed.to_string()));
            }
            eprintln!(
                "error: {} of {total} tags could not be read",
                report.errors.len()
            );
            std::io::Write::flush(&mut std::io::stdout()).ok();
            std::process::exit(1);
        }
        Ok(())
    })
}
