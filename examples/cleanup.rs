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

use clap::Parser;
use common::progress::Count;
use common::{Common, Filter};
use dockreg::models::Platform;
use dockreg::retention::{Action, Age, Policy};
use dockreg::{Digest, Reference, RepositoryName};
use futures::TryStreamExt;

const DETAILS: &str = "\
A tag without a created date is kept. A tag sharing its digest with a kept tag
is kept (deleting a manifest deletes all its tags), as is a manifest a kept
index lists. Freed bytes count config and layer blobs (sizes from the
manifests) that no kept tag's manifest references; the registry reclaims them
only when its garbage collection runs.
A policy over many tags deletes only with --yes; without it (or with --dry-run)
the plan is printed and nothing changes (exit 0). With --yes a failed delete
(deletion disabled on the registry) stops with exit 1.
Plain output: one line per tag, newest first, `keep|delete TAG DIGEST CREATED (REASON)`,
then a summary.
--json: per tag the library's TagPlan {\"tag\",\"digest\",\"created\",\"action\",\"reason\"},
then {\"summary\":{\"repository\",\"dry_run\",\"manifests\":[DIGEST...],\"tags_removed\",
\"tags_kept\",\"freed_bytes\",\"vanished\":[TAG...]}} (the Plan's fields, its tags
counted).";

/// Retention for one repository: keeps the newest tags (by the created
/// date of their image config) and deletes the others, or those older than
/// an age. A dry run unless --yes.
#[derive(Parser)]
#[command(name = "cleanup")]
struct Args {
    /// The repository, without tag or digest
    #[arg(value_name = "HOST[:PORT]/NAME")]
    reference: Reference,
    /// Keep the newest N tags (by the created date of their image)
    #[arg(long, value_name = "N")]
    keep: Option<usize>,
    /// Delete only tags created more than D ago: a number and a unit, s, m,
    /// h, d or w (30d, 12h, 90m, 3600s, 1d12h); with --keep too, a tag goes
    /// when it is beyond the newest N AND older than D
    #[arg(long, value_name = "DURATION", value_parser = age)]
    older_than: Option<Age>,
    /// Consider only tags matching GLOB, a shell-style pattern with `*` (any
    /// run of characters) and `?` (one character); other tags are kept
    #[arg(long = "match", value_name = "GLOB")]
    pattern: Option<String>,
    /// Delete; without it nothing is deleted (dry run)
    #[arg(long)]
    yes: bool,
    /// Print the plan and delete nothing (the default without --yes)
    #[arg(long, conflicts_with = "yes")]
    dry_run: bool,
    /// Show only the tags matching this regular expression (the plan is
    /// still over every tag --match selects, so not with --yes)
    #[arg(long, value_name = "REGEX", conflicts_with = "yes")]
    filter: Option<regex::Regex>,
    /// Requests at once while gathering and deleting
    #[arg(long, value_name = "N", value_parser = common::at_least_one, default_value_t = 16)]
    concurrency: usize,
    /// For multi-platform tags, whose config gives the date (else the
    /// index's first entry)
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", default_value = "linux/amd64")]
    platform: Platform,
    #[command(flatten)]
    common: Common,
}

fn age(s: &str) -> Result<Age, String> {
    s.parse()
        .map_err(|_| "a number and a unit s, m, h, d or w, such as 30d or 12h".to_owned())
}

/// `--json`'s last line: `{"summary": ...}`.
#[derive(serde::Serialize)]
struct SummaryLine<'a> {
    summary: Summary<'a>,
}

/// The plan without its tags, counted.
#[derive(serde::Serialize)]
struct Summary<'a> {
    repository: &'a RepositoryName,
    dry_run: bool,
    manifests: &'a [Digest],
    tags_removed: usize,
    tags_kept: usize,
    freed_bytes: u64,
    vanished: &'a [String],
}

/// The reason as the command has always said it: `--keep 0`, the flag.
fn reason_text(reason: &dockreg::retention::Reason) -> String {
    reason
        .to_string()
        .replace("none kept (keep 0)", "none kept by --keep 0")
}

fn main() -> ExitCode {
    let args: Args = common::parse(DETAILS);
    let reference = args.reference.clone();
    if reference.tag().is_some() || reference.digest().is_some() {
        common::usage_error::<Args>(
            "cleanup takes a repository, HOST[:PORT]/NAME, without tag or digest",
        );
    }
    if args.keep.is_none() && args.older_than.is_none() {
        common::usage_error::<Args>("say what to keep: --keep N and/or --older-than DURATION");
    }
    let mut policy = Policy::default()
        .concurrency(args.concurrency)
        .platform(args.platform.clone());
    if let Some(n) = args.keep {
        policy = policy.keep(n);
    }
    if let Some(age) = args.older_than.clone() {
        policy = policy.older_than(age);
    }
    if let Some(p) = &args.pattern {
        policy = policy.matching(p);
    }
    let dry_run = !args.yes;
    let filter = Filter {
        filter: args.filter.clone(),
    };
    common::run(async move {
        let cli = &args.common;
        let (repo, _) = cli
            .client(reference.registry())?
            .repository_for(&reference)?;
        let name = repo.name();
        // The plan reads every tag inside the library, which reports no
        // progress of its own: on a terminal the tags are listed first for
        // the total, and the library's request spans count the reads.
        let reading = Count::new(cli, "cleanup", "tags read", 0);
        if reading.is_drawn() {
            let total = repo
                .tags()
                .try_fold(0u64, |n, _| std::future::ready(Ok(n + 1)))
                .await?;
            reading.add_total(total);
            reading.follow_tag_reads(name);
        }
        let plan = policy.plan(&repo).await;
        reading.finish();
        let plan = plan?;

        for t in plan.tags.iter().filter(|t| filter.matches(&t.tag)) {
            if cli.json {
                common::print_json(t);
            } else {
                let action = match t.action {
                    Action::Keep => "keep",
                    _ => "delete",
                };
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
            let deleting = Count::spinner(cli, "cleanup", "deleting manifests");
            let applied = policy.apply(&repo, &plan).await;
            deleting.finish();
            applied?;
        }

        let (tags_removed, tags_kept) = (plan.tags_removed(), plan.tags_kept());
        let manifests = plan.manifests.len();
        if cli.json {
            common::print_json(&SummaryLine {
                summary: Summary {
                    repository: name,
                    dry_run,
                    manifests: &plan.manifests,
                    tags_removed,
                    tags_kept,
                    freed_bytes: plan.freed_bytes,
                    vanished: &plan.vanished,
                },
            });
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
            cli.note(common::GC_REMINDER);
        }
        Ok(())
    })
}
