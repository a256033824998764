//! The `fluxgate` command line: parses flags, calls the library, maps the outcome to an exit
//! code (0 clean, 1 error findings, 2 fluxgate could not run).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use fluxgate::config::{self, Config};
use fluxgate::finding::Severity;
use fluxgate::kustomize::build::{Engine, LoadRestrictor};
use fluxgate::report::{json, junit, terminal};
use fluxgate::rules::Rule;
use fluxgate::source::{Repo, emit};

/// mimalloc returns freed memory to the OS sooner than glibc's allocator under many threads:
/// lower peak RSS on large repositories, and faster allocation of the many small YAML nodes.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The merge gate of a Flux GitOps repository: renders every kustomize overlay natively and
/// checks what it renders.
#[derive(Parser)]
#[command(name = "fluxgate", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render and check every kustomize overlay of a repository.
    Validate(Box<ValidateArgs>),
    /// Audit a whole repository: check every entry point and write a self-contained HTML
    /// report, a versioned JSON document and optionally Markdown (findings by rule,
    /// environment and team, suppressions, entry points, trends with --compare).
    Audit(AuditArgs),
    /// Show what a change does to the rendered objects of the entry points it affects,
    /// comparing `git merge-base REF HEAD` with the working tree.
    Diff(DiffArgs),
    /// Print the rendered YAML of one kustomize directory, like `kustomize build DIR`.
    Render(RenderArgs),
    /// List every rule with its id, severity (under the repository's config) and summary;
    /// per-environment severities that differ follow in brackets.
    Rules {
        /// Repository root whose `.fluxgate.yaml` is applied (default: the current directory).
        #[arg(default_value = ".")]
        root: PathBuf,
    },
    /// Manage `.fluxgate.yaml`.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage the repository's schema catalog.
    #[command(subcommand)]
    Schemas(SchemasCommand),
    /// Manage the git pre-push hook that runs `validate` before every push.
    #[command(subcommand)]
    Hook(HookCommand),
    /// Manage the chart cache that HelmRelease rendering reads.
    #[command(subcommand)]
    Charts(ChartsCommand),
}

#[derive(Subcommand)]
enum ChartsCommand {
    /// Download the chart of every HelmRelease of the repository into the chart cache (for CI
    /// agents and offline runs). Exit 1 when a chart cannot be had.
    Pull {
        /// Repository root (default: the current directory).
        #[arg(default_value = ".")]
        root: PathBuf,
        #[command(flatten)]
        helm: HelmArgs,
    },
}

/// Flags of HelmRelease rendering.
#[derive(clap::Args)]
struct HelmArgs {
    /// The chart cache directory (default: the config's `helm.cache`, else the user's cache dir).
    #[arg(long, value_name = "DIR")]
    chart_cache: Option<PathBuf>,
    /// Use only the chart cache, never the network (charts not in it are `helm-chart-unavailable`).
    #[arg(long)]
    offline: bool,
}

impl HelmArgs {
    fn apply(&self, config: &mut Config) {
        if let Some(c) = &self.chart_cache {
            config.helm.cache = Some(std::path::absolute(c).unwrap_or_else(|_| c.clone()));
        }
        config.helm.offline |= self.offline;
    }
}

#[derive(Subcommand)]
enum HookCommand {
    /// Write `pre-push` into the repository's hooks directory. It validates each pushed ref
    /// (with `--base` against what the remote has, when this fluxgate supports it) and blocks
    /// the push on error findings. The binary is this executable's absolute path; the
    /// environment variable FLUXGATE overrides it when the hook runs.
    Install {
        /// Replace an existing pre-push hook that fluxgate did not write.
        #[arg(long)]
        force: bool,
        /// Repository root (default: the current directory).
        #[arg(default_value = ".")]
        root: PathBuf,
    },
    /// Remove the pre-push hook if (and only if) fluxgate wrote it.
    Uninstall {
        /// Repository root (default: the current directory).
        #[arg(default_value = ".")]
        root: PathBuf,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Write a commented starter `.fluxgate.yaml` (every built-in rule with its default).
    Init {
        /// Replace an existing `.fluxgate.yaml`.
        #[arg(long)]
        force: bool,
        /// Repository root (default: the current directory).
        #[arg(default_value = ".")]
        root: PathBuf,
    },
}

#[derive(Subcommand)]
enum SchemasCommand {
    /// Copy the CRDs found in YAML files or directories (a chart's crds/, an operator's release
    /// manifest) into the schema catalog, one file per group/kind/version.
    Import {
        /// CRD files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Repository root whose config names the catalog (default: the current directory).
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// Catalog directory (default: the config's `schemas.catalog`, `.fluxgate/schemas/`).
        #[arg(long)]
        catalog: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// Compiler-style report for people.
    Text,
    /// One JSON document (see the README for its fields).
    Json,
    /// SARIF 2.1.0 (code scanning, IDEs).
    Sarif,
    /// TeamCity service messages: test suites and tests streamed into the build log.
    Teamcity,
}

#[derive(Clone, Copy, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum FailOn {
    Error,
    Warning,
}

#[derive(clap::Args)]
struct ValidateArgs {
    /// Repository root (default: the current directory).
    #[arg(default_value = ".")]
    root: PathBuf,
    /// Format of the report on stdout.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Also write a JUnit XML report to this file (TeamCity's XML Report Processing reads it).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Also write the JSON report to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Also write a SARIF 2.1.0 report to this file.
    #[arg(long, value_name = "FILE")]
    sarif: Option<PathBuf>,
    #[command(flatten)]
    run: RunArgs,
    /// Lowest severity that fails the run (exit code 1).
    #[arg(long, value_enum, default_value = "error")]
    fail_on: FailOn,
    /// When to colour the terminal report.
    #[arg(long, value_enum, default_value = "auto")]
    color: ColorChoice,
    /// Check and report only shard I of N (e.g. `2/4`), to fan a large repository out across CI
    /// agents. The split is deterministic (by entry point name and rendered size), so the N
    /// shards' reports together equal one unsharded report; findings outside every entry point
    /// go to shard 1.
    #[arg(long, value_name = "I/N")]
    shard: Option<fluxgate::shard::Shard>,
    /// Check only the entry points whose inputs differ between `git merge-base REF HEAD` and
    /// the working tree (committed, staged, unstaged and untracked files).
    #[arg(long, value_name = "REF")]
    base: Option<String>,
    /// With --base: also write the Markdown object diff of the affected entry points to FILE
    /// (to publish as a build artifact or PR comment).
    #[arg(long, value_name = "FILE", requires = "base")]
    diff_markdown: Option<PathBuf>,
}

/// Flags that set up a checking run, shared by `validate` and `audit`.
#[derive(clap::Args)]
struct RunArgs {
    /// Skip paths matching this glob (relative to the root); repeatable. Adds to the config's `ignore`.
    #[arg(long, value_name = "GLOB")]
    ignore: Vec<String>,
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
    /// Target Kubernetes version for schemas and API removals (e.g. 1.36; default: the
    /// config's `kubernetesVersion`, else the newest bundled).
    #[arg(long, value_name = "VERSION")]
    kubernetes_version: Option<String>,
    /// Extra CRD file or directory (inside the repository) whose CRDs provide schemas; repeatable.
    #[arg(long, value_name = "PATH")]
    crds: Vec<String>,
    /// A Flux post-build variable whose value lives only in the cluster (NAME=VALUE);
    /// repeatable. Overrides the config's `flux.variables`; a Kustomization's own
    /// `substitute`/`substituteFrom` win over both.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = config::parse_var)]
    vars: Vec<(String, String)>,
    #[command(flatten)]
    helm: HelmArgs,
}

impl RunArgs {
    /// Loads ROOT's config with these flags applied, sizes the worker pool and opens the
    /// repository under the config's limits.
    fn setup(&self, root: &Path) -> Result<(Config, Repo), String> {
        if !root.is_dir() {
            return Err(format!("{} is not a directory", root.display()));
        }
        let mut config = load_config(root)?;
        config.add_ignores(&self.ignore)?;
        if self.kubernetes_version.is_some() {
            config.kubernetes_version = self.kubernetes_version.clone();
        }
        config.crds.extend(self.crds.iter().cloned());
        config.flux.variables.extend(self.vars.iter().cloned());
        self.helm.apply(&mut config);
        if let Some(j) = self.jobs {
            rayon::ThreadPoolBuilder::new().num_threads(j.max(1)).build_global().map_err(|e| e.to_string())?;
        }
        let repo = open_repo(root, &config)?;
        Ok((config, repo))
    }
}

/// Opens a repository root for a run under the config's input limits.
fn open_repo(root: &Path, config: &Config) -> Result<Repo, String> {
    let mut repo = Repo::open(root).map_err(|e| format!("cannot open {}: {e}", root.display()))?;
    repo.limits = config.limits.clone();
    Ok(repo)
}

#[derive(clap::Args)]
struct AuditArgs {
    /// Repository root (default: the current directory).
    #[arg(default_value = ".")]
    root: PathBuf,
    /// Write the self-contained HTML report to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Write the audit JSON document (schemaVersion 1, docs/audit.schema.json) to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write a Markdown summary to FILE.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// A previous audit's JSON: show what got better or worse since then.
    #[arg(long, value_name = "PREVIOUS.json")]
    compare: Option<PathBuf>,
    /// Text shown as the report's generation time (no clock is read, so output is reproducible).
    #[arg(long, value_name = "TEXT")]
    generated_at: Option<String>,
    /// Exit 1 when findings of this severity (or worse) remain; without it the audit exits 0
    /// whenever it wrote its reports.
    #[arg(long, value_enum)]
    fail_on: Option<FailOn>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum DiffFormat {
    /// Plain text for a terminal or build log.
    Text,
    /// Markdown for a pull request comment (one collapsible section per entry point).
    Markdown,
    /// One JSON document (see the README for its fields).
    Json,
}

#[derive(clap::Args)]
struct DiffArgs {
    /// Repository root (default: the current directory).
    #[arg(default_value = ".")]
    root: PathBuf,
    /// The ref the change will merge into (`origin/main`); compared at `git merge-base REF HEAD`.
    #[arg(long, value_name = "REF")]
    base: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: DiffFormat,
    /// Most bytes of object diff text to print; further object diffs are left out with a note.
    #[arg(long, value_name = "N", default_value_t = fluxgate::diff::DEFAULT_MAX_BYTES)]
    max_bytes: usize,
    /// A Flux post-build variable whose value lives only in the cluster (NAME=VALUE); repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = config::parse_var)]
    vars: Vec<(String, String)>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Restrictor {
    #[value(name = "LoadRestrictionsRootOnly")]
    RootOnly,
    #[value(name = "LoadRestrictionsNone")]
    None,
}

#[derive(clap::Args)]
struct RenderArgs {
    /// The kustomization directory (with --flux: the repository root, default `.`).
    #[arg(required_unless_present = "flux")]
    dir: Option<PathBuf>,
    /// Print what Flux applies for this Flux entry point (`clusters/production/flux-system/apps`,
    /// as `validate` lists it) instead of a plain kustomize build.
    #[arg(long, value_name = "ENTRY_POINT")]
    flux: Option<String>,
    /// With --flux: a post-build variable that lives only in the cluster; repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = config::parse_var, requires = "flux")]
    vars: Vec<(String, String)>,
    /// Which files a kustomization may read (kustomize's flag and default). Nothing outside
    /// the repository root is read either way.
    #[arg(long, value_enum, default_value = "LoadRestrictionsRootOnly")]
    load_restrictor: Restrictor,
    /// The repository root, which bounds what may be read (default: the enclosing git
    /// repository, else the directory itself).
    #[arg(long)]
    root: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(a) => validate(*a),
        Command::Audit(a) => audit(a),
        Command::Diff(a) => diff(a),
        Command::Render(a) => render(a),
        Command::Rules { root } => rules(&root),
        Command::Config(ConfigCommand::Init { force, root }) => config_init(&root, force),
        Command::Schemas(SchemasCommand::Import { paths, root, catalog }) => schemas_import(&paths, &root, catalog),
        Command::Hook(c) => hook(c),
        Command::Charts(ChartsCommand::Pull { root, helm }) => charts_pull(&root, &helm),
    };
    match result {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("fluxgate: {msg}");
            ExitCode::from(2)
        }
    }
}

fn load_config(root: &Path) -> Result<Config, String> {
    let p = root.join(config::FILE_NAME);
    match std::fs::read_to_string(&p) {
        Ok(text) => Config::parse(&text).map_err(|e| e.to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
        Err(e) => Err(format!("cannot read {}: {e}", p.display())),
    }
}

fn write_file(path: &Path, f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<(), String> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let file = std::fs::File::create(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let mut w = std::io::BufWriter::new(file);
    f(&mut w).and_then(|()| w.flush()).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn validate(a: ValidateArgs) -> Result<ExitCode, String> {
    let (config, repo) = a.run.setup(&a.root)?;
    let options = fluxgate::run::RunOptions { base: a.base.clone(), shard: a.shard, ..Default::default() };
    let report = fluxgate::run::validate_with(&repo, &config, &options)?;
    if let (Some(p), Some(base)) = (&a.diff_markdown, &a.base) {
        let d = fluxgate::diff::pr_diff(&repo, &config, base, fluxgate::diff::DEFAULT_MAX_BYTES)?;
        write_file(p, |w| fluxgate::report::diff::write_markdown(&d, w))?;
    }
    if let Some(p) = &a.junit {
        write_file(p, |w| junit::write_junit(&report, &repo, w))?;
    }
    if let Some(p) = &a.json {
        write_file(p, |w| json::write_json(&report, w))?;
    }
    if let Some(p) = &a.sarif {
        write_file(p, |w| fluxgate::report::sarif::write_sarif(&report, w))?;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let res = match a.format {
        Format::Json => json::write_json(&report, &mut out),
        Format::Sarif => fluxgate::report::sarif::write_sarif(&report, &mut out),
        Format::Teamcity => fluxgate::report::teamcity::write_teamcity(&report, &repo, &mut out),
        Format::Text => {
            let color = match a.color {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => {
                    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                }
            };
            terminal::write_terminal(&report, &repo, color, &mut out)
        }
    };
    if let Err(e) = res.and_then(|()| out.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(e.to_string());
    }
    let failing = report.findings.iter().filter(|f| f.suppressed.is_none()).any(|f| match a.fail_on {
        FailOn::Error => f.severity == Severity::Error,
        FailOn::Warning => f.severity <= Severity::Warning,
    });
    Ok(if failing { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Shows a progress bar on stderr (only when it is a terminal) while `progress` moves; stops
/// when `done` is set.
fn progress_bar(
    progress: std::sync::Arc<fluxgate::run::Progress>,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Option<std::thread::JoinHandle<()>> {
    use std::sync::atomic::Ordering;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    Some(std::thread::spawn(move || {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message("rendering entry points");
        let style = indicatif::ProgressStyle::with_template("{spinner} checking {bar:40} {pos}/{len} entry points")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        let mut styled = false;
        while !done.load(Ordering::Relaxed) {
            let total = progress.total.load(Ordering::Relaxed);
            if total > 0 {
                if !styled {
                    bar.set_style(style.clone());
                    bar.set_length(total as u64);
                    styled = true;
                }
                bar.set_position(progress.done.load(Ordering::Relaxed) as u64);
            } else {
                bar.tick();
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        bar.finish_and_clear();
    }))
}

/// `audit [ROOT]`: checks every entry point and writes the HTML/JSON/Markdown audit.
fn audit(a: AuditArgs) -> Result<ExitCode, String> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    if a.html.is_none() && a.json.is_none() && a.markdown.is_none() {
        return Err("audit needs at least one of --html FILE, --json FILE, --markdown FILE".into());
    }
    let previous = match &a.compare {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            Some(fluxgate::audit::read_json(&text).map_err(|e| format!("{}: {e}", p.display()))?)
        }
        None => None,
    };
    let (config, repo) = a.run.setup(&a.root)?;
    let config_text = std::fs::read_to_string(a.root.join(config::FILE_NAME)).ok();
    let progress = Arc::new(fluxgate::run::Progress::default());
    let done = Arc::new(AtomicBool::new(false));
    let bar = progress_bar(progress.clone(), done.clone());
    let options = fluxgate::run::RunOptions { progress: Some(progress), teams: true, ..Default::default() };
    let result = fluxgate::run::validate_with(&repo, &config, &options);
    done.store(true, Ordering::Relaxed);
    if let Some(b) = bar {
        let _ = b.join();
    }
    let report = result?;
    let input = fluxgate::audit::AuditInput {
        config: &config,
        config_text: config_text.as_deref(),
        generated_at: a.generated_at,
    };
    let mut doc = fluxgate::audit::build(&report, &repo, &input);
    if let Some(prev) = &previous {
        doc.compare = Some(fluxgate::audit::compare::compare(prev, &doc));
    }
    if let Some(p) = &a.json {
        write_file(p, |w| fluxgate::audit::write_json(&doc, w))?;
    }
    if let Some(p) = &a.html {
        write_file(p, |w| fluxgate::report::html::write_html(&doc, w))?;
    }
    if let Some(p) = &a.markdown {
        write_file(p, |w| fluxgate::report::markdown::write_markdown(&doc, w))?;
    }
    let failing = match a.fail_on {
        None => false,
        Some(FailOn::Error) => doc.summary.counts.errors > 0,
        Some(FailOn::Warning) => doc.summary.counts.errors + doc.summary.counts.warnings > 0,
    };
    Ok(if failing { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// `diff --base REF [ROOT]`: the object-level diff of the affected entry points.
fn diff(a: DiffArgs) -> Result<ExitCode, String> {
    if !a.root.is_dir() {
        return Err(format!("{} is not a directory", a.root.display()));
    }
    let mut config = load_config(&a.root)?;
    config.flux.variables.extend(a.vars.iter().cloned());
    let repo = open_repo(&a.root, &config)?;
    let report = fluxgate::diff::pr_diff(&repo, &config, &a.base, a.max_bytes)?;
    let mut out = std::io::stdout().lock();
    let res = match a.format {
        DiffFormat::Text => fluxgate::report::diff::write_text(&report, &mut out),
        DiffFormat::Markdown => fluxgate::report::diff::write_markdown(&report, &mut out),
        DiffFormat::Json => fluxgate::report::diff::write_json(&report, &mut out),
    };
    match res.and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.to_string()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// The repository root for `render`: `--root`, else the enclosing git work tree, else DIR.
fn render_root(a: &RenderArgs, dir: &Path) -> Result<PathBuf, String> {
    if let Some(r) = &a.root {
        return Ok(r.clone());
    }
    let dir = dir.canonicalize().map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut cur = Some(dir.as_path());
    while let Some(c) = cur {
        if c.join(".git").exists() {
            return Ok(c.to_path_buf());
        }
        cur = c.parent();
    }
    Ok(dir)
}

fn write_stdout(text: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.to_string()),
        _ => Ok(()),
    }
}

fn print_diag(repo: &Repo, d: &fluxgate::kustomize::diag::Diag) {
    let sev = fluxgate::finding::Finding::new(d.rule, "").severity;
    eprintln!("{}[{}]: {}{}", sev.as_str(), d.rule, d.message, at(repo, d.loc));
    if let Some(h) = &d.help {
        eprintln!("  = help: {h}");
    }
}

/// `render --flux NAME [ROOT]`: the objects Flux applies for one Flux entry point.
fn render_flux(a: &RenderArgs, name: &str) -> Result<ExitCode, String> {
    let root = a.root.clone().or_else(|| a.dir.clone()).unwrap_or_else(|| PathBuf::from("."));
    let mut config = load_config(&root)?;
    config.flux.variables.extend(a.vars.iter().cloned());
    let repo = open_repo(&root, &config)?;
    let entries = fluxgate::run::render_flux(&repo, &config);
    let Some(e) = entries.iter().find(|e| e.name == name) else {
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        return Err(format!("no Flux entry point '{name}'; found: {}", names.join(", ")));
    };
    match &e.result {
        Ok(rendered) => {
            let docs: Vec<&fluxgate::source::Node> = rendered.resources.iter().map(|r| &r.node).collect();
            write_stdout(&emit::emit_documents(&docs))?;
            let mut failed = false;
            for n in &rendered.notes {
                print_diag(&repo, n);
                failed |= n.fatal;
            }
            Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        Err(failed) => {
            for n in failed.notes.iter().chain(std::iter::once(&failed.error)) {
                print_diag(&repo, n);
            }
            Ok(ExitCode::from(1))
        }
    }
}

fn render(a: RenderArgs) -> Result<ExitCode, String> {
    if let Some(name) = a.flux.clone() {
        return render_flux(&a, &name);
    }
    let Some(arg_dir) = a.dir.clone() else { return Err("a kustomization directory is required".into()) };
    let root = render_root(&a, &arg_dir)?;
    let repo = Repo::open(&root).map_err(|e| format!("cannot open {}: {e}", root.display()))?;
    let Some(dir) = repo.rel_of(&arg_dir) else {
        return Err(format!("{} is not inside the repository root {}", arg_dir.display(), root.display()));
    };
    let restrictor = match a.load_restrictor {
        Restrictor::RootOnly => LoadRestrictor::RootOnly,
        Restrictor::None => LoadRestrictor::None,
    };
    let engine = Engine::new(&repo, restrictor);
    match engine.render(&dir) {
        Ok(rendered) => {
            let docs: Vec<&fluxgate::source::Node> = rendered.resources.iter().map(|r| &r.node).collect();
            let text = emit::emit_documents(&docs);
            let mut out = std::io::stdout().lock();
            if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                return Err(e.to_string());
            }
            for n in &rendered.notes {
                eprintln!("warning[{}]: {}{}", n.rule, n.message, at(&repo, n.loc));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(failed) => {
            let e = &failed.error;
            eprintln!("error[{}]: {}{}", e.rule, e.message, at(&repo, e.loc));
            if let Some(h) = &e.help {
                eprintln!("  = help: {h}");
            }
            Ok(ExitCode::from(1))
        }
    }
}

fn at(repo: &Repo, loc: fluxgate::source::Loc) -> String {
    fluxgate::run::location(repo, loc)
        .map(|l| format!("\n  --> {}:{}:{}", l.file, l.line, l.column))
        .unwrap_or_default()
}

fn rules(root: &Path) -> Result<ExitCode, String> {
    let config = load_config(root)?;
    let mut out = std::io::stdout().lock();
    for r in Rule::ALL {
        let (sev, envs) = fluxgate::policy::settings::severity_column(&config, *r);
        let _ = writeln!(out, "{:<28} {:<8} {}{envs}", r.id(), sev, r.summary());
    }
    Ok(ExitCode::SUCCESS)
}

fn config_init(root: &Path, force: bool) -> Result<ExitCode, String> {
    let p = root.join(config::FILE_NAME);
    if p.exists() && !force {
        return Err(format!("{} exists; use --force to replace it", p.display()));
    }
    std::fs::write(&p, fluxgate::policy::settings::starter_config())
        .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
    println!("wrote {}", p.display());
    Ok(ExitCode::SUCCESS)
}

fn schemas_import(paths: &[PathBuf], root: &Path, catalog: Option<PathBuf>) -> Result<ExitCode, String> {
    let config = load_config(root)?;
    let catalog = catalog.unwrap_or_else(|| root.join(&config.schema_catalog));
    let result = fluxgate::schema::import::import(paths, &catalog).map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    for (file, outcome) in &result.files {
        let what = match outcome {
            fluxgate::schema::import::Outcome::Added => "added",
            fluxgate::schema::import::Outcome::Updated => "updated",
            fluxgate::schema::import::Outcome::Unchanged => "unchanged",
        };
        let _ = writeln!(out, "{what:<9} {}", catalog.join(file).display());
    }
    for (file, err) in &result.errors {
        eprintln!("fluxgate: skipped {}: {err}", file.display());
    }
    let _ = writeln!(out, "{} CRD versions in {}", result.files.len(), catalog.display());
    Ok(if result.errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// `charts pull [ROOT]`: fills the chart cache for every HelmRelease.
fn charts_pull(root: &Path, helm: &HelmArgs) -> Result<ExitCode, String> {
    if !root.is_dir() {
        return Err(format!("{} is not a directory", root.display()));
    }
    let mut config = load_config(root)?;
    helm.apply(&mut config);
    let repo = open_repo(root, &config)?;
    let flux = fluxgate::run::render_flux(&repo, &config);
    let pulled = fluxgate::helm::release::pull_all(&repo, &config, &flux)?;
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    for p in &pulled {
        match &p.result {
            Ok(path) => {
                let _ = writeln!(out, "cached  {} -> {} ({})", p.chart, path.display(), p.releases.join(", "));
            }
            Err(e) => {
                failed = true;
                eprintln!(
                    "fluxgate: {} ({}): {e}",
                    if p.chart.is_empty() { "chart" } else { &p.chart },
                    p.releases.join(", ")
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "{} charts in {}",
        pulled.iter().filter(|p| p.result.is_ok()).count(),
        config.helm.cache_root(root).display()
    );
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn hook(c: HookCommand) -> Result<ExitCode, String> {
    use fluxgate::hook::{self, Installed};
    match c {
        HookCommand::Install { force, root } => {
            let exe = std::env::current_exe().map_err(|e| format!("cannot find the fluxgate executable: {e}"))?;
            // An absolute, symlink-free path keeps working whatever directory git runs the hook in.
            let exe = exe.canonicalize().unwrap_or(exe);
            match hook::install(&root, &exe, force)? {
                Installed::Created(p) => println!("installed {}", p.display()),
                Installed::Replaced(p) => println!("replaced {}", p.display()),
            }
        }
        HookCommand::Uninstall { root } => match hook::uninstall(&root)? {
            Some(p) => println!("removed {}", p.display()),
            None => println!("no pre-push hook installed"),
        },
    }
    Ok(ExitCode::SUCCESS)
}
