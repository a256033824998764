//! The `limits:` section: safety bounds on input that override the defaults of [`Limits`].

use crate::source::{Limits, Node};

/// Parses the `limits:` section: positive integers overriding the safe defaults of
/// [`Limits`] (keys `maxFileBytes`, `maxAliasExpansion`, `maxDepth`, `maxDocuments`,
/// `maxObjectNodes`).
pub(super) fn parse_limits(v: &Node) -> Result<Limits, (u32, String)> {
    let m = v.as_map().ok_or((v.loc.line, "'limits' must be a map".to_string()))?;
    let mut l = Limits::default();
    for (k, sv) in m {
        let line = sv.loc.line;
        let n =
            sv.as_i64().filter(|n| *n > 0).ok_or((line, format!("'limits.{k}' must be a positive integer")))? as u64;
        let as_usize = usize::try_from(n).map_err(|_| (line, format!("'limits.{k}' is too large")))?;
        match k.as_str() {
            "maxFileBytes" => l.max_file_bytes = n,
            "maxAliasExpansion" => l.max_alias_expansion = as_usize,
            "maxDepth" => l.max_depth = as_usize.min(MAX_DEPTH_CEILING),
            "maxDocuments" => l.max_documents = as_usize,
            "maxObjectNodes" => l.max_object_nodes = as_usize,
            other => return Err((line, format!("unknown setting 'limits.{other}'"))),
        }
    }
    Ok(l)
}

/// `limits.maxDepth` is capped here: deeper trees would overflow the stack of the recursive
/// passes over a document (a crash no finding could report).
pub(super) const MAX_DEPTH_CEILING: usize = 1000;
