//! The `demo` example, the README's first command: it starts its own
//! registry, walks the tour, and leaves nothing behind; `--keep` leaves a
//! registry whose images real peers (skopeo, umoci) pull; Ctrl-C cleans up;
//! a missing `docker-registry` is exit 2 with the command that installs it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::registry;

fn demo() -> std::path::PathBuf {
    registry::require_programs(&["docker-registry"]);
    registry::example("demo").expect("demo example")
}

/// What is left in `dir` (the demo's TMPDIR).
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read scratch dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

/// Waits until nothing listens on `host` any more.
fn wait_closed(host: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(host).is_err() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// `http://HOST` after "Started docker-registry at".
fn started_host(stdout: &str) -> String {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("Started docker-registry at http://"))
        .unwrap_or_else(|| panic!("no start line in:\n{stdout}"));
    line["Started docker-registry at http://".len()..]
        .split_whitespace()
        .next()
        .expect("host")
        .to_owned()
}

#[test]
fn the_tour_runs_to_the_end_and_leaves_nothing_behind() {
    let exe = demo();
    let tmp = tempfile::tempdir().expect("tmp");
    let out = registry::run_example(
        &exe,
        &[],
        &[("TMPDIR", tmp.path().to_str().expect("utf-8"))],
        "",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed: {stderr}\n{stdout}");
    let host = started_host(&stdout);
    for expected in [
        "-> 200 registry/2.0, no credentials needed",
        "-> demo/app, demo/legacy, demo/multi, demo/old",
        "-> latest, v1, v2",
        // the signed schema 1 manifest the demo made was accepted and reports
        "demo/legacy:v1",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        // one tag went, the other tag of its digest stayed
        "latest pointed at placeholder",
        "-> v1, v2\n",
        // a digest took both its tags
        "tags going: 1.0, 1.0.0",
        r#"{"name":"demo/old","tags":null}"#,
        "eligible for deletion",
        "Stopped the registry and removed",
    ] {
        assert!(
            stdout.contains(expected),
            "no {expected:?} in the demo's output:\n{stdout}"
        );
    }
    // Each step names the curl command it replaces.
    assert_eq!(stdout.matches("\n   curl:    ").count(), 8, "{stdout}");
    assert!(
        leftovers(tmp.path()).is_empty(),
        "left {:?}",
        leftovers(tmp.path())
    );
    assert!(wait_closed(&host), "the registry at {host} still answers");
}

#[test]
fn keep_leaves_a_registry_whose_images_real_peers_pull() {
    let exe = demo();
    registry::require_programs(&["skopeo", "umoci"]);
    let tmp = tempfile::tempdir().expect("tmp");
    let out = registry::run_example(
        &exe,
        &["--keep"],
        &[("TMPDIR", tmp.path().to_str().expect("utf-8"))],
        "",
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "demo --keep failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let host = started_host(&stdout);
    let stop = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("kill "))
        .unwrap_or_else(|| panic!("no stop command in:\n{stdout}"));
    let pid: i32 = stop
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .expect("pid");
    // Stop the kept registry whatever the assertions below do.
    struct Stop(i32);
    impl Drop for Stop {
        fn drop(&mut self) {
            // SAFETY: kill(2) on a pid the demo printed.
            unsafe { libc::kill(self.0, libc::SIGTERM) };
        }
    }
    let _stop = Stop(pid);
    assert!(
        stdout.contains(&format!("{host}/demo/app")),
        "no example command for the kept registry:\n{stdout}"
    );

    let work = tempfile::tempdir().expect("work");
    let layout = format!("oci:{}:v2", work.path().join("img").display());
    let copied = Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{host}/demo/app:v2"))
        .arg(&layout)
        .output()
        .expect("run skopeo");
    assert!(
        copied.status.success(),
        "skopeo copy: {}",
        String::from_utf8_lossy(&copied.stderr)
    );
    let bundle = work.path().join("bundle");
    let unpacked = Command::new("umoci")
        .args(["unpack", "--rootless", "--image"])
        .arg(format!("{}:v2", work.path().join("img").display()))
        .arg(&bundle)
        .output()
        .expect("run umoci");
    assert!(
        unpacked.status.success(),
        "umoci unpack: {}",
        String::from_utf8_lossy(&unpacked.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(bundle.join("rootfs/hello.txt")).expect("hello.txt"),
        "hello from v2\n"
    );
    let inspected = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false"])
        .arg(format!("docker://{host}/demo/legacy:v1"))
        .output()
        .expect("run skopeo");
    assert!(
        inspected.status.success(),
        "skopeo inspect of the schema 1 image: {}",
        String::from_utf8_lossy(&inspected.stderr)
    );
    let multi = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{host}/demo/multi:1.0"))
        .output()
        .expect("run skopeo");
    let index: serde_json::Value = serde_json::from_slice(&multi.stdout).expect("index JSON");
    let archs: Vec<&str> = index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().expect("arch"))
        .collect();
    assert_eq!(archs, ["amd64", "arm64"]);

    drop(_stop);
    assert!(wait_closed(&host), "kill {pid} did not stop the registry");
}

#[test]
fn ctrl_c_stops_the_registry_and_removes_its_directory() {
    let exe = demo();
    let tmp = tempfile::tempdir().expect("tmp");
    // --step waits for Enter before each step: the demo is mid-tour, with
    // its registry running, when the interrupt comes.
    let mut child = Command::new(&exe)
        .arg("--step")
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn demo");
    let _stdin = child.stdin.take();
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut seen = String::new();
    let mut host = None;
    while host.is_none() {
        let mut line = String::new();
        if stdout.read_line(&mut line).expect("read") == 0 {
            break;
        }
        if line.starts_with("Started docker-registry") {
            host = Some(started_host(&line));
        }
        seen.push_str(&line);
    }
    let host = host.unwrap_or_else(|| panic!("the demo did not start a registry:\n{seen}"));
    assert!(
        std::net::TcpStream::connect(&host).is_ok(),
        "registry not up"
    );
    // Let it reach the first pause, then interrupt as a terminal's Ctrl-C.
    let mut line = String::new();
    while !line.contains("[Enter: next step]") {
        line.clear();
        let mut byte = [0u8; 256];
        let n = std::io::Read::read(stdout.get_mut(), &mut byte).expect("read");
        assert!(n > 0, "the demo ended before its first step");
        line.push_str(&String::from_utf8_lossy(&byte[..n]));
    }
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "the demo did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130), "exit status after Ctrl-C");
    assert!(
        wait_closed(&host),
        "the registry at {host} outlived the demo"
    );
    assert!(
        leftovers(tmp.path()).is_empty(),
        "left {:?}",
        leftovers(tmp.path())
    );
}

#[test]
fn without_docker_registry_it_names_the_install_command_and_exits_2() {
    let exe = registry::example("demo").expect("demo example");
    let empty = tempfile::tempdir().expect("empty PATH dir");
    let out = registry::run_example(
        &exe,
        &[],
        &[("PATH", empty.path().to_str().expect("utf-8"))],
        "",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("apt-get install docker-registry"),
        "{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
