//! A registry that sheds load: a proxy in front of the real registry answers
//! every second request with 503, with 429 and `Retry-After: 1`, or with a
//! 502 HTML page. The report of 300 tags must complete at the default
//! concurrency with the same lines as without faults: a shed answer is about
//! the host, so the client backs off host-wide (the gate) instead of letting
//! each request burn its own retries while the others keep hammering.
//!
//! The tests assert what the report says, never how long it took.

#[path = "faults/mod.rs"]
mod faults;
mod registry;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use dockreg::models::Platform;
use dockreg::{Client, RepositoryName};
use faults::{Fault, FaultProxy, Rule};

/// Tags in the report, as in the issue.
const TAGS: usize = 300;

/// Long enough for a slow machine; a hang fails instead of blocking.
const PATIENCE: Duration = Duration::from_secs(300);

fn name(s: &str) -> RepositoryName {
    s.parse().unwrap()
}

/// The repository of the report, seeded once per test binary.
fn report_repo(reg: &registry::Registry) -> RepositoryName {
    name(&reg.seed_report_repo("shedding/app", TAGS).repo)
}

/// Every second request the proxy sees gets `fault`, the others pass: one
/// `Pass` and one `fault` rule of one use each, alternating, for more
/// requests than any test sends.
fn every_second_request(proxy: &FaultProxy, fault: Fault) {
    proxy.clear();
    proxy.reset_log();
    for _ in 0..20 * TAGS {
        proxy.push(Rule::new(Fault::Pass).times(1));
        proxy.push(Rule::new(fault.clone()).times(1));
    }
}

/// The report as the example prints it: `TAG DIGEST CREATED`, one a line.
async fn report_lines(client: &Client, repo: &RepositoryName) -> dockreg::Result<Vec<String>> {
    let platform = Platform::new("linux", "amd64");
    let rows = tokio::time::timeout(PATIENCE, client.tag_report(repo, &platform, 16))
        .await
        .expect("the report hung")?;
    Ok(rows
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r.tag,
                r.digest,
                r.created.as_deref().unwrap_or("-")
            )
        })
        .collect())
}

/// The report through the proxy without faults, then with `fault` on every
/// second request, with a client of default settings: the same lines.
async fn report_survives(fault: Fault) {
    let Some(reg) = registry::shared() else {
        return;
    };
    let repo = report_repo(reg);
    let proxy = FaultProxy::start(&reg.host).await;
    let clean = report_lines(&Client::builder(&proxy.host).build().unwrap(), &repo)
        .await
        .expect("the report without faults");
    assert_eq!(clean.len(), TAGS);

    every_second_request(&proxy, fault.clone());
    let client = Client::builder(&proxy.host).build().unwrap();
    let shed = report_lines(&client, &repo).await;
    let applied = proxy
        .requests()
        .iter()
        .filter(|r| r.fault.as_ref().is_some_and(|f| *f != Fault::Pass))
        .count();
    let shed = shed.unwrap_or_else(|e| panic!("{fault:?} on every second request: {e}"));
    assert!(applied >= TAGS, "only {applied} faults applied");
    assert_eq!(shed, clean, "{fault:?}: other lines than without faults");
}

#[tokio::test]
async fn a_report_completes_when_every_second_request_is_a_503() {
    report_survives(Fault::Status {
        code: 503,
        retry_after: None,
    })
    .await;
}

#[tokio::test]
async fn a_report_completes_when_every_second_request_is_a_429_with_retry_after() {
    report_survives(Fault::Status {
        code: 429,
        retry_after: Some("1".into()),
    })
    .await;
}

#[tokio::test]
async fn a_report_completes_when_every_second_request_is_a_502_html_page() {
    report_survives(Fault::Html { code: 502 }).await;
}

/// The built example `name`, beside this test binary's directory (built by
/// `cargo build --examples`); `None` outside CI when it is not built.
fn example(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().expect("test binary path");
    let path = exe.parent()?.parent()?.join("examples").join(name);
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("example {name} is not built at {}", path.display());
    }
    eprintln!("SKIPPED: example {name} not built (run cargo build --examples)");
    None
}

/// `report HOST/NAME` as the issue ran it, through a proxy shedding every
/// second request with a 503: exit 0 and the lines of the fault-free run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_example_completes_through_a_shedding_proxy() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let Some(report) = example("report") else {
        return;
    };
    let repo = report_repo(reg);
    let proxy = FaultProxy::start(&reg.host).await;
    let run = |proxy_host: String| {
        let report = report.clone();
        let target = format!("{proxy_host}/{repo}");
        tokio::task::spawn_blocking(move || {
            Command::new(report)
                .arg(target)
                .env("DOCKER_CONFIG", "/nonexistent")
                .env_remove("REGISTRY_USERNAME")
                .env_remove("REGISTRY_PASSWORD")
                .output()
                .expect("run the report example")
        })
    };
    let clean = run(proxy.host.clone()).await.unwrap();
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    every_second_request(
        &proxy,
        Fault::Status {
            code: 503,
            retry_after: None,
        },
    );
    let shed = tokio::time::timeout(PATIENCE, run(proxy.host.clone()))
        .await
        .expect("the report example hung")
        .unwrap();
    assert!(
        shed.status.success(),
        "exit {:?}: {}",
        shed.status,
        String::from_utf8_lossy(&shed.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&shed.stdout),
        String::from_utf8_lossy(&clean.stdout)
    );
    assert_eq!(String::from_utf8_lossy(&clean.stdout).lines().count(), TAGS);
}
