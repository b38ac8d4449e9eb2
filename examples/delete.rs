//! Deletes an image by tag or by digest, saying first which tags go with it.
//!
//! The API deletes manifests, not tags: deleting `app:v1` deletes the
//! manifest `v1` points at, and with it every other tag of that digest. This
//! example finds those tags (a `HEAD` per tag of the repository) and names
//! them; `--dry-run` stops there.
//!
//! ```text
//! cargo run --example delete -- 127.0.0.1:5000/team/app:v1 --dry-run
//! cargo run --example delete -- 127.0.0.1:5000/team/app:v1
//! cargo run --example delete -- 127.0.0.1:5000/team/app@sha256:4c995d69... --json
//! ```
mod common;

use std::process::ExitCode;

use common::Cli;
use dockreg::TagOrDigest;

const USAGE: &str = "\
usage: delete HOST[:PORT]/NAME:TAG|HOST[:PORT]/NAME@DIGEST [--dry-run] [--json]
  deletes the manifest the tag (or digest) names; every tag pointing at it goes
  too, and is listed. A reference with both a tag and a digest deletes by digest.
  --dry-run        say what would be deleted, delete nothing
plain output: `deleted NAME@DIGEST (tags: v1, latest)` (`would delete ...` with --dry-run)
--json: {\"repository\",\"digest\",\"tags\":[...],\"deleted\":true|false}
a registry with deletion disabled refuses (exit 1); its operator sets
storage.delete.enabled: true (or REGISTRY_STORAGE_DELETE_ENABLED=true)";

fn main() -> ExitCode {
    let cli = Cli::parse(USAGE, &[], &["--dry-run"]);
    let reference = cli.reference(&cli.positional(1)[0]);
    if reference.tag().is_none() && reference.digest().is_none() {
        cli.usage_error("name what to delete: NAME:TAG or NAME@DIGEST (no implicit latest)");
    }
    let dry_run = cli.switch("--dry-run");
    common::run(async move {
        let (repo, target) = cli
            .client(reference.registry())?
            .repository_for(&reference)?;
        let name = repo.name();
        // By tag: the digest a pull would get. By digest: checks it exists.
        let digest = repo.manifest_digest(&target).await?;
        let mut tags: Vec<String> = repo
            .tags_with_digest(&digest)
            .await?
            .iter()
            .map(ToString::to_string)
            .collect();
        if let TagOrDigest::Tag(tag) = &target {
            // The tag we resolved is one of them, even if the listing raced.
            if !tags.iter().any(|t| t == tag.as_str()) {
                tags.push(tag.to_string());
                tags.sort();
            }
        }
        if !dry_run {
            repo.delete_manifest(&digest).await?;
        }
        if cli.json() {
            common::print_json(&serde_json::json!({
                "repository": name.as_str(),
                "digest": digest.to_string(),
                "tags": tags,
                "deleted": !dry_run,
            }));
        } else {
            let verb = if dry_run { "would delete" } else { "deleted" };
            let listed = if tags.is_empty() {
                "no tags".to_owned()
            } else {
                format!("tags: {}", tags.join(", "))
            };
            println!("{verb} {name}@{digest} ({listed})");
            if let TagOrDigest::Tag(tag) = &target {
                let others: Vec<&str> = tags
                    .iter()
                    .map(String::as_str)
                    .filter(|t| *t != tag.as_str())
                    .collect();
                if !others.is_empty() {
                    let verb = if dry_run { "would go" } else { "went" };
                    println!(
                        "{} share the digest of {tag} and {verb} too",
                        others.join(", ")
                    );
                }
            }
        }
        if !dry_run {
            // For people: on stderr when stdout is JSON.
            if cli.json() {
                eprintln!("note: {}", common::GC_REMINDER);
            } else {
                println!("note: {}", common::GC_REMINDER);
            }
        }
        Ok(())
    })
}
