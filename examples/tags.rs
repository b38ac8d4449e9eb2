//! Lists every tag of a repository, following pagination: sorted
//! lexically, as the registry returns them, or by version.
//!
//! ```text
//! cargo run --example tags -- 127.0.0.1:5000/team/app
//! cargo run --example tags -- 127.0.0.1:5000/team/app --filter '^v[0-9]' --sort version
//! ```
mod common;

use std::process::ExitCode;

use clap::Parser;
use common::{Common, Filter, Sort};
use dockreg::{Reference, Tag};
use futures::TryStreamExt;

const DETAILS: &str = "\
Plain output: one tag per line.
--json: {\"repository\",\"tag\"} per line.";

/// Lists every tag of a repository (GET /v2/NAME/tags/list), following
/// pagination.
#[derive(Parser)]
#[command(name = "tags")]
struct Args {
    /// The repository
    #[arg(value_name = "HOST[:PORT]/NAME")]
    reference: Reference,
    /// Tags asked for per request
    #[arg(long, value_name = "N", value_parser = common::at_least_one,
          default_value_t = dockreg::http::REGISTRY_MAX_PAGE_SIZE)]
    page_size: usize,
    #[command(flatten)]
    filter: Filter,
    /// The order of the list
    #[arg(long, value_enum, default_value_t)]
    sort: Sort,
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
        let mut tags: Vec<Tag> = repo
            .tags()
            .page_size(args.page_size)
            .try_filter(|t| std::future::ready(args.filter.matches(t.as_str())))
            .try_collect()
            .await?;
        // Registries differ in the order they list; sorted, the output is
        // the same everywhere.
        args.sort.apply(&mut tags);
        for tag in tags {
            if args.common.json {
                common::print_json(&serde_json::json!({
                    "repository": repo.name(),
                    "tag": tag,
                }));
            } else {
                println!("{tag}");
            }
        }
        Ok(())
    })
}
