//! Retention for one repository: keeps the newest tags (by the created date
//! of their image config) and deletes the others, or those older than a
//! given age. A dry run unless `--yes`.
//!
//! A manifest is deleted only when no kept tag points at it, and never when
//! a kept index lists it: deleting a manifest removes every tag of its digest,
//! so a tag that shares its digest with a kept tag is kept too (and says so).
//!
//! ```text
//! cargo run --example cleanup -- 127.0.0.1:5000/team/app --keep 10
//! cargo run --example cleanup -- 127.0.0.1:5000/team/app --older-than 30d --match 'pr-*' --yes
//! cargo run --example cleanup -- 127.0.0.1:5000/team/app --keep 3 --older-than 90d --json
//! ```
mod common;

use std::process::ExitCode;

use common::Cli;
use dockreg::models::Platform;
use dockreg::retention::{Action, Age, Policy};

const USAGE: &str = "\
usage: cleanup HOST[:PORT]/NAME [--keep N] [--older-than DURATION] [--match GLOB] [--yes]
               [--concurrency N] [--platform OS/ARCH[/VARIANT]] [--json]
  --keep N            keep the newest N tags (by the created date of their image)
  --older-than D      delete only tags created more than D ago: a number and a unit,
                      s, m, h, d or w (30d, 12h, 90m, 3600s, 1d12h)
                      (with --keep too: a tag goes when it is beyond the newest N
                      AND older than D)
  --match GLOB        consider only tags matching GLOB, a shell-style pattern with
                      `*` (any run of characters) and `?` (one character); not a
                      regular expression. Other tags are kept
  --yes               delete; without it nothing is deleted (dry run). The decisions
                      are printed first; a failed delete (deletion disabled on the
                      registry) then stops with exit 1
  --concurrency N     requests at once while gathering and deleting (default 16)
  --platform P        for multi-platform tags, whose config gives the date
                      (default linux/amd64, else the index's first entry)
a tag without a created date is kept. A tag sharing its digest with a kept tag
is kept (deleting a manifest deletes all its tags), as is a manifest a kept
index lists. Freed bytes count config and layer blobs (sizes from the
manifests) that no kept tag's manifest references; the registry reclaims them
only when its garbage collection runs.
plain output: one line per tag, newest first, `keep|delete TAG DIGEST CREATED (REASON)`,
then a summary. --json: {\"tag\",\"digest\",\"created\",\"action\",\"reason\"} per tag, then
{\"summary\":{\"dry_run\",\"manifests_deleted\",\"tags_removed\",\"tags_kept\",\"freed_bytes\"}}";

/// The reason as the command has always said it: `--keep 0`, the flag.
fn reason_text(reason: &dockreg::retention::Reason) -> String {
    reason
        .to_string()
        .replace("none kept (keep 0)", "none kept by --keep 0")
}

fn main() -> ExitCode {
    let cli = Cli::parse(
        USAGE,
        &[
            "--keep",
            "--older-than",
            "--match",
            "--concurrency",
            "--platform",
        ],
        &["--yes"],
    );
    let reference = cli.reference(&cli.positional(1)[0]);
    if reference.tag().is_some() || reference.digest().is_some() {
        cli.usage_error("cleanup takes a repository, HOST[:PORT]/NAME, without tag or digest");
    }
    let mut policy = Policy::default()
        .concurrency(cli.concurrency(16))
        .platform(cli.platform().unwrap_or(Platform::new("linux", "amd64")));
    if cli.value("--keep").is_some() {
        policy = policy.keep(cli.parsed("--keep", 0usize));
    }
    if let Some(v) = cli.value("--older-than") {
        let age: Age = v.parse().unwrap_or_else(|_| {
            cli.usage_error(&format!(
                "bad --older-than {v:?}: a number and a unit s, m, h, d or w, such as 30d or 12h"
            ))
        });
        policy = policy.older_than(age);
    }
    if policy.keep.is_none() && policy.older_than.is_none() {
        cli.usage_error("say what to keep: --keep N and/or --older-than DURATION");
    }
    if let Some(p) = cli.value("--match") {
        policy = policy.matching(p);
    }
    let dry_run = !cli.switch("--yes");
    common::run(async move {
        let (repo, _) = cli
            .client(reference.registry())?
            .repository_for(&reference)?;
        let name = repo.name();
        let plan = policy.plan(&repo).await?;

        for t in &plan.tags {
            let action = match t.action {
                Action::Keep => "keep",
                _ => "delete",
            };
            if cli.json() {
                common::print_json(&serde_json::json!({
                    "tag": t.tag,
                    "digest": t.digest.to_string(),
                    "created": t.created,
                    "action": action,
                    "reason": reason_text(&t.reason),
                }));
            } else {
                println!(
                    "{action} {} {} {} ({})",
                    t.tag,
                    t.digest,
                    t.created.as_deref().unwrap_or("-"),
                    reason_text(&t.reason)
                );
            }
        }

        if !dry_run {
            policy.apply(&repo, &plan).await?;
        }

        let (tags_removed, tags_kept) = (plan.tags_removed(), plan.tags_kept());
        let manifests = plan.manifests.len();
        if cli.json() {
            common::print_json(&serde_json::json!({"summary": {
                "repository": name.as_str(),
                "dry_run": dry_run,
                "manifests_deleted": manifests,
                "tags_removed": tags_removed,
                "tags_kept": tags_kept,
                "freed_bytes": plan.freed_bytes,
            }}));
        } else if dry_run {
            println!(
                "dry run: would delete {manifests} manifest(s) and {tags_removed} tag(s), keep \
                 {tags_kept} tag(s), and free {} of blobs no kept tag uses; --yes deletes",
                common::human(plan.freed_bytes)
            );
        } else {
            println!(
                "deleted {manifests} manifest(s) and {tags_removed} tag(s), kept {tags_kept} \
                 tag(s); {} of blobs no kept tag uses can be freed",
                common::human(plan.freed_bytes)
            );
        }
        if !dry_run && manifests > 0 {
            if cli.json() {
                eprintln!("note: {}", common::GC_REMINDER);
            } else {
                println!("note: {}", common::GC_REMINDER);
            }
        }
        Ok(())
    })
}
