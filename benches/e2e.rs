//! End-to-end benchmark against real registries: dockreg versus the tools
//! people use instead (curl, skopeo), measured in the same run, alternating
//! tools, several rounds, medians.
//!
//! ```text
//! cargo bench --bench e2e                         # everything, 5 rounds
//! E2E_ROUNDS=3 E2E_ONLY=a,d cargo bench --bench e2e
//! ```
//!
//! Workloads (targets from the performance issue):
//!
//! * (a) verified download of a 1 GiB blob to a file, dockreg in a child
//!   process (this binary re-executed with `E2E_CHILD=download`, which prints
//!   its `VmHWM`) versus `curl -o FILE`; the same blob verified into a sink,
//!   in process; the child's peak resident memory.
//! * (b) the tag report (tags, then manifest and config of every tag, 16 at
//!   once, sorted by created) over 300 tags versus `curl -Z --parallel-max 16`
//!   doing the same 600 GETs, and versus a loop of `skopeo inspect` (run on
//!   20 of the 300 tags and scaled).
//! * (t) the (b) report over TLS (a registry with `http.tls`, trusted with
//!   `root_certificate_pem` / `curl --cacert`), once over HTTP/1.1
//!   (`http1_only(true)` / `curl --http1.1`) and once over HTTP/2 (the
//!   default, through ALPN / `curl --http2`), the four interleaved in each
//!   round; rows "(b) report, 300 tags, TLS, HTTP/1.1" and "... HTTP/2".
//!   A client is built in every round, so each run pays its TLS handshakes,
//!   as curl and the report example do.
//! * (w) the (b) report with the on-disk cache (`ClientBuilder::cache`), a
//!   client built per run as a new process would: row (b2), a repeated
//!   report with a warm cache (the tag list and a `HEAD` per tag) versus the
//!   same curl 600-GET floor as (b), measured alternating with it; row (b1),
//!   a report with an empty cache (a new directory per run) versus one
//!   without a cache, to show a cold cache costs nothing, and the same
//!   with the cache on tmpfs (`/dev/shm`), apart from the filesystem.
//! * (x) row (b3): the warm-cache report over TLS (the (t) registry), over
//!   HTTP/1.1 and HTTP/2, versus `curl --http1.1` / `--http2` doing the 600
//!   GETs, the four rotating in each round.
//!
//!   With (w) or (x) the registries run with their access log on
//!   (`REGISTRY_LOG_ACCESSLOG_DISABLED=false`) and the bench prints how many
//!   requests (by method) each kind of run made, read from the registry's
//!   log.
//! * (c) the catalog of 1,200 repositories versus two `curl` GETs following
//!   `Link` with `n=1000`.
//! * (d) copy of an image of 8 layers (256 MiB, incompressible) to another
//!   registry, and to another repository of the same registry (mounts only),
//!   versus `skopeo copy`.
//! * (e) pull of that image into an OCI layout versus
//!   `skopeo copy docker://... oci:DIR`.
//!
//! Environment:
//!
//! * `E2E_ROUNDS` (default 5), `E2E_ONLY` (letters of the workloads, e.g.
//!   `a,b` or `t`; default all).
//! * `E2E_BLOB_MIB` (default 1024) and `E2E_IMAGE_MIB` (default 256) shrink
//!   the fixtures for a quick try (the targets are meant for the defaults).
//! * `E2E_CHILD_WRAPPER`: a command put in front of the dockreg child of (a),
//!   for profiling, e.g. `perf record -g -o /tmp/e2e-{job}.perf.data --` or
//!   `valgrind --tool=callgrind --callgrind-out-file=/tmp/cg-{job}.out` (its
//!   times then mean nothing; `{job}` becomes the child's job). With a
//!   wrapper, (a) also runs the sink job once in a child under it.
//! * `E2E_DIAG=1`: extra info rows for (a): SHA-256 speed in memory, an
//!   unverified reqwest stream to a sink, the verified stream written with
//!   std::fs and no fsync (a child, like the download).
//!
//! Besides wall times, the output gives the median CPU time of the client
//! (this process for in-process dockreg runs, else the tool's process tree)
//! and of the registries (from /proc), and the load average: on a shared
//! machine, wall time is about client CPU + registry CPU.
//!
//! Every skopeo run that can reuse blobs gets an empty blob-info cache (a
//! private tmpfs over `/var/lib/containers/cache` when root, a fresh
//! `XDG_DATA_HOME` otherwise), as on a fresh CI runner: its mounts or skips
//! then come from what the registry says, not from earlier rounds.

#[path = "../tests/it/registry/mod.rs"]
mod registry;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dockreg::models::Platform;
use dockreg::transfer::OciLayout;
use dockreg::transfer::{CopyOptions, Platforms};
use dockreg::{Client, Digest, RepositoryName, TagOrDigest};
use futures::{StreamExt, TryStreamExt};
use registry::{media, Registry, RegistryConfig};
use sha2::Digest as _;

/// Selects the child job when this binary re-executes itself.
const CHILD_ENV: &str = "E2E_CHILD";
/// What the child prints on its last line of stdout.
const CHILD_MARK: &str = "E2E_CHILD_RESULT";

const REPORT_TAGS: usize = 300;
const REPORT_CONCURRENCY: usize = 16;
const SKOPEO_SAMPLE: usize = 20;
const CATALOG_REPOS: usize = 1200;
const CATALOG_PAGE: usize = 1000;
const IMAGE_LAYERS: usize = 8;
const PULL_CONCURRENCY: usize = 4;
const MIB: u64 = 1 << 20;

fn main() -> ExitCode {
    if let Ok(job) = std::env::var(CHILD_ENV) {
        return child_main(&job);
    }
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this
    // binary too, unoptimised and without it: a benchmark is no test.
    if !std::env::args().any(|a| a == "--bench") {
        println!("e2e: a benchmark, run by `cargo bench --bench e2e`; nothing to test");
        return ExitCode::SUCCESS;
    }
    let cfg = Settings::from_env();
    for tool in ["docker-registry", "curl", "skopeo"] {
        assert!(
            registry::find_program(tool).is_some(),
            "{tool} is required by the e2e benchmark (apt-get install docker-registry curl skopeo)"
        );
    }
    let started = Instant::now();
    let mut facts = String::new();
    machine_facts(&mut facts, &cfg);
    eprint!("{facts}");

    // The runtime the examples use (current-thread).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let scratch = tempfile::Builder::new()
        .prefix("dockreg-e2e-")
        .tempdir()
        .expect("scratch dir");
    let skopeo = SkopeoRunner::probe(scratch.path());
    eprintln!("skopeo blob-info cache: {}", skopeo.describe());

    if cfg.wants('w') || cfg.wants('x') {
        // Count the requests of every run in the registries' access logs.
        // Set before any thread is started (the runtime has none yet).
        std::env::set_var("REGISTRY_LOG_ACCESSLOG_DISABLED", "false");
    }
    eprintln!("starting registries ...");
    let reg_a = Registry::start(RegistryConfig::default());
    let reg_b = cfg
        .wants('d')
        .then(|| Registry::start(RegistryConfig::default()));
    let reg_c = cfg
        .wants('c')
        .then(|| Registry::start(RegistryConfig::default()));
    let reg_tls = (cfg.wants('t') || cfg.wants('x')).then(|| tls_registry_over(&reg_a));
    let all: Vec<&Registry> = [
        Some(&reg_a),
        reg_b.as_ref(),
        reg_c.as_ref(),
        reg_tls.as_ref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let meter = Meter::new(&all);
    if meter.registry_pids.len() != all.len() {
        eprintln!(
            "warning: found {} of {} docker-registry processes in /proc; registry CPU times \
             will be incomplete",
            meter.registry_pids.len(),
            all.len()
        );
    }

    // ---- seeding ----------------------------------------------------------
    let t = Instant::now();
    let blob = cfg
        .wants('a')
        .then(|| rt.block_on(seed_streamed_blob(&reg_a, "big/blob", cfg.blob_bytes)));
    let report = ['b', 't', 'w', 'x']
        .iter()
        .any(|w| cfg.wants(*w))
        .then(|| reg_a.seed_report_repo("report/app", REPORT_TAGS));
    let image = (cfg.wants('d') || cfg.wants('e'))
        .then(|| seed_image(&reg_a, "img/src", "v1", cfg.image_bytes));
    let catalog = reg_c.as_ref().map(|c| c.seed_many_repos(CATALOG_REPOS));
    eprintln!("seeded in {:.1} s", t.elapsed().as_secs_f64());

    // ---- workloads --------------------------------------------------------
    let mut bench = Bench {
        cfg: &cfg,
        rt: &rt,
        meter,
        scratch: scratch.path(),
        skopeo: &skopeo,
        rows: Vec::new(),
        details: String::new(),
        notes: Vec::new(),
    };
    if let Some(blob) = &blob {
        bench.a(&reg_a, blob);
    }
    if let (Some(report), true) = (&report, cfg.wants('b')) {
        bench.b(&reg_a, report);
    }
    if let (Some(report), true) = (&report, cfg.wants('w')) {
        bench.w(&reg_a, report);
    }
    if let (Some(report), Some(reg_tls), true) = (&report, &reg_tls, cfg.wants('t')) {
        bench.t(reg_tls, report);
    }
    if let (Some(report), Some(reg_tls), true) = (&report, &reg_tls, cfg.wants('x')) {
        bench.x(reg_tls, report);
    }
    if let (Some(reg_c), Some(catalog)) = (&reg_c, &catalog) {
        bench.c(reg_c, catalog);
    }
    if let (Some(image), Some(reg_b)) = (&image, &reg_b) {
        bench.d(&reg_a, reg_b, image);
    }
    if let (Some(image), true) = (&image, cfg.wants('e')) {
        bench.e(&reg_a, image);
    }

    // ---- results ----------------------------------------------------------
    let mut text = String::new();
    let _ = writeln!(text);
    text.push_str(&facts);
    let _ = writeln!(text);
    render_table(&mut text, &bench.rows);
    if !bench.notes.is_empty() {
        let _ = writeln!(text, "\nnotes:");
        for n in &bench.notes {
            let _ = writeln!(text, "  * {n}");
        }
    }
    let _ = writeln!(
        text,
        "\nper-round wall times in ms (run order), and median CPU time of the client \
         (this process or the tool's process tree) and of the registries:"
    );
    text.push_str(&bench.details);
    let _ = writeln!(
        text,
        "\ntotal wall time {:.0} s; load average at the end {}",
        started.elapsed().as_secs_f64(),
        loadavg()
    );
    println!("{text}");
    drop(reg_tls);
    drop(reg_c);
    drop(reg_b);
    drop(reg_a);
    ExitCode::SUCCESS
}

/// What every workload needs, and what they report.
struct Bench<'a> {
    cfg: &'a Settings,
    rt: &'a tokio::runtime::Runtime,
    meter: Meter,
    scratch: &'a Path,
    skopeo: &'a SkopeoRunner,
    rows: Vec<Row>,
    details: String,
    notes: Vec<String>,
}

impl Bench<'_> {
    /// Runs `dockreg` and `reference` once per round, alternating which
    /// goes first; returns their samples.
    fn alternate(
        &self,
        what: &str,
        mut dockreg: impl FnMut(usize) -> Sample,
        mut reference: impl FnMut(usize) -> Sample,
    ) -> (Vec<Sample>, Vec<Sample>) {
        let (mut d, mut r) = (Vec::new(), Vec::new());
        for round in 0..self.cfg.rounds {
            if round % 2 == 0 {
                d.push(dockreg(round));
                r.push(reference(round));
            } else {
                r.push(reference(round));
                d.push(dockreg(round));
            }
            eprintln!(
                "  {what} round {round}: dockreg {} (cpu {}), reference {} (cpu {}); load {}",
                ms(d[round].wall),
                ms(d[round].cpu),
                ms(r[round].wall),
                ms(r[round].cpu),
                loadavg()
            );
        }
        (d, r)
    }

    fn line(&mut self, label: &str, v: &[Sample]) {
        rounds_line(&mut self.details, label, v);
    }

    fn start(&mut self, what: &str) {
        let _ = writeln!(self.details, "{what} (load average {})", loadavg());
        eprintln!("{what} ...");
    }
}

// ===========================================================================
// Settings, machine facts, statistics, table
// ===========================================================================

struct Settings {
    rounds: usize,
    only: Option<Vec<char>>,
    blob_bytes: u64,
    image_bytes: u64,
    child_wrapper: Option<Vec<String>>,
    diag: bool,
}

impl Settings {
    fn from_env() -> Settings {
        let num = |k: &str, d: u64| -> u64 {
            std::env::var(k)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .map(|v| {
                    v.trim()
                        .parse()
                        .unwrap_or_else(|_| panic!("{k}={v:?} is not a number"))
                })
                .unwrap_or(d)
        };
        let rounds = num("E2E_ROUNDS", 5).max(1) as usize;
        let only = std::env::var("E2E_ONLY")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|v| {
                v.split(',')
                    .filter_map(|s| s.trim().chars().next())
                    .map(|c| c.to_ascii_lowercase())
                    .collect()
            });
        let child_wrapper = std::env::var("E2E_CHILD_WRAPPER")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|v| v.split_whitespace().map(String::from).collect());
        Settings {
            rounds,
            only,
            blob_bytes: num("E2E_BLOB_MIB", 1024).max(1) * MIB,
            image_bytes: num("E2E_IMAGE_MIB", 256).max(IMAGE_LAYERS as u64) * MIB,
            child_wrapper,
            diag: std::env::var("E2E_DIAG").is_ok_and(|v| v == "1"),
        }
    }

    fn wants(&self, w: char) -> bool {
        self.only.as_ref().is_none_or(|o| o.contains(&w))
    }
}

fn first_line(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| {
            let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
            s.push_str(&String::from_utf8_lossy(&o.stderr));
            s.lines().next().unwrap_or("").trim().to_string()
        })
        .unwrap_or_else(|| "?".into())
}

fn machine_facts(out: &mut String, cfg: &Settings) {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "?".into());
    let flags = cpuinfo
        .lines()
        .find(|l| l.starts_with("flags"))
        .unwrap_or_default();
    let sha_ni = flags.split_whitespace().any(|f| f == "sha_ni");
    let mhz = cpuinfo
        .lines()
        .find(|l| l.starts_with("cpu MHz"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    let nproc = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map(|kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0))
        .unwrap_or_else(|| "?".into());
    let tmp = std::env::temp_dir();
    let fs = first_line(
        "sh",
        &[
            "-c",
            &format!("df -T {} | tail -1 | awk '{{print $2}}'", tmp.display()),
        ],
    );
    let _ = writeln!(out, "dockreg end-to-end benchmark (benches/e2e.rs)");
    let _ = writeln!(
        out,
        "machine: nproc {nproc}, CPU {model} @ {mhz} MHz (sha_ni: {}), RAM {mem}, kernel {}, temp dir {} on {fs}",
        if sha_ni { "yes" } else { "no" },
        first_line("uname", &["-r"]),
        tmp.display(),
    );
    let _ = writeln!(
        out,
        "tools: {} | {} | {}",
        first_line("docker-registry", &["--version"]),
        first_line("skopeo", &["--version"]),
        first_line("curl", &["--version"]),
    );
    let only = cfg
        .only
        .as_ref()
        .map(|o| {
            o.iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_else(|| "all".into());
    let _ = writeln!(
        out,
        "rounds: {} (E2E_ROUNDS), workloads: {only} (E2E_ONLY), blob {} MiB, image {} MiB in {IMAGE_LAYERS} layers; \
         dockreg and the reference tool alternate (dockreg first in even rounds); medians",
        cfg.rounds,
        cfg.blob_bytes / MIB,
        cfg.image_bytes / MIB,
    );
    if let Some(w) = &cfg.child_wrapper {
        let _ = writeln!(
            out,
            "E2E_CHILD_WRAPPER={:?}: the dockreg child of (a) runs under it; its times are not comparable",
            w.join(" ")
        );
    }
}

fn median(v: &[Duration]) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    let n = s.len();
    if n == 0 {
        Duration::ZERO
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2
    }
}

fn ms(d: Duration) -> String {
    let m = d.as_secs_f64() * 1000.0;
    if m >= 100.0 {
        format!("{m:.0} ms")
    } else {
        format!("{m:.1} ms")
    }
}

fn gbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e9
}

fn rounds_line(details: &mut String, label: &str, v: &[Sample]) {
    let list: Vec<String> = v
        .iter()
        .map(|s| format!("{:.1}", s.wall.as_secs_f64() * 1000.0))
        .collect();
    let cpu: Vec<Duration> = v.iter().map(|s| s.cpu).collect();
    let reg: Vec<Duration> = v.iter().map(|s| s.reg_cpu).collect();
    let _ = writeln!(
        details,
        "  {label:<44} {}  | median CPU: client {:.0} ms, registries {:.0} ms",
        list.join("  "),
        median(&cpu).as_secs_f64() * 1000.0,
        median(&reg).as_secs_f64() * 1000.0,
    );
}

/// One timed run: wall time, CPU time of the client (this process and the
/// children it waited for), CPU time of the registries.
#[derive(Debug, Clone, Copy)]
struct Sample {
    wall: Duration,
    cpu: Duration,
    reg_cpu: Duration,
}

/// Reads CPU times from /proc: this process (`utime+stime`), its waited-for
/// children (`cutime+cstime`) and the `docker-registry` processes of the
/// benchmark's registries.
struct Meter {
    tick: f64,
    registry_pids: Vec<u32>,
}

/// `(utime+stime, cutime+cstime)` in clock ticks from `/proc/PID/stat`.
fn proc_ticks(pid: &str) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    // Fields 14..=17 of proc(5), counted from field 3 (state) here.
    let at = |i: usize| f.get(i - 3).copied().unwrap_or(0);
    (at(14) + at(15), at(16) + at(17))
}

impl Meter {
    fn new(registries: &[&Registry]) -> Meter {
        let tick = first_line("getconf", &["CLK_TCK"])
            .parse::<f64>()
            .unwrap_or(100.0);
        let configs: Vec<String> = registries
            .iter()
            .map(|r| r.dir().join("config.yml").display().to_string())
            .collect();
        let mut registry_pids = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let is_registry = args.first().is_some_and(|a| a.ends_with("docker-registry"));
            if is_registry && args.iter().any(|a| configs.contains(a)) {
                registry_pids.push(pid);
            }
        }
        Meter {
            tick,
            registry_pids,
        }
    }

    fn now(&self) -> (u64, u64) {
        let (own, children) = proc_ticks("self");
        let regs = self
            .registry_pids
            .iter()
            .map(|p| proc_ticks(&p.to_string()).0)
            .sum();
        (own + children, regs)
    }

    fn measure<T>(&self, f: impl FnOnce() -> T) -> (Sample, T) {
        let (c0, r0) = self.now();
        let t = Instant::now();
        let v = f();
        let wall = t.elapsed();
        let (c1, r1) = self.now();
        let secs = |ticks: u64| Duration::from_secs_f64(ticks as f64 / self.tick);
        (
            Sample {
                wall,
                cpu: secs(c1.saturating_sub(c0)),
                reg_cpu: secs(r1.saturating_sub(r0)),
            },
            v,
        )
    }
}

fn walls(v: &[Sample]) -> Vec<Duration> {
    v.iter().map(|s| s.wall).collect()
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

struct Row {
    workload: String,
    dockreg: String,
    reference: String,
    ratio: String,
    target: String,
    pass: Option<bool>,
}

/// A row for "dockreg time / reference time <= max".
fn ratio_row(
    workload: &str,
    reference_name: &str,
    dockreg: &[Sample],
    reference: &[Sample],
    max: f64,
    extra_ok: bool,
) -> Row {
    let (d, r) = (median(&walls(dockreg)), median(&walls(reference)));
    let ratio = d.as_secs_f64() / r.as_secs_f64();
    Row {
        workload: workload.into(),
        dockreg: ms(d),
        reference: format!("{} ({reference_name})", ms(r)),
        ratio: format!("{ratio:.3}"),
        target: format!("<= {max:.2}"),
        pass: Some(ratio <= max && extra_ok),
    }
}

fn render_table(out: &mut String, rows: &[Row]) {
    let head = [
        "workload",
        "dockreg median",
        "reference median",
        "ratio d/ref",
        "target",
        "result",
    ];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.workload.clone(),
                r.dockreg.clone(),
                r.reference.clone(),
                r.ratio.clone(),
                r.target.clone(),
                match r.pass {
                    Some(true) => "PASS".into(),
                    Some(false) => "FAIL".into(),
                    None => "info".into(),
                },
            ]
        })
        .collect();
    let mut width = head.map(|h| h.chars().count());
    for c in &cells {
        for (i, s) in c.iter().enumerate() {
            width[i] = width[i].max(s.chars().count());
        }
    }
    let line = |out: &mut String, c: &[String]| {
        let mut s = String::from("|");
        for (i, v) in c.iter().enumerate() {
            let pad = width[i] - v.chars().count();
            let _ = write!(s, " {v}{} |", " ".repeat(pad));
        }
        let _ = writeln!(out, "{s}");
    };
    line(out, &head.map(String::from));
    let sep: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
    let _ = writeln!(
        out,
        "|{}|",
        sep.iter()
            .map(|s| format!("-{s}-"))
            .collect::<Vec<_>>()
            .join("|")
    );
    for c in &cells {
        line(out, c);
    }
    let failed = rows.iter().filter(|r| r.pass == Some(false)).count();
    let passed = rows.iter().filter(|r| r.pass == Some(true)).count();
    let _ = writeln!(out, "{passed} PASS, {failed} FAIL");
}

// ===========================================================================
// Subprocesses
// ===========================================================================

/// Runs a command to completion; panics with its output when it fails.
fn run_ok(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd:?} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

fn curl() -> Command {
    let mut c = Command::new("curl");
    // Loopback only: no proxy, no ~/.curlrc.
    c.arg("-q")
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("all_proxy")
        .env_remove("ALL_PROXY");
    c
}

/// How skopeo runs: plain, or with an empty blob-info cache of its own.
struct SkopeoRunner {
    mode: CacheMode,
    scratch: PathBuf,
    counter: std::cell::Cell<u32>,
}

enum CacheMode {
    /// root: `unshare --mount` with a tmpfs over the system cache dir.
    Unshare,
    /// non-root: a fresh `XDG_DATA_HOME` per run.
    XdgDataHome,
    /// neither worked: the shared cache (later rounds may reuse blobs).
    Shared,
}

const ROOT_CACHE: &str = "/var/lib/containers/cache";
const UNSHARE_SCRIPT: &str =
    "mkdir -p /var/lib/containers/cache && mount -t tmpfs e2e-skopeo-cache /var/lib/containers/cache && exec skopeo \"$@\"";

impl SkopeoRunner {
    fn probe(scratch: &Path) -> SkopeoRunner {
        let root = first_line("id", &["-u"]) == "0";
        let mode = if root {
            let ok = Command::new("unshare")
                .args(["--mount", "--propagation", "private", "sh", "-c"])
                .arg(UNSHARE_SCRIPT)
                .args(["skopeo", "--version"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                CacheMode::Unshare
            } else {
                CacheMode::Shared
            }
        } else {
            CacheMode::XdgDataHome
        };
        SkopeoRunner {
            mode,
            scratch: scratch.to_path_buf(),
            counter: std::cell::Cell::new(0),
        }
    }

    fn describe(&self) -> String {
        match self.mode {
            CacheMode::Unshare => format!("empty per copy (private tmpfs over {ROOT_CACHE})"),
            CacheMode::XdgDataHome => "empty per copy (fresh XDG_DATA_HOME)".into(),
            CacheMode::Shared => format!(
                "SHARED ({ROOT_CACHE}; unshare failed): later skopeo copies may mount blobs \
                 they saw in earlier rounds"
            ),
        }
    }

    /// `skopeo --insecure-policy ARGS...`; `cold` gives it an empty cache.
    fn command(&self, cold: bool) -> Command {
        let mut c = match (&self.mode, cold) {
            (CacheMode::Unshare, true) => {
                let mut c = Command::new("unshare");
                c.args(["--mount", "--propagation", "private", "sh", "-c"])
                    .arg(UNSHARE_SCRIPT)
                    .arg("skopeo");
                c
            }
            (CacheMode::XdgDataHome, true) => {
                let n = self.counter.get();
                self.counter.set(n + 1);
                let dir = self.scratch.join(format!("skopeo-data-{n}"));
                std::fs::create_dir_all(&dir).expect("skopeo data dir");
                let mut c = Command::new("skopeo");
                c.env("XDG_DATA_HOME", dir);
                c
            }
            _ => Command::new("skopeo"),
        };
        c.arg("--insecure-policy")
            .env_remove("http_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("https_proxy")
            .env_remove("HTTPS_PROXY");
        c
    }
}

/// Blobs skopeo said it skipped ("skipped: already exists"), and blobs it
/// copied.
fn skopeo_blob_counts(out: &Output) -> (usize, usize) {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut skipped = 0;
    let mut copied = 0;
    for l in text.lines().filter(|l| l.contains("Copying blob")) {
        if l.contains("skipped") {
            skipped += 1;
        } else {
            copied += 1;
        }
    }
    (skipped, copied)
}

// ===========================================================================
// Seeding (raw API, independent of dockreg)
// ===========================================================================

fn raw_http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("reqwest client")
}

/// Pushes `size` bytes of the harness's deterministic stream
/// ([`registry::big_blob_reader`]) as one blob, streamed twice (hash, then
/// upload) so that it is never held in memory.
async fn seed_streamed_blob(reg: &Registry, repo: &str, size: u64) -> registry::BigBlob {
    let t = Instant::now();
    let mut hasher = sha2::Sha256::new();
    let mut reader = registry::big_blob_reader(size);
    let mut buf = vec![0u8; MIB as usize];
    loop {
        let n = reader.read(&mut buf).expect("generator");
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let digest = format!("sha256:{}", hex(&hasher.finalize()));
    let http = raw_http();
    let location = start_upload(&http, reg, repo).await;
    let mut put = location;
    put.query_pairs_mut().append_pair("digest", &digest);
    let chunks = futures::stream::unfold(registry::big_blob_reader(size), |mut r| async move {
        let mut buf = vec![0u8; 4 * MIB as usize];
        let mut filled = 0;
        while filled < buf.len() {
            match r.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) => return Some((Err(e), r)),
            }
        }
        if filled == 0 {
            return None;
        }
        buf.truncate(filled);
        Some((Ok::<_, std::io::Error>(Bytes::from(buf)), r))
    });
    let resp = http
        .put(put.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
        .header(reqwest::header::CONTENT_LENGTH, size)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PUT {put}: {e}"));
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(status, 201, "streamed blob PUT: {status} {text}");
    eprintln!(
        "  seeded {repo}@{digest} ({} MiB) in {:.1} s",
        size / MIB,
        t.elapsed().as_secs_f64()
    );
    registry::BigBlob {
        repo: repo.into(),
        digest,
        size,
    }
}

async fn start_upload(http: &reqwest::Client, reg: &Registry, repo: &str) -> reqwest::Url {
    let url = reqwest::Url::parse(&reg.url(&format!("/v2/{repo}/blobs/uploads/"))).unwrap();
    let resp = http
        .post(url.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    assert_eq!(resp.status(), 202, "POST {url}");
    let loc = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("upload Location")
        .to_string();
    url.join(&loc).expect("upload URL")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The image of (d) and (e).
#[derive(Debug, Clone)]
struct Image {
    repo: String,
    tag: String,
    manifest_digest: String,
    /// Config first, then the layers: (digest, size).
    blobs: Vec<(String, u64)>,
    layer_bytes: u64,
}

/// xorshift64*: incompressible bytes, different per seed.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        v.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    v.truncate(len);
    v
}

/// An OCI image of [`IMAGE_LAYERS`] layers totalling about `total` bytes:
/// each a valid `.tar.gz` (stored deflate blocks, so skopeo sees gzip and
/// does not recompress) of one file of incompressible bytes.
fn seed_image(reg: &Registry, repo: &str, tag: &str, total: u64) -> Image {
    let t = Instant::now();
    let per_layer = (total / IMAGE_LAYERS as u64) as usize;
    // tar header + end blocks + gzip framing (5 bytes per 64 KiB block).
    let file_len = per_layer - 512 - 1024 - 18 - per_layer.div_ceil(65_535) * 5 - 512;
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    for i in 0..IMAGE_LAYERS {
        let data = noise(0x0e2e_0000 + i as u64 * 7919, file_len);
        let path = format!("data/layer-{i}.bin");
        let layer = registry::tiny_layer(&[(path.as_str(), data.as_slice())]);
        drop(data);
        let size = layer.gz.len() as u64;
        let digest = reg.push_blob(repo, layer.gz);
        assert_eq!(digest, layer.digest);
        layers.push((digest, size));
        diff_ids.push(layer.diff_id);
    }
    let history: Vec<serde_json::Value> = (0..IMAGE_LAYERS)
        .map(|i| serde_json::json!({"created": "2024-01-01T00:00:00Z", "created_by": format!("ADD layer-{i}")}))
        .collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["/bin/true"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }))
    .expect("config json");
    let config_size = config.len() as u64;
    let config_digest = reg.push_blob(repo, config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_MANIFEST,
        "config": {"mediaType": media::OCI_CONFIG, "size": config_size, "digest": config_digest},
        "layers": layers.iter().map(|(d, s)| serde_json::json!({
            "mediaType": media::OCI_LAYER, "size": s, "digest": d,
        })).collect::<Vec<_>>(),
    }))
    .expect("manifest json");
    let manifest_digest = reg.put_manifest(repo, tag, media::OCI_MANIFEST, manifest);
    let layer_bytes = layers.iter().map(|(_, s)| s).sum();
    let mut blobs = vec![(config_digest, config_size)];
    blobs.extend(layers);
    eprintln!(
        "  seeded {repo}:{tag} ({IMAGE_LAYERS} layers, {:.1} MiB) in {:.1} s",
        layer_bytes as f64 / MIB as f64,
        t.elapsed().as_secs_f64()
    );
    Image {
        repo: repo.into(),
        tag: tag.into(),
        manifest_digest,
        blobs,
        layer_bytes,
    }
}

fn client_for(reg: &Registry) -> Client {
    Client::builder(&reg.host).build().expect("dockreg client")
}

// ===========================================================================
// (a) 1 GiB blob: to a file (child process, peak RSS), to a sink
// ===========================================================================

struct ChildResult {
    inner: Duration,
    vmhwm_kib: u64,
}

fn run_child(
    cfg: &Settings,
    job: &str,
    reg: &Registry,
    blob: &registry::BigBlob,
    out: &Path,
) -> ChildResult {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = match &cfg.child_wrapper {
        Some(w) => {
            let w: Vec<String> = w.iter().map(|a| a.replace("{job}", job)).collect();
            let mut c = Command::new(&w[0]);
            c.args(&w[1..]).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    cmd.env(CHILD_ENV, job)
        .env("E2E_CHILD_HOST", &reg.host)
        .env("E2E_CHILD_REPO", &blob.repo)
        .env("E2E_CHILD_DIGEST", &blob.digest)
        .env("E2E_CHILD_OUT", out);
    let output = run_ok(&mut cmd);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with(CHILD_MARK))
        .unwrap_or_else(|| panic!("child printed no result:\n{stdout}"));
    let field = |k: &str| -> u64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(k).and_then(|v| v.strip_prefix('=')))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {k} in {line:?}"))
    };
    assert_eq!(field("size"), blob.size, "child {job}: size");
    ChildResult {
        inner: Duration::from_micros(field("elapsed_us")),
        vmhwm_kib: field("vmhwm_kib"),
    }
}

/// The child side: one verified download (`download`: to the file
/// `E2E_CHILD_OUT`; `sink`: discarded), then its `VmHWM`.
fn child_main(job: &str) -> ExitCode {
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} not set"));
    let (host, repo, digest, out) = (
        var("E2E_CHILD_HOST"),
        var("E2E_CHILD_REPO"),
        var("E2E_CHILD_DIGEST"),
        var("E2E_CHILD_OUT"),
    );
    // The runtime the examples use.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let t = Instant::now();
    let result: dockreg::Result<u64> = rt.block_on(async {
        let client = Client::builder(host).build()?;
        let name: RepositoryName = repo.parse()?;
        let digest: Digest = digest.parse()?;
        match job {
            "download" => client.download_blob(&name, &digest, &out).await,
            "sink" => sink(&client, &name, &digest).await.map(|(n, _)| n),
            "download-nosync" => download_nosync(&client, &name, &digest, out.as_ref()).await,
            other => panic!("unknown {CHILD_ENV} job {other:?}"),
        }
    });
    let elapsed = t.elapsed();
    let size = match result {
        Ok(n) => n,
        Err(e) => {
            eprintln!("child {job} failed: {e}");
            return ExitCode::from(1);
        }
    };
    let vmhwm = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0);
    println!(
        "{CHILD_MARK} job={job} size={size} elapsed_us={} vmhwm_kib={vmhwm}",
        elapsed.as_micros()
    );
    ExitCode::SUCCESS
}

/// Diagnostic: the verified stream written with std::fs (1 MiB buffer,
/// blocking writes on the task) without fsync, then renamed: what
/// `download_blob` costs without `sync_data` and tokio::fs.
async fn download_nosync(
    client: &Client,
    name: &RepositoryName,
    digest: &Digest,
    out: &Path,
) -> dockreg::Result<u64> {
    use std::io::Write as _;
    let part = out.with_extension("part");
    let io = |e: std::io::Error| dockreg::Error::Io {
        path: part.clone(),
        source: e,
    };
    let mut file =
        std::io::BufWriter::with_capacity(MIB as usize, std::fs::File::create(&part).map_err(io)?);
    let mut s = client.blob_stream(name, digest).await?;
    let mut n = 0u64;
    while let Some(chunk) = s.next().await {
        let chunk = chunk?;
        n += chunk.len() as u64;
        file.write_all(&chunk).map_err(io)?;
    }
    file.flush().map_err(io)?;
    drop(file);
    std::fs::rename(&part, out).map_err(io)?;
    Ok(n)
}

/// A verified blob read to the end and dropped: (bytes, chunks).
async fn sink(
    client: &Client,
    name: &RepositoryName,
    digest: &Digest,
) -> dockreg::Result<(u64, u64)> {
    let mut s = client.blob_stream(name, digest).await?;
    let (mut n, mut chunks) = (0u64, 0u64);
    while let Some(chunk) = s.next().await {
        n += chunk?.len() as u64;
        chunks += 1;
    }
    Ok((n, chunks))
}

impl Bench<'_> {
    fn a(&mut self, reg: &Registry, blob: &registry::BigBlob) {
        let size = format!("{} MiB", blob.size / MIB);
        self.start(&format!("(a) {size} blob"));
        let dir = self.scratch.join("a");
        std::fs::create_dir_all(&dir).expect("mkdir");
        let url = reg.url(&format!("/v2/{}/blobs/{}", blob.repo, blob.digest));
        let check = |p: &Path| {
            let len = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            assert_eq!(len, blob.size, "{} has the wrong size", p.display());
            std::fs::remove_file(p).expect("remove download");
        };

        // To a file: dockreg in a child process.
        let (mut inner, mut hwm) = (Vec::new(), Vec::new());
        let (d_file, c_file) = self.alternate(
            "(a) file",
            |round| {
                let out = dir.join(format!("dockreg-{round}.bin"));
                let (s, r) = self
                    .meter
                    .measure(|| run_child(self.cfg, "download", reg, blob, &out));
                check(&out);
                inner.push(Sample { wall: r.inner, ..s });
                hwm.push(r.vmhwm_kib);
                s
            },
            |round| {
                let out = dir.join(format!("curl-{round}.bin"));
                let (s, _) = self
                    .meter
                    .measure(|| run_ok(curl().args(["-sS", "-f", "-o"]).arg(&out).arg(&url)));
                check(&out);
                s
            },
        );
        self.rows.push(ratio_row(
            &format!("(a) {size} blob -> file, verified"),
            "curl -o FILE",
            &d_file,
            &c_file,
            1.10,
            true,
        ));
        self.line("(a) file: dockreg child (wall from spawn)", &d_file);
        self.line("(a) file: dockreg child (inside the child)", &inner);
        self.line("(a) file: curl -o FILE", &c_file);

        if self.cfg.child_wrapper.is_some() {
            eprintln!("  profiling run of the sink job in a child");
            run_child(self.cfg, "sink", reg, blob, &dir.join("unused"));
        }

        // To a sink: in process, one client for every round.
        let client = client_for(reg);
        let name: RepositoryName = blob.repo.parse().unwrap();
        let digest: Digest = blob.digest.parse().unwrap();
        let mut chunks = Vec::new();
        let (d_sink, c_sink) = self.alternate(
            "(a) sink",
            |_| {
                let (s, r) = self
                    .meter
                    .measure(|| self.rt.block_on(sink(&client, &name, &digest)));
                let (n, c) = r.expect("dockreg blob_stream");
                assert_eq!(n, blob.size);
                chunks.push(c);
                s
            },
            |_| {
                self.meter
                    .measure(|| run_ok(curl().args(["-sS", "-f", "-o", "/dev/null"]).arg(&url)))
                    .0
            },
        );
        let (d, c) = (median(&walls(&d_sink)), median(&walls(&c_sink)));
        let rate = gbps(blob.size, d);
        self.rows.push(Row {
            workload: format!("(a) {size} blob -> sink, verified"),
            dockreg: format!("{} = {rate:.2} GB/s", ms(d)),
            reference: format!(
                "{} = {:.2} GB/s (curl -o /dev/null, unverified)",
                ms(c),
                gbps(blob.size, c)
            ),
            ratio: format!("{:.3}", d.as_secs_f64() / c.as_secs_f64()),
            target: ">= 1.40 GB/s".into(),
            pass: Some(rate >= 1.4),
        });
        self.line("(a) sink: dockreg blob_stream", &d_sink);
        self.line("(a) sink: curl -o /dev/null", &c_sink);
        let mean_chunk = blob.size as f64 * chunks.len() as f64 / chunks.iter().sum::<u64>() as f64;
        let _ = writeln!(
            self.details,
            "  {:<44} {:.1} KiB per chunk ({} chunks per blob)",
            "(a) sink: mean chunk from blob_stream",
            mean_chunk / 1024.0,
            chunks.first().copied().unwrap_or(0)
        );

        if self.cfg.diag {
            self.diag_a(reg, blob, &dir, &url);
        }
        let max_hwm = hwm.iter().copied().max().unwrap_or(0);
        self.rows.push(Row {
            workload: "(a) peak RSS of the dockreg child (file)".into(),
            dockreg: format!("{:.1} MiB", max_hwm as f64 / 1024.0),
            reference: "-".into(),
            ratio: "-".into(),
            target: "< 40 MiB".into(),
            pass: Some(max_hwm < 40 * 1024),
        });
        let _ = writeln!(
            self.details,
            "  {:<44} {}",
            "(a) dockreg child VmHWM (KiB)",
            hwm.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join("  ")
        );
        self.notes.push(format!(
            "(a) the dockreg download runs in a child process (this binary with \
             {CHILD_ENV}=download; client and multi-thread runtime built there, like the \
             examples); its time is wall time from spawn to exit, as for curl; peak RSS is the \
             largest VmHWM of the rounds. The sink runs in process, one client for all rounds. \
             GB = 1e9 bytes."
        ));
    }
}

// ===========================================================================
// (b) tag report
// ===========================================================================

/// The report of examples/report.rs: every tag, 16 at once, sorted by
/// created then tag; a tag that could not be read fails the run.
async fn dockreg_report(
    client: &Client,
    name: &RepositoryName,
) -> dockreg::Result<Vec<dockreg::api::TagInfo>> {
    let platform = Platform::new("linux", "amd64");
    client
        .tag_report(name, &platform, REPORT_CONCURRENCY)
        .await?
        .complete()
}

/// What the report must give for the seeded tags: (created, tag,
/// manifest digest), sorted as the report sorts.
fn expected_report(seeded: &registry::ReportRepo) -> Vec<(String, String, String)> {
    let mut expected: Vec<(String, String, String)> = seeded
        .entries
        .iter()
        .map(|e| (e.created.clone(), e.tag.clone(), e.manifest_digest.clone()))
        .collect();
    expected.sort();
    expected
}

/// A config file for `curl -K` with the GETs the report makes after the tag
/// list: the manifest, then the config, of every tag, each to /dev/null.
fn report_curl_config(path: &Path, reg: &Registry, seeded: &registry::ReportRepo) {
    let mut text = String::new();
    for e in &seeded.entries {
        let path = format!("/v2/{}/manifests/{}", seeded.repo, e.tag);
        let _ = writeln!(text, "url = \"{}\"\noutput = \"/dev/null\"", reg.url(&path));
    }
    for e in &seeded.entries {
        let path = format!("/v2/{}/blobs/{}", seeded.repo, e.config_digest);
        let _ = writeln!(text, "url = \"{}\"\noutput = \"/dev/null\"", reg.url(&path));
    }
    std::fs::write(path, text).expect("write curl config");
}

/// `curl -Z --parallel-max 16` running the GETs of `config` with the
/// report's `Accept`, after `extra` arguments.
fn curl_report(config: &Path, extra: &[&str]) -> Command {
    let accept = [
        media::OCI_MANIFEST,
        media::OCI_INDEX,
        media::DOCKER_MANIFEST_V2,
        media::DOCKER_MANIFEST_LIST,
    ]
    .join(", ");
    let mut c = curl();
    c.args(["-sS", "-f", "-Z", "--parallel-max", "16"])
        .args(extra)
        .arg("-H")
        .arg(format!("Accept: {accept}"))
        .arg("-K")
        .arg(config);
    c
}

impl Bench<'_> {
    /// One timed report through `client`, checked against `expected`.
    fn timed_report(
        &self,
        client: impl FnOnce() -> Client,
        name: &RepositoryName,
        expected: &[(String, String, String)],
    ) -> Sample {
        let (s, got) = self
            .meter
            .measure(|| self.rt.block_on(dockreg_report(&client(), name)));
        let got: Vec<(String, String, String)> = got
            .expect("dockreg report")
            .into_iter()
            .map(|r| {
                (
                    r.created.unwrap_or_default(),
                    r.tag.to_string(),
                    r.digest.to_string(),
                )
            })
            .collect();
        assert_eq!(got, expected, "dockreg report differs from the seeded tags");
        s
    }

    fn b(&mut self, reg: &Registry, seeded: &registry::ReportRepo) {
        let n = seeded.entries.len();
        self.start(&format!("(b) tag report over {n} tags"));
        let expected = expected_report(seeded);
        // curl: the same 600 GETs from a config file, 16 at once.
        let config = self.scratch.join("b-curl.cfg");
        report_curl_config(&config, reg, seeded);
        let client = client_for(reg);
        let name: RepositoryName = seeded.repo.parse().unwrap();
        let run_dockreg = |_| self.timed_report(|| client.clone(), &name, &expected);
        let (d, c) = self.alternate("(b) vs curl", run_dockreg, |_| {
            self.meter
                .measure(|| run_ok(&mut curl_report(&config, &[])))
                .0
        });
        // skopeo: one tag at a time, on a sample of the tags, scaled.
        let step = (n / SKOPEO_SAMPLE).max(1);
        let sample: Vec<&registry::ReportEntry> = seeded
            .entries
            .iter()
            .step_by(step)
            .take(SKOPEO_SAMPLE)
            .collect();
        let scale = n as f64 / sample.len() as f64;
        let run_skopeo = |_| {
            let (s, ()) = self.meter.measure(|| {
                for e in &sample {
                    let out = run_ok(
                        self.skopeo
                            .command(false)
                            .args(["inspect", "--no-tags", "--tls-verify=false"])
                            .arg(format!("docker://{}/{}:{}", reg.host, seeded.repo, e.tag)),
                    );
                    let v: serde_json::Value =
                        serde_json::from_slice(&out.stdout).expect("skopeo inspect json");
                    assert_eq!(v["Digest"].as_str(), Some(e.manifest_digest.as_str()));
                    let created = v["Created"].as_str().unwrap_or_default();
                    assert!(created.starts_with(&e.created[..19]), "{created}");
                }
            });
            Sample {
                wall: s.wall.mul_f64(scale),
                cpu: s.cpu.mul_f64(scale),
                reg_cpu: s.reg_cpu.mul_f64(scale),
            }
        };
        let (d2, s) = self.alternate("(b) vs skopeo", run_dockreg, run_skopeo);
        self.rows.push(ratio_row(
            &format!("(b) report, {n} tags (manifest+config each)"),
            &format!("curl -Z --parallel-max 16, {} GETs", 2 * n),
            &d,
            &c,
            1.30,
            true,
        ));
        self.line("(b) dockreg report", &d);
        self.line("(b) curl -Z --parallel-max 16", &c);

        let (dm, sm) = (median(&walls(&d2)), median(&walls(&s)));
        let speedup = sm.as_secs_f64() / dm.as_secs_f64();
        self.rows.push(Row {
            workload: format!("(b) report, {n} tags vs skopeo inspect loop"),
            dockreg: ms(dm),
            reference: format!(
                "{} (skopeo inspect x{n}, scaled from {} tags)",
                ms(sm),
                sample.len()
            ),
            ratio: format!(
                "{:.4} = {speedup:.1}x faster",
                dm.as_secs_f64() / sm.as_secs_f64()
            ),
            target: ">= 15x faster".into(),
            pass: Some(speedup >= 15.0),
        });
        self.line("(b) dockreg report (rounds vs skopeo)", &d2);
        self.line(
            &format!("(b) skopeo inspect loop, {} tags x{scale:.0}", sample.len()),
            &s,
        );
        self.notes.push(format!(
            "(b) dockreg runs the report of examples/report.rs in process (tags list, then \
             manifest + config per tag, 16 at once, parsed, verified, sorted; one client for all \
             rounds) - one GET more than curl, whose 600 bodies go to /dev/null. skopeo inspect \
             --no-tags runs one tag at a time on {} of the {n} tags (every {step}th); its times \
             are multiplied by {scale:.0}. The skopeo comparison has its own rounds.",
            sample.len()
        ));
    }
}

// ===========================================================================
// (t) tag report over TLS: HTTP/1.1 and HTTP/2
// ===========================================================================

/// A registry serving `plain`'s storage over TLS (its storage root is a
/// link to `plain`'s): the repositories seeded into `plain` over http are
/// read over https, with nothing seeded twice. Both are CNCF registries
/// reading the same files; neither caches what it read.
fn tls_registry_over(plain: &Registry) -> Registry {
    let storage = plain.storage_root();
    std::fs::create_dir_all(&storage).expect("create the plain registry's storage root");
    Registry::start_tls(RegistryConfig::default(), |dir| {
        std::os::unix::fs::symlink(&storage, dir.join("storage"))
            .expect("link the TLS registry's storage root");
        registry::Security::default()
    })
}

/// The protocol curl used for `GET /v2/` with `flag` (`--http1.1` or
/// `--http2`): `1.1` or `2`.
fn curl_http_version(reg: &Registry, ca: &Path, flag: &str) -> String {
    let out = run_ok(
        curl()
            .args([
                "-sS",
                "-f",
                "-o",
                "/dev/null",
                "-w",
                "%{http_version}",
                flag,
                "--cacert",
            ])
            .arg(ca)
            .arg(reg.url("/v2/")),
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Bench<'_> {
    /// Rotates the report over TLS, a client from `client(http1_only)` per
    /// run, with HTTP/1.1 and HTTP/2, against `curl --http1.1` and
    /// `--http2` doing the GETs of `config` (trusting `ca`). The samples:
    /// dockreg HTTP/1.1, curl HTTP/1.1, dockreg HTTP/2, curl HTTP/2.
    #[allow(clippy::too_many_arguments)]
    fn rotate_tls<F: FnOnce() -> Client>(
        &self,
        what: &str,
        label: &str,
        client: impl Fn(bool) -> F,
        name: &RepositoryName,
        expected: &[(String, String, String)],
        config: &Path,
        ca: &str,
    ) -> [Vec<Sample>; 4] {
        let curl_run = |flag: &'static str| {
            move |_: usize| {
                self.meter
                    .measure(|| run_ok(&mut curl_report(config, &[flag, "--cacert", ca])))
                    .0
            }
        };
        let (mut d1, mut c1) = (
            |_: usize| self.timed_report(client(true), name, expected),
            curl_run("--http1.1"),
        );
        let (mut d2, mut c2) = (
            |_: usize| self.timed_report(client(false), name, expected),
            curl_run("--http2"),
        );
        let (h1, h2) = (format!("{label} HTTP/1.1"), format!("{label} HTTP/2"));
        let samples = self.rotate(
            what,
            &mut [
                (&h1, &mut d1),
                ("curl --http1.1", &mut c1),
                (&h2, &mut d2),
                ("curl --http2", &mut c2),
            ],
        );
        <[Vec<Sample>; 4]>::try_from(samples).expect("four jobs")
    }

    /// Runs each of `jobs` once per round, the order rotating by one each
    /// round; returns their samples, in the order of `jobs`.
    fn rotate(
        &self,
        what: &str,
        jobs: &mut [(&str, &mut dyn FnMut(usize) -> Sample)],
    ) -> Vec<Vec<Sample>> {
        let mut samples = vec![Vec::new(); jobs.len()];
        for round in 0..self.cfg.rounds {
            let mut line = format!("  {what} round {round}:");
            for k in 0..jobs.len() {
                let i = (round + k) % jobs.len();
                let (label, job) = &mut jobs[i];
                let s = job(round);
                let _ = write!(line, " {label} {} (cpu {});", ms(s.wall), ms(s.cpu));
                samples[i].push(s);
            }
            eprintln!("{line} load {}", loadavg());
        }
        samples
    }

    fn t(&mut self, reg: &Registry, seeded: &registry::ReportRepo) {
        let n = seeded.entries.len();
        self.start(&format!(
            "(t) tag report over {n} tags, TLS, HTTP/1.1 and HTTP/2"
        ));
        let expected = expected_report(seeded);
        let ca = self.scratch.join("t-ca.pem");
        std::fs::write(&ca, Registry::tls_ca_pem()).expect("write the CA");
        let ca_str = ca.to_str().expect("CA path is UTF-8");
        for (flag, want) in [("--http1.1", "1.1"), ("--http2", "2")] {
            let got = curl_http_version(reg, &ca, flag);
            assert_eq!(
                got, want,
                "curl {flag} against the TLS registry spoke HTTP/{got}"
            );
        }
        let config = self.scratch.join("t-curl.cfg");
        report_curl_config(&config, reg, seeded);
        let (this, config) = (&*self, &config);
        let name: RepositoryName = seeded.repo.parse().unwrap();
        // A client per run, as the report example builds one.
        let client = |http1_only: bool| {
            move || {
                Client::builder(&reg.base_url)
                    .root_certificate_pem(Registry::tls_ca_pem())
                    .http1_only(http1_only)
                    .build()
                    .expect("dockreg client")
            }
        };
        let [d1, c1, d2, c2] =
            this.rotate_tls("(t)", "dockreg", client, &name, &expected, config, ca_str);
        for (proto, flag, d, c) in [
            ("HTTP/1.1", "--http1.1", &d1, &c1),
            ("HTTP/2", "--http2", &d2, &c2),
        ] {
            self.rows.push(ratio_row(
                &format!("(b) report, {n} tags, TLS, {proto}"),
                &format!("curl {flag} -Z --parallel-max 16, {} GETs", 2 * n),
                d,
                c,
                1.30,
                true,
            ));
        }
        let (m1, m2) = (median(&walls(&d1)), median(&walls(&d2)));
        self.rows.push(Row {
            workload: format!("(t) dockreg report, {n} tags, TLS: HTTP/2 vs HTTP/1.1"),
            dockreg: ms(m2),
            reference: format!("{} (dockreg, http1_only(true))", ms(m1)),
            ratio: format!("{:.3}", m2.as_secs_f64() / m1.as_secs_f64()),
            target: "-".into(),
            pass: None,
        });
        self.line("(t) dockreg report, TLS, HTTP/1.1", &d1);
        self.line("(t) curl --http1.1, TLS", &c1);
        self.line("(t) dockreg report, TLS, HTTP/2", &d2);
        self.line("(t) curl --http2, TLS", &c2);
        self.notes.push(format!(
            "(t) the (b) report against a registry with http.tls (certificate signed by the \
             harness CA, trusted with root_certificate_pem / curl --cacert) serving the storage \
             the (b) registry was seeded into. dockreg builds a client in each run (as the \
             report example does), so every run pays its TLS handshakes, as curl does: 16 \
             connections over HTTP/1.1, one over HTTP/2 (ALPN; the registry offers h2). The \
             four runs of a round rotate their order; {} rounds.",
            self.cfg.rounds
        ));
    }
}

// ===========================================================================
// (w), (x) the report with the on-disk cache
// ===========================================================================

/// `/dev/shm` when it is a writable tmpfs (Linux), for the cache row that
/// leaves the disk's filesystem out.
fn tmpfs_dir() -> Option<PathBuf> {
    let shm = Path::new("/dev/shm");
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    let is_tmpfs = mounts.lines().any(|l| {
        let mut f = l.split_whitespace();
        (f.nth(1), f.next()) == (Some("/dev/shm"), Some("tmpfs"))
    });
    let probe = shm.join(format!(".dockreg-e2e-probe-{}", std::process::id()));
    let writable = std::fs::create_dir(&probe).is_ok() && std::fs::remove_dir(&probe).is_ok();
    (is_tmpfs && writable).then(|| shm.to_owned())
}

/// The requests in `reg`'s access log so far, by method (the log has them
/// only when the registry runs with its access log on; see `main`).
fn logged_requests(reg: &Registry) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for line in reg.log().lines() {
        // 127.0.0.1 - - [date] "GET /v2/... HTTP/1.1" 200 ...
        let Some((_, request)) = line.split_once("] \"") else {
            continue;
        };
        if let Some((method, rest)) = request.split_once(' ') {
            if rest.starts_with("/v2/") {
                *counts.entry(method.to_owned()).or_insert(0) += 1;
            }
        }
    }
    counts
}

/// A labelled run whose requests are counted.
type CountedRun<'a> = (&'a str, Box<dyn FnOnce() + 'a>);

/// What `run` added to `reg`'s access log: `GET 301, HEAD 300`.
fn requests_of<T>(reg: &Registry, run: impl FnOnce() -> T) -> (T, String) {
    let before = logged_requests(reg);
    let out = run();
    // The registry writes its log line after the response.
    std::thread::sleep(Duration::from_millis(200));
    let after = logged_requests(reg);
    let text: Vec<String> = after
        .iter()
        .map(|(m, n)| (m, n - before.get(m).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .map(|(m, n)| format!("{m} {n}"))
        .collect();
    (out, text.join(", "))
}

impl Bench<'_> {
    /// How many requests one run of each of `runs` made, as a line.
    fn count_requests(&self, reg: &Registry, runs: Vec<CountedRun<'_>>) -> String {
        let mut counted = Vec::new();
        for (label, run) in runs {
            let ((), text) = requests_of(reg, run);
            counted.push(format!("{label}: {text}"));
        }
        let line = counted.join("; ");
        eprintln!("  requests per run: {line}");
        line
    }

    /// Keeps a [`Bench::count_requests`] line in the details and notes.
    fn note_requests(&mut self, what: &str, line: &str) {
        let _ = writeln!(
            self.details,
            "  {what} requests per run (registry access log): {line}"
        );
        self.notes.push(format!(
            "{what} requests per run (registry access log): {line}"
        ));
    }

    fn w(&mut self, reg: &Registry, seeded: &registry::ReportRepo) {
        let n = seeded.entries.len();
        self.start(&format!(
            "(w) tag report over {n} tags with the on-disk cache"
        ));
        let expected = expected_report(seeded);
        let config = self.scratch.join("w-curl.cfg");
        report_curl_config(&config, reg, seeded);
        let name: RepositoryName = seeded.repo.parse().unwrap();
        let warm_dir = self.scratch.join("w-cache-warm");
        let cold_dir = self.scratch.join("w-cache-cold");
        let cached = |dir: &Path| {
            let dir = dir.to_owned();
            move || {
                Client::builder(&reg.host)
                    .cache(dir)
                    .build()
                    .expect("dockreg client")
            }
        };
        let plain = || client_for(reg);
        // Fill the warm cache once.
        self.timed_report(cached(&warm_dir), &name, &expected);
        let this = &*self;
        let curl_run = |_: usize| {
            this.meter
                .measure(|| run_ok(&mut curl_report(&config, &[])))
                .0
        };
        let warm_run = |_: usize| this.timed_report(cached(&warm_dir), &name, &expected);
        let (d, c) = this.alternate("(b2) warm cache vs curl", warm_run, curl_run);
        // Every empty-cache run gets a directory never used before, and all
        // of them are removed after the row, so each run is a first report
        // in a new cache (and no run pays for the last one's cleanup: ext4
        // scans past inodes freed in the last minutes when it creates a
        // file, perf: `find_inode_bit` -> `recently_deleted`).
        let cold_at = |run: &str| cold_dir.join(run);
        let cold_run = |round: usize| {
            this.timed_report(
                cached(&cold_at(&format!("round-{round}"))),
                &name,
                &expected,
            )
        };
        let plain_run = |_: usize| this.timed_report(plain, &name, &expected);
        let (cold, none) = this.alternate("(b1) cold cache vs no cache", cold_run, plain_run);
        // The same with the cache on tmpfs, where creating a file is no
        // disk's business: what the cache's own code costs, apart from the
        // filesystem (shown, not a target).
        let shm = tmpfs_dir().map(|d| d.join(format!("dockreg-e2e-{}", std::process::id())));
        let on_tmpfs = shm.as_ref().map(|shm| {
            let run = |round: usize| {
                this.timed_report(
                    cached(&shm.join(format!("round-{round}"))),
                    &name,
                    &expected,
                )
            };
            let timed = this.alternate("(b1 tmpfs) cold cache vs no cache", run, plain_run);
            let _ = std::fs::remove_dir_all(shm);
            timed
        });
        let runs: Vec<CountedRun<'_>> = vec![
            (
                "no cache",
                Box::new(|| {
                    this.timed_report(plain, &name, &expected);
                }),
            ),
            (
                "empty cache",
                Box::new(|| {
                    this.timed_report(cached(&cold_at("counted")), &name, &expected);
                }),
            ),
            (
                "warm cache",
                Box::new(|| {
                    this.timed_report(cached(&warm_dir), &name, &expected);
                }),
            ),
            (
                "curl",
                Box::new(|| {
                    run_ok(&mut curl_report(&config, &[]));
                }),
            ),
        ];
        let counted = this.count_requests(reg, runs);
        let _ = std::fs::remove_dir_all(&cold_dir);
        self.rows.push(ratio_row(
            &format!("(b2) report, {n} tags, warm cache (HEAD per tag)"),
            &format!("curl -Z --parallel-max 16, {} GETs", 2 * n),
            &d,
            &c,
            0.40,
            true,
        ));
        self.rows.push(ratio_row(
            &format!("(b1) report, {n} tags, empty cache"),
            "dockreg report without a cache",
            &cold,
            &none,
            1.05,
            true,
        ));
        self.line("(b2) dockreg report, warm cache", &d);
        self.line("(b2) curl -Z --parallel-max 16", &c);
        self.line("(b1) dockreg report, empty cache", &cold);
        self.line("(b1) dockreg report, no cache", &none);
        if let Some((cold, none)) = &on_tmpfs {
            let mut row = ratio_row(
                &format!("(b1) report, {n} tags, empty cache on tmpfs"),
                "dockreg report without a cache",
                cold,
                none,
                1.05,
                true,
            );
            row.target = "-".into();
            row.pass = None;
            self.rows.push(row);
            self.line("(b1) dockreg report, empty cache on tmpfs", cold);
            self.line("(b1) dockreg report, no cache (tmpfs rounds)", none);
        }
        self.note_requests("(w)", &counted);
        self.notes.push(format!(
            "(w) every dockreg run builds its client (a repeated report is a new process), with \
             ClientBuilder::cache on a directory in the scratch dir: (b2) warm (filled by one \
             report before the rounds), (b1) a new, never used directory per run (removed after \
             the row), against a report without a cache built the same way; the tmpfs row \
             puts those directories on /dev/shm. Both registries run with the access log on; {} rounds.",
            self.cfg.rounds
        ));
    }

    fn x(&mut self, reg: &Registry, seeded: &registry::ReportRepo) {
        let n = seeded.entries.len();
        self.start(&format!(
            "(x) tag report over {n} tags with a warm cache, TLS, HTTP/1.1 and HTTP/2"
        ));
        let expected = expected_report(seeded);
        let ca = self.scratch.join("x-ca.pem");
        std::fs::write(&ca, Registry::tls_ca_pem()).expect("write the CA");
        let ca_str = ca.to_str().expect("CA path is UTF-8");
        let config = self.scratch.join("x-curl.cfg");
        report_curl_config(&config, reg, seeded);
        let (this, config) = (&*self, &config);
        let name: RepositoryName = seeded.repo.parse().unwrap();
        let dir = self.scratch.join("x-cache");
        let client = |http1_only: bool| {
            let dir = dir.clone();
            move || {
                Client::builder(&reg.base_url)
                    .root_certificate_pem(Registry::tls_ca_pem())
                    .http1_only(http1_only)
                    .cache(dir)
                    .build()
                    .expect("dockreg client")
            }
        };
        // Fill the cache once.
        this.timed_report(client(false), &name, &expected);
        let [d1, c1, d2, c2] = this.rotate_tls(
            "(x)",
            "dockreg warm",
            client,
            &name,
            &expected,
            config,
            ca_str,
        );
        let runs: Vec<CountedRun<'_>> = vec![
            (
                "TLS warm cache HTTP/1.1",
                Box::new(|| {
                    this.timed_report(client(true), &name, &expected);
                }),
            ),
            (
                "TLS warm cache HTTP/2",
                Box::new(|| {
                    this.timed_report(client(false), &name, &expected);
                }),
            ),
            (
                "TLS curl --http2",
                Box::new(|| {
                    run_ok(&mut curl_report(config, &["--http2", "--cacert", ca_str]));
                }),
            ),
        ];
        let counted = this.count_requests(reg, runs);
        for (proto, flag, d, c) in [
            ("HTTP/1.1", "--http1.1", &d1, &c1),
            ("HTTP/2", "--http2", &d2, &c2),
        ] {
            self.rows.push(ratio_row(
                &format!("(b3) report, {n} tags, warm cache, TLS, {proto}"),
                &format!("curl {flag} -Z --parallel-max 16, {} GETs", 2 * n),
                d,
                c,
                0.40,
                true,
            ));
        }
        self.line("(b3) dockreg warm cache, TLS, HTTP/1.1", &d1);
        self.line("(b3) curl --http1.1, TLS", &c1);
        self.line("(b3) dockreg warm cache, TLS, HTTP/2", &d2);
        self.line("(b3) curl --http2, TLS", &c2);
        self.note_requests("(x)", &counted);
        self.notes.push(format!(
            "(x) the (b2) warm-cache report against the (t) TLS registry, a client (and its TLS \
             handshakes) per run, over HTTP/1.1 (http1_only) and HTTP/2; the four runs of a \
             round rotate their order; {} rounds.",
            self.cfg.rounds
        ));
    }
}

// ===========================================================================
// (c) catalog
// ===========================================================================

const CURL_PAGING: &str = r#"set -e
link=$(curl -q -sS -f -D - -o "$2/page1.json" "$1/v2/_catalog?n=$3" | sed -n 's/^[Ll]ink: *<\([^>]*\)>.*/\1/p' | tr -d '\r')
test -n "$link"
curl -q -sS -f -o "$2/page2.json" "$1$link"
"#;

impl Bench<'_> {
    fn c(&mut self, reg: &Registry, seeded: &registry::ManyRepos) {
        let n = seeded.names.len();
        self.start(&format!("(c) catalog of {n} repositories"));
        let client = client_for(reg);
        let dir = self.scratch.join("c");
        std::fs::create_dir_all(&dir).expect("mkdir");
        let (d, c) = self.alternate(
            "(c)",
            |_| {
                let (s, got) = self.meter.measure(|| {
                    self.rt.block_on(
                        client
                            .catalog()
                            .page_size(CATALOG_PAGE)
                            .try_collect::<Vec<String>>(),
                    )
                });
                assert_eq!(got.expect("dockreg catalog"), seeded.names);
                s
            },
            |_| {
                let (s, _) = self.meter.measure(|| {
                    run_ok(
                        Command::new("sh")
                            .args(["-c", CURL_PAGING, "curl-paging", &reg.base_url])
                            .arg(&dir)
                            .arg(CATALOG_PAGE.to_string())
                            .env_remove("http_proxy"),
                    )
                });
                let p2: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(dir.join("page2.json")).unwrap())
                        .unwrap();
                assert_eq!(
                    p2["repositories"].as_array().map(Vec::len),
                    Some(n - CATALOG_PAGE)
                );
                s
            },
        );
        self.rows.push(ratio_row(
            &format!("(c) catalog, {n} repos, n={CATALOG_PAGE}"),
            "sh + 2 curl GETs following Link",
            &d,
            &c,
            1.20,
            true,
        ));
        self.line("(c) dockreg catalog", &d);
        self.line("(c) sh + 2 curl", &c);
    }
}

// ===========================================================================
// (d) copies, (e) pull to an OCI layout
// ===========================================================================

impl Bench<'_> {
    fn d(&mut self, reg_a: &Registry, reg_b: &Registry, image: &Image) {
        let mib = image.layer_bytes as f64 / MIB as f64;
        let src_ref = format!("docker://{}/{}:{}", reg_a.host, image.repo, image.tag);
        let name: RepositoryName = image.repo.parse().unwrap();
        let tag: TagOrDigest = image.tag.parse().unwrap();
        let options = CopyOptions::default();
        let blobs = image.blobs.len();
        let skopeo_copy = |dest: String| {
            let out = run_ok(
                self.skopeo
                    .command(true)
                    .args(["copy", "--src-tls-verify=false", "--dest-tls-verify=false"])
                    .arg(&src_ref)
                    .arg(dest),
            );
            skopeo_blob_counts(&out)
        };

        // Between registries.
        self.start(&format!("(d) copy of {mib:.0} MiB, {blobs} blobs, A -> B"));
        let src = client_for(reg_a);
        let dst = client_for(reg_b);
        let (mut ok, mut counts, mut reports) = (true, Vec::new(), Vec::new());
        let (d, s) = self.alternate(
            "(d) A->B",
            |round| {
                let dest: RepositoryName = format!("copy/dockreg-{round}").parse().unwrap();
                let (s, rep) = self.meter.measure(|| {
                    self.rt
                        .block_on(src.copy_image(&name, &tag, &dst, &dest, &tag, &options))
                });
                let rep = rep.expect("dockreg copy A -> B");
                ok &= rep.blobs_uploaded == blobs
                    && rep.digest.as_ref().map(|x| x.as_str()) == Some(&image.manifest_digest);
                reports.push(rep);
                s
            },
            |round| {
                let dest = format!("docker://{}/copy/skopeo-{round}:{}", reg_b.host, image.tag);
                let (s, c) = self.meter.measure(|| skopeo_copy(dest));
                counts.push(c);
                s
            },
        );
        self.rows.push(ratio_row(
            &format!("(d) copy {IMAGE_LAYERS} layers/{mib:.0} MiB to another registry"),
            "skopeo copy",
            &d,
            &s,
            0.50,
            ok,
        ));
        self.line("(d) A->B dockreg copy_image", &d);
        self.line("(d) A->B skopeo copy", &s);
        let first = reports.first().cloned().unwrap_or_default();
        self.notes.push(format!(
            "(d) A->B: new destination repositories every round (copy/dockreg-N, \
             copy/skopeo-N on B). dockreg uses CopyOptions::default() (concurrency {}, chunk \
             {} MiB): {} blobs uploaded, {} bytes, per round; skopeo (skipped, copied) blobs per \
             round: {counts:?}.",
            options.concurrency,
            options.chunk_size as u64 / MIB,
            first.blobs_uploaded,
            first.bytes_uploaded,
        ));

        // Within registry A: mounts only.
        self.start("(d) copy within registry A");
        let (mut ok, mut counts, mut last) = (true, Vec::new(), None);
        let (d, s) = self.alternate(
            "(d) within A",
            |round| {
                let dest: RepositoryName = format!("mount/dockreg-{round}").parse().unwrap();
                let (s, rep) = self.meter.measure(|| {
                    self.rt
                        .block_on(src.copy_image(&name, &tag, &src, &dest, &tag, &options))
                });
                let rep = rep.expect("dockreg copy within A");
                ok &= rep.blobs_mounted == blobs && rep.bytes_uploaded == 0;
                last = Some(rep);
                s
            },
            |round| {
                let dest = format!("docker://{}/mount/skopeo-{round}:{}", reg_a.host, image.tag);
                let (s, c) = self.meter.measure(|| skopeo_copy(dest));
                counts.push(c);
                s
            },
        );
        let mut row = ratio_row(
            "(d) copy within one registry (new repo)",
            "skopeo copy",
            &d,
            &s,
            0.10,
            ok,
        );
        if let Some(rep) = &last {
            row.dockreg = format!(
                "{} ({} mounted, {} B uploaded)",
                row.dockreg, rep.blobs_mounted, rep.bytes_uploaded
            );
        }
        self.rows.push(row);
        self.line("(d) within A dockreg copy_image", &d);
        self.line("(d) within A skopeo copy", &s);
        let uploaded = if counts.iter().all(|(skipped, _)| *skipped == 0) {
            " (with an empty blob-info cache skopeo did not mount: it re-uploaded the layers)"
        } else {
            ""
        };
        self.notes.push(format!(
            "(d) within A: new destination repository every round (mount/dockreg-N, \
             mount/skopeo-N); skopeo (skipped, copied) blobs per round: {counts:?}{uploaded}."
        ));
    }

    fn e(&mut self, reg: &Registry, image: &Image) {
        let mib = image.layer_bytes as f64 / MIB as f64;
        self.start(&format!("(e) pull of {mib:.0} MiB to an OCI layout"));
        let src_ref = format!("docker://{}/{}:{}", reg.host, image.repo, image.tag);
        let name: RepositoryName = image.repo.parse().unwrap();
        let tag: TagOrDigest = image.tag.parse().unwrap();
        let client = client_for(reg);
        let dir = self.scratch.join("e");
        std::fs::create_dir_all(&dir).expect("mkdir");
        let check = |root: &Path| {
            let index: serde_json::Value = serde_json::from_slice(
                &std::fs::read(root.join("index.json")).expect("index.json"),
            )
            .expect("index.json is JSON");
            let listed = index["manifests"][0]["digest"].as_str().unwrap_or_default();
            assert_eq!(listed, image.manifest_digest, "{}", root.display());
            for (digest, size) in &image.blobs {
                let hex = digest.strip_prefix("sha256:").unwrap();
                let p = root.join("blobs/sha256").join(hex);
                let len = std::fs::metadata(&p).map(|m| m.len()).ok();
                assert_eq!(len, Some(*size), "blob {digest} in {}", root.display());
            }
            std::fs::remove_dir_all(root).expect("remove layout");
        };
        let (d, s) = self.alternate(
            "(e)",
            |round| {
                let root = dir.join(format!("dockreg-{round}"));
                let (s, rep) = self.meter.measure(|| {
                    self.rt.block_on(async {
                        let layout = OciLayout::create(&root)?;
                        client
                            .pull_to_layout(
                                &name,
                                &tag,
                                &layout,
                                Some(&image.tag),
                                &Platforms::All,
                                PULL_CONCURRENCY,
                            )
                            .await
                    })
                });
                let rep = rep.expect("dockreg pull_to_layout");
                assert_eq!(rep.blobs_downloaded, image.blobs.len(), "{rep:?}");
                check(&root);
                s
            },
            |round| {
                let root = dir.join(format!("skopeo-{round}"));
                let (s, _) = self.meter.measure(|| {
                    run_ok(
                        self.skopeo
                            .command(true)
                            .args(["copy", "--src-tls-verify=false"])
                            .arg(&src_ref)
                            .arg(format!("oci:{}:{}", root.display(), image.tag)),
                    )
                });
                check(&root);
                s
            },
        );
        self.rows.push(ratio_row(
            &format!("(e) pull {mib:.0} MiB image to an OCI layout"),
            "skopeo copy ... oci:DIR",
            &d,
            &s,
            0.50,
            true,
        ));
        self.line(
            &format!("(e) dockreg pull_to_layout (concurrency {PULL_CONCURRENCY})"),
            &d,
        );
        self.line("(e) skopeo copy oci:", &s);
    }
}

impl Bench<'_> {
    /// `E2E_DIAG=1`: where the time of (a) goes, as info rows.
    fn diag_a(&mut self, reg: &Registry, blob: &registry::BigBlob, dir: &Path, url: &str) {
        let size = format!("{} MiB", blob.size / MIB);
        // SHA-256 in memory (the sha2 crate dockreg uses), 256 MiB at a time.
        let buf = noise(42, 256 * MIB as usize);
        let mut hashed = Vec::new();
        for _ in 0..self.cfg.rounds {
            let (s, _) = self.meter.measure(|| sha2::Sha256::digest(&buf));
            hashed.push(s);
        }
        drop(buf);
        let h = median(&walls(&hashed));
        let _ = writeln!(self.details, "diagnostics of (a)");
        self.line("(a) diag: sha256 of 256 MiB in memory", &hashed);
        self.rows.push(Row {
            workload: "(a) diag: SHA-256 in memory (sha2 crate)".into(),
            dockreg: format!("{:.2} GB/s", gbps(256 * MIB, h)),
            reference: format!(
                "{} per {size} ({})",
                ms(h.mul_f64(blob.size as f64 / (256 * MIB) as f64)),
                first_line(
                    "sh",
                    &["-c", "openssl speed -evp sha256 -bytes 1048576 -seconds 1 2>/dev/null | tail -1 | awk '{printf \"openssl %.2f GB/s\", $2/1e6}'"]
                )
            ),
            ratio: "-".into(),
            target: "-".into(),
            pass: None,
        });
        // Unverified reqwest stream to a sink: the client without hashing.
        let http = raw_http();
        let mut raw = Vec::new();
        for _ in 0..self.cfg.rounds {
            let (s, n) = self.meter.measure(|| {
                self.rt.block_on(async {
                    let mut st = http.get(url).send().await.expect("GET").bytes_stream();
                    let mut n = 0u64;
                    while let Some(c) = st.next().await {
                        n += c.expect("body").len() as u64;
                    }
                    n
                })
            });
            assert_eq!(n, blob.size);
            raw.push(s);
        }
        let r = median(&walls(&raw));
        self.line("(a) diag: reqwest to sink, no hashing", &raw);
        self.rows.push(Row {
            workload: format!("(a) diag: {size} -> sink, reqwest, NOT verified"),
            dockreg: format!("{} = {:.2} GB/s", ms(r), gbps(blob.size, r)),
            reference: "-".into(),
            ratio: "-".into(),
            target: "-".into(),
            pass: None,
        });
        // The verified stream to a file without fsync and tokio::fs.
        let mut nosync = Vec::new();
        for round in 0..self.cfg.rounds {
            let out = dir.join(format!("nosync-{round}.bin"));
            let (s, _) = self
                .meter
                .measure(|| run_child(self.cfg, "download-nosync", reg, blob, &out));
            let len = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
            assert_eq!(len, blob.size);
            std::fs::remove_file(&out).expect("remove");
            nosync.push(s);
        }
        let n = median(&walls(&nosync));
        self.line("(a) diag: child, verified, std::fs, no fsync", &nosync);
        self.rows.push(Row {
            workload: format!("(a) diag: {size} -> file, verified, std::fs, no fsync"),
            dockreg: ms(n),
            reference: "-".into(),
            ratio: "-".into(),
            target: "-".into(),
            pass: None,
        });
    }
}
