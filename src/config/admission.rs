//! The `admissionPolicies:` section of `.fluxgate.yaml`.

use crate::source::Node;

/// Where the repository's ValidatingAdmissionPolicies live and how widely they apply.
///
/// ```yaml
/// admissionPolicies:
///   paths: ["policies/"]   # files or directories (repo-relative): policies, bindings, params
///   podTemplates: true     # also apply Pod policies to workloads' pod templates
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdmissionConfig {
    /// Repo-relative files or directories holding ValidatingAdmissionPolicy,
    /// ValidatingAdmissionPolicyBinding and parameter objects. Empty: no custom policies.
    pub paths: Vec<String>,
    /// The config line of each path, so a path that does not exist is reported where it is written.
    pub path_lines: Vec<u32>,
    /// Evaluate Pod-matching policies on the pod templates of workloads (Deployment,
    /// StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, ReplicationController), as the
    /// controllers' Pods would meet them in the cluster. Off by default.
    pub pod_templates: bool,
}

impl AdmissionConfig {
    /// Parses the section; the error is `(line, message)` for the config's error type.
    pub fn parse(v: &Node) -> Result<AdmissionConfig, (u32, String)> {
        let m = v.as_map().ok_or_else(|| (v.loc.line, "'admissionPolicies' must be a map".to_string()))?;
        let mut out = AdmissionConfig::default();
        for (k, sv) in m {
            match k.as_str() {
                "paths" => {
                    let seq = sv.as_seq().ok_or_else(|| {
                        (sv.loc.line, "'admissionPolicies.paths' must be a list of paths".to_string())
                    })?;
                    for p in seq {
                        let s = p.as_str().ok_or_else(|| {
                            (p.loc.line, "'admissionPolicies.paths' entries must be paths".to_string())
                        })?;
                        out.paths.push(s.to_string());
                        out.path_lines.push(p.loc.line);
                    }
                }
                "podTemplates" => {
                    out.pod_templates = sv.as_bool().ok_or_else(|| {
                        (sv.loc.line, "'admissionPolicies.podTemplates' must be true or false".to_string())
                    })?;
                }
                other => return Err((sv.loc.line, format!("unknown setting 'admissionPolicies.{other}'"))),
            }
        }
        Ok(out)
    }
}
