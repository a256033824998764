//! The values handed to `helm template`, and keeping secret values out of every report.
//! The merge itself (valuesFrom in order, targetPath, optional, then spec.values) is
//! [`crate::flux::helm_values::release_values`], shared with the chart values check.

use std::path::Path;

use crate::finding::Finding;

/// Shortest secret value that is masked: shorter ones (`1`, `on`) are everywhere in normal
/// text and reveal nothing.
const MIN_SECRET_LEN: usize = 4;

/// The secret values worth masking, longest first (so a value containing another is masked
/// whole).
pub fn secret_set(values: &[String]) -> Vec<String> {
    let mut s: Vec<String> = values
        .iter()
        .filter(|v| v.chars().count() >= MIN_SECRET_LEN && !matches!(v.as_str(), "true" | "false" | "null"))
        .cloned()
        .collect();
    s.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    s.dedup();
    s
}

/// `text` with every secret value replaced by `***`.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "***");
        }
    }
    out
}

/// Masks secret values in a finding's message and help.
pub fn redact_finding(f: &mut Finding, secrets: &[String]) {
    if secrets.is_empty() {
        return;
    }
    f.message = redact(&f.message, secrets);
    if let Some(h) = &f.help {
        f.help = Some(redact(h, secrets));
    }
}

/// Writes the values as JSON (valid YAML) readable only by this user.
pub fn write_values(path: &Path, values: &serde_json::Value) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(serde_json::to_string(values).unwrap_or_default().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_longest_first_and_short_ones_kept() {
        let s = secret_set(&["hunter2".into(), "hunter2-extra".into(), "on".into(), "true".into()]);
        assert_eq!(s, ["hunter2-extra", "hunter2"]);
        assert_eq!(redact("pw hunter2-extra and hunter2, on", &s), "pw *** and ***, on");
    }
}
