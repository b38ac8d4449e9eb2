//! Every tag of a repository with its digest and created date, sorted by
//! created date: the report people write with curl and jq, fetched
//! concurrently.
//!
//! ```text
//! cargo run --release --example report -- 127.0.0.1:5000/team/app
//! cargo run --release --example report -- 127.0.0.1:5000/team/app --json --concurrency 32
//! ```
mod common;

use std::process::ExitCode;
use std::time::SystemTime;

use common::Cli;
use dockreg::models::Platform;
use dockreg::{Client, RepositoryName, Tag, TagOrDigest};
use futures::TryStreamExt;

const USAGE: &str =
    "usage: report HOST[:PORT]/NAME [--concurrency N] [--platform OS/ARCH[/VARIANT]] [--json]
  --concurrency N  tags fetched at once (default 16)
  --platform P     for multi-platform tags, whose config gives the date (default linux/amd64)
plain output: one line per tag, `TAG DIGEST CREATED`, oldest first";

struct Row {
    tag: String,
    digest: String,
    media_type: String,
    created: Option<String>,
    created_at: Option<SystemTime>,
    platform: String,
}

async fn row(
    client: &Client,
    name: &RepositoryName,
    tag: String,
    platform: &Platform,
) -> dockreg::Result<Row> {
    let target = TagOrDigest::Tag(tag.parse::<Tag>()?);
    let manifest = client.manifest(name, &target).await?;
    let digest = manifest.digest()?;
    let image = if manifest.is_index() {
        let entry = manifest
            .select_platform(platform)
            .or_else(|| manifest.manifests().first())
            .ok_or_else(|| dockreg::Error::NoMatchingPlatform {
                what: format!("{name}:{tag}"),
                platform: platform.to_string(),
                available: String::new(),
            })?;
        client
            .manifest(name, &TagOrDigest::Digest(entry.digest.clone()))
            .await?
    } else {
        manifest.clone()
    };
    let config = client.image_config(name, &image).await?;
    Ok(Row {
        tag,
        digest: digest.to_string(),
        media_type: manifest.media_type().to_owned(),
        created_at: config.created_at(),
        created: config.created.clone(),
        platform: format!("{}/{}", config.os, config.architecture),
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse(USAGE, &["--concurrency", "--platform"], &[]);
    let reference = cli.reference(&cli.positional(1)[0]);
    let concurrency: usize = cli.parsed("--concurrency", 16);
    if concurrency == 0 {
        cli.usage_error("--concurrency must be at least 1");
    }
    let platform: Platform = cli.parsed("--platform", Platform::new("linux", "amd64"));
    common::run(async move {
        let client = cli.client(reference.registry())?;
        let name = reference.repository();
        let mut rows: Vec<Row> = client
            .tags(name)
            .map_ok(|tag| row(&client, name, tag, &platform))
            .try_buffer_unordered(concurrency)
            .try_collect()
            .await?;
        rows.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.tag.cmp(&b.tag))
        });
        for r in rows {
            if cli.json() {
                common::print_json(&serde_json::json!({
                    "tag": r.tag,
                    "digest": r.digest,
                    "created": r.created,
                    "media_type": r.media_type,
                    "platform": r.platform,
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
        Ok(())
    })
}
