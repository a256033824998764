//! Native re-implementation of the parts of kustomize fluxgate renders with.

pub mod patch;
