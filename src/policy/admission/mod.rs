//! Custom rules in Kubernetes' own format: ValidatingAdmissionPolicy and
//! ValidatingAdmissionPolicyBinding objects evaluated offline with CEL, so the policy files a
//! cluster enforces also gate the pull requests that would be applied to it.
//!
//! - `config`: the `admissionPolicies:` setting;
//! - `model`: policies and bindings parsed, expressions compiled once per run;
//! - `expr`: a compiled expression and what it reads (`authorizer`, `variables`, fields);
//! - `matching`: which objects a policy and a binding select;
//! - `params`: `paramKind` / `paramRef` resolution;
//! - `eval`: CEL evaluation of one policy through one binding against one object;
//! - `pods`: workloads' pod templates as the Pods their controllers create.
//!
//! Findings: `admission-policy` (severity from the binding's `validationActions`),
//! `admission-policy-skipped` (cannot be decided offline; never a silent pass) and
//! `admission-policy-invalid` (a policy or binding the API server would refuse or cannot use).

mod eval;
mod expr;
mod matching;
mod model;
mod params;
mod pods;

use std::collections::BTreeMap;

pub use crate::config::admission::AdmissionConfig;

use crate::finding::location;
use crate::finding::{Finding, Location};
use crate::kustomize::resource::{Gvk, Resource};
use crate::rules::Rule;
use crate::schema::cel::shared;
use crate::schema::registry::Registry;
use crate::source::{Loc, Node, RelPath, Repo};

use crate::policy::selector::labels_of;
use cel::common::value::Val;
use eval::{Evaluation, ObjectValues};
use matching::Target;
use model::{Binding, Policy};
use params::{ParamObject, Params};

/// The run's admission policies: parsed and compiled once, evaluated against every rendered
/// object of every entry point.
#[derive(Default)]
pub struct AdmissionPolicies {
    /// By name; the first definition of a name wins.
    policies: BTreeMap<String, Policy>,
    /// Sorted by name, each naming a policy that exists.
    bindings: Vec<Binding>,
    /// Objects in the policy paths that may be parameters.
    params: Vec<ParamObject>,
    pod_templates: bool,
}

const ADMISSION_GROUP: &str = "admissionregistration.k8s.io/";

impl AdmissionPolicies {
    /// Reads every policy, binding and parameter object under `config.paths` (through `repo`,
    /// so nothing outside the root) and compiles every expression. Problems are
    /// `admission-policy-invalid` findings located in the policy files (or the config line of a
    /// path that does not exist); what is valid still applies.
    pub fn load(repo: &Repo, config: &AdmissionConfig) -> (AdmissionPolicies, Vec<Finding>) {
        let mut out = AdmissionPolicies { pod_templates: config.pod_templates, ..AdmissionPolicies::default() };
        let mut findings = Vec::new();
        let mut files = Vec::new();
        for (i, path) in config.paths.iter().enumerate() {
            let line = config.path_lines.get(i).copied().unwrap_or(1);
            let config_loc = Some(Location { file: crate::config::FILE_NAME.to_string(), line, column: 1 });
            let Some(p) = RelPath::parse(path.trim_end_matches('/')) else {
                findings.push(
                    Finding::new(
                        Rule::AdmissionPolicyInvalid,
                        format!("admissionPolicies path '{path}' leaves the repository"),
                    )
                    .at(config_loc),
                );
                continue;
            };
            if repo.is_dir(&p) {
                crate::discover::walk_yaml(repo, &p, &mut files);
            } else if repo.is_file(&p) {
                files.push(p);
            } else {
                findings.push(
                    Finding::new(
                        Rule::AdmissionPolicyInvalid,
                        format!("admissionPolicies path '{path}' does not exist"),
                    )
                    .at(config_loc),
                );
            }
        }
        files.sort();
        files.dedup();
        let mut bindings: BTreeMap<String, Binding> = BTreeMap::new();
        let invalid = |loc: Loc, message: String, policy: Option<&str>| {
            let mut f = Finding::new(Rule::AdmissionPolicyInvalid, message).at(location(repo, loc));
            f.policy = policy.map(str::to_string);
            f
        };
        for p in &files {
            let parsed = match repo.load_yaml(p) {
                Ok(parsed) => parsed,
                Err(e) => {
                    findings.push(Finding::new(Rule::AdmissionPolicyInvalid, format!("cannot read policy file: {e}")));
                    continue;
                }
            };
            if let Some(e) = &parsed.error {
                findings.push(invalid(e.loc, format!("policy file does not parse: {}", e.message), None));
            }
            for doc in &parsed.docs {
                let api = doc.str_at(&["apiVersion"]).unwrap_or_default();
                match doc.str_at(&["kind"]) {
                    Some("ValidatingAdmissionPolicy") if api.starts_with(ADMISSION_GROUP) => {
                        let (policy, problems) = model::policy(doc);
                        let name = doc.str_at(&["metadata", "name"]);
                        findings.extend(problems.into_iter().map(|(loc, m)| invalid(loc, m, name)));
                        if let Some(policy) = policy {
                            if out.policies.contains_key(&policy.name) {
                                let m = format!("ValidatingAdmissionPolicy '{}' is defined twice", policy.name);
                                findings.push(invalid(policy.loc, m, Some(&policy.name)));
                            } else {
                                out.policies.insert(policy.name.clone(), policy);
                            }
                        }
                    }
                    Some("ValidatingAdmissionPolicyBinding") if api.starts_with(ADMISSION_GROUP) => {
                        match model::binding(doc) {
                            Ok(b) if bindings.contains_key(&b.name) => {
                                let m = format!("ValidatingAdmissionPolicyBinding '{}' is defined twice", b.name);
                                findings.push(invalid(b.loc, m, Some(&b.policy)));
                            }
                            Ok(b) => {
                                bindings.insert(b.name.clone(), b);
                            }
                            Err((loc, m)) => {
                                findings.push(invalid(loc, m, doc.str_at(&["spec", "policyName"])));
                            }
                        }
                    }
                    _ => out.params.extend(ParamObject::of(doc)),
                }
            }
        }
        for (_, b) in bindings {
            if out.policies.contains_key(&b.policy) {
                out.bindings.push(b);
            } else {
                let m = format!(
                    "binding '{}' names ValidatingAdmissionPolicy '{}', which is not in the policy paths",
                    b.name, b.policy
                );
                findings.push(invalid(b.loc, m, Some(&b.policy)));
            }
        }
        (out, findings)
    }

    /// Whether there is nothing to evaluate (no binding of a valid policy).
    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty()
    }

    /// Every finding for the objects of one rendered entry point, as (index into `resources`,
    /// source location, finding without entry point, object or file location). The whole
    /// render is needed: Namespace objects for `namespaceSelector`/`namespaceObject`, and
    /// parameter objects.
    pub fn evaluate(&self, registry: &Registry, resources: &[Resource]) -> Vec<(usize, Loc, Finding)> {
        let mut out = Vec::new();
        if self.is_empty() {
            return out;
        }
        let mut namespaces: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let mut namespace_nodes: BTreeMap<String, Box<dyn Val + '_>> = BTreeMap::new();
        for r in resources.iter().filter(|r| r.kind() == "Namespace" && r.api_version() == "v1") {
            namespaces.insert(r.name().to_string(), labels_of(&r.node));
            namespace_nodes.insert(r.name().to_string(), shared::node_to_val(&r.node));
        }
        let mut found = Vec::new();
        for (i, r) in resources.iter().enumerate() {
            if let Some(target) = target_of(registry, &r.node) {
                self.evaluate_target(registry, resources, &target, &namespaces, &namespace_nodes, "", &mut found);
                out.extend(found.drain(..).map(|(loc, f)| (i, loc, f)));
            }
            if self.pod_templates
                && let Some(pod) = pods::synthetic_pod(r)
                && let Some(target) = target_of(registry, &pod)
            {
                let prefix = format!("pod template of {} '{}': ", r.kind(), r.name());
                self.evaluate_target(registry, resources, &target, &namespaces, &namespace_nodes, &prefix, &mut found);
                out.extend(found.drain(..).map(|(loc, f)| (i, loc, f)));
            }
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn evaluate_target<'a>(
        &self,
        registry: &Registry,
        resources: &'a [Resource],
        target: &Target<'a>,
        namespaces: &BTreeMap<String, BTreeMap<String, String>>,
        namespace_nodes: &'a BTreeMap<String, Box<dyn Val + 'a>>,
        prefix: &str,
        out: &mut Vec<(Loc, Finding)>,
    ) {
        let mut values: Option<ObjectValues> = None;
        for b in &self.bindings {
            let Some(policy) = self.policies.get(&b.policy) else { continue };
            if !matching::matches(&policy.constraints, target, namespaces)
                || b.match_resources.as_ref().is_some_and(|m| !matching::matches(m, target, namespaces))
            {
                continue;
            }
            let values = values
                .get_or_insert_with(|| ObjectValues::new(target, namespace_nodes.get(&target.namespace).map(|b| &**b)));
            let params = match params::resolve(policy, b, &target.namespace, &self.params, resources, registry) {
                Params::NotUsed => vec![(None, eval::to_val(cel::Value::Null))],
                Params::Found(found) => {
                    found.into_iter().map(|(label, node)| (Some(label), shared::node_to_val(node))).collect()
                }
                Params::Allow => continue,
                Params::Missing(m) => {
                    let f = Finding::new(Rule::AdmissionPolicyInvalid, format!("{prefix}{m}"))
                        .policy(&policy.name)
                        .help(format!("ValidatingAdmissionPolicy '{}' through binding '{}'", policy.name, b.name));
                    out.push((target.node.loc, f));
                    continue;
                }
            };
            for (param_label, params) in params {
                let ev = Evaluation { policy, binding: b, target, values, params, param_label, prefix };
                ev.run_all(out);
            }
        }
    }
}

/// The matcher's view of an object; `None` for a document that is not a named object.
fn target_of<'a>(registry: &Registry, node: &'a Node) -> Option<Target<'a>> {
    let api_version = node.str_at(&["apiVersion"])?;
    let kind = node.str_at(&["kind"])?;
    let name = node.str_at(&["metadata", "name"])?;
    let gvk = Gvk::from_api_version(api_version, kind);
    let namespace = if registry.is_namespaced(api_version, kind) {
        // What `kubectl apply` (and Flux without targetNamespace) does with no namespace.
        node.str_at(&["metadata", "namespace"]).filter(|n| !n.is_empty()).unwrap_or("default").to_string()
    } else {
        String::new()
    };
    Some(Target {
        node,
        resource: registry.resource_of(api_version, kind),
        group: gvk.group,
        version: gvk.version,
        kind: gvk.kind,
        name: name.to_string(),
        namespace,
        labels: labels_of(node),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_kinds_map_to_the_resources_the_api_serves() {
        let reg = Registry::new(None).unwrap();
        for (api_version, kind, resource) in [
            ("networking.k8s.io/v1", "Ingress", "ingresses"),
            ("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies"),
            ("networking.k8s.io/v1", "IngressClass", "ingressclasses"),
            ("v1", "Endpoints", "endpoints"),
            ("discovery.k8s.io/v1", "EndpointSlice", "endpointslices"),
            ("v1", "Pod", "pods"),
            ("v1", "ConfigMap", "configmaps"),
            ("storage.k8s.io/v1", "StorageClass", "storageclasses"),
            ("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets"),
            ("scheduling.k8s.io/v1", "PriorityClass", "priorityclasses"),
            ("apps/v1", "Deployment", "deployments"),
            ("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
            ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy", "validatingadmissionpolicies"),
            ("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "kustomizations"),
            ("source.toolkit.fluxcd.io/v1", "GitRepository", "gitrepositories"),
            ("image.toolkit.fluxcd.io/v1beta2", "ImagePolicy", "imagepolicies"),
        ] {
            assert_eq!(reg.resource_of(api_version, kind), resource, "{kind}");
        }
    }

    #[test]
    fn crd_kinds_map_to_their_declared_plural() {
        let mut reg = Registry::new(None).unwrap();
        let text = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gateways.gateway.networking.k8s.io}
spec:
  group: gateway.networking.k8s.io
  scope: Namespaced
  names: {kind: Gateway, plural: gateways, singular: gateway}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
";
        let parsed = crate::source::yaml::parse(
            text,
            crate::source::FileId(0),
            crate::source::yaml::Dialect::Yaml12,
            &crate::source::Limits::default(),
        );
        reg.add_repo_crd(&parsed.docs[0], "crds/gateway.yaml");
        // The guess would say `gatewaies`; the CRD says `gateways`.
        assert_eq!(reg.resource_of("gateway.networking.k8s.io/v1", "Gateway"), "gateways");
    }
}
