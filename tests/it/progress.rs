//! Progress bars of the examples: drawn on a terminal, absent when piped.
//!
//! `pull` of an image with a multi-MB layer runs inside a detached tmux
//! session (a real pseudo-terminal, 200x50), behind the fault proxy, which
//! holds the layer's body for a few seconds after its first megabytes, so
//! the bar is on the screen long enough to be read with `tmux capture-pane`.
//! The same pull with stdout and stderr piped must print no bar and no
//! escape code.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::fault_proxy::{Fault, FaultProxy, Rule};
use crate::registry::{self, media, Registry};
use serde_json::json;

/// The layer: big enough to show a rate, small enough to seed quickly.
const LAYER_SIZE: u64 = 8 << 20;
/// Where the proxy holds the layer's body, and for how long.
const STALL_AFTER: u64 = 3 << 20;
const STALL_FOR: Duration = Duration::from_secs(4);

/// Pushes an image whose one layer is [`LAYER_SIZE`] bytes; returns the
/// layer's digest.
fn push_big_image(reg: &Registry, repo: &str, tag: &str) -> String {
    let layer = registry::big_blob_bytes(LAYER_SIZE);
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "rootfs": {"type": "layers", "diff_ids": [registry::sha256_digest(&layer)]},
    }))
    .unwrap();
    let config_digest = reg.push_blob(repo, config.clone());
    let layer_digest = reg.push_blob(repo, layer);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media::DOCKER_MANIFEST_V2,
        "config": {"mediaType": media::DOCKER_CONFIG, "size": config.len(), "digest": config_digest},
        "layers": [{"mediaType": media::DOCKER_LAYER, "size": LAYER_SIZE, "digest": layer_digest}],
    }))
    .unwrap();
    reg.put_manifest(repo, tag, media::DOCKER_MANIFEST_V2, manifest);
    layer_digest
}

/// A private tmux server (a socket of its own for each run), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn new() -> Tmux {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Tmux {
            socket: format!("dockreg-progress-{}-{n}", std::process::id()),
        }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]).env("TERM", "xterm-256color");
        c
    }

    /// Runs `script` in a new detached 200x50 session.
    fn start(&self, script: &Path) {
        let status = self
            .cmd()
            .args(["new-session", "-d", "-x", "200", "-y", "50", "-s", "pull"])
            .arg(format!("sh {}", script.display()))
            .status()
            .expect("run tmux");
        assert!(status.success(), "tmux new-session failed: {status}");
    }

    /// What the pane shows now.
    fn capture(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "pull"])
            .output()
            .expect("run tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

/// A shell word in single quotes.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A bar line: `[====>   ] 3.00 MiB/8.00 MiB  1.2 MiB/s eta 4s`: bytes done
/// of a total, and a rate.
fn byte_bar() -> regex::Regex {
    regex::Regex::new(r"\d+(\.\d+)? [KMG]iB\s*/\s*\d+(\.\d+)? [KMG]iB\s+\d+(\.\d+)? [KMG]?i?B/s")
        .unwrap()
}

/// What a run on the terminal showed.
struct Shown {
    /// The first line matching the pattern, if one appeared.
    line: Option<String>,
    /// The exit code.
    code: String,
    /// The screen at the end.
    screen: String,
}

/// Runs `exe args` in a tmux terminal, with the clean environment of
/// [`registry::run_example`], polling the pane until `pattern` shows on a
/// line; then waits for the end.
async fn on_terminal(exe: &Path, args: &[String], pattern: &regex::Regex) -> Shown {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("docker");
    std::fs::create_dir(&config).unwrap();
    std::fs::write(config.join("config.json"), "{}").unwrap();
    let done = dir.path().join("exit-code");
    let script = dir.path().join("run.sh");
    let words: Vec<String> = std::iter::once(exe.to_str().unwrap().to_owned())
        .chain(args.iter().cloned())
        .map(|w| quote(&w))
        .collect();
    std::fs::write(
        &script,
        format!(
            "unset REGISTRY_USERNAME REGISTRY_PASSWORD HTTP_PROXY HTTPS_PROXY ALL_PROXY http_proxy https_proxy all_proxy\n\
             export DOCKER_CONFIG={config} DOCKREG_CERTS_D={config}/no-certs.d XDG_CACHE_HOME={config}/cache\n\
             cd {dir}\n\
             {command}\n\
             echo $? > {done}.tmp && mv {done}.tmp {done}\n\
             sleep 30\n",
            config = quote(config.to_str().unwrap()),
            dir = quote(dir.path().to_str().unwrap()),
            command = words.join(" "),
            done = quote(done.to_str().unwrap()),
        ),
    )
    .unwrap();
    let tmux = Tmux::new();
    tmux.start(&script);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut line = None;
    while Instant::now() < deadline && !done.exists() {
        let screen = tmux.capture();
        if let Some(l) = screen.lines().find(|l| pattern.is_match(l)) {
            line = Some(l.to_owned());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    while Instant::now() < deadline && !done.exists() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Shown {
        line,
        code: std::fs::read_to_string(&done)
            .unwrap_or_default()
            .trim()
            .to_owned(),
        screen: tmux.capture(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_draws_bars_on_a_terminal_and_none_when_piped() {
    registry::require_programs(&["docker-registry", "tmux"]);
    let pull = registry::example("pull").expect("pull example");
    let reg = registry::shared().expect("the shared registry");
    let (repo, tag) = ("progress/big", "v1");
    let layer = tokio::task::spawn_blocking(move || push_big_image(reg, repo, tag))
        .await
        .unwrap();
    let proxy = FaultProxy::start(&reg.host).await;
    let stall = || {
        Rule::new(Fault::Stall {
            after: STALL_AFTER,
            for_: STALL_FOR,
        })
        .get(&format!("/blobs/{layer}"))
        .times(1)
    };
    let reference = format!("{}/{repo}:{tag}", proxy.host);

    // On a terminal: a bar with bytes and a rate while the layer is held.
    proxy.set(stall());
    let dir = tempfile::tempdir().unwrap();
    let args = [
        reference.clone(),
        "-o".to_owned(),
        dir.path().join("tty-layout").to_str().unwrap().to_owned(),
        "--plain-http".to_owned(),
    ];
    let shown = on_terminal(&pull, &args, &byte_bar()).await;
    let line = shown.line.unwrap_or_else(|| {
        panic!(
            "no progress bar on the terminal; at the end:\n{}",
            shown.screen
        )
    });
    assert!(line.contains("MiB"), "{line}");
    assert_eq!(
        shown.code, "0",
        "pull on the terminal failed:\n{}",
        shown.screen
    );
    assert!(
        shown.screen.contains("pulled ") && shown.screen.contains("(2 blobs, 8.0 MiB)"),
        "{}",
        shown.screen
    );
    assert!(
        !byte_bar().is_match(&shown.screen),
        "the bars are gone at the end:\n{}",
        shown.screen
    );
    assert_eq!(proxy.faults_applied(), 1, "the layer was held once");

    // Piped: the same pull, held the same way, draws nothing.
    proxy.set(stall());
    let out_dir = dir.path().join("piped-layout");
    let args = [
        reference.clone(),
        "-o".to_owned(),
        out_dir.to_str().unwrap().to_owned(),
        "--plain-http".to_owned(),
    ];
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        registry::run_example(&pull, &args, &[], "")
    })
    .await
    .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert_eq!(proxy.faults_applied(), 2, "the layer was held again");
    assert!(stdout.starts_with("pulled "), "{stdout}");
    assert!(stderr.is_empty(), "nothing on a piped stderr: {stderr:?}");
    assert!(!stdout.contains('\x1b'), "no escape codes: {stdout:?}");
}

/// `report` and `cleanup` count the tags read out of the tags listed, on a
/// terminal; piped, nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_and_cleanup_count_tags_on_a_terminal() {
    registry::require_programs(&["docker-registry", "tmux"]);
    let reg = registry::shared().expect("the shared registry");
    let repo = "progress/tags";
    let tags = ["t1", "t2", "t3", "t4", "t5"];
    tokio::task::spawn_blocking(move || {
        crate::delete::push_image(reg, repo, "progress-tags", &tags);
    })
    .await
    .unwrap();
    let proxy = FaultProxy::start(&reg.host).await;
    let at = format!("{}/{repo}", proxy.host);
    // Counted, not stuck at 0/5 (a held body may come after the count).
    let counted = regex::Regex::new(r"\b[1-5]/5 tags").unwrap();
    for (example, extra) in [("report", &[][..]), ("cleanup", &["--keep", "2"][..])] {
        let exe = registry::example(example).expect("example");
        // One tag's manifest is held: the count stops short of 5 meanwhile.
        proxy.set(
            Rule::new(Fault::Stall {
                after: 0,
                for_: Duration::from_secs(3),
            })
            .get("/manifests/t3")
            .times(1),
        );
        let mut args = vec![at.clone(), "--plain-http".to_owned()];
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let shown = on_terminal(&exe, &args, &counted).await;
        let line = shown.line.unwrap_or_else(|| {
            panic!(
                "{example}: no count of tags on the terminal; at the end:\n{}",
                shown.screen
            )
        });
        assert!(line.contains(example), "{line}");
        assert_eq!(shown.code, "0", "{example}:\n{}", shown.screen);
        assert!(shown.screen.contains("t5"), "{example}:\n{}", shown.screen);

        let out = tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            registry::run_example(&exe, &args, &[], "")
        })
        .await
        .unwrap();
        assert!(out.status.success(), "{example}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.is_empty(),
            "{example}: nothing on a piped stderr: {stderr:?}"
        );
        assert!(!String::from_utf8_lossy(&out.stdout).contains('\x1b'));
    }
}
