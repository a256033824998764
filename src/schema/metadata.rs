//! Metadata syntax the API server enforces before any schema: object names (DNS-1123),
//! label keys and values, annotation keys and total size.

use crate::rules::Rule;
use crate::source::Node;

use super::{PathSeg, SchemaViolation};

/// Kinds whose names must be DNS-1123 labels (≤ 63, no dots) rather than subdomains.
const LABEL_NAMED: &[&str] = &["Namespace", "Service"];

/// Kinds whose names the API server does not restrict to DNS names (path segments only).
const FREE_NAMED: &[&str] = &[
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "SecurityContextConstraints",
    "Event",
    "ComponentStatus",
];

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// Qualified name (`prefix/name`, prefix a DNS subdomain; name ≤ 63 alphanumerics with `-_.`
/// inside), as label and annotation keys use.
fn qualified_name_error(key: &str) -> Option<String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix
        && !is_dns_subdomain(p)
    {
        return Some(format!("prefix '{p}' must be a lowercase DNS subdomain"));
    }
    if name.is_empty() || name.len() > 63 {
        return Some("name part must be 1 to 63 characters".into());
    }
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let first = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    let last = name.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
    if !name.chars().all(ok_char) || !first || !last {
        return Some("name part must be alphanumerics, '-', '_' or '.', starting and ending alphanumeric".into());
    }
    None
}

/// Whether `v` is a label value the API server accepts: a check that only reads a label's syntax
/// has nothing to say about it.
pub fn is_valid_label_value(v: &str) -> bool {
    label_value_error(v).is_none()
}

fn label_value_error(v: &str) -> Option<String> {
    if v.is_empty() {
        return None;
    }
    if v.len() > 63 {
        return Some(format!("label values may be at most 63 characters, this one has {}", v.len()));
    }
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let first = v.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    let last = v.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
    (!v.chars().all(ok_char) || !first || !last)
        .then(|| "label values must be alphanumerics, '-', '_' or '.', starting and ending alphanumeric".into())
}

fn at(keys: &[&str]) -> Vec<PathSeg> {
    keys.iter().map(|k| PathSeg::Key((*k).to_string())).collect()
}

/// A SOPS-encrypted value (`ENC[AES256_GCM,...]`): Flux decrypts it before applying, so its
/// plaintext, not this text, is what the API server judges.
pub fn is_sops_ciphertext(s: &str) -> bool {
    s.starts_with("ENC[") && s.ends_with(']')
}

/// Checks name, labels and annotations of one object (the top level and pod templates).
pub fn check(obj: &Node) -> Vec<SchemaViolation> {
    let mut out = Vec::new();
    let kind = obj.str_at(&["kind"]).unwrap_or("");
    if let Some(name) = obj.str_at(&["metadata", "name"])
        && !crate::source::vars::has_reference(name)
        && !is_sops_ciphertext(name)
        && !FREE_NAMED.contains(&kind)
    {
        let (ok, what) = if LABEL_NAMED.contains(&kind) {
            (is_dns_label(name), "a DNS-1123 label (lowercase alphanumerics and '-', at most 63 characters)")
        } else {
            (
                is_dns_subdomain(name),
                "a DNS-1123 subdomain (lowercase alphanumerics, '-' and '.', at most 253 characters)",
            )
        };
        if !ok {
            out.push(SchemaViolation {
                rule: Rule::MetadataInvalidName,
                path: at(&["metadata", "name"]),
                message: format!("{kind} name '{name}' is not {what}"),
                help: Some(format!("try '{}'", suggest_name(name))),
            });
        }
    }
    for prefix in [&["metadata"][..], &["spec", "template", "metadata"][..]] {
        let mut path: Vec<&str> = prefix.to_vec();
        path.push("labels");
        if let Some(labels) = obj.path(&path).and_then(Node::as_map) {
            for (k, v) in labels {
                let mut p = at(&path);
                p.push(PathSeg::Key(k.clone()));
                if let Some(e) = qualified_name_error(k) {
                    out.push(SchemaViolation {
                        rule: Rule::MetadataInvalidLabel,
                        path: p.clone(),
                        message: format!("label key '{k}': {e}"),
                        help: None,
                    });
                }
                if let Some(s) = v.as_str()
                    && !crate::source::vars::has_reference(s)
                    && !is_sops_ciphertext(s)
                    && let Some(e) = label_value_error(s)
                {
                    out.push(SchemaViolation {
                        rule: Rule::MetadataInvalidLabel,
                        path: p,
                        message: format!("label '{k}' value '{s}': {e}"),
                        help: None,
                    });
                }
            }
        }
        path.pop();
        path.push("annotations");
        if let Some(ann) = obj.path(&path).and_then(Node::as_map) {
            let mut total = 0;
            for (k, v) in ann {
                total += k.len() + v.as_str().map_or(0, str::len);
                if let Some(e) = qualified_name_error(k) {
                    let mut p = at(&path);
                    p.push(PathSeg::Key(k.clone()));
                    out.push(SchemaViolation {
                        rule: Rule::MetadataInvalidAnnotation,
                        path: p,
                        message: format!("annotation key '{k}': {e}"),
                        help: None,
                    });
                }
            }
            if total > 256 * 1024 {
                out.push(SchemaViolation {
                    rule: Rule::MetadataInvalidAnnotation,
                    path: at(&path),
                    message: format!("annotations total {total} bytes; the API server allows 262144"),
                    help: None,
                });
            }
        }
    }
    out
}

fn suggest_name(name: &str) -> String {
    let s: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '-' })
        .collect();
    s.trim_matches(|c| c == '-' || c == '.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::{Dialect, parse};
    use crate::source::{FileId, Limits};

    fn check_yaml(text: &str) -> Vec<SchemaViolation> {
        check(&parse(text, FileId(0), Dialect::Yaml12, &Limits::default()).docs[0])
    }

    #[test]
    fn names_follow_dns_rules_per_kind() {
        assert!(check_yaml("kind: ConfigMap\nmetadata: {name: app.config-1}\n").is_empty());
        let v = check_yaml("kind: Service\nmetadata: {name: web.api}\n");
        assert_eq!(v[0].rule, Rule::MetadataInvalidName);
        let v = check_yaml("kind: Deployment\nmetadata: {name: Web_App}\n");
        assert_eq!(v[0].help.as_deref(), Some("try 'web-app'"));
        assert!(check_yaml("kind: ClusterRole\nmetadata: {name: 'system:aggregate'}\n").is_empty());
        assert!(check_yaml("kind: ConfigMap\nmetadata: {name: '${app}-cfg'}\n").is_empty());
    }

    #[test]
    fn label_and_annotation_syntax() {
        let v = check_yaml(
            "kind: ConfigMap\nmetadata:\n  name: a\n  labels: {'app.kubernetes.io/name': 'web app', 'Bad_Prefix/x': y}\n  annotations: {'-x': y}\n",
        );
        let rules: Vec<Rule> = v.iter().map(|x| x.rule).collect();
        assert_eq!(rules, [Rule::MetadataInvalidLabel, Rule::MetadataInvalidLabel, Rule::MetadataInvalidAnnotation]);
    }
}
