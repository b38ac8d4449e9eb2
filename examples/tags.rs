//! Lists every tag of a repository, sorted, following pagination.
//!
//! ```text
//! cargo run --example tags -- 127.0.0.1:5000/team/app
//! ```
mod common;

use std::process::ExitCode;

use common::Cli;
use dockreg::Tag;
use futures::TryStreamExt;

const USAGE: &str = "usage: tags HOST[:PORT]/NAME [--page-size N] [--json]";

fn main() -> ExitCode {
    let cli = Cli::parse(USAGE, &["--page-size"], &[]);
    let reference = cli.reference(&cli.positional(1)[0]);
    let page_size: usize = cli.parsed("--page-size", dockreg::http::REGISTRY_MAX_PAGE_SIZE);
    common::run(async move {
        let (repo, _) = cli
            .client(reference.registry())?
            .repository_for(&reference)?;
        // Registries list tags in storage order; people expect them sorted.
        let mut tags: Vec<Tag> = repo.tags().page_size(page_size).try_collect().await?;
        tags.sort();
        for tag in tags {
            if cli.json() {
                common::print_json(&serde_json::json!({
                    "repository": repo.name().as_str(),
                    "tag": tag.as_str(),
                }));
            } else {
                println!("{tag}");
            }
        }
        Ok(())
    })
}
