//! Generator of large synthetic Flux repositories shaped like real ones: per-app bases with a
//! Deployment, Service, HPA, ServiceAccount and a ConfigMap generator; shared components; one
//! overlay per app and environment with namespace, images, labels, annotations, a strategic
//! merge patch file, an inline JSON 6902 patch, a generator merge and replicas.

use std::fmt::Write as _;
use std::path::Path;

/// Size of the generated repository.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub apps: usize,
    pub envs: usize,
}

const ENVS: [&str; 6] = ["development", "staging", "production", "qa", "perf", "dr"];

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// Writes the repository under `root` (replacing it) and returns the overlay directories.
pub fn generate(root: &Path, shape: Shape) -> Vec<String> {
    let _ = std::fs::remove_dir_all(root);
    write(
        root,
        "components/monitoring/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonAnnotations:\n  prometheus.io/scrape: \"true\"\n  prometheus.io/port: \"9090\"\n",
    );
    let mut overlays = Vec::new();
    for a in 0..shape.apps {
        let app = format!("app-{a:04}");
        let base = format!("apps/base/{app}");
        write(
            root,
            &format!("{base}/kustomization.yaml"),
            &format!(
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\n  - service.yaml\n  - hpa.yaml\n  - serviceaccount.yaml\nconfigMapGenerator:\n  - name: {app}-config\n    literals:\n      - LOG_LEVEL=info\n      - APP_NAME={app}\n"
            ),
        );
        write(
            root,
            &format!("{base}/deployment.yaml"),
            &format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {app}\n  labels:\n    app.kubernetes.io/name: {app}\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: {app}\n  template:\n    metadata:\n      labels:\n        app.kubernetes.io/name: {app}\n    spec:\n      serviceAccountName: {app}\n      containers:\n        - name: {app}\n          image: europe-docker.pkg.dev/bench/apps/{app}:1.0.0\n          ports:\n            - containerPort: 8080\n          envFrom:\n            - configMapRef:\n                name: {app}-config\n          resources:\n            requests: {{cpu: 100m, memory: 128Mi}}\n            limits: {{cpu: 500m, memory: 256Mi}}\n          readinessProbe:\n            httpGet: {{path: /ready, port: 8080}}\n          livenessProbe:\n            httpGet: {{path: /live, port: 8080}}\n"
            ),
        );
        write(
            root,
            &format!("{base}/service.yaml"),
            &format!(
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: {app}\nspec:\n  selector:\n    app.kubernetes.io/name: {app}\n  ports:\n    - port: 80\n      targetPort: 8080\n"
            ),
        );
        write(
            root,
            &format!("{base}/hpa.yaml"),
            &format!(
                "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: {app}\nspec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: {app}\n  minReplicas: 1\n  maxReplicas: 5\n  metrics:\n    - type: Resource\n      resource:\n        name: cpu\n        target: {{type: Utilization, averageUtilization: 80}}\n"
            ),
        );
        write(
            root,
            &format!("{base}/serviceaccount.yaml"),
            &format!("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {app}\n"),
        );
        for env in ENVS.iter().take(shape.envs) {
            let dir = format!("apps/{env}/{app}");
            let mut k = String::new();
            let _ = write!(
                k,
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: {app}-{env}\nresources:\n  - ../../base/{app}\ncomponents:\n  - ../../../components/monitoring\nlabels:\n  - pairs:\n      environment: {env}\n    includeSelectors: false\ncommonAnnotations:\n  team.example.com/owner: team-{}\nimages:\n  - name: europe-docker.pkg.dev/bench/apps/{app}\n    newTag: 1.{a}.0\nreplicas:\n  - name: {app}\n    count: 3\nconfigMapGenerator:\n  - name: {app}-config\n    behavior: merge\n    literals:\n      - ENVIRONMENT={env}\npatches:\n  - path: resources.yaml\n  - target:\n      kind: HorizontalPodAutoscaler\n      name: {app}\n    patch: |-\n      - op: replace\n        path: /spec/maxReplicas\n        value: 10\n",
                a % 7
            );
            write(root, &format!("{dir}/kustomization.yaml"), &k);
            write(
                root,
                &format!("{dir}/resources.yaml"),
                &format!(
                    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {app}\nspec:\n  template:\n    spec:\n      containers:\n        - name: {app}\n          resources:\n            limits:\n              memory: 512Mi\n          env:\n            - name: ENVIRONMENT\n              value: {env}\n"
                ),
            );
            overlays.push(dir);
        }
    }
    overlays
}
