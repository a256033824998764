//! The comparison benchmark: on the same generated Flux repository (one per size), fluxgate's
//! full `validate` (all cores and `--jobs 1`), fluxgate rendering only, `validate --base` for a
//! one-file change, and the reference pipeline (`kubectl kustomize` over every overlay, one
//! after another and with 2 parallel jobs), with wall-time medians, peak memory and ratios.
//!
//! ```sh
//! cargo bench --bench compare -- [--sizes small,medium,large,huge,one-file-5k,one-file-20k,spread-5k]
//!     [--runs N] [--kubectl-runs N] [--no-kubectl] [--keep DIR]
//! ```
//!
//! Besides the generated Flux repositories (`small`, `medium`, `large`, and `huge`: 5x large),
//! three single-overlay cases measure the cost of one big render: `one-file-5k` and
//! `one-file-20k` (that many ConfigMaps in one file; their time ratio shows whether one render
//! is linear) and `spread-5k` (5,000 objects over 500 files with patches, a generator and name
//! references).
//!
//! Every measurement runs as child processes; wall time and CPU time (user + system, summed over
//! the children of one run: what other load on the machine does not inflate) are medians of N
//! runs; ratios are of wall times; peak memory is
//! the largest `ru_maxrss` that `wait4` reports for any child of the measurement (for kubectl,
//! the largest single `kubectl kustomize` process).

#[path = "synth.rs"]
mod synth;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One finished child: its exit status, peak resident set (bytes) and CPU time (user + system).
struct Exit {
    ok: bool,
    max_rss: u64,
    cpu: Duration,
}

/// Runs `cmd` to completion, reaping it with `wait4` to read its own resource usage.
fn run_child(cmd: &mut Command) -> Exit {
    let child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn();
    let Ok(child) = child else { return Exit { ok: false, max_rss: 0, cpu: Duration::ZERO } };
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain old data, zero is a valid value; wait4 writes both out-params
    // for the child we just spawned (and do not wait on through `child` afterwards).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let ok = r == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    // Linux reports ru_maxrss in KiB.
    Exit { ok, max_rss: usage.ru_maxrss as u64 * 1024, cpu: tv(usage.ru_utime) + tv(usage.ru_stime) }
}

/// One row of the table.
struct Row {
    name: String,
    wall: Option<Duration>,
    /// Median CPU time (all children of one run summed): robust to other load on the machine.
    cpu: Option<Duration>,
    runs: usize,
    max_rss: u64,
    note: String,
}

impl Row {
    /// A measurement that did not run, and why.
    fn skipped(name: &str, why: &str) -> Row {
        Row { name: name.into(), wall: None, cpu: None, runs: 0, max_rss: 0, note: why.into() }
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Times `runs` runs of a measurement (each a closure returning the children's exits).
fn measure(name: &str, runs: usize, mut f: impl FnMut() -> Vec<Exit>) -> Row {
    let mut walls = Vec::new();
    let mut cpus = Vec::new();
    let mut max_rss = 0;
    let mut failed = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let exits = f();
        walls.push(t.elapsed());
        cpus.push(exits.iter().map(|e| e.cpu).sum());
        failed += exits.iter().filter(|e| !e.ok).count();
        max_rss = max_rss.max(exits.iter().map(|e| e.max_rss).max().unwrap_or(0));
    }
    let note = if failed > 0 { format!("{failed} child process(es) failed") } else { String::new() };
    Row { name: name.to_string(), wall: Some(median(walls)), cpu: Some(median(cpus)), runs, max_rss, note }
}

struct Args {
    sizes: Vec<String>,
    runs: usize,
    kubectl_runs: usize,
    kubectl: bool,
    keep: Option<PathBuf>,
}

fn parse_args() -> Args {
    let mut a = Args {
        sizes: vec!["small".into(), "medium".into(), "large".into()],
        runs: 5,
        kubectl_runs: 1,
        kubectl: true,
        keep: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--sizes" => a.sizes = it.next().unwrap_or_default().split(',').map(str::to_string).collect(),
            "--runs" => a.runs = it.next().and_then(|v| v.parse().ok()).unwrap_or(5).max(1),
            "--kubectl-runs" => a.kubectl_runs = it.next().and_then(|v| v.parse().ok()).unwrap_or(1).max(1),
            "--no-kubectl" => a.kubectl = false,
            "--keep" => a.keep = it.next().map(PathBuf::from),
            // `cargo bench` passes `--bench` to every bench binary.
            "--bench" => {}
            other => {
                eprintln!("unknown argument {other}");
                eprintln!(
                    "usage: cargo bench --bench compare -- [--sizes small,medium,large] [--runs N] [--kubectl-runs N] [--no-kubectl] [--keep DIR]"
                );
                std::process::exit(2);
            }
        }
    }
    for s in &a.sizes {
        if synth::Params::named(s).is_none() && single_overlay(s).is_none() {
            eprintln!("unknown size {s} (small, medium, large, huge, one-file-5k, one-file-20k, spread-5k)");
            std::process::exit(2);
        }
    }
    a
}

/// `fluxgate render only`: this bench binary re-executed with `--render-child ROOT` discovers
/// and renders every entry point (plain overlays and the Flux tree) without checking anything.
fn render_child(root: &Path) -> ! {
    let repo = fluxgate::source::Repo::open(root).expect("repository");
    let config = fluxgate::config::Config::default();
    let discovery = fluxgate::discover::discover(&repo, &config);
    let renders = fluxgate::pipeline::render_entry_points(&repo, &config, &discovery);
    let failed = renders.plain.iter().filter(|(_, r)| !matches!(r, Some(Ok(_)))).count()
        + renders.flux.iter().filter(|e| e.result.is_err()).count();
    std::process::exit(i32::from(failed > 0));
}

fn git(root: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["-c", "user.name=bench", "-c", "user.email=bench@example.com", "-c", "commit.gpgsign=false"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "git {args:?} failed in {}", root.display());
}

fn kubectl_available() -> bool {
    Command::new("kubectl").args(["version", "--client"]).output().is_ok_and(|o| o.status.success())
}

/// `kubectl kustomize` over `overlays` with `jobs` parallel workers.
fn kubectl(root: &Path, overlays: &[String], jobs: usize) -> Vec<Exit> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let exits = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(o) = overlays.get(i) else { break };
                    let e = run_child(Command::new("kubectl").arg("kustomize").arg(root.join(o)));
                    exits.lock().unwrap().push(e);
                }
            });
        }
    });
    exits.into_inner().unwrap()
}

/// The objects, entry points and findings of one JSON report.
fn summary(bin: &Path, root: &Path) -> String {
    let out = Command::new(bin).arg("validate").arg(root).args(["--format", "json"]).output().expect("fluxgate");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let eps = v["entry_points"].as_array().map_or(0, Vec::len);
    let findings = v["findings"].as_array().map_or(0, Vec::len);
    let checked = &v["schema_coverage"]["checked"];
    let total = &v["schema_coverage"]["total"];
    format!("{eps} entry points, {total} objects checked ({checked} against a schema), {findings} findings")
}

fn mib(b: u64) -> String {
    format!("{:.0} MiB", b as f64 / (1024.0 * 1024.0))
}

/// Writes one single-overlay case under a root and returns the overlay directory.
type Generator = fn(&Path) -> String;

/// The single-overlay cases: a generator of the overlay and a summary.
fn single_overlay(name: &str) -> Option<(Generator, &'static str)> {
    match name {
        "one-file-5k" => Some((|r| synth::one_file(r, 5_000), "5,000 ConfigMaps in one file")),
        "one-file-20k" => Some((|r| synth::one_file(r, 20_000), "20,000 ConfigMaps in one file")),
        "spread-5k" => Some((|r| synth::spread(r, 500), "5,000 objects in 500 files, 50 patches, 50 generators")),
        _ => None,
    }
}

/// One big overlay: `fluxgate render`, `fluxgate validate` and `kubectl kustomize` of it.
fn bench_single(name: &str, args: &Args, bin: &Path, root: &Path) {
    let Some((generate, what)) = single_overlay(name) else { return };
    let dir = root.join(generate(root));
    println!();
    println!("== {name}: one overlay, {what}, in {}", dir.display());
    let mut rows = vec![
        measure("fluxgate render", args.runs, || {
            vec![run_child(Command::new(bin).arg("render").arg(&dir).arg("--root").arg(root))]
        }),
        measure("fluxgate validate", args.runs, || {
            vec![run_child(Command::new(bin).arg("validate").arg(root).args(["--format", "json"]))]
        }),
    ];
    if args.kubectl && kubectl_available() {
        rows.push(measure("kubectl kustomize", args.kubectl_runs, || {
            vec![run_child(Command::new("kubectl").arg("kustomize").arg(&dir))]
        }));
    } else {
        rows.push(Row::skipped("kubectl kustomize", "skipped (--no-kubectl or not on PATH)"));
    }
    print_rows(&rows, "kubectl kustomize", "");
}

fn bench_size(size: &str, args: &Args, bin: &Path, self_exe: &Path, root: &Path) {
    let p = synth::Params::named(size).unwrap();
    let g = synth::generate_with(root, &p);
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "generated"]);
    println!();
    println!(
        "== {size}: {} environments x {} apps x {} overlay(s), {} services/app, {} components, {} patches + {} generators per overlay, {} Flux Kustomizations",
        p.envs,
        p.apps,
        p.overlays,
        p.services,
        p.components,
        p.patches,
        p.generators,
        if p.flux { g.overlays.len() } else { 0 }
    );
    println!(
        "   {} overlays rendering {} objects ({} kustomization directories) in {}",
        g.overlays.len(),
        g.overlay_objects,
        g.kustomize_dirs.len(),
        root.display()
    );
    println!("   fluxgate validate: {}", summary(bin, root));

    let mut rows = Vec::new();
    let validate = |extra: &[&str]| {
        let mut c = Command::new(bin);
        c.arg("validate").arg(root).args(["--format", "json"]).args(extra);
        c
    };
    rows.push(measure("fluxgate validate (all cores)", args.runs, || vec![run_child(&mut validate(&[]))]));
    rows.push(measure("fluxgate validate --jobs 1", args.runs, || vec![run_child(&mut validate(&["--jobs", "1"]))]));
    rows.push(measure("fluxgate render only (all cores)", args.runs, || {
        vec![run_child(Command::new(self_exe).arg("--render-child").arg(root))]
    }));
    // A one-file change in one app: a base Deployment of app 0 (its overlays in every
    // environment and their Flux Kustomizations are affected).
    let changed = root.join(synth::deployment_file(0, 0));
    let text = std::fs::read_to_string(&changed).unwrap();
    std::fs::write(&changed, text.replace("memory: 128Mi", "memory: 192Mi")).unwrap();
    rows.push(measure("fluxgate validate --base (1 file)", args.runs, || {
        vec![run_child(&mut validate(&["--base", "main"]))]
    }));
    std::fs::write(&changed, text).unwrap();

    if !args.kubectl {
        rows.push(Row::skipped("kubectl kustomize", "skipped (--no-kubectl)"));
    } else if !kubectl_available() {
        rows.push(Row::skipped("kubectl kustomize", "skipped: kubectl not found on PATH"));
    } else {
        rows.push(measure("kubectl kustomize, serial", args.kubectl_runs, || kubectl(root, &g.overlays, 1)));
        rows.push(measure("kubectl kustomize, 2 jobs", args.kubectl_runs, || kubectl(root, &g.overlays, 2)));
    }
    print_rows(&rows, "kubectl kustomize, serial", "kubectl kustomize, 2 jobs");
}

/// Prints the table, with ratios against the rows named `reference` and `parallel`.
fn print_rows(rows: &[Row], reference: &str, parallel: &str) {
    let reference_cpu = rows.iter().find(|r| r.name == reference).and_then(|r| r.cpu);
    let reference = rows.iter().find(|r| r.name == reference).and_then(|r| r.wall);
    let parallel = rows.iter().find(|r| r.name == parallel).and_then(|r| r.wall);
    println!(
        "   {:<34} {:>4} {:>10} {:>10} {:>9} {:>10} {:>12} {:>10}",
        "measurement", "runs", "wall (med)", "CPU (med)", "max RSS", "vs kubectl", "vs kubectl-2", "CPU ratio"
    );
    for r in rows {
        let ratio_of = |base: Option<Duration>, own: Option<Duration>| match (base, own) {
            (Some(b), Some(w)) if !w.is_zero() => format!("{:.1}x", b.as_secs_f64() / w.as_secs_f64()),
            _ => "-".into(),
        };
        let secs = |d: Option<Duration>| d.map_or("-".into(), |w| format!("{:.3} s", w.as_secs_f64()));
        let rss = if r.wall.is_some() { mib(r.max_rss) } else { "-".into() };
        println!(
            "   {:<34} {:>4} {:>10} {:>10} {:>9} {:>10} {:>12} {:>10}  {}",
            r.name,
            r.runs,
            secs(r.wall),
            secs(r.cpu),
            rss,
            ratio_of(reference, r.wall),
            ratio_of(parallel, r.wall),
            ratio_of(reference_cpu, r.cpu),
            r.note
        );
    }
}

fn main() {
    let mut argv = std::env::args().skip(1);
    if argv.next().as_deref() == Some("--render-child") {
        render_child(Path::new(&argv.next().expect("root")));
    }
    let args = parse_args();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_fluxgate"));
    let self_exe = std::env::current_exe().expect("own path");
    let base = match &args.keep {
        Some(d) => d.clone(),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-compare"),
    };
    println!(
        "fluxgate comparison benchmark on {} core(s); fluxgate runs: {} (median), kubectl runs: {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        args.runs,
        args.kubectl_runs
    );
    println!("binary: {}", bin.display());
    for size in &args.sizes {
        let root = base.join(size);
        if single_overlay(size).is_some() {
            bench_single(size, &args, &bin, &root);
        } else {
            bench_size(size, &args, &bin, &self_exe, &root);
        }
        if args.keep.is_none() {
            let _ = std::fs::remove_dir_all(&root);
        }
    }
}
