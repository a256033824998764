//! Where Go's yaml.v3 (which kustomize and Flux read and write resources with) departs from the
//! YAML spec that `saphyr-parser` follows, and the users' clusters receive what go-yaml gives:
//!
//! - alias names are `[A-Za-z0-9_-]+` in go-yaml, so `*app: x` is the alias `app` used as a
//!   mapping key; the spec (and saphyr) read the alias `app:`;
//! - kustomize writes every resource through go-yaml's encoder and parses it back
//!   (`RNode.MarshalJSON`), keeping a folded (`>`) scalar folded; go-yaml's folded writer checks
//!   the value's first character where it means the next line's, so a line followed by a
//!   more-indented line gains an empty line in between ([`folded_after_round_trip`]);
//! - a block scalar that ends the file without a final line break has no trailing newline;
//! - go-yaml does not check indentation inside flow collections and quoted scalars, so a
//!   closing `]` at its key's column, or a quoted scalar's next line at the key's column, is
//!   fine; saphyr refuses them ([`repair`] indents such lines, which changes no value there).

/// go-yaml's anchor and alias name characters.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// For an alias at char index `at` of `text` whose go-yaml name is directly followed by `:`
/// (`*app:`), the text with a space put before that `:`, and the char index of the space;
/// `None` when the alias is not of that shape.
pub(super) fn split_alias_colon(text: &str, at: usize) -> Option<(String, usize)> {
    let (start, _) = text.char_indices().nth(at).filter(|(_, c)| *c == '*')?;
    let rest = &text[start + 1..];
    let name_len = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
    if name_len == 0 || !rest[name_len..].starts_with(':') {
        return None;
    }
    let colon = start + 1 + name_len;
    let mut out = String::with_capacity(text.len() + 1);
    out.push_str(&text[..colon]);
    out.push(' ');
    out.push_str(&text[colon..]);
    Some((out, at + 1 + rest[..name_len].chars().count()))
}

/// Spaces put into a text by a [`repair`]: `(line, column)` pairs (1-based line, 0-based
/// column in chars, in the text before the repair), one per space, so locations map back.
pub(super) type Inserted = Vec<(usize, usize)>;

/// Turns a text that saphyr refused, at char index `at` with message `info`, into one that
/// means the same to go-yaml and that saphyr reads: `*app:` becomes `*app :`, and a line of a
/// flow collection or quoted scalar indented less than saphyr wants is indented more.
/// `None` when the error is not one of those.
pub(super) fn repair(text: &str, info: &str, at: usize) -> Option<(String, Inserted)> {
    let offset = text.char_indices().nth(at).map_or(text.len(), |(i, _)| i);
    let (line, col) = position(text, offset);
    if info.contains("unknown anchor") {
        let (fixed, space_at) = split_alias_colon(text, at)?;
        return Some((fixed, vec![(line, space_at - (at - col))]));
    }
    if info.ends_with("invalid indentation") || info.ends_with("invalid indentation in flow construct") {
        // Only blanks before the token on its line: indent it past the previous line.
        let start = line_start(text, offset);
        if !text[start..offset].chars().all(|c| c == ' ') {
            return None;
        }
        let want = previous_indent(text, start) + 1;
        let n = want.saturating_sub(col).max(1);
        return Some((insert_spaces(text, &[(offset, n)]), vec![(line, col); n]));
    }
    if info.ends_with("invalid indentation in quoted scalar") {
        return indent_quoted(text, offset, line, col);
    }
    None
}

/// Indents every continuation line of the quoted scalar opening at byte `offset` past the
/// opening quote's column (leading blanks of those lines are not part of the value).
fn indent_quoted(text: &str, offset: usize, line: usize, col: usize) -> Option<(String, Inserted)> {
    let quote = text[offset..].chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let (mut inserts, mut inserted) = (Vec::new(), Vec::new());
    let mut cur_line = line;
    let mut chars = text[offset + 1..].char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if quote == '"' => {
                chars.next();
            }
            '\'' if quote == '\'' && chars.peek().is_some_and(|(_, n)| *n == '\'') => {
                chars.next();
            }
            c if c == quote => break,
            '\n' => {
                cur_line += 1;
                let start = offset + 1 + i + 1;
                let indent = text[start..].chars().take_while(|c| *c == ' ').count();
                let n = (col + 1).saturating_sub(indent);
                if n > 0 {
                    inserts.push((start, n));
                    inserted.extend(std::iter::repeat_n((cur_line, 0), n));
                }
            }
            _ => {}
        }
    }
    (!inserts.is_empty()).then(|| (insert_spaces(text, &inserts), inserted))
}

/// `text` with `n` spaces put at each byte offset (offsets ascending).
fn insert_spaces(text: &str, at: &[(usize, usize)]) -> String {
    let mut out = String::with_capacity(text.len() + at.iter().map(|(_, n)| n).sum::<usize>());
    let mut last = 0;
    for &(o, n) in at {
        out.push_str(&text[last..o]);
        out.extend(std::iter::repeat_n(' ', n));
        last = o;
    }
    out.push_str(&text[last..]);
    out
}

/// The byte offset where the line holding byte `offset` starts.
fn line_start(text: &str, offset: usize) -> usize {
    text[..offset].rfind(['\n', '\r']).map_or(0, |i| i + 1)
}

/// The indentation of the closest non-blank line before the line starting at byte `start`.
fn previous_indent(text: &str, start: usize) -> usize {
    text[..start]
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map_or(0, |l| l.chars().take_while(|c| *c == ' ').count())
}

/// The 1-based line and 0-based column (in chars) of byte `offset`, as saphyr counts them.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let mut line = 1;
    let mut prev = '\0';
    for c in before.chars() {
        if c == '\n' && prev != '\r' || c == '\r' {
            line += 1;
        }
        prev = c;
    }
    (line, before[line_start(text, offset)..].chars().count())
}

/// Characters go-yaml's emitter counts as special (not printable, with Unicode output on):
/// a value holding one is written double-quoted, which round-trips exactly.
fn is_special(c: char) -> bool {
    let printable = c == '\n'
        || c == '\t'
        || (' '..='~').contains(&c)
        || ('\u{A0}'..='\u{D7FF}').contains(&c)
        || (('\u{E000}'..='\u{FFFD}').contains(&c) && c != '\u{FEFF}');
    !printable
}

/// The value kustomize outputs for a folded block scalar whose parsed value is `v`, when it is
/// not `v` itself.
///
/// go-yaml writes a folded scalar back folded when block style is allowed (no trailing space,
/// no space before a line break, no special character; else it double-quotes). Its writer puts
/// an empty line after a line break that ends a line not starting with a blank, but decides
/// that from the value's first non-break character instead of the next line's. When the value
/// starts with a non-blank, every such line gets the empty line; read back, it is lost again
/// before an ordinary line and before the end (clip chomping), and kept before a line starting
/// with a blank (more-indented lines keep their breaks) and at the end when chomping is keep.
pub fn folded_after_round_trip(v: &str) -> Option<String> {
    if !v.contains('\n') || v.ends_with(' ') || v.contains(" \n") || v.chars().any(is_special) {
        return None;
    }
    let starts_blank = |l: &str| l.starts_with([' ', '\t']);
    if v.trim_start_matches('\n').is_empty() || starts_blank(v.trim_start_matches('\n')) {
        return None;
    }
    let lines: Vec<&str> = v.split('\n').collect();
    let mut out = String::with_capacity(v.len() + 16);
    for (j, line) in lines.iter().enumerate() {
        out.push_str(line);
        if j + 1 == lines.len() {
            break;
        }
        out.push('\n');
        if line.is_empty() || starts_blank(line) {
            continue;
        }
        let extra = match lines[j + 1..].iter().find(|l| !l.is_empty()) {
            Some(next) => starts_blank(next),
            // Only line breaks follow: they survive only with keep chomping (two or more).
            None => lines.len() - j > 2,
        };
        if extra {
            out.push('\n');
        }
    }
    (out != v).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_names_stop_where_go_yaml_stops() {
        assert_eq!(split_alias_colon("a: *app: x", 3), Some(("a: *app : x".to_string(), 7)));
        assert_eq!(split_alias_colon("*a-1_b:x", 0), Some(("*a-1_b :x".to_string(), 6)));
        assert_eq!(split_alias_colon("*app x", 0), None);
        assert_eq!(split_alias_colon("*:", 0), None);
        assert_eq!(split_alias_colon("&app:", 0), None);
        assert_eq!(split_alias_colon("é *b:", 2), Some(("é *b :".to_string(), 4)));
    }

    #[test]
    fn folded_scalars_gain_a_line_before_more_indented_lines() {
        let f = |v: &str| folded_after_round_trip(v);
        assert_eq!(f("[\n  JSONPatch{\n]").as_deref(), Some("[\n\n  JSONPatch{\n]"));
        assert_eq!(f("a\nb\n\nc\n"), None);
        assert_eq!(f("a\n\n  m\nb\n\n\n  m2").as_deref(), Some("a\n\n\n  m\nb\n\n\n\n  m2"));
        assert_eq!(f("\nlead\n  more\nx\n").as_deref(), Some("\nlead\n\n  more\nx\n"));
        assert_eq!(f("a\n\n").as_deref(), Some("a\n\n\n"));
        assert_eq!(f("t\n\tb\nz").as_deref(), Some("t\n\n\tb\nz"));
        // Starts with a blank: the writer never adds a line.
        assert_eq!(f("  s\nx\n  y"), None);
        // Double-quoted by the writer: exact.
        assert_eq!(f("trailing space \n  more"), None);
        assert_eq!(f("emoji \u{1F600}\n  more\nz"), None);
        assert_eq!(f("caf\u{e9}\n  more").as_deref(), Some("caf\u{e9}\n\n  more"));
        assert_eq!(f("one line"), None);
    }

    #[test]
    fn repairs_keep_the_meaning_go_yaml_gives() {
        let (t, ins) = repair("a: [\n  b,\n]\n", "invalid indentation", 10).unwrap();
        assert_eq!((t.as_str(), ins), ("a: [\n  b,\n   ]\n", vec![(3, 0); 3]));
        let (t, ins) = repair("k:\n  a: \"x\n  y\"\n", "invalid indentation in quoted scalar", 8).unwrap();
        assert_eq!((t.as_str(), ins), ("k:\n  a: \"x\n      y\"\n", vec![(3, 0); 4]));
        let (t, ins) = repair("x: *app: 1\n", "while parsing node, found unknown anchor", 3).unwrap();
        assert_eq!((t.as_str(), ins), ("x: *app : 1\n", vec![(1, 7)]));
        assert!(repair("a: [b, c] ]\n", "invalid indentation", 10).is_none());
        assert!(repair("a: 1\n", "did not find expected key", 2).is_none());
    }
}
