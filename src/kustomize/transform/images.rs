//! `images`: rewrites container images by name, in every `containers` / `initContainers`
//! list of any object (custom resources included), as kustomize does.

use crate::kustomize::fieldspec::{split, visit};
use crate::kustomize::kustomization::{CustomField, ImageSpec};
use crate::kustomize::resource::Resource;
use crate::source::{Loc, Node, Value};

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
pub fn apply(resources: &mut [Resource], specs: &[ImageSpec], extra: &[CustomField]) {
    if specs.is_empty() {
        return;
    }
    for r in resources.iter_mut() {
        walk(&mut r.node, specs);
        let gvk = r.gvk();
        for f in extra.iter().filter(|f| f.applies(&gvk)) {
            visit(&mut r.node, &split(&f.path), false, Loc::NONE, &mut |img| {
                if img.as_str().is_some() {
                    rewrite(img, specs);
                }
            });
        }
    }
}

fn walk(node: &mut Node, specs: &[ImageSpec]) {
    match &mut node.value {
        Value::Map(m) => {
            for (k, v) in m.iter_mut() {
                if matches!(k.as_str(), "containers" | "initContainers")
                    && let Some(items) = v.as_seq_mut()
                {
                    for c in items.iter_mut() {
                        if let Some(img) = c.get_mut("image") {
                            rewrite(img, specs);
                        }
                    }
                }
                walk(v, specs);
            }
        }
        Value::Seq(items) => items.iter_mut().for_each(|i| walk(i, specs)),
        _ => {}
    }
}

/// Applies every entry in order, as kustomize runs one image transformer per entry: an entry
/// may match what an earlier one renamed the image to.
fn rewrite(img: &mut Node, specs: &[ImageSpec]) {
    for spec in specs {
        rewrite_one(img, spec);
    }
}

fn rewrite_one(img: &mut Node, spec: &ImageSpec) {
    let Some(cur) = img.as_str() else { return };
    let parts = split_image(cur);
    if spec.name != parts.name {
        return;
    }
    let name = spec.new_name.as_deref().unwrap_or(parts.name);
    let mut out = name.to_string();
    if spec.digest.is_some() || spec.new_tag.is_some() {
        if let Some(t) = &spec.new_tag {
            out.push(':');
            out.push_str(t);
        }
        if let Some(d) = &spec.digest {
            out.push('@');
            out.push_str(d);
        }
    } else {
        if let Some(t) = parts.tag {
            out.push(':');
            out.push_str(t);
        }
        if let Some(d) = parts.digest {
            out.push('@');
            out.push_str(d);
        }
    }
    *img = Node::string(out, spec.loc);
}

#[cfg(test)]
mod tests {
    use super::*;

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
            loc: crate::source::Loc::NONE,
        };
        let mut n = Node::string(image, crate::source::Loc::NONE);
        rewrite(&mut n, &[spec]);
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
                loc: crate::source::Loc::NONE,
            },
            ImageSpec {
                name: "x/nginx".into(),
                new_name: None,
                new_tag: Some("chained".into()),
                digest: None,
                loc: crate::source::Loc::NONE,
            },
        ];
        let mut n = Node::string("nginx:2", crate::source::Loc::NONE);
        rewrite(&mut n, &specs);
        assert_eq!(n.as_str(), Some("x/nginx:chained"));
    }

    #[test]
    fn tag_and_digest_are_both_kept() {
        assert_eq!(image_after("nginx:1.0", Some("1.2"), Some("sha256:ab")), "nginx:1.2@sha256:ab");
        assert_eq!(image_after("nginx:1.0", None, Some("sha256:ab")), "nginx@sha256:ab");
        assert_eq!(image_after("nginx@sha256:cd", Some("1.3"), None), "nginx:1.3");
    }
}
