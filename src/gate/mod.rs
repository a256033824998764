//! The PR gate's selection: which entry points a change against a base revision affects
//! ([`changes`] lists the changed files, [`static_deps`] reads the dependency graph without
//! rendering, [`affected`] decides from what each render read), and how a large run is split
//! into shards. Selection only: nothing here renders.

pub mod affected;
pub mod changes;
pub mod scan;
pub mod shard;
pub mod static_deps;
