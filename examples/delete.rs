//! Deletes a tag, or an image by digest, saying first what goes.
//!
//! The API deletes manifests, not tags: deleting a manifest takes every tag
//! of its digest with it. Given `NAME:TAG`, this example removes that tag
//! alone: when other tags share its digest, the library's
//! `Repository::untag` points the tag at a placeholder manifest and deletes
//! that, so the image keeps its other tags; when the tag is its digest's
//! only one, the manifest is deleted. `--digest` (or a `@DIGEST` reference)
//! deletes the manifest and every tag of it; `--with-referrers` deletes its
//! signatures, SBOMs and attestations with it. `--dry-run` says which way it
//! would go and changes nothing.
//!
//! ```text
//! cargo run --example delete -- 127.0.0.1:5000/team/app:v1 --dry-run
//! cargo run --example delete -- 127.0.0.1:5000/team/app:v1
//! cargo run --example delete -- 127.0.0.1:5000/team/app:v1 --digest
//! cargo run --example delete -- 127.0.0.1:5000/team/app@sha256:4c995d69... --json
//! cargo run --example delete -- 127.0.0.1:5000/team/app:v1 --with-referrers --dry-run
//! ```
mod common;

use std::process::ExitCode;

use clap::Parser;
use common::Common;
use dockreg::api::{DeletePlan, Untagged};
use dockreg::{Reference, Repository, Tag, TagOrDigest};

const DETAILS: &str = "\
NAME:TAG removes that tag alone: when other tags share its digest, the tag is
pointed at a placeholder manifest which is then deleted, and the image keeps its
other tags (this needs push rights); when it is the digest's only tag, the
manifest is deleted. NAME@DIGEST (or a reference with both a tag and a digest)
deletes that manifest and every tag of it, as --digest does for a tag.
One explicit reference acts at once (no --yes); --dry-run says which way it
would go and changes nothing. Policies over many tags are the cleanup example's,
which needs --yes.
Plain output:
  `removed tag NAME:TAG; NAME@DIGEST stays (tags: b, c)`        (tag alone)
  `deleted NAME@DIGEST (tags: v1, latest)`                       (manifest)
  `would remove ...` / `would delete ...` with --dry-run
--with-referrers also deletes the manifest's referrers (referrers of referrers
first) and the fallback tags (sha256-HEX) of everything deleted, and takes the
manifest out of its own subject's fallback index: one line each,
  `  deleted referrer NAME@DIGEST ARTIFACT_TYPE`, `  deleted fallback tag NAME:TAG`.
--json: {\"action\":\"untag\"|\"delete\",\"repository\",\"digest\",\"tags\":[...],
         \"kept_tags\":[...],\"deleted\":true|false}; with --with-referrers also
  \"referrers\":[descriptors],\"fallback_tags\":[{\"tag\",\"index\"}],\"subject\"
  tags: the tags that go; kept_tags: the tags of the digest that stay (untag);
  deleted: false with --dry-run
A registry with deletion disabled refuses (exit 1); its operator sets
storage.delete.enabled: true (or REGISTRY_STORAGE_DELETE_ENABLED=true).";

/// Deletes a tag (alone, the other tags of its digest stay), or an image
/// by digest, saying what goes.
#[derive(Parser)]
#[command(name = "delete")]
struct Args {
    /// What to delete: a tag or a digest (there is no implicit latest)
    #[arg(value_name = "HOST[:PORT]/NAME:TAG|HOST[:PORT]/NAME@DIGEST")]
    reference: Reference,
    /// Delete the manifest the tag names, and every tag of it
    #[arg(long)]
    digest: bool,
    /// Delete the manifest with its referrers (signatures, SBOMs,
    /// attestations, and theirs) and their fallback tags; implies --digest
    #[arg(long)]
    with_referrers: bool,
    /// Say which way it would go, change nothing
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    common: Common,
}

fn main() -> ExitCode {
    let args: Args = common::parse(DETAILS);
    let reference = args.reference.clone();
    if reference.tag().is_none() && reference.digest().is_none() {
        common::usage_error::<Args>(
            "name what to delete: NAME:TAG or NAME@DIGEST (no implicit latest)",
        );
    }
    let (dry_run, whole, with_referrers) = (
        args.dry_run,
        args.digest || args.with_referrers,
        args.with_referrers,
    );
    common::run(async move {
        let (repo, target) = args
            .common
            .client(reference.registry())?
            .repository_for(&reference)?;
        let outcome = match &target {
            TagOrDigest::Tag(tag) if !whole => untag(&repo, tag, dry_run).await?,
            _ => delete_manifest(&repo, &target, dry_run, with_referrers).await?,
        };
        outcome.print(&repo, dry_run, args.common.json);
        if !dry_run && outcome.action == "delete" {
            args.common.note(common::GC_REMINDER);
        }
        Ok(())
    })
}

/// What went (or would go).
struct Outcome {
    /// `untag` (the tag alone) or `delete` (the manifest).
    action: &'static str,
    digest: dockreg::Digest,
    /// The tag asked for, if any.
    asked: Option<String>,
    /// The tags that go.
    tags: Vec<String>,
    /// The tags of the digest that stay.
    kept_tags: Vec<String>,
    /// With --with-referrers: what goes along.
    plan: Option<DeletePlan>,
}

/// The tag alone, or the manifest when the tag is its only one.
async fn untag(repo: &Repository, tag: &Tag, dry_run: bool) -> dockreg::Result<Outcome> {
    let done = if dry_run {
        repo.untag_plan(tag).await?
    } else {
        repo.untag(tag).await?
    };
    let kept_tags = match &done {
        Untagged::TagOnly { other_tags, .. } => {
            other_tags.iter().map(ToString::to_string).collect()
        }
        _ => Vec::new(),
    };
    Ok(Outcome {
        action: if done.deletes_manifest() {
            "delete"
        } else {
            "untag"
        },
        digest: done.digest().clone(),
        asked: Some(tag.to_string()),
        tags: vec![tag.to_string()],
        kept_tags,
        plan: None,
    })
}

/// The manifest and every tag of it (with its referrers and their
/// fallback tags when asked).
async fn delete_manifest(
    repo: &Repository,
    target: &TagOrDigest,
    dry_run: bool,
    with_referrers: bool,
) -> dockreg::Result<Outcome> {
    // By tag: the digest a pull would get. By digest: checks it exists.
    let digest = repo.manifest_digest(target).await?;
    let mut tags: Vec<String> = repo
        .tags_with_digest(&digest)
        .await?
        .iter()
        .map(ToString::to_string)
        .collect();
    let asked = match target {
        TagOrDigest::Tag(tag) => Some(tag.to_string()),
        _ => None,
    };
    if let Some(tag) = &asked {
        // The tag we resolved is one of them, even if the listing raced.
        if !tags.contains(tag) {
            tags.push(tag.clone());
            tags.sort();
        }
    }
    let plan = if with_referrers {
        Some(repo.delete_plan(&digest).await?)
    } else {
        None
    };
    if !dry_run {
        match &plan {
            Some(plan) => repo.apply_delete_plan(plan).await?,
            None => repo.delete_manifest(&digest).await?,
        }
    }
    Ok(Outcome {
        action: "delete",
        digest,
        asked,
        tags,
        kept_tags: Vec::new(),
        plan,
    })
}

impl Outcome {
    fn print(&self, repo: &Repository, dry_run: bool, json: bool) {
        let name = repo.name();
        let digest = &self.digest;
        if json {
            let mut out = serde_json::json!({
                "action": self.action,
                "repository": name.as_str(),
                "digest": digest.to_string(),
                "tags": self.tags,
                "kept_tags": self.kept_tags,
                "deleted": !dry_run,
            });
            if let Some(plan) = &self.plan {
                // The library's DeletePlan field names.
                out["referrers"] = serde_json::json!(plan.referrers);
                out["fallback_tags"] = serde_json::json!(plan.fallback_tags);
                out["subject"] = serde_json::json!(plan.subject);
            }
            common::print_json(&out);
            return;
        }
        if self.action == "untag" {
            let verb = if dry_run { "would remove" } else { "removed" };
            let tag = self.asked.as_deref().unwrap_or_default();
            println!(
                "{verb} tag {name}:{tag}; {name}@{digest} stays (tags: {})",
                self.kept_tags.join(", ")
            );
            return;
        }
        let verb = if dry_run { "would delete" } else { "deleted" };
        let listed = if self.tags.is_empty() {
            "no tags".to_owned()
        } else {
            format!("tags: {}", self.tags.join(", "))
        };
        println!("{verb} {name}@{digest} ({listed})");
        if let Some(plan) = &self.plan {
            for r in &plan.referrers {
                let kind = r.artifact_type.as_deref().unwrap_or(&r.media_type);
                println!("  {verb} referrer {name}@{} {kind}", r.digest);
            }
            for f in &plan.fallback_tags {
                println!("  {verb} fallback tag {name}:{}", f.tag);
            }
            if let Some(subject) = &plan.subject {
                let verb = if dry_run { "would leave" } else { "left" };
                println!("  {verb} the fallback index of its subject {name}@{subject}");
            }
        }
        if let Some(tag) = &self.asked {
            let others: Vec<&str> = self
                .tags
                .iter()
                .map(String::as_str)
                .filter(|t| t != tag)
                .collect();
            if !others.is_empty() {
                let verb = if dry_run { "would go" } else { "went" };
                println!(
                    "{} share the digest of {tag} and {verb} too (--digest)",
                    others.join(", ")
                );
            }
        }
    }
}
