//! What each rule catches, with an example, and how to fix it: the source of `docs/rules.md`
//! ([`crate::policy::settings::rules_page`]), which a test regenerates and compares, so the
//! reference cannot drift from the registry.

use super::Rule;

/// An example of what the rule catches, and the fix, as the rules page shows them.
// long: one arm of data per rule.
pub fn example_and_fix(rule: Rule) -> (&'static str, &'static str) {
    match rule {
        Rule::YamlSyntax => (
            "a YAML file does not parse (`- broken: [` never closed), holds a control character or is not UTF-8",
            "fix the YAML at the line shown",
        ),
        Rule::YamlDuplicateKey => ("a mapping defines a key twice (`image:` twice in a container)", "keep one"),
        Rule::YamlLimitExceeded => (
            "alias expansion (a \"billion laughs\" bomb), nesting depth, file size or document count crosses a safety bound",
            "remove the aliases/nesting; real manifests stay far below the bounds",
        ),
        Rule::FileNotFound => (
            "`resources: [service.yaml]` where `service.yaml` does not exist; a missing generator file or base",
            "fix the path or add the file",
        ),
        Rule::PathOutsideRoot => (
            "`resources: [../../../etc/hostname]`, an absolute path, a `file://` URL or a symlink leaving the repository; never read",
            "keep every input inside the repository",
        ),
        Rule::KustomizationUnknownField => {
            ("`namespce: web` in a kustomization (kustomize rejects unknown fields)", "use the suggested field name")
        }
        Rule::KustomizationInvalid => (
            "a wrong type or value: `count: three`, a Component listed under `resources`; an empty kustomization (kustomize 5.2+ refuses it); replacements that grow an object past `limits.maxObjectNodes`",
            "use the documented type",
        ),
        Rule::KustomizationCycle => ("`a` includes `b` which includes `a`", "break the cycle"),
        Rule::PatchTargetNotFound => (
            "a strategic merge patch (no `target`) for `Deployment wbe` when the base has `web`; a `replicas` entry naming no workload (kustomize fails the build on both)",
            "fix the name",
        ),
        Rule::PatchTargetUnmatched => (
            "a `patches:` entry whose `target` selector selects nothing: kustomize and Flux skip it silently (not reported inside a Component, whose patches are meant for whatever includes it)",
            "fix the selector or remove the patch",
        ),
        Rule::PatchFailed => (
            "a JSON 6902 `replace` of a path that does not exist; a patch renaming an object without `allowNameChange`; `copy` operations growing an object past `limits.maxObjectNodes`",
            "use `add`, or fix the path",
        ),
        Rule::DuplicateObject => ("two files define `Service web` in the same render", "remove one, patch instead"),
        Rule::ObjectInvalid => ("a document without `apiVersion`, `kind` or `metadata.name`", "add the field"),
        Rule::UnknownKind => {
            ("`kind: Deploymnet` in `apps/v1`; `apps/v1beta3` (not served)", "use the suggested kind/apiVersion")
        }
        Rule::SchemaMissing => (
            "a custom resource with no schema: no CRD in the repository, the catalog or the bundled Flux schemas",
            "commit the CRD or `fluxgate schemas import` it",
        ),
        Rule::RenderSkipped => (
            "a remote base, or a kustomize field fluxgate does not render yet; what it would add is not checked (plugins and `helmCharts` fail the build, as in kustomize and Flux)",
            "vendor the remote base, or accept the gap",
        ),
        Rule::SchemaUnknownField => {
            ("`imagePullPolic: Always` in a container; a field a CRD does not define", "use the suggested field")
        }
        Rule::SchemaInvalidType => ("`replicas: three` (string where an integer is required)", "use the right type"),
        Rule::SchemaRequired => ("a container without `name`", "add the field"),
        Rule::SchemaInvalidValue => (
            "a Service port `protocol: HTTP` (allowed: TCP, UDP, SCTP); a pattern or range violation",
            "use an allowed value",
        ),
        Rule::SchemaDuplicateListKey => ("two containers named `web` (a list keyed by name)", "make the keys unique"),
        Rule::SchemaCelRule => {
            ("a CRD rule `self.minReplicas <= self.maxReplicas` fails", "fix the values the rule names")
        }
        Rule::ApiRemoved => (
            "`extensions/v1beta1` Ingress (removed in 1.22); with no `kubernetesVersion` set, an apiVersion removed after the oldest bundled Kubernetes version is a warning, since an older cluster still serves it",
            "use the replacement apiVersion shown",
        ),
        Rule::ApiDeprecated => {
            ("a deprecated but served version (e.g. Flux `v1beta2` APIs)", "move to the replacement")
        }
        Rule::MetadataInvalidName => ("a Deployment called `Web_App`", "use a DNS-1123 name (`web-app`)"),
        Rule::MetadataInvalidLabel => ("label value `platform team` (space)", "alphanumerics, `-`, `_`, `.`"),
        Rule::MetadataInvalidAnnotation => ("annotation key `-x`", "a valid qualified name"),
        Rule::NamespaceMissing => {
            ("a namespaced object without a namespace in an overlay no other overlay builds on", "set `namespace:`")
        }
        Rule::FluxSubstituteUnset => (
            "`${cluster_env}` in a Flux-rendered object with no value and no default (strict, the Flux 2.9 default)",
            "add it to `postBuild.substitute`/`substituteFrom`, give a default `${cluster_env:=dev}`, or declare in-cluster values in `flux.variables` / `--var`",
        ),
        Rule::FluxSubstituteEmpty => (
            "the same unset `${cluster_env}` where the repository installs Flux before 2.9 (its `gotk-components.yaml`, `FluxInstance` or flux-instance chart says so) or `flux.substitution: lenient`: it becomes an empty string",
            "as for `flux-substitute-unset`; upgrading Flux to 2.9 turns it into a failure",
        ),
        Rule::FluxSubstituteInvalid => (
            "`${var-default}` (not Flux syntax), or a value that makes the substituted YAML invalid",
            "use `${var:=default}`; quote the value",
        ),
        Rule::FluxSourceOutOfScope => {
            ("a Flux Kustomization whose source is another repository", "map it with `flux.sources` if it lives here")
        }
        Rule::FluxSourceMapped => (
            "a Kustomization syncing an OCIRepository of `./kubernetes` (`path: ./apps/prod`), or an ExternalArtifact an ArtifactGenerator copies from `@repo/apps/**`: taken to be that directory (info, names the mapping)",
            "nothing, if the mapping is right; otherwise set `flux.sources`",
        ),
        Rule::FluxNotApplied => (
            "`apps/default/old-app.yaml`, a Flux Kustomization that `apps/default/kustomization.yaml` no longer lists (info)",
            "list it to apply it, or delete it",
        ),
        Rule::FluxSubstituteGenerated => (
            "`substituteFrom: [{kind: Secret, name: app-secrets}]` where an ExternalSecret makes `app-secrets` (info: its values are not known here)",
            "nothing; pass `--var NAME=VALUE` to check what its variables substitute",
        ),
        Rule::FluxSubstituteExternal => (
            "`substituteFrom: [{kind: Secret, name: cluster-secrets}]` with no such Secret anywhere in the repository: the cluster must provide it",
            "mark it `optional: true` if it may be absent, or add the object (a SOPS-encrypted Secret is read: its keys are plaintext)",
        ),
        Rule::NamespaceNotFound => (
            "a Deployment in `namespace: payments` when no Namespace `payments` is rendered for the cluster and `validate --cluster` finds none in it",
            "add the Namespace to the cluster's Flux tree (or create it), or fix the namespace",
        ),
        Rule::FluxSubstituteFromMissing => (
            "`substituteFrom: [{kind: Secret, name: cluster-secrets}]` with no such Secret in the repository, and `validate --cluster` finds none in the cluster either",
            "create it in the cluster (or the repository), fix the name, or mark it `optional: true`",
        ),
        Rule::FluxSourceMissing => (
            "`sourceRef: {kind: GitRepository, name: apps-repo}` with no such GitRepository in the cluster",
            "fix the name or add the source",
        ),
        Rule::FluxPathMissing => ("`spec.path: ./apps/prod` when the directory is `./apps/production`", "fix the path"),
        Rule::FluxDependencyMissing => {
            ("`dependsOn: [{name: infrastructur}]`", "name an existing Kustomization/HelmRelease")
        }
        Rule::FluxDependencyCycle => ("`a` depends on `b` which depends on `a`", "break the cycle"),
        Rule::FluxDuplicateObject => {
            ("two Flux Kustomizations of one cluster both apply `ConfigMap apps/settings`", "let one own it")
        }
        Rule::FluxValuesFromMissing => (
            "HelmRelease `valuesFrom` a ConfigMap (not optional) that is not in the cluster, or lacks `valuesKey`",
            "add it or mark `optional: true`",
        ),
        Rule::FluxReferenceUnresolved => (
            "a `dependsOn`, `sourceRef` or `valuesFrom` target the render of the cluster lacks, that may still exist: another Flux tree of the repository has it, part of the tree did not render or comes from another source, a ResourceSet may generate it, or it is a Secret (often made outside Git)",
            "check that the cluster has it; commit it if it should come from this repository",
        ),
        Rule::FluxImagePolicyMissing => (
            "`# {\"$imagepolicy\": \"flux-system:web-frontnd:tag\"}` with no such ImagePolicy (a warning: the automation skips it, so the image is never updated)",
            "fix the marker",
        ),
        Rule::FluxAutomationPathMissing => {
            ("ImageUpdateAutomation `update.path: ./clusters/prod` that does not exist", "fix the path")
        }
        Rule::FluxHelmValuesInvalid => (
            "HelmRelease values (chart in this repo) fail the chart's `values.schema.json` (`replicaCount: \"two\"`)",
            "fix the value",
        ),
        Rule::EntryPointRemoved => (
            "with `--base`: the change deletes an overlay's kustomization file",
            "make sure no Flux Kustomization or overlay still points there",
        ),
        Rule::InternalError => ("fluxgate crashed on one entry point (the run goes on)", "report it"),
        Rule::ImageRegistryAllowed => (
            "`image: docker.io/library/nginx:1.27` when `rules.image-registry-allowed.registries` lists only `registry.acme.com/` (inactive until registries are configured; prefixes match whole path components, short names count as `docker.io/library/...`)",
            "mirror the image into an allowed registry, or add the registry",
        ),
        Rule::ImageTagLatest => (
            "`image: registry.acme.com/shop/web:latest`, or `.../web` with no tag and no digest",
            "pin a version tag (and a digest): `web:1.4.2`",
        ),
        Rule::ImageDigestRequired => (
            "`image: registry.acme.com/shop/web:1.4.2` with no `@sha256:...`",
            "pin the digest: `web:1.4.2@sha256:...` (kustomize `images: [{name, newTag, digest}]`)",
        ),
        Rule::ResourcesRequestsMissing => (
            "a container without `resources.requests.cpu`/`memory` (param `resources`, default `[cpu, memory]`)",
            "set the requests",
        ),
        Rule::ResourcesLimitsMissing => (
            "a container without `resources.limits.cpu`/`memory` (param `resources`, default `[cpu, memory]`; many platforms set `[memory]`)",
            "set the limits",
        ),
        Rule::ProbeLivenessMissing => (
            "a Deployment's container with no `livenessProbe` (not checked on init containers, Jobs, CronJobs or Pods owned by Jobs)",
            "add an `httpGet`/`tcpSocket`/`grpc`/`exec` probe",
        ),
        Rule::ProbeReadinessMissing => {
            ("a Deployment's container with no `readinessProbe` (same scope)", "add a readiness probe")
        }
        Rule::PodRunAsNonRoot => (
            "`runAsUser: 0`, `runAsNonRoot: false`, or neither `runAsNonRoot: true` nor a non-zero `runAsUser` on the pod or the container (the container's setting wins)",
            "`securityContext: {runAsNonRoot: true}` on the pod",
        ),
        Rule::PodPrivileged => (
            "`securityContext: {privileged: true}` on a container (a warning in a namespace labelled `pod-security.kubernetes.io/enforce: privileged`, or in an unlabelled `kube-system`, which admission configurations exempt; so are `pod-host-namespace` and `pod-host-path`)",
            "drop it; add only the capabilities needed",
        ),
        Rule::PodPrivilegeEscalation => {
            ("`allowPrivilegeEscalation: true`, or not set to `false`", "`allowPrivilegeEscalation: false`")
        }
        Rule::PodCapabilitiesDropAll => {
            ("`capabilities: {drop: [NET_RAW]}` (no `ALL`)", "`capabilities: {drop: [ALL]}`")
        }
        Rule::PodReadOnlyRootFs => (
            "`readOnlyRootFilesystem: false` or unset",
            "`readOnlyRootFilesystem: true`, an `emptyDir` where it writes",
        ),
        Rule::PodHostNamespace => ("`hostNetwork: true` (or `hostPID`, `hostIPC`) in a pod spec", "remove it"),
        Rule::PodHostPath => {
            ("a volume `hostPath: {path: /var/run/docker.sock}`", "an `emptyDir`, ConfigMap/Secret or PVC")
        }
        Rule::LabelsRequired => (
            "a workload without `app.kubernetes.io/name` (params `labels`, `kinds`; default: every kind with a pod template)",
            "add the label (kustomize `labels:`)",
        ),
        Rule::IngressHostDomain => (
            "Ingress host `shop.example.org` where the environment's `domains` are `[\"*.acme.com\"]` (`*.` matches any subdomain; inactive until domains are configured)",
            "use a host under the environment's domain",
        ),
        Rule::DanglingService => (
            "a Service `selector: {app.kubernetes.io/name: webb}` that no pod template of the render carries (checked in renders no other overlay builds on)",
            "fix the selector",
        ),
        Rule::SelectorMismatch => (
            "a Deployment `selector.matchLabels` `web-v2` with template label `web` (the API server rejects it)",
            "make the template labels match the selector",
        ),
        Rule::EnvDuplicateName => (
            "`LOG_LEVEL` twice in one container's `env` (the last wins; the schema check also reports the duplicate key)",
            "keep one",
        ),
        Rule::SecretPlain => (
            "a `Secret` with a plain `data`/`stringData` value and no `sops:` block; not empty values, `${VAR}`s, SOPS `ENC[...]` or secret-tool references (`op://`, `ref+...`, `<path:...>`, `{{ }}`), SSH public keys or PEM certificates",
            "encrypt with SOPS, or use an external secret store",
        ),
        Rule::HelmChartVersionUnpinned => (
            "HelmRelease `chart.spec.version: \"18.x\"` (a range) or no version (HelmRepository charts only)",
            "pin an exact version `18.19.4`",
        ),
        Rule::FluxKustomizationPrune => ("a Flux Kustomization with `prune: false` or no `prune`", "`prune: true`"),
        Rule::FluxKustomizationInterval => {
            ("a Flux Kustomization with no `interval` or `interval: \"ten minutes\"`", "a Go duration: `interval: 10m`")
        }
        Rule::ImageAutomationNotAllowed => (
            "a `# {\"$imagepolicy\": ...}` marker in a file a production entry point reads, or an ImageUpdateAutomation object there",
            "promote images through reviewed commits; keep automation to the environments that allow it",
        ),
        Rule::PdbMissing => (
            "a Deployment/StatefulSet with `replicas: 2` (or an HPA `minReplicas` ≥ 2) and no PodDisruptionBudget in its render selecting its pods (a warning: a PDB made elsewhere is not seen)",
            "add a PDB (`maxUnavailable: 1`)",
        ),
        Rule::ReplicasMinimum => (
            "`replicas: 1` (or HPA `minReplicas: 1`) below the minimum (param `min`, default 2)",
            "raise the replicas / `minReplicas`",
        ),
        Rule::SuppressionUnused => (
            "a `fluxgate.io/ignore` rule name or a `suppressions:` entry that silenced nothing (reported in full runs: no `--shard`, and no `--base` that leaves entry points out)",
            "remove it, or fix its rule, path or object",
        ),
        Rule::HelmChartUnavailable => (
            "a HelmRelease's chart cannot be had: repository unreachable, no version matching `4.11.x` in its index, `--offline` with the chart not in the cache, a Bucket or foreign GitRepository source; its output is not checked (`helm.unavailable: error\\|warning\\|off`)",
            "`fluxgate charts pull`, or fix the chart reference",
        ),
        Rule::HelmRenderFailed => (
            "`helm template` fails for a HelmRelease (`fail \"unsupported region\"`, a `required` value, a chart that does not load); message from helm's stderr, Secret values masked",
            "fix the values or the chart",
        ),
        Rule::HelmSkipped => (
            "no `helm` binary was found, so HelmReleases were not rendered (never silently passed); one finding for the run names how many, and they do not count as failed renders",
            "install helm, or set `helm.binary` / `FLUXGATE_HELM`",
        ),
        Rule::AdmissionPolicy => (
            "an object fails a validation of a ValidatingAdmissionPolicy under `admissionPolicies.paths` (`image: nginx:latest` against a policy `!c.image.endsWith(':latest')`); shown as `admission-policy[<policy>]`",
            "fix the object, or suppress by rule id or policy name",
        ),
        Rule::AdmissionPolicySkipped => (
            "a policy validation that cannot be decided offline: it reads `authorizer` or `request.userInfo`, needs `namespaceObject` of a namespace not in the render, or errs under `failurePolicy: Ignore`",
            "nothing to fix in the object; the cluster decides",
        ),
        Rule::AdmissionPolicyInvalid => (
            "a ValidatingAdmissionPolicy/binding that does not parse, a CEL expression that does not compile (`object.spec.replicas <=`), a binding naming no policy, a `paramRef` finding nothing under `parameterNotFoundAction: Deny`",
            "fix the policy, binding or parameter object",
        ),
        Rule::NoEntryPoints => (
            "`fluxgate validate docs/` (or `ignore: [\"**\"]`): the root holds no `kustomization.yaml` and no Flux object, so nothing was rendered or checked",
            "run fluxgate at the GitOps repository's root, or narrow the `ignore` globs",
        ),
    }
}

/// What the default-severity column adds for a rule whose severity is decided elsewhere.
pub fn default_note(rule: Rule) -> &'static str {
    match rule {
        Rule::AdmissionPolicy => " (binding's `validationActions`: Deny → error, Warn/Audit → warning)",
        _ => "",
    }
}
