//! The JSON report, a contract for scripts and other tools:
//!
//! ```json
//! {
//!   "version": 1,
//!   "summary": { "entry_points": 3, "entry_points_failed": 0, "entry_points_skipped": 0, "objects": 12,
//!                "errors": 1, "warnings": 0, "infos": 0, "suppressed": 0 },
//!   "entry_points": [ { "name": "apps/base", "kind": "kustomize", "path": "apps/base",
//!                       "rendered": true, "objects": [ { "apiVersion": "apps/v1", ... } ] } ],
//!   "findings": [ { "rule": "duplicate-object", "severity": "error",
//!                   "entry_point": "apps/base" | null,
//!                   "object": { "apiVersion", "kind", "namespace", "name" } | null,
//!                   "location": { "file", "line", "column" } | null,
//!                   "message": "...", "help": "..." | null } ]
//! }
//! ```
//!
//! A suppressed finding carries one more key, `"suppressed": "<reason>"`; it is not counted in
//! `errors`/`warnings`/`infos` but in `summary.suppressed`. A finding of a
//! ValidatingAdmissionPolicy (`admission-policy*` rules) carries `"policy": "<policy name>"`. Keys are only ever added, never renamed.

use std::io::{self, Write};

use super::RunReport;

/// Writes `report` as one pretty-printed JSON document with a trailing newline.
pub fn write_json(report: &RunReport, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::report::fixture;

    fn json(report: &RunReport) -> (String, Value) {
        let mut out = Vec::new();
        write_json(report, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let value = serde_json::from_str(&text).unwrap();
        (text, value)
    }

    fn keys(v: &Value) -> Vec<&str> {
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        keys
    }

    #[test]
    fn exact_contract_keys() {
        let (text, v) = json(&fixture::report());
        assert!(text.ends_with("}\n") && text.starts_with("{\n  \"version\": 1,\n"), "{text}");
        assert_eq!(keys(&v), ["entry_points", "findings", "summary", "version"]);
        assert_eq!(v["version"], 1);
        assert_eq!(
            keys(&v["summary"]),
            [
                "entry_points",
                "entry_points_failed",
                "entry_points_skipped",
                "errors",
                "infos",
                "objects",
                "suppressed",
                "warnings"
            ]
        );
        assert_eq!(v["summary"]["errors"], 6);
        assert_eq!(v["summary"]["warnings"], 2);
        assert_eq!(v["summary"]["suppressed"], 2);
        assert_eq!(v["summary"]["entry_points_failed"], 1);

        let ep = &v["entry_points"][0];
        assert_eq!(keys(ep), ["kind", "name", "objects", "path", "rendered"]);
        assert_eq!(ep["name"], "apps/base");
        assert_eq!(ep["kind"], "kustomize");

        let findings = v["findings"].as_array().unwrap();
        assert_eq!(findings.len(), 10);
        let contract = ["entry_point", "help", "location", "message", "object", "rule", "severity"];
        for f in findings {
            let mut expected = contract.to_vec();
            if f.get("suppressed").is_some() {
                assert!(f["suppressed"].is_string());
                expected.push("suppressed");
                expected.sort_unstable();
            }
            assert_eq!(keys(f), expected, "{f}");
            assert!(["error", "warning", "info"].contains(&f["severity"].as_str().unwrap()));
            if !f["object"].is_null() {
                assert_eq!(keys(&f["object"]), ["apiVersion", "kind", "name", "namespace"]);
            }
            if !f["location"].is_null() {
                assert_eq!(keys(&f["location"]), ["column", "file", "line"]);
            }
        }
        assert_eq!(findings.iter().filter(|f| f.get("suppressed").is_some()).count(), 2);
    }

    #[test]
    fn values_and_nulls() {
        let (_, v) = json(&fixture::report());
        let findings = v["findings"].as_array().unwrap();
        // Sorted by entry point first: the two run-level findings (entry_point null) lead.
        let no_ep = &findings[0];
        assert!(no_ep["entry_point"].is_null() && no_ep["object"].is_null());
        assert!(no_ep["location"].is_null() && no_ep["help"].is_null());
        assert_eq!(no_ep["severity"], "warning");
        let dup = findings.iter().find(|f| f["rule"] == "duplicate-object").unwrap();
        assert_eq!(
            dup["object"],
            serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "default", "name": "web"})
        );
        assert_eq!(dup["location"], serde_json::json!({"file": "apps/base/deploy.yaml", "line": 1, "column": 1}));
        assert_eq!(dup["help"], "remove one of the definitions");
        let evil = findings.iter().find(|f| f["rule"] == "unknown-kind" && f.get("suppressed").is_none()).unwrap();
        assert_eq!(evil["object"]["name"], fixture::HOSTILE);
        assert!(evil["object"]["namespace"].is_null());
    }

    #[test]
    fn deterministic_and_empty() {
        let report = fixture::report();
        assert_eq!(json(&report).0, json(&report).0);
        let (text, v) = json(&RunReport::new(vec![], vec![]));
        assert_eq!(v["entry_points"], serde_json::json!([]));
        assert_eq!(v["findings"], serde_json::json!([]));
        assert!(text.ends_with("}\n"));
    }
}
