//! SARIF 2.1.0, for code-scanning views (GitHub, GitLab, Bitbucket Code Insights converters, IDEs).
//!
//! One run whose tool is `fluxgate` (with its version) and whose `rules` are every rule of
//! [`Rule::ALL`], in registry order, so `ruleIndex` is the rule's index there. One result per
//! finding, in report order:
//!
//! - `ruleId`, `ruleIndex`, `level` (`error` / `warning` / `note` for info), `message.text` (the
//!   message, then `help: …` on a new line when the finding has help);
//! - `locations[0].physicalLocation`: `artifactLocation { uri, uriBaseId: "%SRCROOT%" }` with the
//!   root-relative path percent-encoded as a URI reference, and `region { startLine, startColumn }`
//!   (columns count Unicode code points, declared by the run's `columnKind`);
//! - `locations[0].logicalLocations`: the entry point (`kind: "module"`) and the object
//!   (`kind: "resource"`, `name` = `Kind/namespace/name`, `fullyQualifiedName` =
//!   `apiVersion/Kind/namespace/name`); a finding with neither a file nor a logical location has no
//!   `locations`;
//! - a suppressed finding keeps its result and level and gets
//!   `suppressions: [{ kind: "external", justification: <reason> }]`, so viewers show it as
//!   suppressed instead of dropping it.
//!
//! Written with plain serde structs instead of the `serde-sarif` crate: we emit a small, fixed
//! subset, and that crate's generated builder model (plus `typed-builder` and `strum` proc macros)
//! costs more build time than these ~100 lines. Struct fields serialize in declaration order and
//! nothing comes from a map, so the same report gives byte-identical output.

use std::io::{self, Write};

use serde::Serialize;

use super::RunReport;
use crate::finding::{Finding, Severity};
use crate::rules::Rule;

/// The `$schema` every SARIF 2.1.0 consumer recognises.
pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// The base id that locations are relative to: the repository root.
pub const SRCROOT: &str = "%SRCROOT%";

/// Writes `report` as one pretty-printed SARIF 2.1.0 log with a trailing newline.
pub fn write_sarif(report: &RunReport, out: &mut dyn Write) -> io::Result<()> {
    let log = Log {
        schema: SARIF_SCHEMA,
        version: "2.1.0",
        runs: [Run {
            tool: Tool {
                driver: Driver {
                    name: "fluxgate",
                    version: env!("CARGO_PKG_VERSION"),
                    rules: Rule::ALL.iter().map(|&r| rule(r)).collect(),
                },
            },
            original_uri_base_ids: OriginalUriBaseIds {
                srcroot: BaseId { description: Text { text: "the root of the GitOps repository".into() } },
            },
            column_kind: "unicodeCodePoints",
            results: report.findings.iter().map(result).collect(),
        }],
    };
    serde_json::to_writer_pretty(&mut *out, &log)?;
    out.write_all(b"\n")
}

fn rule(r: Rule) -> ReportingDescriptor {
    ReportingDescriptor {
        id: r.id(),
        short_description: Text { text: r.summary().into() },
        default_configuration: Configuration { level: level(r.default_severity()) },
    }
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn result(f: &Finding) -> SarifResult {
    // `ruleId` stays the registry's id (it indexes the driver's rules); the policy goes in the text.
    let mut text = match &f.policy {
        Some(p) => format!("[{p}] {}", f.message),
        None => f.message.clone(),
    };
    if let Some(help) = &f.help {
        text.push_str("\nhelp: ");
        text.push_str(help);
    }
    let physical_location = f.location.as_ref().map(|loc| PhysicalLocation {
        artifact_location: ArtifactLocation { uri: uri_reference(&loc.file), uri_base_id: SRCROOT },
        // SARIF lines and columns are 1-based; a 0 means "unknown", so leave the field out.
        region: (loc.line > 0)
            .then(|| Region { start_line: loc.line, start_column: (loc.column > 0).then_some(loc.column) }),
    });
    let mut logical_locations = Vec::new();
    if let Some(ep) = &f.entry_point {
        logical_locations.push(LogicalLocation { name: ep.clone(), fully_qualified_name: None, kind: "module" });
    }
    if let Some(obj) = &f.object {
        logical_locations.push(LogicalLocation {
            name: obj.display(),
            fully_qualified_name: Some(format!("{}/{}", obj.api_version(), obj.display())),
            kind: "resource",
        });
    }
    let locations = if physical_location.is_none() && logical_locations.is_empty() {
        Vec::new()
    } else {
        vec![Location { physical_location, logical_locations }]
    };
    SarifResult {
        rule_id: f.rule.id(),
        rule_index: Rule::ALL.iter().position(|&r| r == f.rule).unwrap_or_default(),
        level: level(f.severity),
        message: Text { text },
        locations,
        suppressions: f
            .suppressed
            .iter()
            .map(|reason| Suppression { kind: "external", justification: reason.clone() })
            .collect(),
    }
}

/// A root-relative `/` path as a relative URI reference: unreserved characters, `/` and the
/// sub-delimiters stay, everything else (spaces, `%`, `#`, `?`, `:`, non-ASCII as UTF-8 bytes)
/// is percent-encoded. `:` is encoded too so a first segment never reads as a URI scheme.
fn uri_reference(path: &str) -> String {
    let mut uri = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=@".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri
}

#[derive(Serialize)]
struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    tool: Tool,
    original_uri_base_ids: OriginalUriBaseIds,
    column_kind: &'static str,
    results: Vec<SarifResult>,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
struct Driver {
    name: &'static str,
    version: &'static str,
    rules: Vec<ReportingDescriptor>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportingDescriptor {
    id: &'static str,
    short_description: Text,
    default_configuration: Configuration,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct OriginalUriBaseIds {
    #[serde(rename = "%SRCROOT%")]
    srcroot: BaseId,
}

#[derive(Serialize)]
struct BaseId {
    description: Text,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: &'static str,
    rule_index: usize,
    level: &'static str,
    message: Text,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    locations: Vec<Location>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suppressions: Vec<Suppression>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    physical_location: Option<PhysicalLocation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logical_locations: Vec<LogicalLocation>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<Region>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    uri_base_id: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_column: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogicalLocation {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fully_qualified_name: Option<String>,
    kind: &'static str,
}

#[derive(Serialize)]
struct Suppression {
    kind: &'static str,
    justification: String,
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::report::fixture;

    fn sarif(report: &RunReport) -> (String, Value) {
        let mut out = Vec::new();
        write_sarif(report, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let value = serde_json::from_str(&text).unwrap();
        (text, value)
    }

    /// The part of the official SARIF 2.1.0 schema that our output touches: required properties,
    /// enums and minimums, written by hand from the spec (the real schema is not vendored).
    fn subset_schema() -> Value {
        let text = json!({ "type": "object", "required": ["text"], "properties": { "text": { "type": "string" } } });
        let level = json!({ "enum": ["none", "note", "warning", "error"] });
        let driver = json!({
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": { "type": "string" },
                "version": { "type": "string" },
                "rules": { "type": "array", "uniqueItems": true, "items": {
                    "type": "object",
                    "required": ["id"],
                    "properties": {
                        "id": { "type": "string" },
                        "shortDescription": text,
                        "defaultConfiguration": { "type": "object", "properties": { "level": level } }
                    }
                } }
            }
        });
        let physical_location = json!({
            "type": "object",
            "required": ["artifactLocation"],
            "properties": {
                "artifactLocation": { "type": "object", "properties": {
                    "uri": { "type": "string", "format": "uri-reference" },
                    "uriBaseId": { "type": "string" }
                } },
                "region": { "type": "object", "properties": {
                    "startLine": { "type": "integer", "minimum": 1 },
                    "startColumn": { "type": "integer", "minimum": 1 }
                } }
            }
        });
        let logical_locations = json!({ "type": "array", "uniqueItems": true, "items": {
            "type": "object",
            "properties": {
                "name": { "type": "string" },
                "fullyQualifiedName": { "type": "string" },
                "kind": { "type": "string" }
            }
        } });
        let result = json!({
            "type": "object",
            "required": ["message"],
            "properties": {
                "ruleId": { "type": "string" },
                "ruleIndex": { "type": "integer", "minimum": -1 },
                "level": level,
                "message": text,
                "locations": { "type": "array", "items": { "type": "object", "properties": {
                    "physicalLocation": physical_location,
                    "logicalLocations": logical_locations
                } } },
                "suppressions": { "type": "array", "uniqueItems": true, "items": {
                    "type": "object",
                    "required": ["kind"],
                    "properties": {
                        "kind": { "enum": ["inSource", "external"] },
                        "justification": { "type": "string" }
                    }
                } }
            }
        });
        json!({
            "type": "object",
            "required": ["version", "runs"],
            "properties": {
                "$schema": { "type": "string", "format": "uri" },
                "version": { "const": "2.1.0" },
                "runs": { "type": "array", "minItems": 1, "maxItems": 1, "items": {
                    "type": "object",
                    "required": ["tool"],
                    "properties": {
                        "tool": { "type": "object", "required": ["driver"], "properties": { "driver": driver } },
                        "columnKind": { "enum": ["utf16CodeUnits", "unicodeCodePoints"] },
                        "originalUriBaseIds": { "type": "object", "additionalProperties": { "type": "object" } },
                        "results": { "type": "array", "items": result }
                    }
                } }
            }
        })
    }

    #[test]
    fn fixture_is_valid_against_the_subset_schema() {
        let (_, value) = sarif(&fixture::report());
        let validator = jsonschema::validator_for(&subset_schema()).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&value).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }

    #[test]
    fn tool_rules_and_results() {
        let report = fixture::report();
        let (_, v) = sarif(&report);
        assert_eq!(v["version"], "2.1.0");
        assert_eq!(v["$schema"], SARIF_SCHEMA);
        let runs = v["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 1);
        let run = &runs[0];
        let driver = &run["tool"]["driver"];
        assert_eq!(driver["name"], "fluxgate");
        assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
        let rules = driver["rules"].as_array().unwrap();
        assert_eq!(rules.len(), Rule::ALL.len());
        for (r, json) in Rule::ALL.iter().zip(rules) {
            assert_eq!(json["id"], r.id());
            assert_eq!(json["shortDescription"]["text"], r.summary());
            assert_eq!(json["defaultConfiguration"]["level"], level(r.default_severity()));
        }
        assert_eq!(
            rules.iter().find(|r| r["id"] == "flux-source-out-of-scope").unwrap()["defaultConfiguration"]["level"],
            "note"
        );

        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), report.findings.len());
        let count = |lvl: &str, suppressed: bool| {
            results.iter().filter(|r| r["level"] == lvl && r.get("suppressions").is_some() == suppressed).count()
        };
        assert_eq!(count("error", false), report.summary.errors);
        assert_eq!(count("warning", false), report.summary.warnings);
        assert_eq!(count("note", false), report.summary.infos);
        assert_eq!(count("error", true) + count("warning", true) + count("note", true), report.summary.suppressed);
        for r in results {
            let index = r["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[index]["id"], r["ruleId"], "ruleIndex points at the rule");
            assert!(r["message"]["text"].as_str().is_some_and(|t| !t.is_empty()));
        }
        // Report order is kept: result i is finding i.
        for (f, r) in report.findings.iter().zip(results) {
            assert_eq!(r["ruleId"], f.rule.id());
        }
    }

    #[test]
    fn locations_and_suppressions() {
        let (_, v) = sarif(&fixture::report());
        let results = v["runs"][0]["results"].as_array().unwrap();
        let by_message =
            |m: &str| results.iter().find(|r| r["message"]["text"].as_str().unwrap().starts_with(m)).unwrap();

        let patch = by_message("cannot apply patch");
        assert_eq!(
            patch["message"]["text"],
            "cannot apply patch: containers must be a list\nhelp: write `containers:` as a list of maps"
        );
        assert_eq!(
            patch["locations"],
            json!([{
                "physicalLocation": {
                    "artifactLocation": { "uri": "apps/base/patch.yaml", "uriBaseId": "%SRCROOT%" },
                    "region": { "startLine": 4, "startColumn": 19 }
                },
                "logicalLocations": [
                    { "name": "apps/base", "kind": "module" },
                    { "name": "Deployment/default/web", "fullyQualifiedName": "apps/v1/Deployment/default/web", "kind": "resource" }
                ]
            }])
        );

        let helm = by_message("HelmRelease kind is unknown");
        assert_eq!(helm["level"], "error");
        assert_eq!(
            helm["suppressions"],
            json!([{ "kind": "external", "justification": "annotation fluxgate.io/ignore: CRD installed later" }])
        );

        // Logical location only (render failure without a file), and nothing at all.
        let aborted = by_message("render aborted");
        assert_eq!(
            aborted["locations"],
            json!([{ "logicalLocations": [{ "name": "apps/broken", "kind": "module" }] }])
        );
        let kube = by_message("--kube-version");
        assert_eq!(kube["level"], "warning");
        assert!(kube.get("locations").is_none());

        // Hostile text survives as data: JSON escapes it, nothing is dropped.
        let evil = by_message("unknown kind Evil");
        assert_eq!(evil["locations"][0]["logicalLocations"][1]["name"], format!("Evil/_/{}", fixture::HOSTILE));
    }

    #[test]
    fn uris_are_percent_encoded() {
        assert_eq!(uri_reference("apps/base/deploy.yaml"), "apps/base/deploy.yaml");
        assert_eq!(uri_reference("a b/c#d?e%f.yaml"), "a%20b/c%23d%3Fe%25f.yaml");
        assert_eq!(uri_reference("c:/x"), "c%3A/x");
        assert_eq!(uri_reference("é.yaml"), "%C3%A9.yaml");
    }

    #[test]
    fn deterministic_and_empty() {
        let (first, _) = sarif(&fixture::report());
        assert_eq!(first, sarif(&fixture::report()).0);
        assert!(first.ends_with("}\n"));
        let (_, empty) = sarif(&RunReport::new(vec![], vec![]));
        assert_eq!(empty["runs"][0]["results"], json!([]));
    }
}
