//! The PR gate's static preselection (`gate::static_deps`) checked against the exact,
//! render-based selection of the pipeline: the static candidates must always contain it.

use std::collections::BTreeSet;

use crate::config::Config;
use crate::discover::discover;
use crate::flux::entry::FluxKustomization;
use crate::gate::affected::Selection;
use crate::gate::static_deps::{FluxScope, StaticGraph};
use crate::kustomize::build::kustomization_file;
use crate::pipeline::{Renders, render_entry_points, selected_names};
use crate::source::{RelPath, Repo};

fn fixture(name: &str) -> (Repo, Config) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name);
    let config = match std::fs::read_to_string(root.join(crate::config::FILE_NAME)) {
        Ok(t) => Config::parse(&t).expect("config"),
        Err(_) => Config::default(),
    };
    (Repo::open(&root).expect("repo"), config)
}

/// The static candidates contain the exact selection for every single-file change, and the
/// users of the selected overlays' kustomization files.
#[test]
fn static_candidates_contain_the_exact_selection() {
    let (repo, config) = fixture("flux-gsf");
    let d = discover(&repo, &config);
    let graph = StaticGraph::build(&repo, &d.kustomize_dirs);
    let all: Renders = render_entry_points(&repo, &config, &d);
    let plain: BTreeSet<String> = all.plain.iter().map(|(dir, _)| dir.to_string()).collect();
    let mut nonempty = 0;
    for f in &d.yaml_files {
        let sel = Selection { changed: [f.clone()].into(), ..Selection::default() };
        let exact: BTreeSet<String> =
            selected_names(&repo, &all, &sel).into_iter().filter(|n| plain.contains(n)).collect();
        let cands = graph.candidates(&sel.changed);
        let names: BTreeSet<String> = cands.iter().map(|c| c.to_string()).collect();
        // A changed Flux Kustomization definition moves which overlays Flux judges: the render
        // stage then renders every overlay (`render::for_change`), beyond the static candidates.
        let flux_moved = all.flux_index.kustomizations.iter().any(|k| &k.file == f);
        assert!(flux_moved || exact.is_subset(&names), "{f}: exact {exact:?} not within static {names:?}");
        nonempty += usize::from(!exact.is_empty());
        let users = graph.users_of(&repo, &cands);
        for (dir, r) in &all.plain {
            let Some(Ok(r)) = r else { continue };
            for x in &cands {
                let k = kustomization_file(&repo, x);
                if dir != x && k.as_ref().is_some_and(|k| r.files.contains(k)) {
                    assert!(cands.contains(dir) || users.contains(dir), "{dir} reads {x} but is not rendered");
                }
            }
        }
    }
    assert!(nonempty >= 5, "too few selecting changes: {nonempty}");
}

/// Every single-file change of a repository: the Flux scope (when built) renders each child
/// Flux entry point whose exact (render-based) inputs contain the file. Returns how many
/// changes had a scope and how many child entry points those declined.
fn scope_over_single_changes(repo: &Repo, config: &Config) -> (usize, usize) {
    use crate::flux::entry::cluster_of;
    use crate::flux::entry::is_flux_kustomization;
    use crate::gate::affected::flux_inputs;
    let d = discover(repo, config);
    let graph = StaticGraph::build(repo, &d.kustomize_dirs);
    let all: Renders = render_entry_points(repo, config, &d);
    let inputs = flux_inputs(repo, &all.flux_index, &all.flux);
    // Every child entry point with the Flux Kustomization its parent rendered.
    let mut children = Vec::new();
    for e in &all.flux {
        let Ok(r) = &e.result else { continue };
        for res in r.resources.iter().filter(|r| is_flux_kustomization(&r.node)) {
            let ns = if res.namespace().is_empty() { "default" } else { res.namespace() };
            let Ok(fk) = FluxKustomization::parse(&res.node, ns) else { continue };
            let name = format!("{}/{}/{}", cluster_of(&e.name), fk.key.namespace, fk.key.name);
            if let Some(c) = all.flux.iter().find(|c| c.name == name && c.name != e.name) {
                children.push((fk, RelPath::parse(&c.dir).unwrap(), c.name.clone()));
            }
        }
    }
    assert!(children.len() >= 2, "too few child entry points: {}", children.len());
    let (mut scoped, mut declined) = (0, 0);
    for f in &d.yaml_files {
        let changed = BTreeSet::from([f.clone()]);
        let Some(scope) = FluxScope::new(repo, &graph, &changed, &d, &all.flux_index, &config.flux.sources) else {
            continue;
        };
        scoped += 1;
        for (fk, dir, name) in &children {
            let wanted = scope.wants(repo, fk, dir);
            assert!(wanted || !inputs[name].contains(f), "{f} changes {name}, which is not rendered");
            declined += usize::from(!wanted);
        }
    }
    (scoped, declined)
}

#[test]
fn flux_scope_renders_every_entry_a_change_selects() {
    // flux-gsf takes substituteFrom from rendered objects: never scoped, always whole.
    let (repo, config) = fixture("flux-gsf");
    assert_eq!(scope_over_single_changes(&repo, &config).0, 0);
    let dir = tempfile::tempdir().unwrap();
    let kz = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n";
    let fk = |name: &str, path: &str, extra: &str| {
        format!(
            "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: {name}, namespace: flux-system}}\nspec:\n  path: {path}\n  sourceRef: {{kind: GitRepository, name: flux-system}}\n{extra}"
        )
    };
    let files = [
        ("clusters/a/flux-system/sync.yaml".to_string(), fk("flux-system", "./clusters/a", "")),
        (
            "clusters/a/apps.yaml".to_string(),
            fk("web", "./apps/web", "  postBuild: {substituteFrom: [{kind: ConfigMap, name: vars}]}\n")
                + &fk("api", "./apps/api", "  components: [../../components/x]\n"),
        ),
        (
            "clusters/a/vars.yaml".to_string(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: vars, namespace: flux-system}\ndata: {N: web}\n".into(),
        ),
        ("apps/web/kustomization.yaml".to_string(), format!("{kz}resources: [deploy.yaml, ../base]\n")),
        (
            "apps/web/deploy.yaml".to_string(),
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: ${N}, namespace: web}\n".into(),
        ),
        ("apps/api/kustomization.yaml".to_string(), format!("{kz}namespace: api\nresources: [sa.yaml]\n")),
        ("apps/api/sa.yaml".to_string(), "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: api}\n".into()),
        ("apps/base/kustomization.yaml".to_string(), format!("{kz}resources: [cm.yaml]\n")),
        (
            "apps/base/cm.yaml".to_string(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: base, namespace: web}\n".into(),
        ),
        (
            "components/x/kustomization.yaml".to_string(),
            "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonLabels: {x: y}\n".into(),
        ),
    ];
    for (p, text) in &files {
        let p = dir.path().join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let repo = Repo::open(dir.path()).unwrap();
    let (scoped, declined) = scope_over_single_changes(&repo, &Config::default());
    // The seven files under apps/ and components/ are scoped, each leaving the other app
    // out; a change under clusters/ (where the Kustomizations and their variables are)
    // renders the whole tree.
    assert_eq!((scoped, declined), (7, 7));
}
