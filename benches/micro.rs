//! Micro-benchmarks of the three inner loops of a run (`cargo bench --bench micro`): loading a
//! typical manifest file (YAML with source locations), a strategic merge patch of a Deployment,
//! and checking one Deployment against its compiled schema (the schema is compiled once,
//! before timing, as a run compiles each kind once).

use divan::{Bencher, black_box};

use fluxgate::check::objects;
use fluxgate::config::Level;
use fluxgate::kustomize::patch::strategic::{BuiltinMeta, apply_strategic};
use fluxgate::kustomize::resource::Resource;
use fluxgate::schema::registry::Registry;
use fluxgate::source::yaml::{self, Dialect};
use fluxgate::source::{FileId, Limits, Node};

fn main() {
    divan::main();
}

/// A typical application manifest: a Deployment, its Service and ServiceAccount in one file.
const MANIFEST: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: checkout-api
  labels:
    app.kubernetes.io/name: checkout-api
    app.kubernetes.io/part-of: shop
  annotations:
    example.com/owner: team-payments
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: checkout-api
  template:
    metadata:
      labels:
        app.kubernetes.io/name: checkout-api
    spec:
      serviceAccountName: checkout-api
      securityContext:
        runAsNonRoot: true
      containers:
        - name: checkout-api
          image: europe-docker.pkg.dev/shop/checkout-api:1.4.2
          args: ["--port=8080", "--log-format=json"]
          ports:
            - name: http
              containerPort: 8080
          env:
            - name: POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            - name: DATABASE_URL
              valueFrom:
                secretKeyRef:
                  name: checkout-db
                  key: url
          resources:
            requests: {cpu: 100m, memory: 128Mi}
            limits: {cpu: 500m, memory: 256Mi}
          readinessProbe:
            httpGet: {path: /ready, port: http}
          livenessProbe:
            httpGet: {path: /live, port: http}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
        - name: proxy
          image: envoyproxy/envoy:v1.31.0
          ports:
            - containerPort: 9901
      volumes:
        - name: tmp
          emptyDir: {}
---
apiVersion: v1
kind: Service
metadata:
  name: checkout-api
spec:
  selector:
    app.kubernetes.io/name: checkout-api
  ports:
    - name: http
      port: 80
      targetPort: http
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: checkout-api
"#;

/// An overlay's patch: a container's resources and env merged by name, a new sidecar, a new
/// volume, and a label.
const PATCH: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: checkout-api
  labels:
    environment: production
spec:
  replicas: 4
  template:
    spec:
      containers:
        - name: checkout-api
          resources:
            limits:
              memory: 512Mi
          env:
            - name: ENVIRONMENT
              value: production
            - name: POD_NAME
              value: fixed
        - name: log-shipper
          image: fluent/fluent-bit:3.1
      volumes:
        - name: cache
          emptyDir: {}
"#;

fn parse(text: &str) -> Vec<Node> {
    let p = yaml::parse(text, FileId(0), Dialect::Yaml12, &Limits::default());
    assert!(p.error.is_none(), "{:?}", p.error);
    p.docs
}

#[divan::bench]
fn yaml_load_manifest_file() -> usize {
    let p = yaml::parse(black_box(MANIFEST), FileId(0), Dialect::Yaml12, &Limits::default());
    p.docs.len()
}

#[divan::bench]
fn strategic_merge_deployment(b: Bencher) {
    let target = parse(MANIFEST).remove(0);
    let patch = parse(PATCH).remove(0);
    let meta = BuiltinMeta::for_object(&target);
    assert!(meta.is_builtin());
    b.with_inputs(|| target.clone()).bench_local_values(|mut t| {
        apply_strategic(&mut t, black_box(&patch), &meta).unwrap();
        t
    });
}

#[divan::bench]
fn schema_validate_deployment(b: Bencher) {
    let registry = Registry::new(None).unwrap();
    let deployment = Resource::new(parse(MANIFEST).remove(0));
    // Compile the Deployment schema once, as a run does for each kind present.
    let first = objects::check(&deployment, &registry, Level::Warning);
    assert!(first.checked && first.findings.is_empty(), "{} findings", first.findings.len());
    b.bench_local(|| objects::check(black_box(&deployment), &registry, Level::Warning).findings.len());
}

/// Loading the bundled Kubernetes schemas of one version (inflate + parse) and resolving a kind.
#[divan::bench]
fn schema_registry_load_and_resolve() -> bool {
    let reg = Registry::new(Some("1.37")).expect("bundled version");
    black_box(reg.is_namespaced("apps/v1", "Deployment"))
}

/// The built-in policy rules (production settings, every rule on) over the objects of the
/// flux-gsf sample's Flux entry points, per render.
#[divan::bench]
fn policy_builtin_flux_gsf(b: Bencher) {
    use fluxgate::config::Config;
    use fluxgate::policy::builtin::{Ctx, RuleSet, evaluate};
    use fluxgate::source::Repo;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/flux-gsf");
    let repo = Repo::open(&root).expect("repo");
    let config = Config::parse(&std::fs::read_to_string(root.join(".fluxgate.yaml")).expect("config")).expect("config");
    let renders =
        fluxgate::pipeline::render_entry_points(&repo, &config, &fluxgate::discover::discover(&repo, &config));
    let rendered: Vec<_> = renders.flux.iter().filter_map(|e| e.result.as_ref().ok()).collect();
    let rules = RuleSet::new(&config.policy, Some("production"));
    let ctx = Ctx { rules: &rules, complete: true, markers: &[] };
    b.bench(|| rendered.iter().map(|r| evaluate(&r.resources, &ctx).len()).sum::<usize>());
}
