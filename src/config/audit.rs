//! The `audit:` section: how `fluxgate audit` groups findings by team.

use crate::source::Node;

/// Default labels naming an object's owning team, first present wins (`audit.teamLabels`).
pub const DEFAULT_TEAM_LABELS: &[&str] = &["team", "app.kubernetes.io/team", "owner", "app.kubernetes.io/part-of"];

/// The `audit:` section (`audit: {teamLabels: [team, owner]}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditConfig {
    /// Label keys naming an object's team or owner; the first one the object carries wins.
    pub team_labels: Vec<String>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig { team_labels: DEFAULT_TEAM_LABELS.iter().map(|s| s.to_string()).collect() }
    }
}

/// Parses the `audit:` section: `teamLabels`, a non-empty list of label keys.
pub(super) fn parse_audit(v: &Node) -> Result<AuditConfig, (u32, String)> {
    let m = v.as_map().ok_or((v.loc.line, "'audit' must be a map".to_string()))?;
    let mut ac = AuditConfig::default();
    for (k, sv) in m {
        match k.as_str() {
            "teamLabels" => {
                let seq = sv.as_seq().ok_or((sv.loc.line, "'audit.teamLabels' must be a list of label keys".into()))?;
                let mut keys = Vec::new();
                for item in seq {
                    let s =
                        item.as_str().ok_or((item.loc.line, "'audit.teamLabels' entries must be strings".into()))?;
                    keys.push(s.to_string());
                }
                if keys.is_empty() {
                    return Err((sv.loc.line, "'audit.teamLabels' must name at least one label".into()));
                }
                ac.team_labels = keys;
            }
            other => return Err((sv.loc.line, format!("unknown setting 'audit.{other}'"))),
        }
    }
    Ok(ac)
}
