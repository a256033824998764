//! `helm template` as helm-controller runs the install: the arguments it implies, the release
//! name and namespace rules, and reading helm's output back into located objects.

use std::path::Path;

use crate::schema::PathSeg;
use crate::source::yaml::{self, Dialect};
use crate::source::{Limits, Loc, Node};

/// Everything that decides one `helm template` run besides the chart and the values.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TemplateSettings {
    pub release_name: String,
    pub namespace: String,
    /// `v1.36.0`
    pub kube_version: String,
    /// `group/version` and `group/version/Kind` entries the target cluster serves.
    pub api_versions: Vec<String>,
    /// `install.crds` is not `Skip`: the chart's `crds/` are part of the release.
    pub include_crds: bool,
    /// `test.enable` is false (the default): test hooks are left out.
    pub skip_tests: bool,
}

/// helm-controller's release name: `spec.releaseName`, else `<targetNamespace>-<name>` with a
/// target namespace, else the HelmRelease name; longer than 53 characters (Helm's limit) it is
/// shortened to 40 characters plus `-` and 12 hex characters of its sha256.
pub fn release_name(hr_name: &str, release_name: Option<&str>, target_namespace: Option<&str>) -> String {
    let name = match (release_name.filter(|s| !s.is_empty()), target_namespace.filter(|s| !s.is_empty())) {
        (Some(r), _) => r.to_string(),
        (None, Some(t)) => format!("{t}-{hr_name}"),
        (None, None) => hr_name.to_string(),
    };
    if name.len() <= 53 {
        return name;
    }
    let hash = super::cache::sha256_hex(name.as_bytes());
    let head: String = name.chars().take(40).collect();
    format!("{head}-{}", &hash[..12])
}

/// The arguments of `helm template` (after the binary) for a chart at `chart` and a values
/// file at `values` (plus the chart's own `valuesFiles`, inside the chart, first).
pub fn template_args(s: &TemplateSettings, chart: &Path, values_files: &[String], values: &Path) -> Vec<String> {
    let mut a = vec![
        "template".to_string(),
        s.release_name.clone(),
        chart.display().to_string(),
        "--namespace".into(),
        s.namespace.clone(),
        "--kube-version".into(),
        s.kube_version.clone(),
    ];
    if !s.api_versions.is_empty() {
        a.push("--api-versions".into());
        a.push(s.api_versions.join(","));
    }
    if s.include_crds {
        a.push("--include-crds".into());
    }
    if s.skip_tests {
        a.push("--skip-tests".into());
    }
    for f in values_files {
        a.push("--values".into());
        a.push(chart.join(f).display().to_string());
    }
    a.push("--values".into());
    a.push(values.display().to_string());
    a
}

/// One document of helm's output, with the chart file it came from (`# Source:`).
#[derive(Debug)]
pub struct OutputDoc {
    pub source: String,
    pub node: Node,
}

/// Splits and parses `helm template` output. Every node is located at `at` (the HelmRelease):
/// what the chart renders has no line in this repository. A document that does not parse is
/// an error naming its source template.
pub fn parse_output(text: &str, at: Loc, limits: &Limits) -> Result<Vec<OutputDoc>, String> {
    let mut out = Vec::new();
    let mut source = String::new();
    let mut current = String::new();
    let mut flush = |source: &str, body: &mut String| -> Result<(), String> {
        if body.trim().is_empty() {
            body.clear();
            return Ok(());
        }
        let parsed = yaml::parse(body, at.file, Dialect::Yaml12, limits);
        if let Some(e) = parsed.error {
            return Err(format!("helm rendered invalid YAML in {source}: line {}: {}", e.loc.line, e.message));
        }
        for mut node in parsed.docs {
            node.set_loc_deep(at);
            out.push(OutputDoc { source: source.to_string(), node });
        }
        body.clear();
        Ok(())
    };
    for line in text.lines() {
        if line == "---" || line.starts_with("--- ") {
            flush(&source, &mut current)?;
            continue;
        }
        if let Some(s) = line.strip_prefix("# Source: ") {
            source = s.trim().to_string();
        }
        current.push_str(line);
        current.push('\n');
    }
    flush(&source, &mut current)?;
    Ok(out)
}

/// Whether an output document came from the chart's `crds/` directory.
pub fn is_from_crds_dir(source: &str) -> bool {
    source.split('/').nth(1) == Some("crds")
}

/// One values schema violation Helm reported: the path in the values and the reason.
#[derive(Debug, PartialEq, Eq)]
pub struct SchemaViolation {
    pub path: Vec<PathSeg>,
    pub message: String,
}

/// Reads Helm's "values don't meet the specifications of the schema(s)" error
/// (`- at '/replicaCount': got string, want integer`); `None` when stderr is another error.
pub fn schema_violations(stderr: &str) -> Option<Vec<SchemaViolation>> {
    if !stderr.contains("don't meet the specifications of the schema") {
        return None;
    }
    let mut out = Vec::new();
    for line in stderr.lines() {
        let Some(rest) = line.trim().strip_prefix("- ") else { continue };
        let (path, message) = match rest.strip_prefix("at '").and_then(|r| r.split_once("': ")) {
            Some((p, m)) => (pointer(p), m.to_string()),
            None => (Vec::new(), rest.to_string()),
        };
        out.push(SchemaViolation { path, message });
    }
    Some(out)
}

/// A JSON pointer (`/a/0/b~1c`) as path segments.
fn pointer(p: &str) -> Vec<PathSeg> {
    p.split('/')
        .skip(1)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let s = s.replace("~1", "/").replace("~0", "~");
            match s.parse::<usize>() {
                Ok(i) => PathSeg::Index(i),
                Err(_) => PathSeg::Key(s),
            }
        })
        .collect()
}

/// The last lines of helm's stderr that say what went wrong (without Go stack noise), at most
/// 800 characters.
pub fn trim_stderr(stderr: &str) -> String {
    let text: String = stderr
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !l.starts_with("WARNING:"))
        .collect::<Vec<_>>()
        .join("\n");
    let text = text.strip_prefix("Error: ").unwrap_or(&text).to_string();
    if text.chars().count() <= 800 {
        return text;
    }
    let head: String = text.chars().take(797).collect();
    format!("{head}...")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_names_follow_helm_controller() {
        assert_eq!(release_name("web", None, None), "web");
        assert_eq!(release_name("web", None, Some("prod")), "prod-web");
        assert_eq!(release_name("web", Some("site"), Some("prod")), "site");
        let long = release_name(&"a".repeat(60), None, None);
        assert_eq!(long.len(), 53);
        assert!(long.starts_with(&"a".repeat(40)));
    }

    #[test]
    fn template_arguments() {
        let s = TemplateSettings {
            release_name: "web".into(),
            namespace: "prod".into(),
            kube_version: "v1.36.0".into(),
            api_versions: vec!["apps/v1".into(), "gsf.io/v1/Thing".into()],
            include_crds: true,
            skip_tests: true,
        };
        let a = template_args(&s, Path::new("/c/web"), &["values-prod.yaml".into()], Path::new("/t/v.json"));
        assert_eq!(
            a.join(" "),
            "template web /c/web --namespace prod --kube-version v1.36.0 --api-versions apps/v1,gsf.io/v1/Thing \
             --include-crds --skip-tests --values /c/web/values-prod.yaml --values /t/v.json"
        );
        let s = TemplateSettings { include_crds: false, skip_tests: false, api_versions: vec![], ..s };
        let a = template_args(&s, Path::new("/c"), &[], Path::new("/v"));
        assert!(!a.iter().any(|x| x.starts_with("--include") || x.starts_with("--skip") || x == "--api-versions"));
    }

    #[test]
    fn output_is_split_by_source() {
        let text = "---\n# Source: app/crds/a.yaml\nkind: A\n---\n# Source: app/templates/b.yaml\nkind: B\n---\n# Source: app/templates/c.yaml\n\n";
        let docs = parse_output(text, Loc::NONE, &Limits::default()).unwrap();
        assert_eq!(docs.len(), 2);
        assert!(is_from_crds_dir(&docs[0].source));
        assert!(!is_from_crds_dir(&docs[1].source));
        assert!(parse_output("# Source: x/templates/y.yaml\na: [\n", Loc::NONE, &Limits::default()).is_err());
    }

    #[test]
    fn helm_schema_errors_become_paths() {
        let err = "Error: values don't meet the specifications of the schema(s) in the following chart(s):\napp:\n- at '/replicaCount': got string, want integer\n- at '/checks/0/url': missing\n- missing property 'port'\n";
        let v = schema_violations(err).unwrap();
        assert_eq!(v[0].path, [PathSeg::Key("replicaCount".into())]);
        assert_eq!(v[1].path, [PathSeg::Key("checks".into()), PathSeg::Index(0), PathSeg::Key("url".into())]);
        assert_eq!(v[2].path, []);
        assert!(schema_violations("Error: template: boom").is_none());
        assert_eq!(trim_stderr("Error: template: boom\n"), "template: boom");
    }
}
