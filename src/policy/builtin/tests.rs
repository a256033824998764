//! Pod template extraction over every workload kind, securityContext inheritance, and the
//! environment an entry point gets.

use super::{Ctx, RuleSet, evaluate};
use crate::config::Config;
use crate::kustomize::resource::Resource;
use crate::rules::Rule;
use crate::source::yaml::{self, Dialect};
use crate::source::{FileId, Limits};

fn objects(text: &str) -> Vec<Resource> {
    let parsed = yaml::parse(text, FileId(0), Dialect::Yaml12, &Limits::default());
    assert!(parsed.error.is_none(), "{:?}", parsed.error);
    parsed.docs.into_iter().map(Resource::new).collect()
}

/// (rule, line) of every hit under a config.
fn hits(config: &str, env: Option<&str>, text: &str) -> Vec<(Rule, u32)> {
    let config = Config::parse(config).unwrap();
    let rules = RuleSet::new(&config.policy, env);
    let ctx = Ctx { rules: &rules, complete: true, markers: &[] };
    evaluate(&objects(text), &ctx).into_iter().map(|h| (h.rule, h.loc.line)).collect()
}

const POD: &str = "containers: [{name: c, image: 'r/x:1', securityContext: {privileged: true}}]";

#[test]
fn every_workload_kind_is_checked_through_its_pod_template() {
    let kinds = [
        ("v1", "Pod", format!("spec: {{{POD}}}")),
        ("v1", "ReplicationController", format!("spec: {{template: {{spec: {{{POD}}}}}}}")),
        ("apps/v1", "Deployment", format!("spec: {{template: {{spec: {{{POD}}}}}}}")),
        ("apps/v1", "StatefulSet", format!("spec: {{template: {{spec: {{{POD}}}}}}}")),
        ("apps/v1", "DaemonSet", format!("spec: {{template: {{spec: {{{POD}}}}}}}")),
        ("apps/v1", "ReplicaSet", format!("spec: {{template: {{spec: {{{POD}}}}}}}")),
        ("batch/v1", "Job", format!("spec: {{template: {{spec: {{{POD}}}}}}}")),
        ("batch/v1", "CronJob", format!("spec: {{jobTemplate: {{spec: {{template: {{spec: {{{POD}}}}}}}}}}}")),
    ];
    for (api, kind, spec) in kinds {
        let text = format!("apiVersion: {api}\nkind: {kind}\nmetadata: {{name: w}}\n{spec}\n");
        let h = hits("", None, &text);
        assert!(h.contains(&(Rule::PodPrivileged, 4)), "{kind}: {h:?}");
        let probes = h.iter().any(|(r, _)| *r == Rule::ProbeLivenessMissing);
        assert_eq!(probes, !matches!(kind, "Job" | "CronJob"), "{kind}: probes are not expected on jobs: {h:?}");
    }
    // Same kind name, other API group: not a workload.
    assert!(
        hits(
            "",
            None,
            &format!("apiVersion: example.com/v1\nkind: Deployment\nmetadata: {{name: w}}\nspec: {{{POD}}}\n")
        )
        .is_empty()
    );
}

#[test]
fn run_as_non_root_inherits_from_the_pod_and_containers_override() {
    let doc = |pod: &str, c: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  securityContext: {pod}\n  containers:\n  - name: c\n    image: r/x:1\n    securityContext: {c}\n  initContainers:\n  - name: i\n    image: r/x:1\n"
        )
    };
    let rule = |h: Vec<(Rule, u32)>| h.into_iter().filter(|(r, _)| *r == Rule::PodRunAsNonRoot).collect::<Vec<_>>();
    // Pod-level runAsNonRoot covers both containers.
    assert!(rule(hits("", None, &doc("{runAsNonRoot: true}", "{}"))).is_empty());
    // A container's runAsNonRoot: false wins over the pod's true (line 9); the init container is covered.
    assert_eq!(
        rule(hits("", None, &doc("{runAsNonRoot: true}", "{runAsNonRoot: false}"))),
        vec![(Rule::PodRunAsNonRoot, 9)]
    );
    // runAsUser: 0 on the container is root even with the pod's runAsNonRoot.
    assert_eq!(rule(hits("", None, &doc("{runAsNonRoot: true}", "{runAsUser: 0}"))), vec![(Rule::PodRunAsNonRoot, 9)]);
    // A non-zero runAsUser on the pod is enough; nothing set flags both containers.
    assert!(rule(hits("", None, &doc("{runAsUser: 1000}", "{}"))).is_empty());
    assert_eq!(rule(hits("", None, &doc("{}", "{}"))).len(), 2);
    // Probes: not on init containers.
    let h = hits("", None, &doc("{runAsNonRoot: true}", "{}"));
    assert_eq!(h.iter().filter(|(r, _)| *r == Rule::ProbeReadinessMissing).count(), 1);
}

#[test]
fn production_defaults_only_in_production() {
    let d = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w, labels: {app.kubernetes.io/name: w}}\nspec:\n  replicas: 1\n  selector: {matchLabels: {a: w}}\n  template:\n    metadata: {labels: {a: w}}\n    spec: {containers: [{name: c, image: 'r/x:1'}]}\n";
    let prod: Vec<Rule> = hits("", Some("production"), d).into_iter().map(|h| h.0).collect();
    assert!(prod.contains(&Rule::ReplicasMinimum) && prod.contains(&Rule::ImageDigestRequired));
    let other: Vec<Rule> = hits("", Some("staging"), d).into_iter().map(|h| h.0).collect();
    assert!(!other.contains(&Rule::ReplicasMinimum) && !other.contains(&Rule::ImageDigestRequired));
}

#[test]
fn flux_entry_points_take_their_cluster_environment() {
    use crate::finding::EntryPointKind::{Flux, HelmRelease, Kustomize};
    use crate::policy::environment;
    let c = Config::parse("environments:\n  production: ['clusters/production/**', 'apps/production/**']\n").unwrap();
    assert_eq!(
        environment(&c, Flux, "clusters/production/flux-system/infra", "infrastructure/controllers"),
        Some("production")
    );
    assert_eq!(
        environment(&c, HelmRelease, "clusters/production/ingress/nginx", "infrastructure/base/ingress"),
        Some("production")
    );
    assert_eq!(environment(&c, Kustomize, "apps/production/web", "apps/production/web"), Some("production"));
    assert_eq!(environment(&c, Kustomize, "infrastructure/controllers", "infrastructure/controllers"), None);
}
