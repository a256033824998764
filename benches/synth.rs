//! Generator of large synthetic Flux repositories shaped like real ones, deterministic for a
//! given [`Params`] (same bytes on every run, so benchmark numbers compare across runs):
//!
//! - `apps/base/<app>/`: one base per app with `services` services (Deployment, Service,
//!   ServiceAccount, HorizontalPodAutoscaler, PodDisruptionBudget and a ConfigMap generator
//!   each) plus an Ingress, a Role and a RoleBinding;
//! - `components/<c>/`: shared kustomize Components (annotations, a default-deny
//!   NetworkPolicy, a security-context patch of every Deployment), used by every overlay;
//! - `apps/<env>/<app>[-r<k>]/`: `overlays` overlays per app and environment, each with its own
//!   namespace, images, labels, annotations, replicas, `patches` patches (strategic merge files
//!   and inline JSON 6902) and `generators` extra generators (a ConfigMap merge, Secrets);
//! - `clusters/<env>/`: Flux bootstrap (`flux-system` GitRepository and Kustomization) and,
//!   with `flux`, one Flux Kustomization per overlay with post-build substitution.
//!
//! Used by the comparison benchmark (`benches/compare.rs`), the other benches and the
//! differential test against `kubectl kustomize` (which keeps its output byte-checked).

#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::Path;

/// Size of the generated repository in the historical two-knob form (apps × environments, one
/// overlay each, two services per app); see [`Params`] for every knob.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub apps: usize,
    pub envs: usize,
}

/// Every knob of the generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    /// Environments (`development`, `staging`, ... then `env-<n>`), one Flux cluster each.
    pub envs: usize,
    /// Applications (one base each).
    pub apps: usize,
    /// Overlays per app and environment (regions: `<app>`, `<app>-r1`, ...).
    pub overlays: usize,
    /// Services per app (six rendered objects each).
    pub services: usize,
    /// Shared components (cycling through three kinds), all used by every overlay.
    pub components: usize,
    /// Patches per overlay (strategic merge files and inline JSON 6902, alternating).
    pub patches: usize,
    /// Generators per overlay (a ConfigMap merge into the base's, then new Secrets).
    pub generators: usize,
    /// One Flux Kustomization per overlay under `clusters/<env>/`.
    pub flux: bool,
}

impl From<Shape> for Params {
    fn from(s: Shape) -> Params {
        Params {
            envs: s.envs,
            apps: s.apps,
            overlays: 1,
            services: 2,
            components: 3,
            patches: 3,
            generators: 2,
            flux: true,
        }
    }
}

impl Params {
    /// A named size: `small` (60 overlays), `medium` (240), `large` (600 overlays, over 30,000
    /// rendered objects in the overlays alone), `huge` (5x large: 3,000 overlays).
    pub fn named(name: &str) -> Option<Params> {
        let apps = match name {
            "small" => 20,
            "medium" => 80,
            "large" => 200,
            "huge" => 1000,
            _ => return None,
        };
        Some(Params { envs: 3, apps, overlays: 1, services: 8, components: 3, patches: 4, generators: 2, flux: true })
    }

    /// The objects one overlay renders (what `kubectl kustomize` prints for it).
    pub fn objects_per_overlay(&self) -> usize {
        let network_policies = (0..self.components).filter(|c| c % 3 == 1).count();
        self.services * 6 + 3 + self.generators.saturating_sub(1) + network_policies
    }
}

/// What [`generate_with`] wrote.
#[derive(Clone, Debug, Default)]
pub struct Generated {
    /// Every overlay directory (relative to the root), in a stable order.
    pub overlays: Vec<String>,
    /// Every directory holding a kustomization file.
    pub kustomize_dirs: Vec<String>,
    /// The objects all overlays render together.
    pub overlay_objects: usize,
}

const ENVS: [&str; 6] = ["development", "staging", "production", "qa", "perf", "dr"];

fn env_name(i: usize) -> String {
    ENVS.get(i).map_or_else(|| format!("env-{i}"), |e| e.to_string())
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// Writes the repository under `root` (replacing it) and returns the overlay directories.
pub fn generate(root: &Path, shape: Shape) -> Vec<String> {
    generate_with(root, &Params::from(shape)).overlays
}

/// The relative path of one service's Deployment manifest in an app's base (the file the
/// benchmark's one-file change edits).
pub fn deployment_file(app: usize, service: usize) -> String {
    format!("apps/base/app-{app:04}/svc-{service}/deployment.yaml")
}

fn component(root: &Path, c: usize, out: &mut Generated) -> String {
    let name = match c % 3 {
        0 => format!("monitoring-{c}"),
        1 => format!("network-policy-{c}"),
        _ => format!("security-{c}"),
    };
    let dir = format!("components/{name}");
    let k = match c % 3 {
        0 => format!(
            "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonAnnotations:\n  prometheus.io/scrape: \"true\"\n  prometheus.io/port: \"{}\"\n",
            9090 + c
        ),
        1 => {
            write(
                root,
                &format!("{dir}/networkpolicy.yaml"),
                &format!(
                    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: default-deny-{c}\nspec:\n  podSelector: {{}}\n  policyTypes:\n    - Ingress\n"
                ),
            );
            "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - networkpolicy.yaml\n"
                .to_string()
        }
        _ => {
            write(
                root,
                &format!("{dir}/security.yaml"),
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: not-used\nspec:\n  template:\n    spec:\n      securityContext:\n        runAsNonRoot: true\n        seccompProfile:\n          type: RuntimeDefault\n",
            );
            "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n  - path: security.yaml\n    target:\n      kind: Deployment\n"
                .to_string()
        }
    };
    write(root, &format!("{dir}/kustomization.yaml"), &k);
    out.kustomize_dirs.push(dir.clone());
    dir
}

fn base(root: &Path, p: &Params, a: usize, out: &mut Generated) {
    let app = format!("app-{a:04}");
    let dir = format!("apps/base/{app}");
    let mut k = String::from("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n");
    for s in 0..p.services {
        for f in ["deployment", "service", "serviceaccount", "hpa", "pdb"] {
            let _ = writeln!(k, "  - svc-{s}/{f}.yaml");
        }
    }
    k.push_str("  - ingress.yaml\n  - rbac.yaml\nconfigMapGenerator:\n");
    for s in 0..p.services {
        let _ = write!(
            k,
            "  - name: {app}-svc-{s}-config\n    literals:\n      - LOG_LEVEL=info\n      - SERVICE={app}-svc-{s}\n    files:\n      - svc-{s}/application.properties\n"
        );
    }
    write(root, &format!("{dir}/kustomization.yaml"), &k);
    out.kustomize_dirs.push(dir.clone());
    for s in 0..p.services {
        let svc = format!("{app}-svc-{s}");
        let sdir = format!("{dir}/svc-{s}");
        write(
            root,
            &format!("{sdir}/deployment.yaml"),
            &format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {svc}\n  labels:\n    app.kubernetes.io/name: {svc}\n    app.kubernetes.io/part-of: {app}\n  annotations:\n    example.com/cluster: ${{cluster_env:=none}}\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: {svc}\n  template:\n    metadata:\n      labels:\n        app.kubernetes.io/name: {svc}\n        app.kubernetes.io/part-of: {app}\n    spec:\n      serviceAccountName: {svc}\n      securityContext:\n        runAsNonRoot: true\n      containers:\n        - name: {svc}\n          image: europe-docker.pkg.dev/bench/apps/{svc}:1.0.0\n          securityContext:\n            allowPrivilegeEscalation: false\n            readOnlyRootFilesystem: true\n            capabilities:\n              drop: [ALL]\n          args: [\"--port=8080\", \"--log-format=json\"]\n          ports:\n            - name: http\n              containerPort: 8080\n          envFrom:\n            - configMapRef:\n                name: {svc}-config\n          env:\n            - name: POD_NAME\n              valueFrom:\n                fieldRef:\n                  fieldPath: metadata.name\n          resources:\n            requests: {{cpu: 100m, memory: 128Mi}}\n            limits: {{cpu: 500m, memory: 256Mi}}\n          readinessProbe:\n            httpGet: {{path: /ready, port: http}}\n          livenessProbe:\n            httpGet: {{path: /live, port: http}}\n          volumeMounts:\n            - name: tmp\n              mountPath: /tmp\n      volumes:\n        - name: tmp\n          emptyDir: {{}}\n"
            ),
        );
        write(
            root,
            &format!("{sdir}/service.yaml"),
            &format!(
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: {svc}\nspec:\n  selector:\n    app.kubernetes.io/name: {svc}\n  ports:\n    - name: http\n      port: 80\n      targetPort: http\n"
            ),
        );
        write(
            root,
            &format!("{sdir}/serviceaccount.yaml"),
            &format!("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {svc}\n"),
        );
        write(
            root,
            &format!("{sdir}/hpa.yaml"),
            &format!(
                "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: {svc}\nspec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: {svc}\n  minReplicas: 1\n  maxReplicas: 5\n  metrics:\n    - type: Resource\n      resource:\n        name: cpu\n        target: {{type: Utilization, averageUtilization: 80}}\n"
            ),
        );
        write(
            root,
            &format!("{sdir}/pdb.yaml"),
            &format!(
                "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: {svc}\nspec:\n  minAvailable: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: {svc}\n"
            ),
        );
        write(
            root,
            &format!("{sdir}/application.properties"),
            &format!("server.port=8080\nservice.name={svc}\nfeature.flags=a,b,c\n"),
        );
    }
    let mut ingress = format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {app}\nspec:\n  ingressClassName: nginx\n  rules:\n    - host: {app}.example.com\n      http:\n        paths:\n"
    );
    for s in 0..p.services {
        let _ = write!(
            ingress,
            "          - path: /svc-{s}\n            pathType: Prefix\n            backend:\n              service:\n                name: {app}-svc-{s}\n                port:\n                  name: http\n"
        );
    }
    write(root, &format!("{dir}/ingress.yaml"), &ingress);
    write(
        root,
        &format!("{dir}/rbac.yaml"),
        &format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: {app}-reader\nrules:\n  - apiGroups: [\"\"]\n    resources: [\"configmaps\", \"secrets\"]\n    verbs: [\"get\", \"list\", \"watch\"]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: {app}-reader\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: {app}-reader\nsubjects:\n  - kind: ServiceAccount\n    name: {app}-svc-0\n"
        ),
    );
}

fn overlay(root: &Path, p: &Params, a: usize, env: &str, r: usize, components: &[String], out: &mut Generated) {
    let app = format!("app-{a:04}");
    let name = if r == 0 { app.clone() } else { format!("{app}-r{r}") };
    let dir = format!("apps/{env}/{name}");
    let ns = format!("{name}-{env}");
    let mut k = format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: {ns}\nresources:\n  - ../../base/{app}\n"
    );
    if !components.is_empty() {
        k.push_str("components:\n");
        for c in components {
            let _ = writeln!(k, "  - ../../../{c}");
        }
    }
    let _ = write!(
        k,
        "labels:\n  - pairs:\n      environment: {env}\n    includeSelectors: false\ncommonAnnotations:\n  team.example.com/owner: team-{}\nimages:\n",
        a % 7
    );
    for s in 0..p.services {
        let _ = write!(k, "  - name: europe-docker.pkg.dev/bench/apps/{app}-svc-{s}\n    newTag: 1.{a}.{r}\n");
    }
    k.push_str("replicas:\n");
    for s in 0..p.services {
        let _ = write!(k, "  - name: {app}-svc-{s}\n    count: {}\n", 2 + (s + r) % 3);
    }
    if p.generators > 0 {
        k.push_str("configMapGenerator:\n");
        let _ = write!(
            k,
            "  - name: {app}-svc-0-config\n    behavior: merge\n    literals:\n      - ENVIRONMENT={env}\n      - REGION=r{r}\n"
        );
    }
    if p.generators > 1 {
        k.push_str("secretGenerator:\n");
        for g in 1..p.generators {
            let _ = write!(
                k,
                "  - name: {app}-credentials-{g}\n    type: Opaque\n    literals:\n      - username=svc-{g}\n      - password=not-a-secret-{a}-{g}\n"
            );
        }
    }
    if p.patches > 0 {
        k.push_str("patches:\n");
    }
    for i in 0..p.patches {
        let s = i % p.services.max(1);
        if i % 2 == 0 {
            let file = format!("patch-{i}.yaml");
            let _ = writeln!(k, "  - path: {file}");
            write(
                root,
                &format!("{dir}/{file}"),
                &format!(
                    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {app}-svc-{s}\nspec:\n  template:\n    spec:\n      containers:\n        - name: {app}-svc-{s}\n          resources:\n            limits:\n              memory: {}Mi\n          env:\n            - name: ENVIRONMENT\n              value: {env}\n            - name: PATCH\n              value: \"{i}\"\n",
                    256 + 128 * (i % 4)
                ),
            );
        } else {
            let _ = write!(
                k,
                "  - target:\n      kind: HorizontalPodAutoscaler\n      name: {app}-svc-{s}\n    patch: |-\n      - op: replace\n        path: /spec/maxReplicas\n        value: {}\n",
                6 + i
            );
        }
    }
    write(root, &format!("{dir}/kustomization.yaml"), &k);
    out.kustomize_dirs.push(dir.clone());
    out.overlays.push(dir);
    out.overlay_objects += p.objects_per_overlay();
}

fn cluster(root: &Path, env: &str, flux_dirs: &[String]) {
    let dir = format!("clusters/{env}");
    write(
        root,
        &format!("{dir}/flux-system/gotk-sync.yaml"),
        &format!(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 1m0s\n  ref:\n    branch: main\n  secretRef:\n    name: flux-system\n  url: ssh://git@git.example.com/platform/fleet.git\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 10m0s\n  path: ./{dir}\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n"
        ),
    );
    write(
        root,
        &format!("{dir}/flux-system/kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - gotk-sync.yaml\n",
    );
    let mut apps = String::new();
    for d in flux_dirs {
        let name = d.rsplit('/').next().unwrap_or(d);
        let _ = write!(
            apps,
            "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {name}\n  namespace: flux-system\nspec:\n  interval: 10m\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n  path: ./{d}\n  prune: true\n  wait: true\n  timeout: 5m\n  postBuild:\n    substitute:\n      cluster_env: {env}\n"
        );
    }
    if !apps.is_empty() {
        write(root, &format!("{dir}/apps.yaml"), &apps);
    }
}

/// Writes the repository under `root` (replacing it).
pub fn generate_with(root: &Path, p: &Params) -> Generated {
    let _ = std::fs::remove_dir_all(root);
    let mut out = Generated::default();
    // The generated Secrets stand in for SOPS-encrypted ones (which Flux decrypts); the rest of
    // the manifests are hardened, so the default policy raises nothing and the run is green.
    write(root, ".fluxgate.yaml", "rules:\n  secret-plain:\n    severity: off\n");
    let components: Vec<String> = (0..p.components).map(|c| component(root, c, &mut out)).collect();
    for a in 0..p.apps {
        base(root, p, a, &mut out);
    }
    for e in 0..p.envs {
        let env = env_name(e);
        let start = out.overlays.len();
        for a in 0..p.apps {
            for r in 0..p.overlays {
                overlay(root, p, a, &env, r, &components, &mut out);
            }
        }
        let flux_dirs = if p.flux { out.overlays[start..].to_vec() } else { Vec::new() };
        cluster(root, &env, &flux_dirs);
        out.kustomize_dirs.push(format!("clusters/{env}/flux-system"));
    }
    out.kustomize_dirs.sort();
    out
}

/// One overlay whose single resource file holds `n` small ConfigMaps (a vendored bundle of
/// generated dashboards or alert rules), with a namespace and common labels, so every object
/// is renamed and relabelled. Returns the overlay directory.
pub fn one_file(root: &Path, n: usize) -> String {
    let _ = std::fs::remove_dir_all(root);
    let mut text = String::with_capacity(n * 140);
    for i in 0..n {
        text.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dashboard-{i:05}\n  labels:\n    app.kubernetes.io/name: dashboards\ndata:\n  panel: \"{i}\"\n  title: dashboard number {i}\n"
        ));
    }
    write(root, "bundle/objects.yaml", &text);
    write(
        root,
        "bundle/kustomization.yaml",
        "namespace: dashboards\ncommonLabels:\n  team: observability\nresources:\n- objects.yaml\n",
    );
    "bundle".into()
}

/// One overlay whose single file holds `n` workloads, each a Deployment with its Service,
/// HorizontalPodAutoscaler and PodDisruptionBudget (and two patches without a target, on the
/// Deployment and the Service): the rules that relate objects to each other (a Service to the
/// pod templates it selects, a Deployment to its autoscaler and budget) and patch target
/// lookups, at scale. Returns the overlay directory.
pub fn workloads(root: &Path, n: usize) -> String {
    let _ = std::fs::remove_dir_all(root);
    let mut text = String::with_capacity(n * 900);
    let mut patch = String::with_capacity(n * 200);
    for i in 0..n {
        text.push_str(&format!(
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: w-{i}\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {{app: w-{i}}}\n  template:\n    metadata:\n      labels: {{app: w-{i}, tier: web}}\n    spec:\n      containers:\n      - name: w\n        image: registry.example.com/w:1.{i}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: w-{i}\nspec:\n  selector: {{app: w-{i}}}\n  ports:\n  - port: 80\n---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: w-{i}\nspec:\n  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: w-{i}}}\n  minReplicas: 2\n  maxReplicas: 4\n---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: w-{i}\nspec:\n  maxUnavailable: 1\n  selector:\n    matchLabels: {{app: w-{i}}}\n"
        ));
        patch.push_str(&format!(
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: w-{i}\nspec:\n  revisionHistoryLimit: 3\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: w-{i}\n  annotations: {{patched: \"true\"}}\n"
        ));
    }
    write(root, "apps/workloads.yaml", &text);
    write(root, "apps/patches.yaml", &patch);
    write(
        root,
        "apps/kustomization.yaml",
        "namespace: apps\nresources:\n- workloads.yaml\npatches:\n- path: patches.yaml\n",
    );
    "apps".into()
}

/// One overlay of `files` resource files of ten objects each (a Deployment, a Service and
/// eight ConfigMaps that the Deployment mounts), with one strategic merge patch and one
/// ConfigMap generator per ten files whose generated name the Deployments reference: name
/// references, patch targets and hash suffixes at scale. Returns the overlay directory.
pub fn spread(root: &Path, files: usize) -> String {
    let _ = std::fs::remove_dir_all(root);
    let mut k = String::from("namespace: spread\nnamePrefix: s-\nresources:\n");
    for f in 0..files {
        let mut text = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-{f}\nspec:\n  selector:\n    matchLabels: {{app: web-{f}}}\n  template:\n    metadata:\n      labels: {{app: web-{f}}}\n    spec:\n      containers:\n      - name: web\n        image: registry.example.com/web:1.{f}\n        envFrom:\n        - configMapRef: {{name: settings-{g}}}\n      volumes:\n",
            g = f / 10
        );
        for c in 0..7 {
            text.push_str(&format!("      - name: v{c}\n        configMap: {{name: cm-{f}-{c}}}\n"));
        }
        text.push_str(&format!(
            "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web-{f}\nspec:\n  selector: {{app: web-{f}}}\n  ports:\n  - port: 80\n"
        ));
        for c in 0..7 {
            text.push_str(&format!(
                "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{f}-{c}\ndata:\n  k: v{c}\n"
            ));
        }
        text.push_str(&format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra-{f}\ndata:\n  k: x\n"));
        write(root, &format!("spread/res/f{f:04}.yaml"), &text);
        k.push_str(&format!("- res/f{f:04}.yaml\n"));
    }
    k.push_str("configMapGenerator:\n");
    for g in 0..files.div_ceil(10) {
        k.push_str(&format!("- name: settings-{g}\n  literals:\n  - GROUP={g}\n"));
    }
    k.push_str("patches:\n");
    for g in 0..files.div_ceil(10) {
        let f = g * 10;
        write(
            root,
            &format!("spread/patches/p{g:03}.yaml"),
            &format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-{f}\nspec:\n  replicas: 3\n"),
        );
        k.push_str(&format!("- path: patches/p{g:03}.yaml\n"));
    }
    write(root, "spread/kustomization.yaml", &k);
    "spread".into()
}
