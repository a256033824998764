//! A shared test fixture: a small run with every shape of finding the reporters must handle.

use std::collections::HashMap;

use super::{EntryPointKind, EntryPointReport, RunReport, SourceText};
use crate::finding::{Finding, Location, ObjectRef, Severity};
use crate::rules::Rule;

/// A name with everything XML and terminals dislike.
pub const HOSTILE: &str = "<script>]]>\u{1}";

/// Source text from an in-memory map of files.
pub struct FakeSource(pub HashMap<&'static str, &'static str>);

impl SourceText for FakeSource {
    fn line(&self, file: &str, line: u32) -> Option<String> {
        let text = self.0.get(file)?;
        text.lines().nth(line.checked_sub(1)? as usize).map(str::to_owned)
    }
}

pub fn source() -> FakeSource {
    FakeSource(HashMap::from([
        ("apps/base/deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"),
        ("apps/base/patch.yaml", "spec:\n  template:\n    spec:\n      containers: oops\n"),
        ("apps/base/settings.yaml", "apiVersion: v1\nkind: ConfigMap\n"),
        ("apps/broken/kustomization.yaml", "resources:\n  - a.yaml\n  - [b.yaml\n"),
        ("clusters/prod/evil.yaml", "kind: Evil\nmetadata:\n  name: \"<script>]]>\\u0001\"\n"),
    ]))
}

pub fn obj(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> ObjectRef {
    ObjectRef::new(api_version, kind, namespace, name)
}

fn loc(file: &str, line: u32, column: u32) -> Option<Location> {
    Some(Location { file: file.into(), line, column })
}

pub fn web() -> ObjectRef {
    obj("apps/v1", "Deployment", Some("default"), "web")
}

pub fn settings() -> ObjectRef {
    obj("v1", "ConfigMap", Some("default"), "settings.v2")
}

pub fn podinfo() -> ObjectRef {
    obj("helm.toolkit.fluxcd.io/v2", "HelmRelease", Some("podinfo"), "podinfo")
}

pub fn evil() -> ObjectRef {
    obj("evil.example.com/v1", "Evil", None, HOSTILE)
}

/// Three entry points (one failed to render), four objects, and findings: two errors on one
/// object, a warning-only object, a suppressed-only object, a hostile object with an error and a
/// suppressed warning, a render failure, a finding with no location and two with no entry point.
pub fn report() -> RunReport {
    let entry_points = vec![
        EntryPointReport {
            name: "clusters/prod/podinfo.v2".into(),
            kind: EntryPointKind::Flux,
            path: "clusters/prod".into(),
            rendered: true,
            objects: vec![podinfo(), evil()],
        },
        EntryPointReport {
            name: "apps/base".into(),
            kind: EntryPointKind::Kustomize,
            path: "apps/base".into(),
            rendered: true,
            objects: vec![settings(), web()],
        },
        EntryPointReport {
            name: "apps/broken".into(),
            kind: EntryPointKind::Kustomize,
            path: "apps/broken".into(),
            rendered: false,
            objects: vec![],
        },
    ];
    let mut suppressed_error = Finding::new(Rule::UnknownKind, "HelmRelease kind is unknown")
        .entry_point("clusters/prod/podinfo.v2")
        .object(Some(podinfo()))
        .at(loc("clusters/prod/podinfo.yaml", 1, 1));
    suppressed_error.suppressed = Some("annotation fluxgate.io/ignore: CRD installed later".into());
    let mut suppressed_warning = Finding::new(Rule::SchemaMissing, "no schema for Evil")
        .entry_point("clusters/prod/podinfo.v2")
        .object(Some(evil()))
        .at(loc("clusters/prod/evil.yaml", 1, 1));
    suppressed_warning.suppressed = Some("config".into());
    let findings = vec![
        Finding::new(Rule::PatchFailed, "cannot apply patch: containers must be a list")
            .entry_point("apps/base")
            .object(Some(web()))
            .at(loc("apps/base/patch.yaml", 4, 19))
            .help("write `containers:` as a list of maps"),
        Finding::new(Rule::DuplicateObject, "Deployment default/web is defined twice")
            .entry_point("apps/base")
            .object(Some(web()))
            .at(loc("apps/base/deploy.yaml", 1, 1))
            .help("remove one of the definitions"),
        Finding::new(Rule::SchemaMissing, "no schema for ConfigMap settings.v2")
            .entry_point("apps/base")
            .object(Some(settings()))
            .at(loc("apps/base/settings.yaml", 2, 7)),
        suppressed_error,
        Finding::new(Rule::UnknownKind, format!("unknown kind Evil for object {HOSTILE}"))
            .entry_point("clusters/prod/podinfo.v2")
            .object(Some(evil()))
            .at(loc("clusters/prod/evil.yaml", 3, 9))
            .help(format!("check the apiVersion of {HOSTILE}")),
        suppressed_warning,
        Finding::new(Rule::YamlSyntax, "unterminated flow sequence").entry_point("apps/broken").at(loc(
            "apps/broken/kustomization.yaml",
            3,
            5,
        )),
        Finding::new(Rule::InternalError, "render aborted").entry_point("apps/broken").help("report this as a bug"),
        Finding::new(Rule::PathOutsideRoot, "path '../secrets' leaves the repository root").at(loc(
            "stray/kustomization.yaml",
            2,
            5,
        )),
        Finding {
            severity: Severity::Warning,
            ..Finding::new(Rule::InternalError, "--kube-version 1.99 is not known; using 1.37")
        },
    ];
    RunReport::new(entry_points, findings)
}
