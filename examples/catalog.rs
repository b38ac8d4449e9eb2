//! Lists every repository of a registry, following pagination.
//!
//! ```text
//! cargo run --example catalog -- 127.0.0.1:5000
//! ```
mod common;

use std::process::ExitCode;

use common::Cli;
use futures::TryStreamExt;

const USAGE: &str = "usage: catalog HOST[:PORT] [--page-size N] [--json]";

fn main() -> ExitCode {
    let cli = Cli::parse(USAGE, &["--page-size"], &[]);
    let host = dockreg::reference::parse_registry_host(&cli.positional(1)[0])
        .unwrap_or_else(|e| cli.usage_error(&e.to_string()));
    let page_size: usize = cli.parsed("--page-size", dockreg::http::REGISTRY_MAX_PAGE_SIZE);
    common::run(async move {
        let client = cli.client(&host)?;
        let mut repos = client.repositories().page_size(page_size);
        while let Some(repo) = repos.try_next().await? {
            if cli.json() {
                common::print_json(&serde_json::json!({ "repository": repo.as_str() }));
            } else {
                println!("{repo}");
            }
        }
        Ok(())
    })
}
