//! Output formats. Each reporter takes the finished [`RunReport`] and a writer; none of them
//! decides anything, they only format.

pub use crate::finding::EntryPointKind;
pub use crate::pipeline::model::{
    ChangeScope, EntryPointReport, RunReport, SchemaCoverage, SourceText, Summary, UncheckedKind,
};

pub mod bitbucket;
pub mod json;
pub mod junit;
pub mod sarif;
pub mod teamcity;
pub mod terminal;

#[cfg(test)]
pub(crate) mod fixture;
