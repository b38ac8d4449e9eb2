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

/// A private tmux server (its own socket), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn new() -> Tmux {
        Tmux {
            socket: format!("dockreg-progress-{}", std::process::id()),
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
fn bar_line(screen: &str) -> Option<&str> {
    let re = regex::Regex::new(
        r"\d+(\.\d+)? [KMG]iB\s*/\s*\d+(\.\d+)? [KMG]iB\s+\d+(\.\d+)? [KMG]?i?B/s",
    )
    .unwrap();
    screen.lines().find(|l| re.is_match(l))
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
    let config = dir.path().join("docker");
    std::fs::create_dir(&config).unwrap();
    std::fs::write(config.join("config.json"), "{}").unwrap();
    let done = dir.path().join("exit-code");
    let script = dir.path().join("pull.sh");
    std::fs::write(
        &script,
        format!(
            "unset REGISTRY_USERNAME REGISTRY_PASSWORD HTTP_PROXY HTTPS_PROXY ALL_PROXY http_proxy https_proxy all_proxy\n\
             export DOCKER_CONFIG={config} DOCKREG_CERTS_D={config}/no-certs.d\n\
             {pull} {reference} -o {out} --plain-http\n\
             echo $? > {done}.tmp && mv {done}.tmp {done}\n\
             sleep 30\n",
            config = quote(config.to_str().unwrap()),
            pull = quote(pull.to_str().unwrap()),
            reference = quote(&reference),
            out = quote(dir.path().join("tty-layout").to_str().unwrap()),
            done = quote(done.to_str().unwrap()),
        ),
    )
    .unwrap();
    let tmux = Tmux::new();
    tmux.start(&script);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = None;
    let mut last = String::new();
    while Instant::now() < deadline && !done.exists() {
        last = tmux.capture();
        if let Some(line) = bar_line(&last) {
            seen = Some(line.to_owned());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let line = seen.unwrap_or_else(|| panic!("no progress bar on the terminal; the pane:\n{last}"));
    assert!(line.contains("MiB"), "{line}");
    while Instant::now() < deadline && !done.exists() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let code = std::fs::read_to_string(&done).unwrap_or_default();
    let screen = tmux.capture();
    assert_eq!(code.trim(), "0", "pull on the terminal failed:\n{screen}");
    assert!(
        screen.contains("pulled ") && screen.contains("(2 blobs, 8.0 MiB)"),
        "{screen}"
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
