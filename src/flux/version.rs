//! Which Flux version the repository installs, and so whether post-build substitution is
//! strict: from Flux 2.9 (kustomize-controller 1.9) an unset `${VAR}` without a default fails
//! the build; before, it becomes an empty string. The version is read from what installs
//! Flux: a `flux bootstrap` `gotk-components.yaml` (its `# Flux Version:` header or the
//! `app.kubernetes.io/version` label), a Flux Operator `FluxInstance`
//! (`spec.distribution.version`, a semver range such as `2.x`), or a HelmRelease of the
//! operator's `flux-instance` chart (`values.instance.distribution.version`).

use rayon::prelude::*;
use semver::{Version, VersionReq};

use crate::discover::{Discovery, Needle};
use crate::source::{Node, RelPath, Repo};

/// The first Flux release whose substitution is strict by default.
const STRICT_SINCE: (u64, u64) = (2, 9);

/// A Flux version the repository installs, and where it says so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Installed {
    /// As written: `v2.9.1`, `2.x`, `2.8.x`.
    pub version: String,
    /// `file:line` of the declaration.
    pub at: String,
    /// Whether that version (for a range: the newest release it allows, which the operator
    /// installs) substitutes strictly.
    pub strict: bool,
    /// Installed by the Flux Operator (a FluxInstance or its flux-instance chart), whose
    /// distribution patches the notification CRDs to accept the operator's kinds.
    pub by_operator: bool,
}

/// How substitution behaves for a run, and the words that explain it in findings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Substitution {
    pub strict: bool,
    /// Names the version (or setting) that decides, e.g. `Flux v2.9.1 (installed by
    /// clusters/prod/flux-system/gotk-components.yaml:3)`.
    pub why: String,
}

/// Decides strict or lenient substitution: the config's `flux.substitution` when set, else
/// the installed version (the oldest, when the repository installs several: a finding must
/// hold for every cluster to be an error), else Flux 2.9's strict default.
pub fn substitution(configured: Option<bool>, installed: &[Installed]) -> Substitution {
    if let Some(strict) = configured {
        let mode = if strict { "strict" } else { "lenient" };
        return Substitution { strict, why: format!("flux.substitution: {mode} in .fluxgate.yaml") };
    }
    let lenient = installed.iter().find(|i| !i.strict);
    match lenient.or(installed.first()) {
        Some(i) => Substitution { strict: i.strict, why: format!("Flux {} (installed by {})", i.version, i.at) },
        None => Substitution {
            strict: true,
            why: "Flux 2.9 or later (the repository shows no Flux version; set flux.substitution to change)"
                .to_string(),
        },
    }
}

/// Every Flux version the repository's files install, sorted by file.
pub fn installed(repo: &Repo, discovery: &Discovery) -> Vec<Installed> {
    let mut out = Vec::new();
    for p in &discovery.yaml_files {
        if p.file_name() == "gotk-components.yaml"
            && let Some(i) = from_components(repo, p)
        {
            out.push(i);
        }
    }
    // Reads every kustomization file: in parallel, in order.
    out.extend(
        discovery.kustomize_dirs.par_iter().filter_map(|dir| from_remote_install(repo, dir)).collect::<Vec<_>>(),
    );
    for p in discovery.files_with(&[Needle::FluxInstance, Needle::FluxInstanceChart]) {
        let Ok(parsed) = repo.load_yaml(&p) else { continue };
        for doc in &parsed.docs {
            if let Some((v, line)) = operator_version(doc) {
                let newest = distribution_artifact(doc).and_then(|a| newest_flux_of_artifact(&a));
                let (strict, v) = match newest {
                    Some((minor, text)) => (range_is_strict(&v) && minor >= STRICT_SINCE, format!("{v}, {text}")),
                    None => (range_is_strict(&v), v),
                };
                out.push(Installed { strict, version: v, at: format!("{p}:{line}"), by_operator: true });
            }
        }
    }
    out.sort_by(|a, b| a.at.cmp(&b.at));
    out
}

/// A kustomization that installs Flux from its release: a remote base
/// `github.com/fluxcd/flux2/manifests/install?ref=v0.31.4` or the release asset
/// `.../fluxcd/flux2/releases/download/v2.3.0/install.yaml`.
fn from_remote_install(repo: &Repo, dir: &RelPath) -> Option<Installed> {
    let file = crate::kustomize::build::kustomization_file(repo, dir)?;
    let f = repo.read(&file).ok()?;
    // One search of the whole text: most kustomizations name no Flux release at all.
    memchr::memmem::find(f.text.as_bytes(), b"fluxcd/flux2/")?;
    for (i, line) in f.text.lines().enumerate() {
        let Some(at) = line.find("fluxcd/flux2/") else { continue };
        let rest = &line[at..];
        let version = if let Some((_, r)) = rest.split_once("manifests/install?ref=") {
            r
        } else if let Some((_, r)) = rest.split_once("releases/download/") {
            r.split('/').next().unwrap_or("")
        } else {
            continue;
        };
        let version: String = version.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '.').collect();
        if version.trim_start_matches('v').starts_with(|c: char| c.is_ascii_digit()) {
            return Some(Installed {
                strict: range_is_strict(&version),
                version,
                at: format!("{file}:{}", i + 1),
                by_operator: false,
            });
        }
    }
    None
}

/// `# Flux Version: v2.9.1` in the header, else the first `app.kubernetes.io/version` label.
fn from_components(repo: &Repo, p: &RelPath) -> Option<Installed> {
    let f = repo.read(p).ok()?;
    for (i, line) in f.text.lines().enumerate() {
        let t = line.trim();
        let v = t
            .strip_prefix("# Flux Version:")
            .or_else(|| t.strip_prefix("app.kubernetes.io/version:"))
            .map(|v| v.trim().trim_matches(['"', '\'']));
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            return Some(Installed {
                strict: range_is_strict(v),
                version: v.to_string(),
                at: format!("{p}:{}", i + 1),
                by_operator: false,
            });
        }
    }
    None
}

/// The Flux version a Flux Operator install asks for, and its line: a FluxInstance's
/// `spec.distribution.version`, or a flux-instance chart HelmRelease's
/// `values.instance.distribution.version` (the chart's default is `2.x`). A distribution given
/// only as an artifact has no version (`*`: the newest).
fn operator_version(doc: &Node) -> Option<(String, u32)> {
    let kind = doc.str_at(&["kind"])?;
    let api = doc.str_at(&["apiVersion"])?;
    let (path, default): (&[&str], &str) = if kind == "FluxInstance" && api.starts_with("fluxcd.controlplane.io/") {
        (&["spec", "distribution", "version"], "*")
    } else if kind == "HelmRelease" && api.starts_with("helm.toolkit.fluxcd.io/") && installs_flux_instance(doc) {
        (&["spec", "values", "instance", "distribution", "version"], "2.x")
    } else {
        return None;
    };
    match doc.path(path) {
        Some(n) => Some((n.scalar_text().unwrap_or_default(), n.loc.line)),
        None if default == "*" => Some(("* (no distribution.version: the newest)".to_string(), doc.loc.line)),
        None => Some((format!("{default} (the flux-instance chart's default)"), doc.loc.line)),
    }
}

/// The distribution artifact a FluxInstance (or flux-instance chart HelmRelease) pins:
/// `spec.distribution.artifact` / `values.instance.distribution.artifact`.
fn distribution_artifact(doc: &Node) -> Option<String> {
    let path: &[&str] = if doc.str_at(&["kind"]) == Some("FluxInstance") {
        &["spec", "distribution", "artifact"]
    } else {
        &["spec", "values", "instance", "distribution", "artifact"]
    };
    doc.str_at(path).map(str::to_string)
}

/// A release `major.minor.patch`, and a `major.minor` line.
type Triple = (u64, u64, u64);
type Minor = (u64, u64);

/// The Flux Operator releases from which the `flux-operator-manifests` artifact ships a newer
/// Flux minor release (the operator's `config/data/flux-images/VERSION` at each tag), newest
/// first: the operator installs the newest release a `2.x` range allows among those.
const OPERATOR_FLUX: &[(Triple, Minor)] =
    &[((0, 53, 0), (2, 9)), ((0, 42, 1), (2, 8)), ((0, 30, 0), (2, 7)), ((0, 0, 0), (2, 6))];

/// The newest Flux minor release that a pinned `flux-operator-manifests:vX.Y.Z` artifact
/// holds, with words for the finding; `None` for `latest`, a digest, or another artifact
/// (nothing bounds the range then).
fn newest_flux_of_artifact(artifact: &str) -> Option<((u64, u64), String)> {
    let (_, tag) = artifact.rsplit_once("flux-operator-manifests:")?;
    let v = Version::parse(tag.trim_start_matches('v')).ok()?;
    let (_, newest) = OPERATOR_FLUX.iter().find(|(op, _)| (v.major, v.minor, v.patch) >= *op)?;
    let words = if *newest >= STRICT_SINCE {
        format!("from distribution artifact flux-operator-manifests:{tag}")
    } else {
        format!("at most Flux {}.{} in distribution artifact flux-operator-manifests:{tag}", newest.0, newest.1)
    };
    Some((*newest, words))
}

/// The HelmRelease (`file:line`) of an admission webhook that mutates every Flux
/// Kustomization at admission, adding `substituteFrom` (the `kustomize-mutating-webhook`
/// chart): what the cluster substitutes then differs from what the repository shows.
pub fn injecting_webhook(repo: &Repo, discovery: &Discovery) -> Option<String> {
    for p in discovery.files_with(&[Needle::KustomizationWebhook]) {
        let Ok(parsed) = repo.load_yaml(&p) else { continue };
        for doc in &parsed.docs {
            let is_release = doc.str_at(&["kind"]) == Some("HelmRelease")
                && doc.str_at(&["apiVersion"]).is_some_and(|a| a.starts_with("helm.toolkit.fluxcd.io/"));
            let chart =
                doc.str_at(&["spec", "chart", "spec", "chart"]).or_else(|| doc.str_at(&["spec", "chartRef", "name"]));
            if is_release && chart.is_some_and(|c| c.contains("kustomize-mutating-webhook")) {
                return Some(format!("{p}:{}", doc.loc.line));
            }
        }
    }
    None
}

/// Whether a HelmRelease installs the Flux Operator's `flux-instance` chart (its chart or
/// chartRef is named so, or its values have the chart's `instance.sync`/`instance.distribution`).
pub fn installs_flux_instance(hr: &Node) -> bool {
    let chart = hr.str_at(&["spec", "chart", "spec", "chart"]).or_else(|| hr.str_at(&["spec", "chartRef", "name"]));
    chart.is_some_and(|c| c.contains("flux-instance"))
        || ["sync", "distribution"].iter().any(|k| hr.path(&["spec", "values", "instance", k]).is_some())
}

/// Whether a version or range installs a Flux with strict substitution: an exact version
/// from 2.9 on, or a range whose newest allowed release is (`2.x`, `*`, `>=2.3`).
pub fn range_is_strict(v: &str) -> bool {
    // Only the version itself, without an explanation in parentheses.
    let v = v.split(" (").next().unwrap_or(v).trim().trim_start_matches('v');
    if let Ok(exact) = Version::parse(v) {
        return (exact.major, exact.minor) >= STRICT_SINCE;
    }
    let Ok(req) = VersionReq::parse(v) else {
        // Unreadable: assume the current release, as the operator would fail to resolve it
        // and the user's intent is most likely "latest".
        return true;
    };
    let probes = [(2, 9, 0), (2, 9, 99), (2, 10, 0), (2, 99, 0), (3, 0, 0), (99, 0, 0)];
    probes.iter().any(|&(ma, mi, pa)| req.matches(&Version::new(ma, mi, pa)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strictness_follows_the_version_or_the_newest_release_of_a_range() {
        for (v, strict) in [
            ("v2.9.0", true),
            ("2.9.4", true),
            ("v2.8.3", false),
            ("2.4.0", false),
            ("2.x", true),
            ("2.8.x", false),
            ("2.9.x", true),
            ("*", true),
            ("<2.9.0", false),
            (">=2.3.0", true),
            ("v3.0.0", true),
        ] {
            assert_eq!(range_is_strict(v), strict, "{v}");
        }
    }

    #[test]
    fn a_pinned_operator_artifact_bounds_the_newest_flux() {
        let (m, words) = newest_flux_of_artifact("oci://ghcr.io/controlplaneio-fluxcd/flux-operator-manifests:v0.46.0")
            .expect("pinned");
        assert_eq!(m, (2, 8));
        assert!(words.contains("at most Flux 2.8"), "{words}");
        assert_eq!(newest_flux_of_artifact("oci://x/flux-operator-manifests:v0.53.0").map(|x| x.0), Some((2, 9)));
        assert_eq!(newest_flux_of_artifact("oci://x/flux-operator-manifests:v0.42.0").map(|x| x.0), Some((2, 7)));
        assert_eq!(newest_flux_of_artifact("oci://x/flux-operator-manifests:latest"), None);
        assert_eq!(newest_flux_of_artifact("oci://x/other:v0.46.0"), None);
    }

    #[test]
    fn a_remote_flux_install_names_its_version() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |p: &str, t: &str| {
            std::fs::create_dir_all(dir.path().join(p).parent().expect("parent")).expect("mkdir");
            std::fs::write(dir.path().join(p), t).expect("write");
        };
        write("a/kustomization.yaml", "resources:\n  - github.com/fluxcd/flux2/manifests/install?ref=v0.31.4\n");
        write(
            "b/kustomization.yaml",
            "resources:\n  - https://github.com/fluxcd/flux2/releases/download/v2.9.0/install.yaml\n",
        );
        let repo = Repo::open(dir.path()).expect("repo");
        let a = from_remote_install(&repo, &RelPath::parse("a").expect("a")).expect("found");
        assert_eq!((a.version.as_str(), a.at.as_str(), a.strict), ("v0.31.4", "a/kustomization.yaml:2", false));
        let b = from_remote_install(&repo, &RelPath::parse("b").expect("b")).expect("found");
        assert_eq!((b.version.as_str(), b.strict), ("v2.9.0", true));
    }

    #[test]
    fn config_wins_then_the_oldest_lenient_install_then_the_default() {
        let i =
            |v: &str, strict| Installed { version: v.into(), at: format!("{v}.yaml:1"), strict, by_operator: false };
        let s = substitution(Some(false), &[i("v2.9.0", true)]);
        assert!(!s.strict && s.why.contains("flux.substitution"), "{s:?}");
        let s = substitution(None, &[i("v2.9.0", true), i("v2.7.0", false)]);
        assert!(!s.strict && s.why.contains("v2.7.0"), "{s:?}");
        let s = substitution(None, &[i("2.x", true)]);
        assert!(s.strict && s.why.contains("Flux 2.x (installed by 2.x.yaml:1)"), "{s:?}");
        assert!(substitution(None, &[]).strict);
    }
}
