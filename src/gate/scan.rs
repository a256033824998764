//! A line scan of the kustomization files most repositories write: block-style YAML whose
//! scalars are plain, single-quoted, double-quoted without escapes, or block scalars.
//!
//! Why: `--base` reads every kustomization of the repository for its static graph
//! ([`super::static_deps`]), and the full YAML parse of 800 files was a fifth of a one-file
//! run on the large benchmark. The graph asks one thing of a file: the scalar values below
//! each top-level key. This scan answers that at memchr speed for the subset it understands
//! exactly, and gives up (`None`) on anything else (anchors, aliases, tags, flow collections,
//! multi-line plain or quoted scalars, escapes, several documents, tabs, a root that is not a
//! block mapping), where the caller parses in full. It does not check that the file is valid
//! YAML: where it is not, the render fails before it reads anything, and the values found are
//! still a superset of what it reads.

use std::borrow::Cow;

/// One top-level key of a kustomization and the scalars below it.
#[derive(Debug, Default, PartialEq)]
pub struct Section<'t> {
    pub key: Cow<'t, str>,
    /// Every flow scalar below the key, nested ones included; keys are not values. Null,
    /// boolean and number scalars are listed too (as written): a superset of the strings.
    pub values: Vec<Cow<'t, str>>,
    /// The raw lines of each block scalar (`|`, `>`) below the key: their value is not
    /// computed, the caller decides from the raw text whether it matters.
    pub blocks: Vec<&'t str>,
}

/// The sections of a simple kustomization file, in file order; `None` when the file leaves
/// the subset this scan reads exactly.
pub fn sections(text: &str) -> Option<Vec<Section<'_>>> {
    if text.contains(['\t', '\r', '\u{feff}']) {
        return None;
    }
    let mut out: Vec<Section> = Vec::new();
    // Whether the last top-level key had a value on its own line (no indentless sequence may
    // follow it).
    let mut key_has_value = false;
    // The column of the node whose plain scalar ended the last line: a later line indented
    // deeper would continue that scalar, which this scan does not fold.
    let mut plain_at: Option<usize> = None;
    let mut rest = text;
    while !rest.is_empty() {
        let (line, next) = rest.split_once('\n').unwrap_or((rest, ""));
        rest = next;
        let content = line.trim_start_matches(' ');
        let indent = line.len() - content.len();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        if plain_at.is_some_and(|col| indent > col) {
            return None;
        }
        if indent == 0 && (content.starts_with("---") || content.starts_with("...") || content.starts_with('%')) {
            return None;
        }
        let item = line_item(content, indent)?;
        if indent == 0 && item.dashes == 0 {
            key_has_value = item.value.is_some();
            out.push(Section { key: item.key?, ..Section::default() });
        } else if indent == 0 && key_has_value {
            return None;
        }
        let section = out.last_mut()?;
        plain_at = None;
        match item.value {
            None => {}
            Some(Scalar::Flow(v, plain)) => {
                if plain {
                    plain_at = Some(item.column);
                }
                section.values.push(v);
            }
            Some(Scalar::Block) => {
                let (block, after) = block_lines(rest, item.column);
                section.blocks.push(block);
                rest = after;
            }
        }
    }
    Some(out)
}

/// The lines of a block scalar whose header sits on a node at `column`, and the text after
/// them: every following line that is blank or indented deeper than the node.
fn block_lines(text: &str, column: usize) -> (&str, &str) {
    let mut end = 0;
    for line in text.split_inclusive('\n') {
        let content = line.trim_start_matches(' ');
        let blank = content.trim_end_matches('\n').is_empty();
        if !blank && line.len() - content.len() <= column {
            break;
        }
        end += line.len();
    }
    text.split_at(end)
}

/// A scalar at the end of a line.
enum Scalar<'t> {
    /// Its value, and whether it was plain (which a deeper line could continue).
    Flow(Cow<'t, str>, bool),
    /// A block scalar header (`|`, `>-`): the content is on the following lines.
    Block,
}

/// What one line holds: sequence dashes, then a key or a scalar, then the key's value.
struct LineItem<'t> {
    dashes: usize,
    key: Option<Cow<'t, str>>,
    value: Option<Scalar<'t>>,
    /// The column of the node the value belongs to: the key's, else the last dash's.
    column: usize,
}

fn line_item(content: &str, indent: usize) -> Option<LineItem<'_>> {
    let mut rest = content;
    let mut column = indent;
    let mut dashes = 0;
    while let Some(after) = rest.strip_prefix('-').filter(|a| a.is_empty() || a.starts_with(' ')) {
        let trimmed = after.trim_start_matches(' ');
        dashes += 1;
        column = indent + (content.len() - rest.len());
        rest = trimmed;
    }
    let column_of_rest = indent + (content.len() - rest.len());
    if rest.is_empty() || rest.starts_with('#') {
        return Some(LineItem { dashes, key: None, value: None, column });
    }
    match key_split(rest)? {
        Some((key, after)) => {
            let value = value_of(after.trim_start_matches(' '))?;
            Some(LineItem { dashes, key: Some(key), value, column: column_of_rest })
        }
        // A scalar alone on its line is a value begun on the line before (`key:` then the
        // value), which the next lines may continue at any depth: not read here.
        None if dashes == 0 => None,
        None => {
            let value = value_of(rest)?;
            Some(LineItem { dashes, key: None, value, column })
        }
    }
}

/// Splits `key: value` (or `key:`) into the key and the text after the colon; `Some(None)`
/// when the line is a lone scalar; `None` when the key is outside the subset.
fn key_split(s: &str) -> Option<Option<(Cow<'_, str>, &str)>> {
    if s.starts_with(['"', '\'']) {
        let (key, after) = quoted(s)?;
        let after_spaces = after.trim_start_matches(' ');
        return match after_spaces.strip_prefix(':') {
            Some(v) if v.is_empty() || v.starts_with(' ') => Some(Some((key, v))),
            Some(_) => None,
            None => Some(None),
        };
    }
    if starts_with_indicator(s) {
        return None;
    }
    let bytes = s.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        match b {
            b'#' if i > 0 && bytes[i - 1] == b' ' => return Some(None),
            b':' if i + 1 == bytes.len() || bytes[i + 1] == b' ' => {
                let key = s[..i].trim_end_matches(' ');
                return (!key.is_empty()).then_some(Some((Cow::Borrowed(key), &s[i + 1..])));
            }
            _ => {}
        }
    }
    Some(None)
}

/// Whether a plain scalar would start with a YAML indicator (then it is not plain: this scan
/// gives up).
fn starts_with_indicator(s: &str) -> bool {
    let mut chars = s.chars();
    let first = chars.next();
    let second = chars.next();
    match first {
        Some('-' | '?' | ':') => second.is_none_or(|c| c == ' '),
        Some(',' | '[' | ']' | '{' | '}' | '#' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%' | '@' | '`') => true,
        _ => false,
    }
}

/// The scalar after a key or dash (`None` inside: no value); `None` outside the subset.
fn value_of(s: &str) -> Option<Option<Scalar<'_>>> {
    if s.is_empty() || s.starts_with('#') {
        return Some(None);
    }
    if s.starts_with(['"', '\'']) {
        let (v, after) = quoted(s)?;
        return end_of_line(after).then_some(Some(Scalar::Flow(v, false)));
    }
    if let Some(header) = s.strip_prefix(['|', '>']) {
        let (indicators, after) = header.split_at(header.find([' ', '#']).unwrap_or(header.len()));
        let ok = indicators.len() <= 1 && indicators.chars().all(|c| c == '-' || c == '+');
        return (ok && end_of_line(after)).then_some(Some(Scalar::Block));
    }
    if let Some(after) = s.strip_prefix("[]").or_else(|| s.strip_prefix("{}")) {
        return end_of_line(after).then_some(None);
    }
    if starts_with_indicator(s) {
        return None;
    }
    let bytes = s.as_bytes();
    let mut end = bytes.len();
    for (i, b) in bytes.iter().enumerate() {
        match b {
            b'#' if bytes[i - 1] == b' ' => {
                end = i;
                break;
            }
            // `a: b: c` is not YAML, and a trailing colon would make a key of the value.
            b':' if i + 1 == bytes.len() || bytes[i + 1] == b' ' => return None,
            _ => {}
        }
    }
    Some(Some(Scalar::Flow(Cow::Borrowed(s[..end].trim_end_matches(' ')), true)))
}

/// Whether what follows a scalar on its line is nothing or a comment.
fn end_of_line(after: &str) -> bool {
    let trimmed = after.trim_start_matches(' ');
    trimmed.is_empty() || (trimmed.starts_with('#') && trimmed.len() < after.len())
}

/// A quoted scalar closed on its line (single quotes with `''`, double quotes without
/// escapes), and the text after it.
fn quoted(s: &str) -> Option<(Cow<'_, str>, &str)> {
    let quote = s.chars().next()?;
    let body = &s[1..];
    if quote == '"' {
        let close = body.find('"')?;
        let value = &body[..close];
        return (!value.contains('\\')).then(|| (Cow::Borrowed(value), &body[close + 1..]));
    }
    let mut value = String::new();
    let mut at = 0;
    loop {
        let close = at + body[at..].find('\'')?;
        value.push_str(&body[at..close]);
        if body[close + 1..].starts_with('\'') {
            value.push('\'');
            at = close + 2;
        } else {
            let borrowed = close == value.len();
            let v = if borrowed { Cow::Borrowed(&body[..close]) } else { Cow::Owned(value) };
            return Some((v, &body[close + 1..]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<'a>(s: &'a [Section<'a>], key: &str) -> Vec<&'a str> {
        s.iter().filter(|x| x.key == key).flat_map(|x| x.values.iter().map(|v| v.as_ref())).collect()
    }

    #[test]
    fn reads_the_values_below_each_top_level_key() {
        let text = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\
            resources:\n- ../../base # the base\n- 'it''s.yaml'\n  # note\n\
            components:\n  - \"../c\"\nimages:\n  - name: nginx\n    newTag: \"1.2\"\n\
            patches:\n  - path: p.yaml\n  - patch: |-\n      - op: replace\n        path: /x\n\n    target:\n      kind: A\n\
            configMapGenerator:\n- name: x\n  literals:\n  - A=http://b.c/d\n  files: []\n";
        let s = sections(text).unwrap();
        let keys: Vec<&str> = s.iter().map(|x| x.key.as_ref()).collect();
        assert_eq!(keys, ["apiVersion", "kind", "resources", "components", "images", "patches", "configMapGenerator"]);
        assert_eq!(values(&s, "resources"), ["../../base", "it's.yaml"]);
        assert_eq!(values(&s, "components"), ["../c"]);
        assert_eq!(values(&s, "images"), ["nginx", "1.2"]);
        assert_eq!(values(&s, "patches"), ["p.yaml", "A"]);
        let patches = s.iter().find(|x| x.key == "patches").unwrap();
        assert_eq!(patches.blocks, ["      - op: replace\n        path: /x\n\n"]);
        assert_eq!(values(&s, "configMapGenerator"), ["x", "A=http://b.c/d"]);
    }

    #[test]
    fn gives_up_outside_the_subset() {
        for text in [
            "resources: &a\n- x\n",
            "resources:\n- *a\n",
            "resources: !!seq\n- x\n",
            "resources: [a, b]\n",
            "resources:\n- {path: a}\n",
            "resources:\n- \"a\\u002fb\"\n",
            "resources:\n- \"a\n  b\"\n",
            "resources:\n- a\n  b\n",
            "resources:\n  - a\n    - b\n",
            "namespace: a\n  b\n",
            "---\nresources:\n- a\n",
            "resources:\n- a\n---\n",
            "  resources:\n  - a\n",
            "- a\n",
            "resources:\n\t- a\n",
            "resources:\r\n- a\r\n",
            "? resources\n: - a\n",
            "resources: a: b\n",
            "patches:\n- patch: |2\n    x\n",
            "namespace: a\n- b\n",
            "namespace:\n  a\n",
        ] {
            assert_eq!(sections(text), None, "{text:?}");
        }
    }

    #[test]
    fn a_block_scalar_ends_at_the_first_line_not_deeper_than_its_node() {
        let s = sections("a:\n  - b: >\n      x\n     y\n    c: ../d\nz: 1\n").unwrap();
        assert_eq!(s[0].blocks, ["      x\n     y\n"]);
        assert_eq!(s[0].values, ["../d"]);
        assert_eq!(s[1].values, ["1"]);
        let s = sections("a: |\n  x\nb: c\n").unwrap();
        assert_eq!((s[0].blocks.as_slice(), s[1].values.as_slice()), (&["  x\n"][..], &[Cow::Borrowed("c")][..]));
    }

    /// Seeded random kustomization-like texts: wherever the scan answers and the parser
    /// reads one document, every string the parser finds below a key is among the scan's
    /// values for that key or, word by word, inside one of its block scalars (folding joins lines with a space: it
    /// makes no `..` that the raw text lacks), and every other value the scan
    /// lists is a scalar the parser reads as null, boolean or number.
    #[test]
    fn the_scan_finds_every_string_the_parser_finds() {
        use crate::source::yaml::{self, Dialect};
        use crate::source::{FileId, Limits, Node, Value};
        fn strings(n: &Node, out: &mut Vec<String>) {
            match &n.value {
                Value::Str(s) => out.push(s.clone()),
                Value::Map(m) => m.values().for_each(|v| strings(v, out)),
                Value::Seq(s) => s.iter().for_each(|v| strings(v, out)),
                _ => {}
            }
        }
        let keys = ["resources", "components", "namespace", "patches", "a", "'q k'", "\"d\"", "x-y"];
        let values = [
            "../a",
            "'../b'",
            "\"../c d\"",
            "a: b",
            "x #c",
            "'it''s'",
            "\"a\\b\"",
            "|",
            "|-",
            ">",
            ">+",
            "[]",
            "{}",
            "[a]",
            "&x v",
            "*x",
            "~",
            "null",
            "true",
            "1",
            "0x1F",
            "1.5",
            "http://x/y",
            "a#b",
            "- z",
            "\"q\" # c",
            "''",
            "\"\"",
            ":x",
            "-x",
            "?x",
            "a:",
            "b :c",
            "..",
            "git@h:r",
            "'#'",
            "x  ",
            "",
            "# c",
            "'a' b",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let (mut answered, mut compared) = (0, 0);
        for _ in 0..100_000 {
            let mut text = String::new();
            for _ in 0..1 + next(7) {
                let indent = [0, 0, 0, 2, 4, 6][next(6)];
                let line = match next(6) {
                    0 => format!("{}:", keys[next(keys.len())]),
                    1 => format!("{}: {}", keys[next(keys.len())], values[next(values.len())]),
                    2 => format!("- {}", values[next(values.len())]),
                    3 => format!("- {}: {}", keys[next(keys.len())], values[next(values.len())]),
                    4 => values[next(values.len())].to_string(),
                    _ => format!("- - {}", values[next(values.len())]),
                };
                text.push_str(&" ".repeat(indent));
                text.push_str(&line);
                text.push('\n');
            }
            let Some(scanned) = sections(&text) else { continue };
            answered += 1;
            let parsed = yaml::parse(&text, FileId(0), Dialect::Yaml12, &Limits::default());
            if parsed.error.is_some() || parsed.docs.len() != 1 {
                continue;
            }
            let Some(map) = parsed.docs[0].as_map() else { continue };
            compared += 1;
            for (key, value) in map {
                let found: Vec<&Section> = scanned.iter().filter(|x| x.key == key.as_str()).collect();
                assert!(!found.is_empty(), "key {key:?} missing in {text:?}");
                let mut all = Vec::new();
                strings(value, &mut all);
                for s in &all {
                    let listed = found.iter().any(|x| x.values.iter().any(|v| v == s));
                    let in_block =
                        found.iter().any(|x| x.blocks.iter().any(|b| s.split_whitespace().all(|w| b.contains(w))));
                    assert!(listed || in_block, "{s:?} of {key:?} not found in {text:?}: {found:?}");
                }
                for v in found.iter().flat_map(|x| x.values.iter()) {
                    if all.iter().any(|s| s == v) {
                        continue;
                    }
                    let alone = yaml::parse(&format!("k: {v}\n"), FileId(0), Dialect::Yaml12, &Limits::default());
                    let plain = alone.docs.first().and_then(|d| d.get("k")).map(|n| &n.value);
                    assert!(!matches!(plain, Some(Value::Str(_))), "extra value {v:?} of {key:?} in {text:?}");
                }
            }
            assert_eq!(scanned.len(), map.len(), "{text:?}");
        }
        assert!(answered > 4_000 && compared > 3_000, "answered {answered}, compared {compared}");
    }
}
