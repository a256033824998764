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
    let src = tempfile::tempdir().unwrap();
    let files = [
        ("base/kustomization.yaml", "resources: [svc.yaml]\n"),
        ("base/svc.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80\n"),
        ("overlay/kustomization.yaml", "namespace: shop\nresources: [../base]\n"),
    ];
    for (p, text) in files {
        let p = src.path().join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let repo = mutation::committed_copy(src.path());
    let before = mutation::state(repo.path());
    let k = repo.path().join("overlay/kustomization.yaml");
    let text =
        std::fs::read_to_string(&k).unwrap() + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n";
    std::fs::write(&k, text).unwrap();
    let o = mutation::judge(repo.path(), &before, mutation::Kind::AddDocument, "overlay/kustomization.yaml".into());
    assert!(o.changed.contains("base"), "the base's leaf-only findings change: {:?}", o.changed);
    assert!(o.missed.is_empty(), "--base missed {:?}", o.missed);
}
