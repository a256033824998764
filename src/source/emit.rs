//! [`Node`] trees → YAML text, byte for byte as `kustomize build` (v5) writes them, so rendered
//! output can be diffed against (and stand in for) the real tool's.
//!
//! kustomize turns each object into JSON and back through Go yaml.v2 (`sigs.k8s.io/yaml`'s
//! `JSONToYAML`), so what this module reproduces is that round trip:
//! every mapping's keys sorted in yaml.v2's "natural" order (`apiVersion`, `kind`, `metadata` come
//! first only because they sort first), numbers as Go's JSON and yaml.v2 print them, strings
//! quoted when yaml.v2 would read them back as something else, and the libyaml emitter's layout
//! (2-space indent, `- ` at the parent key's column, plain and quoted scalars folded past column
//! 80, literal blocks for multi-line strings). Style choices follow yaml.v2's `emitterc.go`;
//! everything here was checked against `kubectl kustomize` (see the tests).

use super::{Node, Value};
use resolve::{float_text, json_string, string_style};

mod resolve;

/// Column past which libyaml folds plain and quoted scalars at a space.
const BEST_WIDTH: usize = 80;
/// libyaml's short escapes in double-quoted scalars; other characters get `\xXX`, `\uXXXX` or
/// `\UXXXXXXXX`.
const ESCAPED: &str = "\0\u{07}\u{08}\t\n\u{0B}\u{0C}\r\u{1B}\"\\\u{85}\u{A0}\u{2028}\u{2029}";
const ESCAPE_LETTERS: &str = "0abtnvfre\"\\N_LP";
/// Keys longer than this (in bytes) are written as `? key` / `: value`.
const MAX_SIMPLE_KEY: usize = 128;

/// Writes several objects as one multi-document stream, the way `kustomize build` joins them:
/// `---\n` between documents, none before the first.
pub fn emit_documents(docs: &[&Node]) -> String {
    let mut out = String::new();
    for (i, doc) in docs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&emit_node(doc));
    }
    out
}

/// Writes one object as a YAML document (ending in a newline, without `---`).
pub fn emit_node(node: &Node) -> String {
    let mut e =
        Emitter { out: String::new(), column: 0, indent: -1, indents: Vec::new(), whitespace: true, indention: true };
    e.node(node, false);
    // Document end: finish the last line.
    e.write_indent();
    e.out
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// The libyaml emitter state this module needs (block styles only; flow only for `{}`/`[]`).
struct Emitter {
    out: String,
    /// Characters (not bytes) written on the current line.
    column: usize,
    indent: i32,
    indents: Vec<i32>,
    /// The last thing written was whitespace (or nothing), so no space is needed before the next.
    whitespace: bool,
    /// Only indentation has been written on the current line so far.
    indention: bool,
}

impl Emitter {
    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
        self.indention = true;
    }

    /// Copies a line-break character from a scalar.
    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
            self.indention = true;
        }
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0) as usize;
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(&mut self, s: &str, need_whitespace: bool, is_whitespace: bool, is_indention: bool) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        s.chars().for_each(|c| self.put(c));
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { 2 } else { 0 };
        } else if !indentless {
            self.indent += 2;
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    /// Emits a node; `mapping` is true when it is a mapping value (yaml's "mapping context").
    fn node(&mut self, node: &Node, mapping: bool) {
        match &node.value {
            Value::Map(m) if m.is_empty() => self.empty_collection("{}"),
            Value::Seq(s) if s.is_empty() => self.empty_collection("[]"),
            Value::Map(m) => {
                let entries = sorted_entries(m);
                self.increase_indent(false, false);
                for (key, chars, value) in entries {
                    self.write_indent();
                    let requested = string_style(&key);
                    let simple = !analyze(&chars).multiline && key.len() <= MAX_SIMPLE_KEY;
                    if simple {
                        self.scalar(&chars, requested, true);
                        self.write_indicator(":", false, false, false);
                    } else {
                        self.write_indicator("?", true, false, true);
                        self.scalar(&chars, requested, false);
                        self.write_indent();
                        self.write_indicator(":", true, false, true);
                    }
                    self.node(value, true);
                }
                self.pop_indent();
            }
            Value::Seq(items) => {
                self.increase_indent(false, mapping && !self.indention);
                for item in items {
                    self.write_indent();
                    self.write_indicator("-", true, false, true);
                    self.node(item, false);
                }
                self.pop_indent();
            }
            Value::Str(s) => {
                let s = json_string(s);
                self.scalar(&s.chars().collect::<Vec<_>>(), string_style(&s), false);
            }
            scalar => {
                let text = match scalar {
                    Value::Bool(b) => b.to_string(),
                    Value::Int(i) => i.to_string(),
                    Value::Float(f) => float_text(*f),
                    _ => "null".to_string(),
                };
                self.scalar(&text.chars().collect::<Vec<_>>(), Style::Plain, false);
            }
        }
    }

    fn empty_collection(&mut self, text: &str) {
        self.write_indicator(&text[..1], true, true, false);
        self.write_indicator(&text[1..], false, false, false);
    }

    /// Picks the final style the way libyaml's `select_scalar_style` does and writes the scalar.
    fn scalar(&mut self, v: &[char], requested: Style, simple_key: bool) {
        let a = analyze(v);
        let mut style = requested;
        if simple_key && a.multiline {
            style = Style::Double;
        }
        if style == Style::Plain && (!a.plain || (v.is_empty() && simple_key)) {
            style = Style::Single;
        }
        if style == Style::Single && !a.single {
            style = Style::Double;
        }
        if style == Style::Literal && (!a.block || simple_key) {
            style = Style::Double;
        }
        self.increase_indent(true, false);
        match style {
            Style::Plain => self.write_plain_or_single(v, !simple_key, false),
            Style::Single => self.write_plain_or_single(v, !simple_key, true),
            Style::Double => self.write_double_quoted(v, !simple_key),
            Style::Literal => self.write_literal(v),
        }
        self.pop_indent();
    }

    /// Writes a plain (`quoted` false) or single-quoted scalar, folding at a single space once
    /// past column 80.
    fn write_plain_or_single(&mut self, v: &[char], allow_breaks: bool, quoted: bool) {
        if quoted {
            self.write_indicator("'", true, false, false);
        } else if !self.whitespace {
            self.put(' ');
        }
        let (mut spaces, mut breaks) = (false, false);
        for (i, &c) in v.iter().enumerate() {
            if c == ' ' {
                let foldable = !quoted || (i > 0 && i + 1 < v.len());
                if allow_breaks && !spaces && self.column > BEST_WIDTH && foldable && v.get(i + 1) != Some(&' ') {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if quoted && c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        if quoted {
            self.write_indicator("'", false, false, false);
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double_quoted(&mut self, v: &[char], allow_breaks: bool) {
        self.write_indicator("\"", true, false, false);
        // yaml.v2's `is_bom` looks at the start of the string, not the current character, so a
        // leading BOM makes every character escaped (`"\uFEFF\x78"`).
        let bom = v.first() == Some(&'\u{FEFF}');
        let mut spaces = false;
        for (i, &c) in v.iter().enumerate() {
            if !is_printable(c) || bom || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                if let Some((_, e)) = ESCAPED.chars().zip(ESCAPE_LETTERS.chars()).find(|&(from, _)| from == c) {
                    self.put(e);
                } else {
                    let code = c as u32;
                    let (letter, width) = match code {
                        0..=0xFF => ('x', 2),
                        0x100..=0xFFFF => ('u', 4),
                        _ => ('U', 8),
                    };
                    self.put(letter);
                    format!("{code:0width$X}").chars().for_each(|d| self.put(d));
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks && !spaces && self.column > BEST_WIDTH && i > 0 && i + 1 < v.len() {
                    self.write_indent();
                    if v[i + 1] == ' ' {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_literal(&mut self, v: &[char]) {
        self.write_indicator("|", true, false, false);
        if v.first().is_some_and(|&c| c == ' ' || is_break(c)) {
            self.write_indicator("2", false, false, false);
        }
        let n = v.len();
        let chomp = match (v.last(), n.checked_sub(2).map(|i| v[i])) {
            (None, _) => Some("-"),
            (Some(&last), _) if !is_break(last) => Some("-"),
            (Some(_), None) => Some("+"),
            (Some(_), Some(prev)) if is_break(prev) => Some("+"),
            _ => None,
        };
        if let Some(h) = chomp {
            self.write_indicator(h, false, false, false);
        }
        self.put_break();
        self.whitespace = true;
        let mut breaks = true;
        for &c in v {
            if is_break(c) {
                self.write_break(c);
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
    }
}

/// What libyaml's `analyze_scalar` concludes about a scalar (block context only).
struct Analysis {
    multiline: bool,
    /// Plain style allowed (outside flow collections).
    plain: bool,
    /// Single-quoted style allowed.
    single: bool,
    /// Literal block style allowed.
    block: bool,
}

fn analyze(v: &[char]) -> Analysis {
    if v.is_empty() {
        return Analysis { multiline: false, plain: true, single: true, block: false };
    }
    let starts = |p: &str| v.len() >= 3 && v[..3].iter().copied().eq(p.chars());
    let mut indicators = starts("---") || starts("...");
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) = (false, false, false, false);
    let (mut break_space, mut space_break, mut previous_space, mut previous_break) = (false, false, false, false);
    let mut preceded_by_whitespace = true;
    for (i, &c) in v.iter().enumerate() {
        let followed_by_whitespace = v.get(i + 1).is_none_or(|&n| n == ' ' || n == '\t');
        let last = i + 1 == v.len();
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%' | '@' | '`' => {
                    indicators = true
                }
                '?' | ':' | '-' if followed_by_whitespace => indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_whitespace => indicators = true,
                '#' if preceded_by_whitespace => indicators = true,
                _ => {}
            }
        }
        if !is_printable(c) {
            special = true;
        }
        if c == ' ' {
            leading_space |= i == 0;
            trailing_space |= last;
            break_space |= previous_break;
            (previous_space, previous_break) = (true, false);
        } else if is_break(c) {
            line_breaks = true;
            leading_break |= i == 0;
            trailing_break |= last;
            space_break |= previous_space;
            (previous_space, previous_break) = (false, true);
        } else {
            (previous_space, previous_break) = (false, false);
        }
        preceded_by_whitespace = matches!(c, ' ' | '\t' | '\0') || is_break(c);
    }
    let edges = leading_space || leading_break || trailing_space || trailing_break;
    Analysis {
        multiline: line_breaks,
        plain: !(edges || break_space || space_break || special || line_breaks || indicators),
        single: !(break_space || space_break || special),
        block: !(trailing_space || space_break || special),
    }
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// libyaml's `is_printable` (yaml.v2: tabs and characters outside the BMP are not).
fn is_printable(c: char) -> bool {
    matches!(c as u32, 0x0A | 0x20..=0x7E | 0xA0..=0xD7FF | 0xE000..=0xFFFD) && c != '\u{FEFF}'
}

/// A mapping entry: the key as written (after the JSON step), its characters, and the value.
type Entry<'a> = (String, Vec<char>, &'a Node);

/// A mapping's entries in yaml.v2's key order.
fn sorted_entries(m: &super::Mapping) -> Vec<Entry<'_>> {
    let entries = m.iter().map(|(k, v)| {
        let key = json_string(k);
        let chars = key.chars().collect();
        (key, chars, v)
    });
    sort_keys(entries.collect())
}

/// yaml.v2's `keyList.Less` is not a total order for odd keys, and Rust's sorts may panic on
/// such comparators, so this sorts by hand: insertion sort, exactly as Go's sort does for up to
/// 12 keys, and a merge sort beyond that (the same result whenever the order is consistent).
fn sort_keys(mut entries: Vec<Entry<'_>>) -> Vec<Entry<'_>> {
    if entries.len() <= 12 {
        for i in 1..entries.len() {
            let mut j = i;
            while j > 0 && natural_less(&entries[j].1, &entries[j - 1].1) {
                entries.swap(j, j - 1);
                j -= 1;
            }
        }
        return entries;
    }
    let right = entries.split_off(entries.len() / 2);
    let (mut l, mut r) = (sort_keys(entries).into_iter().peekable(), sort_keys(right).into_iter().peekable());
    let mut out = Vec::with_capacity(l.len() + r.len());
    while let (Some(a), Some(b)) = (l.peek(), r.peek()) {
        let next = if natural_less(&b.1, &a.1) { r.next() } else { l.next() };
        out.extend(next);
    }
    out.extend(l.chain(r));
    out
}

/// yaml.v2's map key order (`keyList.Less`): letters after non-letters, runs of digits compared
/// as numbers, so `a2` < `a10` and `"9"` < `"10"`.
fn natural_less(ar: &[char], br: &[char]) -> bool {
    let is_digit = |c: char| c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric());
    for i in 0..ar.len().min(br.len()) {
        if ar[i] == br[i] {
            continue;
        }
        let (al, bl) = (ar[i].is_alphabetic(), br[i].is_alphabetic());
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
        }
        // yaml.v2's quirk: a digit run continuing a non-zero number starts from 1, not 0.
        let zero_in_number =
            (ar[i] == '0' || br[i] == '0') && ar[..i].iter().rev().take_while(|&&c| is_digit(c)).any(|&c| c != '0');
        let start = i64::from(zero_in_number);
        let run = |r: &[char], n: i64| {
            r[i..].iter().take_while(|&&c| is_digit(c)).fold((n, i), |(n, end), &c| {
                (n.wrapping_mul(10).wrapping_add((c as i64).wrapping_sub('0' as i64)), end + 1)
            })
        };
        let ((an, ai), (bn, bi)) = (run(ar, start), run(br, start));
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::{Dialect, parse};
    use crate::source::{FileId, Limits};

    fn docs(src: &str) -> Vec<Node> {
        let parsed = parse(src, FileId(0), Dialect::Yaml12, &Limits::default());
        assert!(parsed.error.is_none(), "{:?}", parsed.error);
        parsed.docs
    }

    fn emit(src: &str) -> String {
        let d = docs(src);
        emit_documents(&d.iter().collect::<Vec<_>>())
    }

    fn str_value(s: &str) -> String {
        let mut m = super::super::Mapping::default();
        m.insert("k".into(), Node::synthetic(Value::Str(s.into())));
        emit_node(&Node::synthetic(Value::Map(Box::new(m))))
    }

    #[test]
    fn keys_sorted_naturally_so_api_version_kind_metadata_lead() {
        let out = emit(
            "metadata: {name: x}\nzeta: 1\nkind: K\napiVersion: v1\ndata: {a10: 1, a9: 2, B: 3, _x: 4, \"10\": 5, \"9\": 6, a01: 7, a1: 8}\n",
        );
        assert_eq!(
            out,
            "apiVersion: v1\ndata:\n  _x: 4\n  \"9\": 6\n  \"10\": 5\n  B: 3\n  a1: 8\n  a01: 7\n  a9: 2\n  a10: 1\nkind: K\nmetadata:\n  name: x\nzeta: 1\n"
        );
    }

    #[test]
    fn sequences_sit_at_the_parent_key_column() {
        let out = emit("c:\n- name: x\n  args: [a, [b, c], {d: e}]\n- - 1\n  - 2\n");
        assert_eq!(out, "c:\n- args:\n  - a\n  - - b\n    - c\n  - d: e\n  name: x\n- - 1\n  - 2\n");
    }

    #[test]
    fn empty_collections_and_null() {
        assert_eq!(emit("a: {}\nb: []\nc: ~\nd: [[], {}, null]\n"), "a: {}\nb: []\nc: null\nd:\n- []\n- {}\n- null\n");
    }

    #[test]
    fn strings_that_read_as_other_types_are_double_quoted() {
        let out = emit(concat!(
            "a: \"on\"\nb: \"3600\"\nc: \"true\"\nd: \"1.5\"\ne: \"null\"\nf: \"~\"\ng: \"\"\nh: \"y\"\n",
            "i: \"0x1F\"\nj: \"1_000\"\nk: \"2024-01-01\"\nl: \"1:30\"\nm: \".5\"\nn: \"1e3\"\n",
            "o: \"2024-01-02T10:00:00\"\np: \"1e400\"\nq: \"+\"\nr: \"<<\"\n",
        ));
        assert_eq!(
            out,
            concat!(
                "a: \"on\"\nb: \"3600\"\nc: \"true\"\nd: \"1.5\"\ne: \"null\"\nf: \"~\"\ng: \"\"\nh: \"y\"\n",
                "i: \"0x1F\"\nj: \"1_000\"\nk: \"2024-01-01\"\nl: \"1:30\"\nm: \".5\"\n\"n\": \"1e3\"\n",
                "o: 2024-01-02T10:00:00\np: 1e400\nq: +\nr: <<\n",
            )
        );
    }

    #[test]
    fn indicator_characters_are_single_quoted() {
        assert_eq!(str_value("*x"), "k: '*x'\n");
        assert_eq!(str_value("it's"), "k: it's\n");
        assert_eq!(str_value("'q'"), "k: '''q'''\n");
        assert_eq!(str_value("a: b"), "k: 'a: b'\n");
        assert_eq!(str_value("a:b"), "k: a:b\n");
        assert_eq!(str_value("a #b"), "k: 'a #b'\n");
        assert_eq!(str_value("a#b"), "k: a#b\n");
        assert_eq!(str_value("-"), "k: '-'\n");
        assert_eq!(str_value("-x"), "k: -x\n");
        assert_eq!(str_value(" x"), "k: ' x'\n");
        assert_eq!(str_value("---"), "k: '---'\n");
    }

    #[test]
    fn non_printable_text_is_escaped_in_double_quotes() {
        assert_eq!(str_value("a\tb"), "k: \"a\\tb\"\n");
        assert_eq!(str_value("\u{1b}[1m"), "k: \"\\e[1m\"\n");
        assert_eq!(str_value("😀"), "k: \"\\U0001F600\"\n");
        assert_eq!(str_value("\u{feff}x"), "k: \"\\uFEFF\\x78\"\n");
        assert_eq!(str_value("héllo ✓"), "k: héllo ✓\n");
        assert_eq!(str_value("a \u{85} b"), "k: a b\n");
    }

    #[test]
    fn multi_line_strings_are_literal_blocks() {
        assert_eq!(str_value("a\nb"), "k: |-\n  a\n  b\n");
        assert_eq!(str_value("a\nb\n"), "k: |\n  a\n  b\n");
        assert_eq!(str_value("a\n\n"), "k: |+\n  a\n\n");
        assert_eq!(str_value("  a\nb\n"), "k: |2\n    a\n  b\n");
        assert_eq!(str_value("\nx"), "k: |2-\n\n  x\n");
        assert_eq!(str_value("a \nb\n"), "k: \"a \\nb\\n\"\n");
        assert_eq!(str_value("a\tb\nc"), "k: \"a\\tb\\nc\"\n");
    }

    #[test]
    fn long_scalars_fold_past_column_80() {
        let words = (0..20).map(|i| format!("word{i:02}")).collect::<Vec<_>>().join(" ");
        assert_eq!(
            str_value(&words),
            "k: word00 word01 word02 word03 word04 word05 word06 word07 word08 word09 word10 word11\n  word12 word13 word14 word15 word16 word17 word18 word19\n"
        );
        assert_eq!(
            str_value(&format!("#{words}")),
            "k: '#word00 word01 word02 word03 word04 word05 word06 word07 word08 word09 word10\n  word11 word12 word13 word14 word15 word16 word17 word18 word19'\n"
        );
        assert_eq!(
            str_value(&format!("{words}\t")),
            "k: \"word00 word01 word02 word03 word04 word05 word06 word07 word08 word09 word10 word11\n  word12 word13 word14 word15 word16 word17 word18 word19\\t\"\n"
        );
        let doubled = words.replace(' ', "  ");
        assert_eq!(str_value(&doubled), format!("k: {doubled}\n"));
    }

    #[test]
    fn long_and_multi_line_keys_use_explicit_form() {
        let long = "k".repeat(129);
        assert_eq!(emit(&format!("{long}: 1\n")), format!("? {long}\n: 1\n"));
        assert_eq!(emit(&format!("{}: 1\n", &long[1..])), format!("{}: 1\n", &long[1..]));
        assert_eq!(emit("\"a\\nb\": 1\n"), "? |-\n  a\n  b\n: 1\n");
    }

    #[test]
    fn numbers_print_as_go_json_then_yaml_v2_do() {
        let out = emit(
            "f: [1.0, 1.5, 1e-7, 1e20, 1e21, 123456.5, 1234567.5, -0.0, 0.0001, 0.00001, -9.3e18]\ni: [0o17, -5]\n",
        );
        assert_eq!(
            out,
            "f:\n- 1\n- 1.5\n- 1e-07\n- 1e+20\n- 1e+21\n- 123456.5\n- 1.2345675e+06\n- 0\n- 0.0001\n- 1e-05\n- -9.3e+18\ni:\n- 15\n- -5\n"
        );
    }

    #[test]
    fn large_maps_sort_and_odd_keys_never_panic() {
        let keys: Vec<String> = (0..30).rev().map(|i| format!("k{i}")).collect();
        let src: String = keys.iter().map(|k| format!("{k}: 1\n")).collect();
        let want: String = (0..30).map(|i| format!("k{i}: 1\n")).collect();
        assert_eq!(emit(&src), want);
        let odd: String = ["\"\\t*9\"", "\"0a\"", "\"-1\"", "\"a0\"", "\"1.\"", "\"00\"", "\"é1\"", "\"_\"", "\" 1\""]
            .iter()
            .cycle()
            .take(40)
            .enumerate()
            .map(|(i, k)| format!("{}{i}\": 1\n", &k[..k.len() - 1]))
            .collect();
        assert_eq!(emit(&odd).lines().count(), 40);
    }

    #[test]
    fn documents_are_separated_without_leading_marker() {
        assert_eq!(emit("a: 1\n---\nb: 2\n"), "a: 1\n---\nb: 2\n");
        assert_eq!(emit_documents(&[]), "");
    }

    /// Inputs for the `kubectl kustomize` comparison: `(name, kind, body)`; the body is the YAML
    /// under the object's header (apiVersion, kind and metadata.name are added).
    const KUSTOMIZE_CASES: &[(&str, &str)] = &[
        (
            "type-like",
            "spec: {a: \"on\", b: \"yes\", c: \"3600\", d: \"true\", e: \"1.5\", f: \"null\", g: \"~\", h: \"\", i: \"Y\", j: \"n\", k: \"OFF\", l: \"False\"}\n",
        ),
        (
            "numeric-strings",
            "spec: [\"0x1F\", \"0o17\", \"0b101\", \"017\", \"08\", \"1_000\", \"+1\", \"-1\", \"1e3\", \"1E5\", \"1.\", \".5\", \"-.5\", \".5_5\", \"._5\", \"1e400\", \"99999999999999999999\", \"-99999999999999999999\", \"0xFFFFFFFFFFFFFFFFFFFF\", \"12e\", \"0x1p-2\", \"Infinity\", \".Nan\", \"-\", \"+\", \"0\", \"-0\"]\n",
        ),
        (
            "timestamps",
            "spec: [\"2024-01-01\", \"2024-1-2\", \"2024-02-29\", \"2023-02-29\", \"2024-13-01\", \"2024-01-02T10:00:00Z\", \"2024-01-02t10:00:00.5Z\", \"2024-01-02T10:00:00+01:00\", \"2024-01-02T10:00:00\", \"2024-01-02 10:00:00\", \"2024-01-02  10:00:00.25\", \"2024-01-02 10:00:00Z\", \"2024-01-02T24:00:00Z\", \"20240-01-02\"]\n",
        ),
        ("base60", "spec: [\"1:30\", \"+1:30\", \"-1:2.5\", \"1:60\", \"1_000:30\", \"1:2:3\", \"a:1\"]\n"),
        (
            "indicators",
            "spec: [\"*a\", \"&a\", \"!a\", \"|a\", \">a\", \"%a\", \"@a\", \"`a\", \"#a\", \"{a\", \"}a\", \"[a\", \"]a\", \",a\", \"?a\", \"? a\", \":a\", \": a\", \"-a\", \"- a\", \"'a\", \"\\\"a\", \"a'b\", \"a\\\"b\", \"a: b\", \"a:b\", \"a #b\", \"a#b\", \"a:\", \"a,b\", \"---\", \"...\", \"--\", \"<<\", \"=\", \"~/x\"]\n",
        ),
        (
            "spaces",
            "spec: [\" a\", \"a \", \" \", \"  \", \"a  b\", \"a\\tb\", \"\\ta\", \"a\\u00a0b\", \"\\u00a0\"]\n",
        ),
        (
            "escapes",
            "spec: [\"a\\u0001b\", \"\\u001b[0m\", \"a\\u0000b\", \"a\\rb\", \"a\\r\\nb\\n\", \"\\ufeffx\", \"x\\ufeffy\", \"a\\u2028b\", \"a\\u2029b\", \"a\\u0085b\", \"a  \\u0085 \\u0085  b\", \"\\U0001F600 smile\", \"\\ue000\"]\n",
        ),
        (
            "unicode",
            "spec: {greek: \"αβγ\", cjk: \"日本語のテキスト\", accents: \"héllo wörld\", mixed: \"naïve café ✓\", \"ключ\": значение, \"é\": 1, \"e\": 2, \"z\": 3}\n",
        ),
        ("literal-clip", "spec:\n  script: |\n    #!/bin/sh\n    echo \"hi\"\n    exit 0\n"),
        ("literal-strip", "spec:\n  text: |-\n    a\n    b\n"),
        ("literal-keep", "spec:\n  text: |+\n    a\n\n\n  other: x\n"),
        (
            "literal-indented",
            "spec:\n  text: |2\n      indented\n    line\n  text2: \"\\n\\nleading\\n\"\n  text3: \"\\n\"\n  text4: \"  \\n\"\n",
        ),
        (
            "literal-not-allowed",
            "spec: [\"trailing \\nspace\", \"tab\\there\\n\", \"a\\n\\u0001\", \"ok\\n  indented after\\n\"]\n",
        ),
        ("literal-at-end", "spec:\n  z: \"x\\n\\n\\n\"\n"),
        ("literal-in-lists", "spec:\n- |\n  one\n  two\n- - |-\n    nested\n    block\n- k: |\n    in map\n"),
        (
            "long-plain",
            "spec:\n  a: word00 word01 word02 word03 word04 word05 word06 word07 word08 word09 word10 word11 word12 word13 word14 word15\n  b: wordwordwordwordwordwordwordwordwordwordwordwordwordwordwordwordwordwordwordwordwordwordwordwordword x\n  c: word00  word01  word02  word03  word04  word05  word06  word07  word08  word09  word10  word11  word12\n  d: -x word00 word01 word02 word03 word04 word05 word06 word07 word08 word09 word10 word11 word12 word13\n",
        ),
        (
            "long-quoted",
            "spec:\n  a: \"#word00 word01 word02 word03 word04 word05 word06 word07 word08 word09 word10 word11 word12 word13\"\n  b: \"on word00 word01 word02 word03 word04 word05 word06 word07 word08 word09 word10 word11 word12 w: x\"\n  c: \"word00 word01 word02 word03 word04 word05 word06 word07 word08 word09 word10 word11 word12\\t\"\n  d: \"word00 word01 word02 word03 word04 word05 word06 word07 word08 word09 word10 word11  word12 \\t\"\n  e: \"'word00 word01 word02 word03 word04 word05 word06 word07 word08 word09 word10 word11 'x'\"\n",
        ),
        (
            "long-nested",
            "spec:\n  a:\n    b:\n      c:\n        d:\n        - e: word00 word01 word02 word03 word04 word05 word06 word07 word08 word09 word10 word11 word12\n          f:\n          - - word00 word01 word02 word03 word04 word05 word06 word07 word08 word09 word10 word11 word12\n",
        ),
        (
            "long-unicode",
            "spec:\n  a: \"éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé b c\"\n  b: \"日本語 日本語 日本語 日本語 日本語 日本語 日本語 日本語 日本語 日本語 日本語 日本語 日本語 日本語 日本語 日本語 日本語 日本語 日本語 日本語 日本語\"\n",
        ),
        ("nested-lists", "spec: [[a, [b, [c, []]]], [], [{}], [{a: [1, [2]]}], [null, \"\"], [[[]]]]\n"),
        (
            "maps-in-lists",
            "spec:\n- {b: 1, a: 2}\n- - {y: 1, x: [1, 2]}\n  - z\n- name: n\n  items:\n  - {}\n  - []\n  - nested: {deep: {deeper: [x]}}\n",
        ),
        ("empty-values", "spec: {a: {}, b: [], c: null, d: \"\", e: ~, f: [{}, [], null, \"\"], g: {h: {}}}\n"),
        (
            "numbers",
            "spec: {i: [0, -1, 42, 9223372036854775807, 0o17, 0x10, +5, 1_000], f: [1.0, 1.5, 0.1, 1e-7, 1e20, 1e21, 1e300, 5e-324, 123456.5, 1234567.5, -0.0, 0.30000000000000004, 9007199254740993.0, -9.3e18, 18446744073709551615.0, 2.5e-5, 0.0001, 0.00001, 100.0, 1e6, 123456789.0, 1.5e300]}\n",
        ),
        ("bools-nulls", "spec: {a: true, b: false, c: True, d: FALSE, e: null, f: Null, g: ~, h: \"True\"}\n"),
        (
            "key-order",
            "spec:\n  zz: 1\n  a10: 1\n  a9: 1\n  a01: 1\n  a1: 1\n  a001: 1\n  a0: 1\n  a: 1\n  B: 1\n  _x: 1\n  \"-x\": 1\n  x-1: 1\n  x_1: 1\n  x.1: 1\n  x1: 1\n  \"1\": 1\n  \"10\": 1\n  \"9\": 1\n  \"\": 1\n  \" \": 1\n  a/b: 1\n  aB: 1\n  a2b: 1\n  a02b: 1\n  v1.2.10: 1\n  v1.2.9: 1\n  app.kubernetes.io/name: 1\n  app.kubernetes.io/instance: 1\n",
        ),
        (
            "key-quoting",
            "spec:\n  \"on\": 1\n  \"yes\": 1\n  \"y\": 1\n  \"1.5\": 1\n  \"null\": 1\n  \"a: b\": 1\n  \"- x\": 1\n  \"#x\": 1\n  \"~\": 1\n  \"*a\": 1\n  \"a b\": 1\n  \"tab\\tkey\": 1\n  \"2024-01-01\": 1\n  \"=\": 1\n",
        ),
        (
            "key-long",
            "spec:\n  kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk: 128\n  kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk: 129\n  \"w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w\": [x]\n",
        ),
        ("key-multiline", "spec:\n  \"a\\nb\": 1\n  \"c\\n\": {d: 1}\n  \"e\\u2028f\": [1]\n"),
        ("top-level-order", "spec: 1\nzeta: {b: 1, a: 2}\ndata: {x: y}\nstatus: {}\n"),
        (
            "json-annotation",
            "spec:\n  config: '{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"annotations\":{},\"name\":\"x\",\"namespace\":\"default\"},\"data\":{\"key\":\"value with spaces\"}}'\n  short: '{\"a\": 1}'\n  list: '[1, 2]'\n",
        ),
        ("anchors-merge", "spec:\n  base: &b {x: 1, y: [a, b]}\n  copy: *b\n  merged:\n    <<: *b\n    z: 3\n"),
        ("deep-seq-of-seq", "spec:\n- - - - a\n      - b\n    - c\n  - d\n- e\n"),
    ];

    /// Real-world shaped objects (full documents, name inserted as `NAME`).
    const KUSTOMIZE_OBJECTS: &[&str] = &[
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: NAME\n  namespace: prod\n  labels: {app: web, tier: \"1\"}\n  annotations:\n    description: A very long description of this deployment that goes on and on past the eighty column limit\n    checksum/config: 5d41402abc4b2a76b9719d911017c592\nspec:\n  replicas: 3\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.25\n        args: [\"--port=8080\", \"--verbose\", \"-v\", \"2\"]\n        env:\n        - {name: ENABLED, value: \"true\"}\n        - {name: PORT, value: \"8080\"}\n        - name: FROM\n          valueFrom: {fieldRef: {fieldPath: metadata.name}}\n        ports:\n        - {containerPort: 8080, name: http, protocol: TCP}\n        resources:\n          limits: {cpu: 500m, memory: 128Mi}\n          requests: {cpu: \"0.25\", memory: 64Mi}\n        readinessProbe:\n          httpGet: {path: /healthz, port: http}\n          initialDelaySeconds: 5\n        command:\n        - /bin/sh\n        - -c\n        - |\n          set -e\n          echo \"starting on $PORT\"\n          exec nginx -g 'daemon off;'\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: NAME\ndata:\n  app.properties: |\n    key=value\n    other.key = spaced value\n  empty: \"\"\n  number: \"42\"\n  bool: \"false\"\n  json: '{\"a\":[1,2,3]}'\n  yaml: |-\n    nested:\n      - item\n",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: NAME\nspec:\n  type: ClusterIP\n  ports:\n  - {port: 80, targetPort: http, name: http}\n  - {port: 443, targetPort: 8443, name: \"https\"}\n  selector: {app: web}\n",
        "apiVersion: example.com/v1\nkind: Thing\nmetadata:\n  name: NAME\n---\napiVersion: example.com/v1\nkind: Thing\nmetadata:\n  name: NAME-second\nspec: [x]\n",
    ];

    fn on_path(program: &str) -> bool {
        std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
    }

    #[test]
    fn emit_matches_kubectl_kustomize() {
        if !on_path("kubectl") {
            println!("skipped: kubectl not found");
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let mut files = Vec::new();
        let mut sources = Vec::new();
        for (i, (name, body)) in KUSTOMIZE_CASES.iter().enumerate() {
            sources.push(format!("apiVersion: example.com/v1\nkind: Thing\nmetadata:\n  name: c{i:02}-{name}\n{body}"));
        }
        for (i, obj) in KUSTOMIZE_OBJECTS.iter().enumerate() {
            sources.push(obj.replace("NAME", &format!("obj{i:02}")));
        }
        let mut ours: Vec<Node> = Vec::new();
        for (i, src) in sources.iter().enumerate() {
            let file = format!("r{i:02}.yaml");
            std::fs::write(dir.path().join(&file), src).expect("write resource");
            files.push(file);
            ours.extend(docs(src));
        }
        let kustomization = format!("resources:\n{}", files.iter().map(|f| format!("- {f}\n")).collect::<String>());
        std::fs::write(dir.path().join("kustomization.yaml"), kustomization).expect("write kustomization");
        let out = std::process::Command::new("kubectl").arg("kustomize").arg(dir.path()).output().expect("run kubectl");
        assert!(out.status.success(), "kubectl kustomize failed: {}", String::from_utf8_lossy(&out.stderr));
        let want = String::from_utf8(out.stdout).expect("utf-8 output");

        // kustomize orders resources itself; emit ours in its order, then compare whole streams.
        let names = |d: &Node| {
            (d.str_at(&["kind"]).unwrap_or("").to_string(), d.str_at(&["metadata", "name"]).unwrap_or("").to_string())
        };
        let order: Vec<_> = docs(&want).iter().map(names).collect();
        assert_eq!(order.len(), ours.len(), "kustomize returned a different number of objects");
        let ordered: Vec<&Node> =
            order.iter().map(|o| ours.iter().find(|d| names(d) == *o).expect("object in output")).collect();
        let got = emit_documents(&ordered);
        if got != want {
            let (g, w): (Vec<_>, Vec<_>) = (got.lines().collect(), want.lines().collect());
            let at = g.iter().zip(&w).position(|(a, b)| a != b).unwrap_or(g.len().min(w.len()));
            let from = at.saturating_sub(5);
            panic!(
                "emit differs from kubectl kustomize at line {}:\n--- kustomize\n{}\n--- emit\n{}",
                at + 1,
                w[from..(at + 5).min(w.len())].join("\n"),
                g[from..(at + 5).min(g.len())].join("\n")
            );
        }
    }
}
