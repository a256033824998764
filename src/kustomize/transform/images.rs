//! `images`: rewrites container images by name, in every `containers` / `initContainers`
//! list of any object (custom resources included), as kustomize does. An entry's `name` is a
//! regular expression for the image name (kustomize v5.5's `IsImageMatched`): it must match the
//! whole name, and the tag and digest after it must use kustomize's character set.

use std::sync::Arc;

use regex::Regex;

use crate::kustomize::fieldspec::{split, visit};
use crate::kustomize::kustomization::{CustomField, ImageSpec};
use crate::kustomize::resource::Resource;
use crate::source::{Loc, Node, Value, regex_cache};

/// An image reference split into name, tag and digest.
#[derive(Debug, PartialEq)]
pub struct ImageRef<'a> {
    pub name: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

/// Splits `registry:5000/org/app:1.2@sha256:...`; a `:` in the registry host is not a tag.
pub fn split_image(image: &str) -> ImageRef<'_> {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[last_slash..].rfind(':') {
        Some(i) => ImageRef { name: &rest[..last_slash + i], tag: Some(&rest[last_slash + i + 1..]), digest },
        None => ImageRef { name: rest, tag: None, digest },
    }
}

/// Applies the image overrides to every resource: every container list, plus `extra` image
/// fields from transformer configurations.
pub fn apply(resources: &mut [Resource], specs: &[ImageSpec], extra: &[CustomField]) -> Result<(), String> {
    if specs.is_empty() {
        return Ok(());
    }
    let compiled: Vec<(&ImageSpec, Result<ImageMatch, String>)> = specs.iter().map(|s| (s, matcher(&s.name))).collect();
    // Like kustomize, an invalid name fails only once an image is compared with it.
    let mut failed = None;
    let extra: Vec<_> = extra.iter().map(|f| (f, split(&f.path))).collect();
    for r in resources.iter_mut() {
        // kustomize's walk over container lists leaves CustomResourceDefinitions alone.
        if r.kind() != "CustomResourceDefinition" {
            walk(&mut r.node, &compiled, &mut failed);
        }
        let gvk = r.gvk();
        for (_, path) in extra.iter().filter(|(f, _)| f.applies(&gvk)) {
            visit(&mut r.node, path, false, Loc::NONE, &mut |img| {
                if img.as_str().is_some() {
                    rewrite(img, &compiled, &mut failed);
                }
            });
        }
    }
    failed.map_or(Ok(()), Err)
}

/// kustomize v5.5's builtin image field specs (the `images` field's): they are applied after
/// the walk over every container list, so an entry runs twice on these paths (which shows
/// with `tagSuffix`). A `ImageTagTransformer` plugin uses only its own `fieldSpecs`.
const DEFAULT_FIELDS: &[&str] = &[
    "spec/containers/image",
    "spec/initContainers/image",
    "spec/template/spec/containers/image",
    "spec/template/spec/initContainers/image",
];

/// The builtin image field specs followed by the configured ones, without repeats.
pub fn with_default_fields(configured: &[CustomField]) -> Vec<CustomField> {
    let mut out: Vec<CustomField> =
        DEFAULT_FIELDS.iter().map(|p| CustomField { path: (*p).to_string(), ..CustomField::default() }).collect();
    for f in configured {
        if !out.iter().any(|o| o.path == f.path && o.group == f.group && o.version == f.version && o.kind == f.kind) {
            out.push(f.clone());
        }
    }
    out
}

/// kustomize v5.5's image match for an entry name: `^NAME(:TAG)?(@sha256:DIGEST)?$`, the name
/// a regular expression, the tag and digest in kustomize's character set.
#[derive(Clone, Debug)]
pub enum ImageMatch {
    /// A plain name ([`regex_cache::is_plain`]), matched without compiling a regex.
    Plain(String),
    Regex(Arc<Regex>),
}

impl ImageMatch {
    pub fn is_match(&self, image: &str) -> bool {
        match self {
            ImageMatch::Plain(name) => regex_cache::plain_prefix(name, image).is_some_and(tag_and_digest),
            ImageMatch::Regex(re) => re.is_match(image),
        }
    }
}

/// Whether `rest` is `(:[a-zA-Z0-9_.{}-]*)?(@sha256:[a-zA-Z0-9_.{}-]*)?` and nothing more.
/// Neither `:` nor `@` is in the set, so each part ends at the first character outside it.
fn tag_and_digest(rest: &str) -> bool {
    let run = |s: &str| s.find(|c: char| !(c.is_ascii_alphanumeric() || "_.{}-".contains(c))).unwrap_or(s.len());
    let mut r = rest;
    if let Some(tag) = r.strip_prefix(':') {
        r = &tag[run(tag)..];
    }
    if let Some(digest) = r.strip_prefix("@sha256:") {
        r = &digest[run(digest)..];
    }
    r.is_empty()
}

/// The match for an entry name. A name that is not a valid expression crashes kustomize v5.5
/// (a nil pattern); fluxgate fails the build instead.
pub fn matcher(name: &str) -> Result<ImageMatch, String> {
    if regex_cache::is_plain(name) {
        return Ok(ImageMatch::Plain(name.to_string()));
    }
    regex_cache::compiled(&format!("^{name}(:[a-zA-Z0-9_.{{}}-]*)?(@sha256:[a-zA-Z0-9_.{{}}-]*)?$"))
        .map(ImageMatch::Regex)
        .map_err(|_| {
            format!("images entry name '{name}' is not a valid regular expression (kustomize v5.5 crashes on it)")
        })
}

type Compiled<'a> = [(&'a ImageSpec, Result<ImageMatch, String>)];

fn walk(node: &mut Node, specs: &Compiled, failed: &mut Option<String>) {
    match &mut node.value {
        Value::Map(m) => {
            for (k, v) in m.iter_mut() {
                if matches!(k.as_str(), "containers" | "initContainers")
                    && let Some(items) = v.as_seq_mut()
                {
                    for c in items.iter_mut() {
                        if let Some(img) = c.get_mut("image") {
                            rewrite(img, specs, failed);
                        }
                    }
                }
                walk(v, specs, failed);
            }
        }
        Value::Seq(items) => items.iter_mut().for_each(|i| walk(i, specs, failed)),
        _ => {}
    }
}

/// Applies every entry in order, as kustomize runs one image transformer per entry: an entry
/// may match what an earlier one renamed the image to.
fn rewrite(img: &mut Node, specs: &Compiled, failed: &mut Option<String>) {
    for (spec, re) in specs {
        match re {
            Ok(re) => rewrite_one(img, spec, re),
            Err(e) => {
                failed.get_or_insert_with(|| e.clone());
            }
        }
    }
}

fn rewrite_one(img: &mut Node, spec: &ImageSpec, re: &ImageMatch) {
    let Some(cur) = img.as_str() else { return };
    if !re.is_match(cur) {
        return;
    }
    let parts = split_image(cur);
    let set = |o: &Option<String>| o.clone().filter(|v| !v.is_empty());
    let (new_tag, digest, suffix) = (set(&spec.new_tag), set(&spec.digest), set(&spec.tag_suffix));
    // kustomize's precedence: a new tag or digest replaces both; else a suffix extends the tag.
    let (tag, digest) = match (new_tag, digest, suffix) {
        (Some(t), d, _) => (Some(t), d),
        (None, Some(d), _) => (None, Some(d)),
        (None, None, Some(s)) => (Some(format!("{}{s}", parts.tag.unwrap_or(""))), None),
        (None, None, None) => (parts.tag.map(str::to_string), parts.digest.map(str::to_string)),
    };
    let mut out = spec.new_name.as_deref().unwrap_or(parts.name).to_string();
    if let Some(t) = tag.filter(|t| !t.is_empty()) {
        out.push(':');
        out.push_str(&t);
    }
    if let Some(d) = digest.filter(|d| !d.is_empty()) {
        out.push('@');
        out.push_str(&d);
    }
    *img = Node::string(out, spec.loc);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_match_as_kustomizes_regex_does() {
        let images = [
            "nginx",
            "nginx:1.25",
            "nginx@sha256:ab12",
            "nginx:1.25@sha256:ab",
            "nginx:1.25+b",
            "nginx:",
            "nginxx",
            "ngin",
            "nginx@sha512:ab",
            "nginx:{{tag}}",
            "nginx:a:b",
            "reg.io/app:1",
            "regxio/app:1",
            "reg:5000/app:v1",
            "nginx@sha256:",
            "nginx:1@",
            "nginX",
        ];
        for name in ["nginx", "ngin.", "reg.io/app", "reg:5000/app", "my_app-1", "n"] {
            let plain = matcher(name).unwrap_or_else(|e| panic!("{e}"));
            assert!(matches!(plain, ImageMatch::Plain(_)));
            let re = Regex::new(&format!("^{name}(:[a-zA-Z0-9_.{{}}-]*)?(@sha256:[a-zA-Z0-9_.{{}}-]*)?$")).unwrap();
            for image in images {
                assert_eq!(plain.is_match(image), re.is_match(image), "{name} on {image}");
            }
        }
        assert!(matches!(matcher("ngin(x|y)"), Ok(ImageMatch::Regex(_))));
    }

    #[test]
    fn splits_registry_port_from_tag() {
        assert_eq!(split_image("reg:5000/app:1.2"), ImageRef { name: "reg:5000/app", tag: Some("1.2"), digest: None });
        assert_eq!(split_image("reg:5000/app"), ImageRef { name: "reg:5000/app", tag: None, digest: None });
        assert_eq!(split_image("app@sha256:ab").digest, Some("sha256:ab"));
    }

    fn image_after(image: &str, tag: Option<&str>, digest: Option<&str>) -> String {
        let spec = ImageSpec {
            name: "nginx".into(),
            new_name: None,
            new_tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
            tag_suffix: None,
            loc: crate::source::Loc::NONE,
        };
        let mut n = Node::string(image, crate::source::Loc::NONE);
        rewrite(&mut n, &[(&spec, matcher(&spec.name))], &mut None);
        n.as_str().unwrap_or_default().to_string()
    }

    #[test]
    fn entries_chain_in_order() {
        let specs = [
            ImageSpec {
                name: "nginx".into(),
                new_name: Some("x/nginx".into()),
                new_tag: None,
                digest: None,
                tag_suffix: None,
                loc: crate::source::Loc::NONE,
            },
            ImageSpec {
                name: "x/nginx".into(),
                new_name: None,
                new_tag: Some("chained".into()),
                digest: None,
                tag_suffix: None,
                loc: crate::source::Loc::NONE,
            },
        ];
        let mut n = Node::string("nginx:2", crate::source::Loc::NONE);
        let compiled: Vec<(&ImageSpec, Result<ImageMatch, String>)> =
            specs.iter().map(|s| (s, matcher(&s.name))).collect();
        let mut failed = None;
        rewrite(&mut n, &compiled, &mut failed);
        assert_eq!(failed, None);
        assert_eq!(n.as_str(), Some("x/nginx:chained"));
    }

    #[test]
    fn names_are_patterns_and_tags_use_kustomize_charset() {
        let re = matcher("ngin.").unwrap_or_else(|e| panic!("{e}"));
        assert!(re.is_match("nginx:1.25") && re.is_match("nginx@sha256:ab") && !re.is_match("nginx-x:1"));
        let plain = matcher("tool").unwrap_or_else(|e| panic!("{e}"));
        assert!(!plain.is_match("tool:1.0+build") && !plain.is_match("tool@sha512:ab"));
        assert!(matcher("[").is_err());
    }

    #[test]
    fn tag_and_digest_are_both_kept() {
        assert_eq!(image_after("nginx:1.0", Some("1.2"), Some("sha256:ab")), "nginx:1.2@sha256:ab");
        assert_eq!(image_after("nginx:1.0", None, Some("sha256:ab")), "nginx@sha256:ab");
        assert_eq!(image_after("nginx@sha256:cd", Some("1.3"), None), "nginx:1.3");
        let suffix = ImageSpec {
            name: "nginx".into(),
            new_name: None,
            new_tag: None,
            digest: None,
            tag_suffix: Some("-dbg".into()),
            loc: crate::source::Loc::NONE,
        };
        for (before, after) in [("nginx:1.0@sha256:ab", "nginx:1.0-dbg"), ("nginx", "nginx:-dbg")] {
            let mut n = Node::string(before, crate::source::Loc::NONE);
            rewrite(&mut n, &[(&suffix, matcher("nginx"))], &mut None);
            assert_eq!(n.as_str(), Some(after));
        }
    }
}
