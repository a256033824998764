//! HelmReleases rendered with `helm template` the way helm-controller installs them, so the
//! objects a chart produces from a release's values are checked like any other object.
//! fluxgate does not reimplement Go templates: it drives the `helm` binary in a sandbox
//! ([`binary`]), fetches charts into a content-addressed cache ([`cache`], [`repo_index`]),
//! merges values as helm-controller does ([`values`]), and applies post-renderers with its
//! own kustomize engine ([`release`]).

pub mod binary;
pub mod cache;
pub mod locate;
pub mod release;
pub mod render;
pub mod repo_index;
pub mod source;
pub mod values;

pub use crate::config::helm::HelmConfig;
