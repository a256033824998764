//! The PR gate never misses a changed entry point: seeded single-file mutations of the
//! fixture repositories (plain overlays and Flux entry points), each checked against the full
//! render and findings before and after (see `tests/mutation/mod.rs`). More, on any checkout:
//! `cargo run --release --example mutate -- DIR N SEED`.

mod mutation;

use std::path::Path;
use std::process::{Command, Stdio};

fn have_git() -> bool {
    let ok = Command::new("git").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: `git` is not installed");
    }
    ok
}

/// A Flux Kustomization in `flux-system` building `path` from the GitRepository `source`.
fn flux_ks(name: &str, path: &str, source: &str) -> String {
    format!(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {name}\n  namespace: flux-system\nspec:\n  path: {path}\n  sourceRef:\n    kind: GitRepository\n    name: {source}\n"
    )
}

/// Fixture repositories and how many mutations each gets (bounded for a debug build).
const CASES: &[(&str, usize)] = &[
    ("gate-components", 10),
    ("flux-gsf", 4),
    ("broken", 4),
    ("flux-graph/40-dependency-missing", 2),
    ("flux-graph/45-values-from-missing", 2),
    ("flux-graph/49-clean", 2),
    ("kustomize/019-bases-overlay-patch", 2),
    ("kustomize/022-components-resources-generators-patches", 2),
    ("kustomize/025-components-nested-in-base", 2),
];

#[test]
fn base_checks_every_entry_point_a_mutation_changes() {
    if !have_git() {
        return;
    }
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let (mut mutations, mut changed, mut missed) = (0, 0, Vec::new());
    for (i, (dir, n)) in CASES.iter().enumerate() {
        let t = mutation::run(&fixtures.join(dir), *n, 17 + i as u64, |_| {});
        println!(
            "{dir}: {} mutations, {} changed, {} missed, {} over-selected",
            t.mutations,
            t.changed,
            t.missed.len(),
            t.over
        );
        mutations += t.mutations;
        changed += t.changed;
        missed.extend(t.missed.into_iter().map(|m| format!("{dir}: {m}")));
    }
    assert!(mutations >= 25, "only {mutations} mutations applied");
    assert!(changed > 0, "no mutation changed any entry point");
    assert!(missed.is_empty(), "--base missed changed entry points:\n{}", missed.join("\n"));
}

#[test]
fn the_generator_is_deterministic_and_changes_one_file() {
    if !have_git() {
        return;
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/gate-components");
    let a = mutation::committed_copy(&src);
    let b = mutation::committed_copy(&src);
    for kind in [mutation::Kind::RenameObject, mutation::Kind::ChangeImage, mutation::Kind::BreakPatchTarget] {
        let fa = mutation::mutate(a.path(), kind, &mut mutation::Rng::new(5));
        let fb = mutation::mutate(b.path(), kind, &mut mutation::Rng::new(5));
        assert!(fa.is_some(), "{kind:?} applies to gate-components");
        assert_eq!(fa, fb);
        let out = Command::new("git").arg("-C").arg(a.path()).args(["status", "--porcelain"]).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1, "{kind:?} changes one file");
        Command::new("git").arg("-C").arg(a.path()).args(["checkout", "-q", "--", "."]).status().unwrap();
        Command::new("git").arg("-C").arg(b.path()).args(["checkout", "-q", "--", "."]).status().unwrap();
    }
}

/// An overlay whose kustomization stops being one document fails before it reads its base, so
/// the base becomes a leaf (with the leaf-only checks): `--base` must check the base too.
#[test]
fn a_kustomization_that_stops_parsing_selects_the_bases_it_named() {
    if !have_git() {
        return;
    }
    let files = [
        ("base/kustomization.yaml", "resources: [svc.yaml]\n"),
        ("base/svc.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80\n"),
        ("overlay/kustomization.yaml", "namespace: shop\nresources: [../base]\n"),
    ];
    let repo = mutation::committed_files(&files);
    let before = mutation::state(repo.path());
    let k = repo.path().join("overlay/kustomization.yaml");
    let text =
        std::fs::read_to_string(&k).unwrap() + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n";
    std::fs::write(&k, text).unwrap();
    let o = mutation::judge(repo.path(), &before, mutation::Kind::AddDocument, "overlay/kustomization.yaml".into());
    assert!(o.changed.contains("base"), "the base's leaf-only findings change: {:?}", o.changed);
    assert!(o.missed.is_empty(), "--base missed {:?}", o.missed);
}

/// Kustomizations that something outside the repository syncs (no flux-system in the repo):
/// renaming the ConfigMap one substitutes from changes it though no file it reads changed, and
/// renaming one removes its entry point (reported, with what it applied).
#[test]
fn renamed_substitution_sources_and_renamed_roots_are_caught() {
    if !have_git() {
        return;
    }
    let files = [
        (
            "clusters/x/apps.yaml",
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n  namespace: flux-system\nspec:\n  path: ./apps\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n  postBuild:\n    substituteFrom:\n    - kind: ConfigMap\n      name: vars\n",
        ),
        (
            "clusters/x/vars.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: vars\n  namespace: flux-system\ndata:\n  tag: \"1.2\"\n",
        ),
        ("apps/kustomization.yaml", "resources: [cm.yaml]\n"),
        (
            "apps/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: web\ndata:\n  tag: ${tag}\n",
        ),
    ];
    let repo = mutation::committed_files(&files);
    let before = mutation::state(repo.path());
    let apps = "clusters/x/flux-system/apps";
    assert!(before.entries.contains_key(apps), "{:?}", before.entries.keys());
    let rename = |file: &str, from: &str, to: &str| {
        let p = repo.path().join(file);
        std::fs::write(&p, std::fs::read_to_string(&p).unwrap().replace(from, to)).unwrap();
    };
    rename("clusters/x/vars.yaml", "name: vars", "name: vars2");
    let o = mutation::judge(repo.path(), &before, mutation::Kind::RenameObject, "clusters/x/vars.yaml".into());
    assert!(o.changed.contains(apps), "{:?}", o.changed);
    assert!(o.missed.is_empty(), "--base missed {:?}", o.missed);
    Command::new("git").arg("-C").arg(repo.path()).args(["checkout", "-q", "--", "."]).status().unwrap();
    rename("clusters/x/apps.yaml", "name: apps", "name: shop");
    let o = mutation::judge(repo.path(), &before, mutation::Kind::RenameObject, "clusters/x/apps.yaml".into());
    assert!(o.changed.contains(apps) && o.changed.contains("clusters/x/flux-system/shop"), "{:?}", o.changed);
    assert!(o.missed.is_empty(), "--base missed {:?}", o.missed);
}

/// A cluster root that syncs itself (its path holds its own file) is named after its
/// `spec.path`: moving the path (to another directory or one that does not exist) renames it,
/// so the old root is reported removed and counted checked.
#[test]
fn a_moved_root_path_reports_the_old_root() {
    if !have_git() {
        return;
    }
    let ks = |name: &str, path: &str| flux_ks(name, path, "cluster");
    let git_repo = "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: cluster\n  namespace: flux-system\nspec:\n  url: https://example.com/ops\n  ref:\n    branch: main\n---\n";
    let root = format!("{git_repo}{}", ks("cluster", "./cluster/flux"));
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  namespace: default\n";
    let files = [
        ("cluster/flux/flux-system/cluster.yaml", root.as_str()),
        ("cluster/flux/flux-system/kustomization.yaml", "resources: [cluster.yaml]\n"),
        ("cluster/flux/apps.yaml", &ks("apps", "./cluster/apps")),
        ("cluster/apps/kustomization.yaml", "resources: [cm.yaml]\n"),
        ("cluster/apps/cm.yaml", cm),
        ("other/kustomization.yaml", "resources: [cm.yaml]\n"),
        ("other/cm.yaml", cm),
    ];
    let repo = mutation::committed_files(&files);
    let before = mutation::state(repo.path());
    let name = "cluster/flux/flux-system/cluster";
    assert!(before.entries.contains_key(name), "{:?}", before.entries.keys());
    let p = repo.path().join("cluster/flux/flux-system/cluster.yaml");
    for to in ["./other", "./does-not-exist"] {
        std::fs::write(&p, root.replace("./cluster/flux", to)).unwrap();
        let o = mutation::judge(
            repo.path(),
            &before,
            mutation::Kind::FluxPath,
            "cluster/flux/flux-system/cluster.yaml".into(),
        );
        assert!(o.changed.contains(name), "{to}: {:?}", o.changed);
        assert!(o.missed.is_empty(), "{to}: --base missed {:?}", o.missed);
        Command::new("git").arg("-C").arg(repo.path()).args(["checkout", "-q", "--", "."]).status().unwrap();
    }
}

/// A bootstrapped cluster directory (`flux-system/gotk-components.yaml`) is synced by Flux
/// even when its last Flux Kustomization is deleted: the cluster root stays an entry point, so
/// the deletion that changes it is checked.
#[test]
fn deleting_the_last_flux_kustomization_checks_the_cluster_root() {
    if !have_git() {
        return;
    }
    let apps = flux_ks("apps", "./apps", "flux-system");
    let files = [
        ("clusters/test/flux-system/gotk-components.yaml", "# written by flux bootstrap\n"),
        ("clusters/test/flux-system/gotk-sync.yaml", "# written by flux bootstrap\n"),
        ("clusters/test/flux-system/kustomization.yaml", "resources: [gotk-components.yaml, gotk-sync.yaml]\n"),
        ("clusters/test/apps.yaml", apps.as_str()),
        ("apps/kustomization.yaml", "resources: [cm.yaml]\n"),
        ("apps/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: default\n"),
    ];
    let repo = mutation::committed_files(&files);
    let before = mutation::state(repo.path());
    let root = "clusters/test/flux-system/flux-system";
    assert!(before.entries.contains_key(root), "{:?}", before.entries.keys());
    std::fs::remove_file(repo.path().join("clusters/test/apps.yaml")).unwrap();
    let o = mutation::judge(repo.path(), &before, mutation::Kind::DeleteFile, "clusters/test/apps.yaml".into());
    assert!(o.changed.contains(root), "{:?}", o.changed);
    assert!(o.missed.is_empty(), "--base missed {:?}", o.missed);
}

/// An overlay that fails on its first base still names its second: the second stays a base
/// (no leaf-only findings appear on it), so the one change that breaks the first base changes
/// only the entry points that read it.
#[test]
fn a_failed_overlay_keeps_the_bases_it_names_after_the_failure() {
    if !have_git() {
        return;
    }
    let svc = "apiVersion: v1\nkind: Service\nmetadata:\n  name: gw\n  namespace: gw\nspec:\n  selector:\n    app: gateway\n  ports:\n  - port: 80\n";
    let files = [
        ("top/kustomization.yaml", "resources:\n- ../auth\n- ../gateway\n"),
        ("auth/kustomization.yaml", "resources:\n- cm.yaml\n- route.yaml\n"),
        ("auth/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: auth\n  namespace: auth\n"),
        ("auth/route.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: route\n  namespace: auth\n"),
        ("gateway/kustomization.yaml", "resources:\n- svc.yaml\n"),
        ("gateway/svc.yaml", svc),
    ];
    let repo = mutation::committed_files(&files);
    let before = mutation::state(repo.path());
    assert!(before.entries.contains_key("gateway"), "{:?}", before.entries.keys());
    std::fs::remove_file(repo.path().join("auth/route.yaml")).unwrap();
    let o = mutation::judge(repo.path(), &before, mutation::Kind::DeleteFile, "auth/route.yaml".into());
    assert!(o.changed.contains("top") && o.changed.contains("auth"), "{:?}", o.changed);
    assert!(!o.changed.contains("gateway"), "the gateway base became a leaf: {:?}", o.changed);
    assert!(o.missed.is_empty(), "--base missed {:?}", o.missed);
}

/// A Flux Kustomization left out of a directory a cluster builds is an info entry; when a
/// change breaks that directory's build the entry stays (its note says the build fails), so
/// the change is seen to touch it.
#[test]
fn a_left_out_kustomization_stays_an_entry_when_its_directory_breaks() {
    if !have_git() {
        return;
    }
    let ks = |name: &str, path: &str| flux_ks(name, path, "flux-system");
    let sync = ks("flux-system", "./clusters/a");
    let crds = ks("crds", "./crds");
    let left_out = ks("dns-crds", "./crds/dns/upstream");
    let files = [
        ("clusters/a/flux-system/gotk-sync.yaml", sync.as_str()),
        ("clusters/a/flux-system/kustomization.yaml", "resources: [gotk-sync.yaml]\n"),
        ("clusters/a/crds.yaml", crds.as_str()),
        ("crds/kustomization.yaml", "resources: [cm.yaml]\n"),
        ("crds/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: default\n"),
        ("crds/dns/ks.yaml", left_out.as_str()),
        ("crds/dns/upstream/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\n  namespace: default\n"),
    ];
    let repo = mutation::committed_files(&files);
    let before = mutation::state(repo.path());
    let info = "crds/dns/flux-system/dns-crds";
    assert!(before.entries.contains_key(info), "{:?}", before.entries.keys());
    let k = repo.path().join("crds/kustomization.yaml");
    std::fs::write(&k, "resources: [cm.yaml]\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mutant\n")
        .unwrap();
    let o = mutation::judge(repo.path(), &before, mutation::Kind::AddDocument, "crds/kustomization.yaml".into());
    assert!(o.changed.contains("clusters/a/flux-system/crds"), "{:?}", o.changed);
    assert!(mutation::state(repo.path()).entries.contains_key(info), "the left-out Kustomization's entry vanished");
    assert!(o.missed.is_empty(), "--base missed {:?}", o.missed);
}
