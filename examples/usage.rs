//! Where a registry's bytes are: per repository its tags, manifests and the
//! bytes of its layers and configs (each blob once per repository), how many
//! of those bytes other repositories share, and the registry's totals (each
//! blob once). `--what-if-delete` says what garbage collection would free if
//! a tag, a digest or a whole repository were deleted; `--html` writes the
//! report as one self-contained page with a chart.
//!
//! ```text
//! cargo run --example usage -- 127.0.0.1:5000
//! cargo run --example usage -- 127.0.0.1:5000/team/app --json
//! cargo run --example usage -- 127.0.0.1:5000 --html usage.html
//! cargo run --example usage -- 127.0.0.1:5000 --what-if-delete team/app:v1
//! ```
mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use common::progress::Count;
use common::{human, Common, Filter};
use dockreg::usage::{DeleteTarget, Usage, UsageOptions, WhatIf};
use dockreg::RepositoryName;

const DETAILS: &str = "\
HOST: every repository of the catalog. HOST/NAME: one repository (the rest of
the catalog is read for the shared bytes and the totals).
--what-if-delete REF: what garbage collection would free if REF were deleted,
REF being NAME (the whole repository), NAME:TAG or NAME@DIGEST (`:TAG` and
`@DIGEST` name one of HOST/NAME); deleting a tag deletes its manifest, and
every tag of it. Nothing is deleted.
--filter REGEX keeps the rows of matching repositories; the totals stay the
registry's.
Plain output: a table, a row per repository (TAGS MANIFESTS BYTES SHARED), then
the totals, each blob counted once.
--json: per repository the library's RepositoryUsage {\"repository\",\"tags\",
\"manifests\",\"blobs\",\"bytes\",\"manifest_bytes\",\"shared_bytes\"}, then its
UsageTotals with \"totals\":true; with --what-if-delete one WhatIf {\"target\",
\"manifests\",\"tags\",\"blobs\",\"bytes\",\"manifest_bytes\",\"kept_children\"} with
\"total_bytes\".";

/// Where a registry's bytes are: per repository its tags, manifests and
/// the bytes of its layers and configs, what other repositories share, and
/// the registry's totals; or what deleting something would free.
#[derive(Parser)]
#[command(name = "usage")]
struct Args {
    /// The registry, or one repository of it
    #[arg(value_name = "HOST[:PORT][/NAME]")]
    target: String,
    /// What garbage collection would free if REF (NAME, NAME:TAG,
    /// NAME@DIGEST, :TAG, @DIGEST) were deleted; nothing is deleted
    #[arg(long, value_name = "REF", conflicts_with = "html")]
    what_if_delete: Option<String>,
    /// Also write the report as one self-contained HTML page
    #[arg(long, value_name = "FILE")]
    html: Option<std::path::PathBuf>,
    /// Manifest requests in flight
    #[arg(long, value_name = "N", value_parser = common::at_least_one, default_value_t = 8)]
    concurrency: usize,
    #[command(flatten)]
    filter: Filter,
    #[command(flatten)]
    common: Common,
}

fn main() -> ExitCode {
    let args: Args = common::parse(DETAILS);
    let arg = args.target.clone();
    let (host, name) = if arg.contains('/') {
        let reference: dockreg::Reference = arg
            .parse()
            .unwrap_or_else(|e: dockreg::Error| common::usage_error::<Args>(e));
        if reference.tag().is_some() || reference.digest().is_some() {
            common::usage_error::<Args>("name a registry or a repository, not a tag or digest");
        }
        (
            reference.registry().to_owned(),
            Some(reference.repository().clone()),
        )
    } else {
        let host = common::registry_host(&arg).unwrap_or_else(|e| common::usage_error::<Args>(e));
        (host, None)
    };
    let target = args
        .what_if_delete
        .as_deref()
        .map(|r| delete_target(&host, name.as_ref(), r));
    let options = UsageOptions::default().concurrency(args.concurrency);
    common::run(async move {
        let cli = &args.common;
        let client = cli.client(&host)?;
        // The library walks the catalog and every tag, telling no count.
        let walking = Count::spinner(cli, "usage", "reading the catalog, tags and manifests");
        if let Some(target) = target {
            let what = client.what_if_delete(&target, &options).await;
            walking.finish();
            print_what_if(cli, &what?);
            return Ok(());
        }
        let usage = match &name {
            Some(name) => client.repository(name)?.usage(&options).await,
            None => client.usage(&options).await,
        };
        walking.finish();
        let mut usage = usage?;
        usage
            .repositories
            .retain(|r| args.filter.matches(r.repository.as_str()));
        if cli.json {
            for row in &usage.repositories {
                common::print_json(row);
            }
            let mut totals = serde_json::to_value(&usage.totals).expect("totals serialize");
            totals["totals"] = serde_json::Value::Bool(true);
            common::print_json(&totals);
        } else {
            print!("{}", table(&usage));
        }
        if let Some(file) = &args.html {
            write_atomically(file, &page(&host, &usage))?;
        }
        Ok(())
    })
}

/// `--what-if-delete`'s argument as a target: `:TAG` and `@DIGEST` are of
/// the repository named, a leading `HOST/` is dropped.
fn delete_target(host: &str, name: Option<&RepositoryName>, raw: &str) -> DeleteTarget {
    let raw = raw.strip_prefix(&format!("{host}/")).unwrap_or(raw);
    let full = match (raw.chars().next(), name) {
        (Some(':' | '@'), Some(name)) => format!("{name}{raw}"),
        (Some(':' | '@'), None) => {
            common::usage_error::<Args>("--what-if-delete :TAG or @DIGEST needs HOST/NAME")
        }
        _ => raw.to_owned(),
    };
    full.parse().unwrap_or_else(|e: dockreg::Error| {
        common::usage_error::<Args>(format!("--what-if-delete {raw:?}: {e}"))
    })
}

fn print_what_if(cli: &Common, what: &WhatIf) {
    if cli.json {
        let mut value = serde_json::to_value(what).expect("what-if serializes");
        value["total_bytes"] = what.total_bytes().into();
        common::print_json(&value);
        return;
    }
    let tags: Vec<String> = what.tags.iter().map(|t| t.to_string()).collect();
    println!(
        "deleting {} ({} manifest(s); tags: {}) would free {} bytes ({})",
        what.target,
        what.manifests.len(),
        if tags.is_empty() {
            "none".to_owned()
        } else {
            tags.join(", ")
        },
        what.total_bytes(),
        human(what.total_bytes())
    );
    println!(
        "  {} layer and config blob(s): {} bytes; manifests: {} bytes",
        what.blobs.len(),
        what.bytes,
        what.manifest_bytes
    );
    if !what.kept_children.is_empty() {
        println!(
            "  {} manifest(s) the index lists stay, untagged, with their blobs: delete them \
             by digest too, or collect with --delete-untagged",
            what.kept_children.len()
        );
    }
    println!("  {}", common::GC_REMINDER);
}

/// The plain report: a row per repository, then the totals.
fn table(usage: &Usage) -> String {
    let mut rows: Vec<[String; 5]> = vec![[
        "REPOSITORY".into(),
        "TAGS".into(),
        "MANIFESTS".into(),
        "BYTES".into(),
        "SHARED".into(),
    ]];
    for r in &usage.repositories {
        rows.push([
            r.repository.to_string(),
            r.tags.to_string(),
            r.manifests.to_string(),
            human(r.bytes),
            r.shared_bytes.map_or("-".to_owned(), human),
        ]);
    }
    let t = &usage.totals;
    rows.push([
        format!("total ({} repositories, {} blobs)", t.repositories, t.blobs),
        t.tags.to_string(),
        t.manifests.to_string(),
        human(t.bytes),
        human(t.shared_bytes),
    ]);
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let _ = write!(out, "{:<w$}", row[0], w = widths[0]);
        for i in 1..5 {
            let _ = write!(out, "  {:>w$}", row[i], w = widths[i]);
        }
        out.push('\n');
    }
    out
}

/// Text for HTML: `&`, `<`, `>`, `"` and `'` escaped.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One self-contained page: an inline SVG bar per repository (its bytes,
/// the shared part darker), then the table. No external asset.
fn page(host: &str, usage: &Usage) -> String {
    const BAR: u64 = 22;
    const LABEL: u64 = 260;
    const WIDTH: u64 = 520;
    let max = usage
        .repositories
        .iter()
        .map(|r| r.bytes)
        .max()
        .unwrap_or(0)
        .max(1);
    let scale = |bytes: u64| (bytes as f64 / max as f64 * WIDTH as f64).round() as u64;
    let height = BAR * usage.repositories.len() as u64 + 10;
    let mut svg = format!(
        "<svg width=\"{}\" height=\"{height}\" \
         role=\"img\" aria-label=\"bytes per repository\">\n",
        LABEL + WIDTH + 120
    );
    for (i, r) in usage.repositories.iter().enumerate() {
        let y = i as u64 * BAR + 5;
        let shared = r.shared_bytes.unwrap_or(0);
        let _ = writeln!(
            svg,
            "<g><title>{name}: {bytes} ({shared_h} shared)</title>\
             <text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{name}</text>\
             <rect x=\"{LABEL}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" class=\"own\"/>\
             <rect x=\"{LABEL}\" y=\"{y}\" width=\"{sw}\" height=\"{h}\" class=\"shared\"/>\
             <text x=\"{vx}\" y=\"{ty}\">{bytes}</text></g>",
            name = escape(r.repository.as_str()),
            bytes = escape(&human(r.bytes)),
            shared_h = escape(&human(shared)),
            lx = LABEL - 8,
            ty = y + BAR / 2 + 4,
            w = scale(r.bytes),
            sw = scale(shared.min(r.bytes)),
            h = BAR - 4,
            vx = LABEL + scale(r.bytes) + 6,
        );
    }
    svg.push_str("</svg>\n");
    let mut rows = String::new();
    for r in &usage.repositories {
        let _ = writeln!(
            rows,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(r.repository.as_str()),
            r.tags,
            r.manifests,
            escape(&human(r.bytes)),
            escape(&r.shared_bytes.map_or("-".to_owned(), human)),
        );
    }
    let t = &usage.totals;
    let _ = writeln!(
        rows,
        "<tr class=\"total\"><td>total ({} repositories, {} blobs)</td><td>{}</td><td>{}</td>\
         <td>{}</td><td>{}</td></tr>",
        t.repositories,
        t.blobs,
        t.tags,
        t.manifests,
        escape(&human(t.bytes)),
        escape(&human(t.shared_bytes)),
    );
    format!(
        "<!DOCTYPE html>
<html lang=\"en\"><head><meta charset=\"utf-8\">
<title>Space of {host}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
svg text {{ font-size: 13px; }}
rect.own {{ fill: #7aa6d8; }}
rect.shared {{ fill: #2f5f96; }}
table {{ border-collapse: collapse; margin-top: 1.5em; }}
td, th {{ padding: 0.25em 0.8em; border-bottom: 1px solid #ddd; }}
td + td, th + th {{ text-align: right; }}
tr.total td {{ font-weight: bold; }}
</style></head><body>
<h1>Space of {host}</h1>
<p>Bytes of layers and configs per repository, each blob once; the darker part is shared with other repositories.</p>
{svg}<table>
<tr><th>repository</th><th>tags</th><th>manifests</th><th>bytes</th><th>shared</th></tr>
{rows}</table>
</body></html>
",
        host = escape(host),
    )
}

/// Writes `contents` to a temporary file beside `path`, then renames it
/// into place: a reader never sees half a page.
fn write_atomically(path: &Path, contents: &str) -> dockreg::Result<()> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| dockreg::Error::Io { path, source }
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "usage.html".to_owned());
    let tmp = path.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, contents).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(path)(e)
    })
}
