//! The registry of rule ids. Ids are stable contracts (CI configs and suppressions name them):
//! add new ones, never rename.

pub mod docs;

use serde::{Serialize, Serializer};

/// How bad a finding is. Only `Error` fails the gate by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

macro_rules! rules {
    ($( $(#[doc = $doc:literal])* $variant:ident = $id:literal, $sev:ident, $summary:literal; )*) => {
        /// A typed rule id.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Rule { $( $(#[doc = $doc])* $variant, )* }

        impl Rule {
            /// Every rule, in documentation order.
            pub const ALL: &'static [Rule] = &[ $( Rule::$variant, )* ];

            /// The stable kebab-case id.
            pub fn id(self) -> &'static str {
                match self { $( Rule::$variant => $id, )* }
            }

            pub fn default_severity(self) -> Severity {
                match self { $( Rule::$variant => Severity::$sev, )* }
            }

            /// One line saying what the rule catches.
            pub fn summary(self) -> &'static str {
                match self { $( Rule::$variant => $summary, )* }
            }

            /// Why the rule exists: its doc comment in this file, as written (lines joined by
            /// spaces; [`Rule::why`] tidies the whitespace).
            fn doc(self) -> &'static str {
                match self { $( Rule::$variant => concat!($( $doc, " ", )* ""), )* }
            }

            pub fn from_id(id: &str) -> Option<Rule> {
                Rule::ALL.iter().copied().find(|r| r.id() == id)
            }
        }
    };
}

rules! {
    /// The file is not valid YAML; kustomize rejects it and Flux cannot apply it.
    YamlSyntax = "yaml-syntax", Error, "a YAML file does not parse";
    /// A mapping repeats a key; which value wins depends on the tool, so it is an error.
    YamlDuplicateKey = "yaml-duplicate-key", Error, "a YAML mapping defines the same key twice";
    /// Alias expansion, nesting depth, size or document count crossed a safety bound.
    YamlLimitExceeded = "yaml-limit-exceeded", Error, "a YAML file crosses a size, nesting or alias-expansion bound";
    /// A path named in a kustomization (resource, patch, generator file) does not exist.
    FileNotFound = "file-not-found", Error, "a file or directory that a kustomization names does not exist";
    /// A path leaves the repository root (`../`, absolute path, symlink); it is never read.
    PathOutsideRoot = "path-outside-root", Error, "a path leaves the repository root";
    /// `kustomization.yaml` has a field kustomize does not know (often a typo).
    KustomizationUnknownField = "kustomization-unknown-field", Error, "a kustomization has a field kustomize does not know";
    /// A kustomization field has the wrong type or an invalid value.
    KustomizationInvalid = "kustomization-invalid", Error, "a kustomization field has a wrong type or value";
    /// Kustomizations include each other in a loop.
    KustomizationCycle = "kustomization-cycle", Error, "kustomizations include each other in a cycle";
    /// A patch kustomize fails on because it matches nothing: a strategic merge patch without a
    /// `target` whose kind and name are not in the resources, or a `replicas` entry that names
    /// no workload.
    PatchTargetNotFound = "patch-target-not-found", Error, "a patch matches no resource";
    /// A `patches:` entry with a `target` selector that selects nothing: kustomize and Flux skip
    /// it silently, so the build succeeds, but the patch does nothing (often a stale selector).
    PatchTargetUnmatched = "patch-target-unmatched", Warning, "a patch target selector matches no resource (the patch does nothing)";
    /// A patch could not be applied (JSON 6902 path missing, test failed, bad patch document).
    PatchFailed = "patch-failed", Error, "a patch cannot be applied";
    /// Two resources in one render have the same group, kind, namespace and name.
    DuplicateObject = "duplicate-object", Error, "the same object is defined twice in one render";
    /// A document is not a Kubernetes object: no `apiVersion`, `kind` or `metadata.name`, or not a map.
    ObjectInvalid = "object-invalid", Error, "a document is not a well-formed Kubernetes object";
    /// `apiVersion`/`kind` name no kind that Kubernetes serves in that group and version.
    UnknownKind = "unknown-kind", Error, "a built-in API group and version has no such kind";
    /// A custom resource has no schema anywhere (no CRD in the repo or the bundled schemas).
    SchemaMissing = "schema-missing", Warning, "a custom resource has no schema to check it against";
    /// A kustomize feature that needs the network (remote bases) or that fluxgate does not
    /// render was skipped; what it would add is not checked. Plugins and `helmCharts` are not
    /// skipped: kustomize without `--enable-helm` or plugins (and Flux) fails the build on them.
    RenderSkipped = "render-skipped", Warning, "part of a kustomization was not rendered (network or plugin)";
    /// A field the schema does not define (often a typo); the API server would reject or drop it.
    SchemaUnknownField = "schema-unknown-field", Error, "an object has a field its schema does not define";
    /// A value has the wrong type (a string where an integer is required, a map for a list).
    SchemaInvalidType = "schema-invalid-type", Error, "a value has the wrong type for its schema";
    /// A field the schema requires is missing.
    SchemaRequired = "schema-required", Error, "a required field is missing";
    /// A value is outside what the schema allows (enum, pattern, range, length, format).
    SchemaInvalidValue = "schema-invalid-value", Error, "a value is not allowed by its schema";
    /// Two items of a `x-kubernetes-list-type: map` / `set` list have the same key.
    SchemaDuplicateListKey = "schema-duplicate-list-key", Error, "a list has two items with the same key";
    /// A CRD's `x-kubernetes-validations` CEL rule fails for this object.
    SchemaCelRule = "schema-cel-rule", Error, "a CEL validation rule of the CRD fails";
    /// The apiVersion is no longer served by the target Kubernetes (or Flux) version.
    ApiRemoved = "api-removed", Error, "an apiVersion removed in the target version";
    /// The apiVersion is deprecated: still served, but scheduled for removal.
    ApiDeprecated = "api-deprecated", Warning, "an apiVersion deprecated in the target version";
    /// `metadata.name` is not a valid DNS name for this kind.
    MetadataInvalidName = "metadata-invalid-name", Error, "an object name is not a valid DNS name";
    /// A label key or value does not follow Kubernetes' label syntax.
    MetadataInvalidLabel = "metadata-invalid-label", Error, "a label key or value is invalid";
    /// An annotation key does not follow Kubernetes' syntax (or annotations are too large).
    MetadataInvalidAnnotation = "metadata-invalid-annotation", Error, "an annotation key is invalid";
    /// A namespaced object has no namespace after rendering; it lands wherever it is applied.
    NamespaceMissing = "namespace-missing", Warning, "a namespaced object has no namespace after rendering";
    /// With `validate --cluster`: a namespaced object of the Flux tree the cluster syncs is in a
    /// namespace that neither the tree renders nor the live cluster has: applying it fails.
    NamespaceNotFound = "namespace-not-found", Error, "an object's namespace is neither in its cluster's render nor in the live cluster";
    /// A `${VAR}` in a Flux-rendered object has no value and no default (strict substitution,
    /// the Flux 2.9 default): the controller fails the apply.
    FluxSubstituteUnset = "flux-substitute-unset", Error, "a Flux post-build variable has no value and no default";
    /// A `${VAR}` with no value and no default where the repository installs a Flux older than
    /// 2.9 (or `flux.substitution: lenient`): the controller substitutes an empty string.
    FluxSubstituteEmpty = "flux-substitute-empty", Warning, "a Flux post-build variable has no value and becomes empty (lenient substitution)";
    /// A `${...}` expression Flux cannot substitute (bad syntax).
    FluxSubstituteInvalid = "flux-substitute-invalid", Error, "a Flux post-build substitution expression is malformed";
    /// A Flux Kustomization's `sourceRef` names a source that is not this repository (another
    /// repository, a Bucket, an OCI artifact not mapped in config): its path is not checked.
    FluxSourceOutOfScope = "flux-source-out-of-scope", Info, "a Flux source that is not this repository (not rendered)";
    /// A Flux Kustomization's source (OCIRepository, Bucket, ExternalArtifact) is taken to be a
    /// directory of this repository: inferred from what the repository shows (an
    /// ArtifactGenerator's copy rules, the one directory where the paths exist) or configured in
    /// `flux.sources`. The finding names the mapping used.
    FluxSourceMapped = "flux-source-mapped", Info, "a Flux source mapped to a directory of this repository";
    /// A Flux Kustomization in a directory that a cluster renders, but that the directory's
    /// kustomization does not list: no controller applies it, so it is not rendered or judged.
    FluxNotApplied = "flux-not-applied", Info, "a Flux Kustomization that no cluster applies";
    /// A `substituteFrom` ConfigMap/Secret is made in the cluster by something the repository
    /// shows (an ExternalSecret), or is in the repository but outside this cluster's Flux tree
    /// (a bootstrap Secret): its values are not known here, so its variables are not checked.
    FluxSubstituteGenerated = "flux-substitute-generated", Info, "a substituteFrom object the cluster makes";
    /// A `substituteFrom` ConfigMap/Secret (not optional) is nowhere in the repository: the
    /// cluster must provide it, or the Kustomization fails. Variables it may hold are not checked.
    FluxSubstituteExternal = "flux-substitute-external", Warning, "a substituteFrom object not in the repository";
    /// With `validate --cluster`: a `substituteFrom` ConfigMap/Secret (not optional) that is in
    /// neither the repository nor the live cluster: the Kustomization fails to build.
    FluxSubstituteFromMissing = "flux-substitute-from-missing", Error, "a substituteFrom object in neither the repository nor the cluster";
    /// `sourceRef` of a Kustomization or HelmRelease (or a chart's sourceRef) names no source object
    /// in the same cluster.
    FluxSourceMissing = "flux-source-missing", Error, "a Flux sourceRef names no source in the cluster";
    /// `spec.path` of a Flux Kustomization does not exist in the source.
    FluxPathMissing = "flux-path-missing", Error, "a Flux Kustomization's spec.path does not exist";
    /// `dependsOn` names a Kustomization or HelmRelease that does not exist in the cluster.
    FluxDependencyMissing = "flux-dependency-missing", Error, "a dependsOn target does not exist";
    /// `dependsOn` forms a cycle: none of them will ever become ready.
    FluxDependencyCycle = "flux-dependency-cycle", Error, "dependsOn forms a cycle";
    /// The same object is applied by two Flux Kustomizations of one cluster: they fight over it.
    FluxDuplicateObject = "flux-duplicate-object", Error, "two Flux Kustomizations of one cluster apply the same object";
    /// A HelmRelease `valuesFrom` ConfigMap/Secret (not optional) is not in the cluster's render.
    FluxValuesFromMissing = "flux-values-from-missing", Error, "a HelmRelease valuesFrom source does not exist";
    /// A `dependsOn`, `sourceRef` or `valuesFrom` target that the repository's render of the
    /// cluster lacks, where something outside that render may supply it (another Flux tree of
    /// the repository, a part of the tree that did not render or comes from another source, a
    /// ResourceSet, a Secret kept outside Git): the message says which. Certain absences stay
    /// `flux-dependency-missing` / `flux-source-missing` / `flux-values-from-missing`.
    FluxReferenceUnresolved = "flux-reference-unresolved", Warning, "a Flux reference the render does not resolve, which the cluster may still supply";
    /// An image automation marker names an ImagePolicy that does not exist. A warning: the
    /// automation skips a marker it cannot resolve (nothing fails, the image is just never
    /// updated), and the policy may live outside the repository.
    FluxImagePolicyMissing = "flux-image-policy-missing", Warning, "an image automation marker names no ImagePolicy";
    /// An ImageUpdateAutomation's update path does not exist in the repository.
    FluxAutomationPathMissing = "flux-automation-path-missing", Error, "an ImageUpdateAutomation path does not exist";
    /// HelmRelease values do not match the chart's `values.schema.json` (chart in this repository).
    FluxHelmValuesInvalid = "flux-helm-values-invalid", Error, "HelmRelease values fail the chart's values.schema.json";
    /// A `--base` run found that the change deletes a plain entry point (its kustomization
    /// file is gone): nothing is rendered there any more, so make sure nothing still refers to
    /// it. Informational: removing an overlay is often the point of the change.
    EntryPointRemoved = "entry-point-removed", Info, "the change removes an entry point";
    /// fluxgate itself failed on this entry point; the rest of the run went on.
    InternalError = "internal-error", Error, "fluxgate failed internally on this entry point";
    /// An image from a registry the platform does not allow (`rules.image-registry-allowed.registries`);
    /// inactive until registries are configured.
    ImageRegistryAllowed = "image-registry-allowed", Error, "an image comes from a registry that is not allowed";
    /// An image tagged `latest`, or with no tag and no digest (which means `latest`).
    ImageTagLatest = "image-tag-latest", Error, "an image uses the latest tag or no tag at all";
    /// An image not pinned by digest (off by default; on for production in the default config).
    ImageDigestRequired = "image-digest-required", Error, "an image is not pinned by digest";
    /// A container without cpu/memory requests: the scheduler cannot place it well.
    ResourcesRequestsMissing = "resources-requests-missing", Warning, "a container has no cpu or memory request";
    /// A container without cpu/memory limits: it can starve its neighbours.
    ResourcesLimitsMissing = "resources-limits-missing", Warning, "a container has no cpu or memory limit";
    /// A long-running container without a liveness probe (not checked on init containers or jobs).
    ProbeLivenessMissing = "probe-liveness-missing", Warning, "a long-running container has no liveness probe";
    /// A long-running container without a readiness probe (not checked on init containers or jobs).
    ProbeReadinessMissing = "probe-readiness-missing", Warning, "a long-running container has no readiness probe";
    /// A container may run as root: no `runAsNonRoot: true` (pod or container) and no non-zero
    /// `runAsUser`, or `runAsUser: 0`.
    PodRunAsNonRoot = "pod-run-as-non-root", Warning, "a container may run as root";
    /// A privileged container has every capability of the host.
    PodPrivileged = "pod-privileged", Error, "a container is privileged";
    /// `allowPrivilegeEscalation` is not `false` (setuid binaries can gain privileges).
    PodPrivilegeEscalation = "pod-privilege-escalation", Warning, "a container allows privilege escalation";
    /// A container does not drop `ALL` capabilities.
    PodCapabilitiesDropAll = "pod-capabilities-drop-all", Warning, "a container does not drop ALL capabilities";
    /// A container's root filesystem is writable.
    PodReadOnlyRootFs = "pod-read-only-root-fs", Warning, "a container's root filesystem is not read-only";
    /// `hostNetwork`, `hostPID` or `hostIPC`: the pod shares the node's namespaces.
    PodHostNamespace = "pod-host-namespace", Error, "a pod shares the host's network, PID or IPC namespace";
    /// A `hostPath` volume gives the pod the node's filesystem.
    PodHostPath = "pod-host-path", Error, "a pod mounts a hostPath volume";
    /// A workload without the labels the platform requires (`app.kubernetes.io/name` by default).
    LabelsRequired = "labels-required", Warning, "a workload lacks a required label";
    /// An Ingress host outside the environment's domains (inactive until domains are configured).
    IngressHostDomain = "ingress-host-domain", Error, "an Ingress host is outside the environment's domains";
    /// A Service whose selector matches no pod template in the same render.
    DanglingService = "dangling-service", Warning, "a Service selects no pod template of the render";
    /// A workload's selector does not match its own pod template labels (the API server rejects it).
    SelectorMismatch = "selector-mismatch", Error, "a workload selector does not match its pod template labels";
    /// A container defines the same environment variable twice (the last one silently wins).
    EnvDuplicateName = "env-duplicate-name", Warning, "a container defines an environment variable twice";
    /// A Secret with values that is not SOPS-encrypted: plain secrets must not be committed.
    SecretPlain = "secret-plain", Error, "a Secret is not SOPS-encrypted";
    /// A HelmRelease chart version that is missing or a range (warning; error in production).
    HelmChartVersionUnpinned = "helm-chart-version-unpinned", Warning, "a HelmRelease chart version is not pinned";
    /// A Flux Kustomization without `prune: true` leaves deleted objects running.
    FluxKustomizationPrune = "flux-kustomization-prune", Warning, "a Flux Kustomization does not prune";
    /// A Flux Kustomization without a valid `interval`.
    FluxKustomizationInterval = "flux-kustomization-interval", Warning, "a Flux Kustomization has no valid interval";
    /// Image update automation (a `$imagepolicy` marker or an ImageUpdateAutomation) where the
    /// config does not allow it (production, by default).
    ImageAutomationNotAllowed = "image-automation-not-allowed", Error, "image update automation in an environment that does not allow it";
    /// A multi-replica Deployment/StatefulSet with no PodDisruptionBudget in its render
    /// (production, by default). A warning: nothing fails without one, and a PDB that another
    /// entry point, a chart or an operator makes is not in this render.
    PdbMissing = "pdb-missing", Warning, "a multi-replica workload has no PodDisruptionBudget";
    /// Fewer replicas than the environment's minimum (2 in production, by default).
    ReplicasMinimum = "replicas-minimum", Error, "a workload has fewer replicas than the minimum";
    /// A suppression (annotation or config entry) that silenced nothing.
    SuppressionUnused = "suppression-unused", Warning, "a suppression matches no finding";
    /// The chart of a HelmRelease cannot be had: the repository or registry is unreachable, the
    /// version is not in its index, `--offline` with an empty cache, or a source fluxgate does
    /// not fetch. What the chart renders is not checked (`helm.unavailable` sets the severity).
    HelmChartUnavailable = "helm-chart-unavailable", Warning, "a HelmRelease's chart cannot be fetched; its output is not checked";
    /// `helm template` fails for this HelmRelease (a template error, a `required` value, a
    /// chart that does not load): helm-controller would fail the install the same way.
    HelmRenderFailed = "helm-render-failed", Error, "helm template fails for a HelmRelease";
    /// No `helm` binary was found, so HelmReleases were not rendered: their output is not checked.
    HelmSkipped = "helm-skipped", Warning, "HelmRelease not rendered: no helm binary";
    /// The object fails a validation of a ValidatingAdmissionPolicy from the configured policy
    /// paths; the severity comes from the binding's `validationActions` (Deny: error, Warn or
    /// Audit: warning), so the API server would reject (or warn about) the apply.
    AdmissionPolicy = "admission-policy", Error, "an object fails a ValidatingAdmissionPolicy validation";
    /// A ValidatingAdmissionPolicy validation that cannot be decided offline (it reads
    /// `authorizer` or `request.userInfo`, a namespace not in the render, or errs under
    /// `failurePolicy: Ignore`): reported as skipped with the reason, never as passed.
    AdmissionPolicySkipped = "admission-policy-skipped", Warning, "a ValidatingAdmissionPolicy validation cannot be decided offline";
    /// A ValidatingAdmissionPolicy or binding that the API server would refuse or cannot apply:
    /// it does not parse, a CEL expression does not compile, or a `paramRef` finds nothing
    /// under `parameterNotFoundAction: Deny`.
    AdmissionPolicyInvalid = "admission-policy-invalid", Error, "a ValidatingAdmissionPolicy or binding is invalid";
    /// The root holds no kustomization file and no Flux object, so nothing was rendered or
    /// checked: a wrong directory or too wide `ignore` globs would otherwise pass silently.
    NoEntryPoints = "no-entry-points", Warning, "the root holds no kustomization and no Flux object: nothing was checked";
}

impl Rule {
    /// Why the rule exists and what it protects against, from its doc comment.
    pub fn why(self) -> String {
        self.doc().split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case() {
        let mut seen = std::collections::BTreeSet::new();
        for r in Rule::ALL {
            assert!(seen.insert(r.id()), "duplicate id {}", r.id());
            assert!(r.id().chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{}", r.id());
            assert_eq!(Rule::from_id(r.id()), Some(*r));
        }
    }
}
