//! Lists every repository of a registry, following pagination, in the
//! registry's order (lexical).
//!
//! ```text
//! cargo run --example catalog -- 127.0.0.1:5000
//! cargo run --example catalog -- 127.0.0.1:5000 --filter '^team/' --json
//! ```
mod common;

use std::process::ExitCode;

use clap::Parser;
use common::{Common, Filter};
use futures::TryStreamExt;

const DETAILS: &str = "\
Plain output: one repository per line, in the registry's (lexical) order.
--json: {\"repository\"} per line.";

/// Lists every repository of a registry (GET /v2/_catalog), following
/// pagination.
#[derive(Parser)]
#[command(name = "catalog")]
struct Args {
    /// The registry
    #[arg(value_name = "HOST[:PORT]", value_parser = common::registry_host)]
    host: String,
    /// Repositories asked for per request
    #[arg(long, value_name = "N", value_parser = common::at_least_one,
          default_value_t = dockreg::http::REGISTRY_MAX_PAGE_SIZE)]
    page_size: usize,
    #[command(flatten)]
    filter: Filter,
    #[command(flatten)]
    common: Common,
}

fn main() -> ExitCode {
    let args: Args = common::parse(DETAILS);
    common::run(async move {
        let client = args.common.client(&args.host)?;
        let mut repos = client.repositories().page_size(args.page_size);
        while let Some(repo) = repos.try_next().await? {
            if !args.filter.matches(repo.as_str()) {
                continue;
            }
            if args.common.json {
                common::print_json(&serde_json::json!({ "repository": repo }));
            } else {
                println!("{repo}");
            }
        }
        Ok(())
    })
}
