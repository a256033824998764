//! Differential test: our patch results against `kubectl kustomize` (kustomize v5.5), compared
//! by value and list order. Skipped when `kubectl` is not installed.

use std::process::Command;

use super::json6902::apply_json6902;
use super::strategic::{BuiltinMeta, apply_strategic};
use crate::source::yaml::{Dialect, parse};
use crate::source::{FileId, Limits, Loc, Node};

const DEPLOY: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  labels: {app: web, tier: front}
  finalizers: [f1, f2]
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1}
  template:
    metadata:
      annotations: {a: b}
    spec:
      nodeSelector: {disk: ssd, zone: a}
      tolerations:
      - {key: k1, operator: Exists}
      containers:
      - name: main
        image: main:1
        args: [--a, --b]
        env:
        - {name: A, value: '1'}
        - {name: B, value: '2'}
        ports:
        - containerPort: 80
        - {containerPort: 443, protocol: TCP}
        volumeMounts:
        - {name: data, mountPath: /data}
        resources:
          limits: {cpu: '1', memory: 1Gi}
      - name: side
        image: side:1
      volumes:
      - name: data
        emptyDir: {}
      - name: cfg
        configMap: {name: cfg}
";

const CRD_OBJ: &str = "\
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
  finalizers: [a]
spec:
  items:
  - {name: a, v: 1}
  - {name: b}
  template:
    spec:
      containers:
      - {name: main, image: x}
";

const SERVICE: &str = "\
apiVersion: v1
kind: Service
metadata:
  name: svc
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080}
  - {name: https, port: 443, protocol: TCP}
";

const CONFIGMAP: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
data:
  a: '1'
  b: two
list:
- x
- y
";

fn dep_patch(body: &str) -> String {
    format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n{body}")
}

fn containers(body: &str) -> String {
    dep_patch(&format!("spec:\n  template:\n    spec:\n      containers:\n{body}"))
}

enum Kind {
    Strategic,
    Json(&'static str),
}

struct Case {
    name: &'static str,
    base: &'static str,
    patch: String,
    kind: Kind,
}

fn smp(name: &'static str, base: &'static str, patch: String) -> Case {
    Case { name, base, patch, kind: Kind::Strategic }
}

fn json(name: &'static str, base: &'static str, kind: &'static str, patch: &str) -> Case {
    Case { name, base, patch: patch.to_string(), kind: Kind::Json(kind) }
}

fn cases() -> Vec<Case> {
    vec![
        smp("container merge and add", DEPLOY, containers("      - name: main\n        image: main:2\n      - name: new\n        image: new:1\n")),
        smp("container order patch first", DEPLOY, containers("      - name: side\n        image: side:2\n      - name: zz\n")),
        smp("env merge", DEPLOY, containers("      - name: main\n        env:\n        - {name: C, value: '3'}\n        - {name: A, value: x}\n")),
        smp("env delete item", DEPLOY, containers("      - name: main\n        env:\n        - {name: A, $patch: delete}\n")),
        smp("env delete all items clears list", DEPLOY, containers("      - name: main\n        env:\n        - {name: A, $patch: delete}\n        - {name: B, $patch: delete}\n")),
        smp("ports same key merge", DEPLOY, containers("      - name: main\n        ports:\n        - {containerPort: 80, name: web}\n        - {containerPort: 9090}\n")),
        smp("ports partial key dropped", DEPLOY, containers("      - name: main\n        ports:\n        - {containerPort: 80, protocol: UDP}\n        - {containerPort: 443, name: s}\n")),
        smp("ports full key merge", DEPLOY, containers("      - name: main\n        ports:\n        - {containerPort: 7}\n        - {containerPort: 443, protocol: TCP, name: s}\n")),
        smp("volumeMounts by mountPath", DEPLOY, containers("      - name: main\n        volumeMounts:\n        - {name: other, mountPath: /data}\n        - {name: cfg, mountPath: /cfg}\n")),
        smp("volumes merge", DEPLOY, dep_patch("spec:\n  template:\n    spec:\n      volumes:\n      - name: cfg\n        configMap: {name: cfg2, optional: true}\n      - name: new\n        secret: {secretName: s}\n")),
        smp("volume delete", DEPLOY, dep_patch("spec:\n  template:\n    spec:\n      volumes:\n      - {name: data, $patch: delete}\n")),
        smp("item replace keeps target", DEPLOY, containers("      - name: main\n        $patch: replace\n        image: main:9\n      - name: fresh\n        $patch: replace\n        image: f:1\n")),
        smp("list replace directive", DEPLOY, containers("      - $patch: replace\n      - name: only\n        image: only:1\n")),
        smp("list delete directive", DEPLOY, containers("      - $patch: delete\n")),
        smp("map replace directive", DEPLOY, dep_patch("spec:\n  template:\n    spec:\n      nodeSelector:\n        $patch: replace\n        zone: b\n")),
        smp("map delete directive", DEPLOY, dep_patch("spec:\n  strategy:\n    rollingUpdate:\n      $patch: delete\n")),
        smp("nested map replace in container", DEPLOY, containers("      - name: main\n        resources:\n          limits:\n            $patch: replace\n            memory: 2Gi\n")),
        smp("null deletes keys", DEPLOY, dep_patch("  labels:\n    tier: null\n    new: x\nspec:\n  template:\n    metadata:\n      annotations: null\n")),
        smp("null inside new map", DEPLOY, dep_patch("  annotations:\n    a: null\n    b: x\n")),
        smp("non-merge list replaced", DEPLOY, dep_patch("spec:\n  template:\n    spec:\n      tolerations:\n      - {key: k2, operator: Exists}\n")),
        smp("primitive list replaced (args)", DEPLOY, containers("      - name: main\n        args: [--c]\n")),
        smp("finalizers merge as set", DEPLOY, dep_patch("  finalizers: [f3, f1]\n")),
        smp("retainKeys passes through", DEPLOY, dep_patch("spec:\n  strategy:\n    $retainKeys: [type]\n    type: Recreate\n")),
        smp("setElementOrder passes through", DEPLOY, dep_patch("spec:\n  template:\n    spec:\n      $setElementOrder/containers:\n      - name: side\n      - name: main\n      containers:\n      - name: side\n        image: s:2\n")),
        smp("scalar overrides", DEPLOY, dep_patch("spec:\n  replicas: 3\n")),
        smp("crd lists replaced", CRD_OBJ, "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  finalizers: [b]\nspec:\n  items:\n  - {name: a, v: 2}\n  template:\n    spec:\n      containers:\n      - name: side\n".into()),
        smp("service ports by port+protocol", SERVICE, "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc\nspec:\n  ports:\n  - {port: 80, targetPort: 9090}\n  - {port: 8443, name: alt}\n".into()),
        json("json add/replace/remove", CONFIGMAP, "ConfigMap", "- {op: add, path: /data/c, value: three}\n- {op: replace, path: /data/a, value: '9'}\n- {op: remove, path: /data/b}\n"),
        json("json move/copy", CONFIGMAP, "ConfigMap", "- {op: move, from: /data/a, path: /data/z}\n- {op: copy, from: /data/b, path: /metadata/labels}\n"),
        json("json test ok and append", CONFIGMAP, "ConfigMap", "- {op: test, path: /data/a, value: '1'}\n- {op: add, path: /list/-, value: z}\n- {op: add, path: /list/0, value: w}\n"),
        json("json test fails", CONFIGMAP, "ConfigMap", "- {op: test, path: /data/a, value: '2'}\n"),
        json("json remove missing fails", CONFIGMAP, "ConfigMap", "- {op: remove, path: /data/zz}\n"),
        json("json on deployment", DEPLOY, "Deployment", "- {op: replace, path: /spec/template/spec/containers/0/image, value: 'main:3'}\n- {op: add, path: /spec/template/spec/containers/1/env, value: [{name: X, value: y}]}\n"),
    ]
}

fn doc_in(text: &str, file: u32, dialect: Dialect) -> Node {
    let p = parse(text, FileId(file), dialect, &Limits::default());
    assert!(p.error.is_none(), "test YAML does not parse: {:?}\n{text}", p.error);
    p.docs.into_iter().next().unwrap_or_else(|| Node::synthetic(crate::source::Value::NULL))
}

fn doc(text: &str, file: u32) -> Node {
    doc_in(text, file, Dialect::Yaml12)
}

fn ours(case: &Case) -> Result<Node, String> {
    let mut target = doc(case.base, 0);
    // kustomize reads JSON 6902 operations with YAML 1.1 rules (`y` is true); resources and
    // strategic merge patches with yaml.v3 rules.
    let patch = match case.kind {
        Kind::Strategic => doc(&case.patch, 1),
        Kind::Json(_) => doc_in(&case.patch, 1, Dialect::Yaml11),
    };
    let meta = BuiltinMeta::for_object(&target);
    let r = match case.kind {
        Kind::Strategic => apply_strategic(&mut target, &patch, &meta),
        Kind::Json(_) => apply_json6902(&mut target, &patch, Loc::new(FileId(1), 1, 1)),
    };
    r.map(|()| target).map_err(|e| e.message)
}

fn theirs(case: &Case) -> Result<Node, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let w = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).map_err(|e| e.to_string());
    w("base.yaml", case.base)?;
    w("patch.yaml", &case.patch)?;
    let k = match case.kind {
        Kind::Strategic => "resources: [base.yaml]\npatches:\n- path: patch.yaml\n".to_string(),
        Kind::Json(kind) => {
            format!("resources: [base.yaml]\npatches:\n- path: patch.yaml\n  target: {{kind: {kind}}}\n")
        }
    };
    w("kustomization.yaml", &k)?;
    let out = Command::new("kubectl").arg("kustomize").arg(dir.path()).output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(doc(&String::from_utf8_lossy(&out.stdout), 2))
}

fn kubectl_available() -> bool {
    Command::new("kubectl").arg("version").arg("--client").output().is_ok_and(|o| o.status.success())
}

#[test]
fn matches_kubectl_kustomize() {
    if !kubectl_available() {
        println!("skipped: kubectl not found");
        return;
    }
    let mut failures = Vec::new();
    let all = cases();
    for case in &all {
        match (ours(case), theirs(case)) {
            (Ok(a), Ok(b)) if a == b => {}
            (Err(_), Err(_)) => {}
            (a, b) => failures.push(format!(
                "{}:\n  ours:    {}\n  kubectl: {}",
                case.name,
                a.map_or_else(|e| format!("error {e}"), |n| n.to_json().to_string()),
                b.map_or_else(|e| format!("error {e}"), |n| n.to_json().to_string())
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from kubectl kustomize:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}
