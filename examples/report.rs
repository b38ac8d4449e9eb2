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

use clap::Parser;
use common::progress::Count;
use common::{Common, Filter};
use dockreg::models::Platform;
use dockreg::repository::ReportOptions;
use dockreg::Reference;

const DETAILS: &str = "\
Plain output: one line per tag, `TAG DIGEST CREATED`, oldest first (then by
tag; undated tags last).
--json: per tag the library's TagInfo: {\"tag\",\"digest\",\"media_type\",\"created\",
\"platform\":{\"architecture\",\"os\",...}}.
A tag that cannot be read (deleted since the listing, an unknown media type) is
one `error: TAG: MESSAGE` line on stderr; the other tags are still printed, and
the exit status is 1.
On a terminal a bar counts the tags read out of the tags listed.
Where the tag listing carries each manifest's creation time (gcr.io, *.pkg.dev),
image tags are dated from it with no request each, and their platform is null;
--no-listing-dates reads every manifest and config instead.";

/// Every tag of a repository with its digest and created date, oldest
/// first: the report people write with curl and jq, fetched concurrently.
#[derive(Parser)]
#[command(name = "report")]
struct Args {
    /// The repository
    #[arg(value_name = "HOST[:PORT]/NAME")]
    reference: Reference,
    /// Tags fetched at once
    #[arg(long, value_name = "N", value_parser = common::at_least_one, default_value_t = 16)]
    concurrency: usize,
    /// For multi-platform tags, whose config gives the date (else the
    /// index's first entry)
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", default_value = "linux/amd64")]
    platform: Platform,
    /// Read every tag's manifest and config, even where the tag listing
    /// dates the tags itself (Google's registries)
    #[arg(long)]
    no_listing_dates: bool,
    #[command(flatten)]
    filter: Filter,
    #[command(flatten)]
    common: Common,
}

fn main() -> ExitCode {
    let args: Args = common::parse(DETAILS);
    common::run(async move {
        let (repo, _) = args
            .common
            .client(args.reference.registry())?
            .repository_for(&args.reference)?;
        let count = Count::new(&args.common, "report", "tags", 0);
        let filter = args.filter.clone();
        let options = ReportOptions::default()
            .platform(args.platform.clone())
            .concurrency(args.concurrency)
            .from_listing(!args.no_listing_dates)
            .filter(move |tag| filter.matches(tag))
            .observer(count.report_observer());
        let report = repo.tag_report(&options).await?;
        count.finish();
        let (rows, errors) = (report.rows, report.errors);
        let total = rows.len() + errors.len();
        for r in &rows {
            if args.common.json {
                common::print_json(r);
            } else {
                println!(
                    "{} {} {}",
                    r.tag,
                    r.digest,
                    r.created.as_deref().unwrap_or("-")
                );
            }
        }
        if errors.is_empty() {
            return Ok(ExitCode::SUCCESS);
        }
        for failed in &errors {
            eprintln!(
                "error: {}: {}",
                failed.tag,
                common::one_line(&failed.error.to_string())
            );
        }
        eprintln!("error: {} of {total} tags could not be read", errors.len());
        Ok(ExitCode::from(1))
    })
}
