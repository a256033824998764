//! YAML text → [`Node`] trees, with positions, following the rules kustomize reads YAML by:
//! Go yaml.v3 scalar typing for resources (`on`/`yes` stay strings, `0777` is 511, `1_000` is
//! 1000), YAML 1.1 booleans for `kustomization.yaml`, `<<` merge keys, anchors redefined
//! within a document. The parser is `saphyr-parser`; this module only builds the tree and
//! enforces bounds (alias expansion, nesting depth, document count).

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::{FileId, Limits, Loc, Mapping, Node, NullForm, Value, goyaml};

/// Which scalar typing rules apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// Go yaml.v3 (resources, patches).
    Yaml12,
    /// YAML 1.1 booleans (`y`, `yes`, `on`...), as kustomize reads `kustomization.yaml`.
    Yaml11,
}

/// What went wrong while loading YAML.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum YamlErrorKind {
    Syntax,
    DuplicateKey,
    LimitExceeded,
}

/// A located YAML problem.
#[derive(Clone, Debug)]
pub struct YamlError {
    pub kind: YamlErrorKind,
    pub loc: Loc,
    pub message: String,
}

/// The documents of one file. `error` is set when the file is not usable as a whole
/// (kustomize rejects the whole file on a syntax error); `docs` then holds what came before it.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    pub docs: Vec<Node>,
    pub error: Option<YamlError>,
}

/// The first document of `text` (YAML 1.2, file 0), for the tests of every layer.
#[cfg(test)]
pub(crate) fn first_doc(text: &str) -> Node {
    parse(text, FileId(0), Dialect::Yaml12, &Limits::default()).docs.remove(0)
}

/// Parses `text` (from file `file`) into documents. Empty and null documents are dropped, as
/// kustomize drops them.
pub fn parse(text: &str, file: FileId, dialect: Dialect, limits: &Limits) -> Parsed {
    let mut text = std::borrow::Cow::Borrowed(text);
    let mut inserted = Vec::new();
    loop {
        let mut b = Builder {
            file,
            dialect,
            limits,
            stack: Vec::new(),
            anchors: HashMap::new(),
            expanded: 0,
            docs: Vec::new(),
            inserted: &inserted,
            failure: None,
            text_end: (!text.ends_with(['\n', '\r'])).then(|| text.chars().count()),
        };
        let result = b.run(&text);
        // Where go-yaml reads what saphyr refuses (see [`goyaml::repair`]), retry on a text that
        // means the same, a bounded number of times, locations mapped back to the original.
        if let (Err(_), Some((info, at))) = (&result, &b.failure)
            && inserted.len() < MAX_REPAIR_SPACES
            && let Some((fixed, spaces)) = goyaml::repair(&text, info, *at)
        {
            inserted.extend(spaces);
            text = std::borrow::Cow::Owned(fixed);
            continue;
        }
        return match result {
            Ok(()) => Parsed { docs: b.docs, error: None },
            Err(e) => Parsed { docs: b.docs, error: Some(e) },
        };
    }
}

/// How many spaces repairs may put into one file before its parse error stands.
const MAX_REPAIR_SPACES: usize = 4096;

enum Frame {
    Seq { items: Vec<Node>, loc: Loc, anchor: usize },
    Map { entries: Mapping, merges: Vec<Node>, pending_key: Option<(String, Loc, bool)>, loc: Loc, anchor: usize },
}

struct Builder<'a> {
    file: FileId,
    dialect: Dialect,
    limits: &'a Limits,
    stack: Vec<Frame>,
    /// Anchored nodes by anchor id, with a scalar's source text (an alias may be a mapping key,
    /// and keys keep their text).
    anchors: HashMap<usize, (Node, Option<String>)>,
    expanded: usize,
    docs: Vec<Node>,
    /// Spaces put into the text (line, column), oldest first: see [`goyaml::repair`].
    inserted: &'a [(usize, usize)],
    /// The parser's error message and where it stopped (a char index), if it failed.
    failure: Option<(String, usize)>,
    /// The text's length in chars when it does not end with a line break.
    text_end: Option<usize>,
}

fn count_nodes(n: &Node) -> usize {
    match &n.value {
        Value::Seq(s) => 1 + s.iter().map(count_nodes).sum::<usize>(),
        Value::Map(m) => 1 + m.values().map(count_nodes).sum::<usize>(),
        _ => 1,
    }
}

impl Builder<'_> {
    fn loc(&self, span: &Span) -> Loc {
        self.loc_at(span.start.line(), span.start.col())
    }

    /// The location of a saphyr position (1-based line, 0-based column) in the original text.
    fn loc_at(&self, line: usize, mut col: usize) -> Loc {
        for &(l, c) in self.inserted.iter().rev() {
            if l == line && col > c {
                col -= 1;
            }
        }
        Loc::new(self.file, line as u32, col as u32 + 1)
    }

    fn err(&self, kind: YamlErrorKind, loc: Loc, message: String) -> YamlError {
        YamlError { kind, loc, message }
    }

    // long: the event loop of the parser: one arm per YAML event, sharing the builder's stacks.
    fn run(&mut self, text: &str) -> Result<(), YamlError> {
        if let Some((line, message)) = check_directives(text) {
            return Err(self.err(YamlErrorKind::Syntax, Loc::new(self.file, line, 1), message));
        }
        if let Some((line, col, c)) = find_control_char(text) {
            return Err(self.err(
                YamlErrorKind::Syntax,
                Loc::new(self.file, line, col),
                format!("control character U+{:04X} is not allowed in YAML (Go yaml.v3 rejects the file)", c as u32),
            ));
        }
        let mut parser = Parser::new_from_str(text);
        let mut doc_has_root = false;
        while let Some(ev) = parser.next_event() {
            let (ev, span) = ev.map_err(|e| {
                let m = e.marker();
                self.failure = Some((e.info().to_string(), m.index()));
                let loc = self.loc_at(m.line(), m.col());
                // The parser's own nesting guard (flow collections are nested in its scanner,
                // before any event reaches the depth check below) is a bound, not bad syntax.
                if e.info().contains("recursion limit") {
                    return self.err(
                        YamlErrorKind::LimitExceeded,
                        loc,
                        format!("YAML nesting deeper than the parser's limit ({})", e.info()),
                    );
                }
                self.err(YamlErrorKind::Syntax, loc, format!("YAML syntax error: {}", e.info()))
            })?;
            let loc = self.loc(&span);
            match ev {
                Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
                Event::DocumentStart(_) => {
                    self.anchors.clear();
                    doc_has_root = false;
                    if self.docs.len() >= self.limits.max_documents {
                        return Err(self.err(
                            YamlErrorKind::LimitExceeded,
                            loc,
                            format!("more than {} YAML documents in one file", self.limits.max_documents),
                        ));
                    }
                }
                Event::DocumentEnd => {
                    let _ = doc_has_root;
                }
                Event::Alias(id) => self.on_alias(id, loc)?,
                Event::Scalar(mut text, style, anchor, tag) => {
                    if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
                        text = self.block_scalar_as_go_yaml(text, style, &span);
                    }
                    let tag_suffix = tag.as_ref().map(|t| format!("{}{}", t.handle, t.suffix));
                    let mut value = resolve_scalar(&text, style, tag_suffix.as_deref(), self.dialect);
                    if !matches!(value, Value::Null(_)) && self.at_annotation_value() {
                        // kustomize reads annotations as strings of their source text (a null
                        // stays null: in a patch it deletes the annotation).
                        value = Value::Str(text.to_string());
                    }
                    let node = Node::new(value, loc);
                    if anchor > 0 {
                        self.anchors.insert(anchor, (node.clone(), Some(text.to_string())));
                    }
                    let is_merge_key = style == ScalarStyle::Plain && text == "<<";
                    self.push_scalar(node, text.into_owned(), is_merge_key)?;
                }
                Event::SequenceStart(anchor, _) => {
                    self.check_depth(loc)?;
                    self.stack.push(Frame::Seq { items: Vec::new(), loc, anchor });
                }
                Event::MappingStart(anchor, _) => {
                    self.check_depth(loc)?;
                    self.stack.push(Frame::Map {
                        entries: Mapping::default(),
                        merges: Vec::new(),
                        pending_key: None,
                        loc,
                        anchor,
                    });
                }
                Event::SequenceEnd => {
                    if let Some(Frame::Seq { items, loc, anchor }) = self.stack.pop() {
                        let node = Node::new(Value::Seq(items), loc);
                        if anchor > 0 {
                            self.anchors.insert(anchor, (node.clone(), None));
                        }
                        self.push_value(node, false)?;
                    }
                }
                Event::MappingEnd => {
                    if let Some(Frame::Map { mut entries, merges, loc, anchor, .. }) = self.stack.pop() {
                        apply_merges(&mut entries, merges);
                        let node = Node::new(Value::Map(Box::new(entries)), loc);
                        if anchor > 0 {
                            self.anchors.insert(anchor, (node.clone(), None));
                        }
                        self.push_value(node, false)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// An alias: the anchored node again (bounded), or, in a key's place, its scalar text.
    fn on_alias(&mut self, id: usize, loc: Loc) -> Result<(), YamlError> {
        let (node, raw) = self
            .anchors
            .get(&id)
            .cloned()
            .ok_or_else(|| self.err(YamlErrorKind::Syntax, loc, "alias refers to an unknown anchor".into()))?;
        self.expanded += count_nodes(&node);
        if self.expanded > self.limits.max_alias_expansion {
            return Err(self.err(
                YamlErrorKind::LimitExceeded,
                loc,
                format!("YAML aliases expand to more than {} nodes (an alias bomb?)", self.limits.max_alias_expansion),
            ));
        }
        let is_key = matches!(self.stack.last(), Some(Frame::Map { pending_key: None, .. }));
        match raw {
            // An aliased scalar may stand for a mapping key (`*app: x`), as in go-yaml.
            Some(raw) if is_key => self.push_scalar(Node::new(node.value, loc), raw, false),
            _ => self.push_value(node, false),
        }
    }

    /// A block scalar's value as go-yaml gives it to kustomize's output (see [`goyaml`]).
    fn block_scalar_as_go_yaml<'t>(
        &self,
        mut text: std::borrow::Cow<'t, str>,
        style: ScalarStyle,
        span: &Span,
    ) -> std::borrow::Cow<'t, str> {
        if self.text_end.is_some_and(|n| span.end.index() >= n) && text.ends_with('\n') {
            text.to_mut().pop();
        }
        if style == ScalarStyle::Folded
            && self.dialect == Dialect::Yaml12
            && let Some(v) = goyaml::folded_after_round_trip(&text)
        {
            text = std::borrow::Cow::Owned(v);
        }
        text
    }

    /// Whether the next scalar is the value of a `metadata.annotations` entry of a resource
    /// (kustomize keeps annotations as `map[string]string`, each its value's source text).
    fn at_annotation_value(&self) -> bool {
        fn key(f: &Frame) -> Option<&str> {
            match f {
                Frame::Map { pending_key: Some((k, _, _)), .. } => Some(k.as_str()),
                _ => None,
            }
        }
        self.dialect == Dialect::Yaml12
            && self.stack.len() == 3
            && key(&self.stack[0]) == Some("metadata")
            && key(&self.stack[1]) == Some("annotations")
            && key(&self.stack[2]).is_some()
    }

    fn check_depth(&self, loc: Loc) -> Result<(), YamlError> {
        if self.stack.len() >= self.limits.max_depth {
            return Err(self.err(
                YamlErrorKind::LimitExceeded,
                loc,
                format!("YAML nesting deeper than {} levels", self.limits.max_depth),
            ));
        }
        Ok(())
    }

    fn push_scalar(&mut self, node: Node, raw: String, is_merge_key: bool) -> Result<(), YamlError> {
        if let Some(Frame::Map { pending_key: pk @ None, .. }) = self.stack.last_mut() {
            // A key: keys keep their text (Kubernetes keys are strings).
            let key = match &node.value {
                Value::Str(s) => s.clone(),
                Value::Null(_) => raw,
                _ => raw,
            };
            *pk = Some((key, node.loc, is_merge_key));
            return Ok(());
        }
        self.push_value(node, false)
    }

    fn push_value(&mut self, node: Node, _from_alias: bool) -> Result<(), YamlError> {
        let file = self.file;
        match self.stack.last_mut() {
            None => {
                // Document root; empty and null documents are dropped.
                if !node.is_null() {
                    self.docs.push(node);
                }
                Ok(())
            }
            Some(Frame::Seq { items, .. }) => {
                items.push(node);
                Ok(())
            }
            Some(Frame::Map { entries, merges, pending_key, .. }) => match pending_key.take() {
                None => Err(YamlError {
                    kind: YamlErrorKind::Syntax,
                    loc: node.loc,
                    message: "a mapping key must be a scalar, not a list or a map".into(),
                }),
                Some((_, _, true)) => {
                    merges.push(node);
                    Ok(())
                }
                Some((key, kloc, false)) => {
                    if let Some(prev) = entries.get(&key) {
                        let _ = file;
                        return Err(YamlError {
                            kind: YamlErrorKind::DuplicateKey,
                            loc: kloc,
                            message: format!("mapping key \"{key}\" already defined at line {}", prev_key_line(prev)),
                        });
                    }
                    let mut node = node;
                    // A block map or list value is located at its key (`spec:`), the line a
                    // user looks for; scalars keep their own position.
                    if matches!(node.value, Value::Map(_) | Value::Seq(_)) || node.loc.is_none() {
                        node.loc = kloc;
                    }
                    entries.insert(key, node);
                    Ok(())
                }
            },
        }
    }
}

fn prev_key_line(prev: &Node) -> u32 {
    prev.loc.line
}

/// Applies `<<` merge keys: explicit keys win, earlier merge sources win over later ones.
fn apply_merges(entries: &mut Mapping, merges: Vec<Node>) {
    for m in merges {
        let sources: Vec<Node> = match m.value {
            Value::Seq(items) => items,
            _ => vec![m],
        };
        for src in sources {
            if let Value::Map(sm) = src.value {
                for (k, v) in *sm {
                    entries.entry(k).or_insert(v);
                }
            }
        }
    }
}

/// Resolves a scalar to its typed value the way Go yaml.v3 does (or YAML 1.1 for `Yaml11`).
pub fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&str>, dialect: Dialect) -> Value {
    if let Some(tag) = tag {
        let t = tag.trim_start_matches("tag:yaml.org,2002:").trim_start_matches("!!");
        match t {
            "str" => return Value::Str(text.to_string()),
            "int" => {
                if let Some(i) = parse_int(text) {
                    return Value::Int(i);
                }
            }
            "float" => {
                if let Some(f) = parse_float(text) {
                    return Value::Float(f);
                }
            }
            "bool" => {
                if let Some(b) = parse_bool(text, dialect) {
                    return Value::Bool(b);
                }
            }
            "null" => return Value::Null(NullForm::of_plain(text).unwrap_or_default()),
            _ => {}
        }
    }
    if style != ScalarStyle::Plain {
        return Value::Str(text.to_string());
    }
    if let Some(form) = NullForm::of_plain(text) {
        return Value::Null(form);
    }
    if let Some(b) = parse_bool(text, dialect) {
        return Value::Bool(b);
    }
    let first = text.as_bytes()[0];
    if first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.') {
        if let Some(i) = parse_int(text) {
            return Value::Int(i);
        }
        if let Some(f) = parse_float(text) {
            return Value::Float(f);
        }
        if let Some(ts) = parse_timestamp(text) {
            return Value::Str(ts);
        }
    }
    Value::Str(text.to_string())
}

fn parse_bool(text: &str, dialect: Dialect) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ if dialect == Dialect::Yaml11 => match text {
            "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Some(true),
            "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn parse_int(text: &str) -> Option<i64> {
    let (neg, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if body.is_empty() || body.starts_with('_') {
        return None;
    }
    let clean: String = body.chars().filter(|&c| c != '_').collect();
    let (digits, radix) = if let Some(h) = clean.strip_prefix("0x") {
        (h.to_string(), 16)
    } else if let Some(o) = clean.strip_prefix("0o") {
        (o.to_string(), 8)
    } else if let Some(b) = clean.strip_prefix("0b") {
        (b.to_string(), 2)
    } else if clean.len() > 1 && clean.starts_with('0') {
        (clean[1..].to_string(), 8)
    } else {
        (clean.clone(), 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = i64::from_str_radix(&digits, radix).ok()?;
    Some(if neg { -v } else { v })
}

fn parse_float(text: &str) -> Option<f64> {
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    let clean: String = text.chars().filter(|&c| c != '_').collect();
    let body = clean.trim_start_matches(['-', '+']);
    let ok_chars = body.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'));
    if !ok_chars || !body.chars().any(|c| c.is_ascii_digit()) || body.starts_with(['e', 'E']) {
        return None;
    }
    clean.parse::<f64>().ok()
}

/// yaml.v3 turns unquoted timestamps into times (its formats: `2006-1-2`,
/// `2006-1-2T15:4:5.999999999Z07:00` with `T` or `t`, and `2006-1-2 15:4:5.999999999` in UTC);
/// kustomize then writes them in RFC 3339 (`Z` for UTC, fraction without trailing zeros).
fn parse_timestamp(text: &str) -> Option<String> {
    // Numbers of 1..=max digits separated by `sep`.
    fn fields<'t>(s: &'t str, sep: char, widths: &[(usize, usize)]) -> Option<Vec<&'t str>> {
        let parts: Vec<&str> = s.split(sep).collect();
        let ok = parts.len() == widths.len()
            && parts
                .iter()
                .zip(widths)
                .all(|(p, (lo, hi))| (*lo..=*hi).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit()));
        ok.then_some(parts)
    }
    let two = |p: &str| format!("{p:0>2}");
    let ymd = |d: &str| -> Option<String> {
        let f = fields(d, '-', &[(4, 4), (1, 2), (1, 2)])?;
        Some(format!("{}-{}-{}", f[0], two(f[1]), two(f[2])))
    };
    if let Some(date) = ymd(text) {
        return Some(format!("{date}T00:00:00Z"));
    }
    let (date, rest, with_zone) = if let Some(i) = text.find(['T', 't']) {
        (&text[..i], &text[i + 1..], true)
    } else {
        let (d, r) = text.split_once(' ')?;
        (d, r, false)
    };
    let date = ymd(date)?;
    // Split off the zone: `Z`, or `+hh:mm` / `-hh:mm`.
    let (clock, zone) = if !with_zone {
        (rest, "Z".to_string())
    } else if let Some(c) = rest.strip_suffix('Z') {
        (c, "Z".to_string())
    } else {
        let i = rest.rfind(['+', '-'])?;
        let z = &rest[i + 1..];
        fields(z, ':', &[(2, 2), (2, 2)])?;
        let zone = if z == "00:00" { "Z".to_string() } else { rest[i..].to_string() };
        (&rest[..i], zone)
    };
    let (hms, frac) = match clock.split_once('.') {
        Some((h, f)) if f.bytes().all(|c| c.is_ascii_digit()) && (1..=9).contains(&f.len()) => (h, f),
        Some(_) => return None,
        None => (clock, ""),
    };
    let t = fields(hms, ':', &[(1, 2), (1, 2), (1, 2)])?;
    let frac = frac.trim_end_matches('0');
    let frac = if frac.is_empty() { String::new() } else { format!(".{frac}") };
    Some(format!("{date}T{}:{}:{}{frac}{zone}", two(t[0]), two(t[1]), two(t[2])))
}

/// The first character YAML does not allow in a stream (C0 controls other than tab, LF and
/// CR; DEL; C1 controls other than NEL), with its 1-based line and column. The parser would
/// otherwise report a confusing error far from it (a NUL ends a quoted scalar "unexpectedly").
fn find_control_char(text: &str) -> Option<(u32, u32, char)> {
    let bad = |c: char| {
        (c < ' ' && !matches!(c, '\t' | '\n' | '\r'))
            || c == '\u{7f}'
            || (('\u{80}'..='\u{9f}').contains(&c) && c != '\u{85}')
    };
    if !text.chars().any(bad) {
        return None;
    }
    for (i, l) in super::yaml_lines(text).enumerate() {
        if let Some((col, c)) = l.chars().enumerate().find(|(_, c)| bad(*c)) {
            return Some((i as u32 + 1, col as u32 + 1, c));
        }
    }
    None
}

/// kustomize splits a file into documents on `---` lines before parsing them, so a
/// directive (`%YAML`, `%TAG`) ends up in a document of its own and fails the build.
fn check_directives(text: &str) -> Option<(u32, String)> {
    text.lines()
        .enumerate()
        .find(|(_, l)| l.starts_with("%YAML") || l.starts_with("%TAG"))
        .map(|(i, l)| (i as u32 + 1, format!("'{}': kustomize does not accept YAML directives", l.trim_end())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Parsed {
        parse(text, FileId(0), Dialect::Yaml12, &Limits::default())
    }

    #[test]
    fn timestamps_and_directives_like_go_yaml_v3() {
        let ts = |t: &str| parse_timestamp(t);
        assert_eq!(ts("2001-12-14t21:59:43.10-05:00").as_deref(), Some("2001-12-14T21:59:43.1-05:00"));
        assert_eq!(ts("2001-2-3 4:05:06").as_deref(), Some("2001-02-03T04:05:06Z"));
        assert_eq!(ts("2001-12-14T21:59:43+00:00").as_deref(), Some("2001-12-14T21:59:43Z"));
        assert_eq!(ts("2001-12-14T21:59:43.000Z").as_deref(), Some("2001-12-14T21:59:43Z"));
        assert_eq!(ts("1.10"), None);
        assert_eq!(ts("10.0.0.1"), None);
        assert_eq!(ts("2001-12-14 21:59:43 +5"), None);
        assert!(p("%YAML 1.2\n---\na: 1\n").error.is_some());
        assert!(p("%YAML 1.1\n---\na: 1\n").error.is_some());
        assert!(p("a: |\n  %YAML 1.2\n").error.is_none());
    }

    #[test]
    fn scalars_follow_go_yaml_v3() {
        let d = p("a: on\nb: 0777\nc: 1_000\nd: \"3600\"\ne: 3600\nf: yes\ng: 1.5\nh: ~\ni: 2024-01-01\n");
        let m = &d.docs[0];
        assert_eq!(m.get("a").unwrap().as_str(), Some("on"));
        assert_eq!(m.get("b").unwrap().as_i64(), Some(511));
        assert_eq!(m.get("c").unwrap().as_i64(), Some(1000));
        assert_eq!(m.get("d").unwrap().as_str(), Some("3600"));
        assert_eq!(m.get("e").unwrap().as_i64(), Some(3600));
        assert_eq!(m.get("f").unwrap().as_str(), Some("yes"));
        assert!(matches!(m.get("g").unwrap().value, Value::Float(f) if f == 1.5));
        assert!(m.get("h").unwrap().is_null());
        assert_eq!(m.get("i").unwrap().as_str(), Some("2024-01-01T00:00:00Z"));
    }

    #[test]
    fn yaml11_booleans_for_kustomization() {
        let d = parse("a: y\nb: off\n", FileId(0), Dialect::Yaml11, &Limits::default());
        assert_eq!(d.docs[0].get("a").unwrap().as_bool(), Some(true));
        assert_eq!(d.docs[0].get("b").unwrap().as_bool(), Some(false));
    }

    #[test]
    fn positions_are_one_based() {
        let d = p("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n");
        let m = &d.docs[0];
        let name = m.path(&["metadata", "name"]).unwrap();
        assert_eq!((name.loc.line, name.loc.col), (5, 9));
        assert_eq!((m.loc.line, m.loc.col), (2, 1));
    }

    #[test]
    fn merge_keys_and_redefined_anchors() {
        let d = p("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\nz: &b 5\nw: *b\n");
        let m = &d.docs[0];
        assert_eq!(m.path(&["m", "x"]).unwrap().as_i64(), Some(1));
        assert_eq!(m.path(&["m", "y"]).unwrap().as_i64(), Some(3));
        assert_eq!(m.get("w").unwrap().as_i64(), Some(5));
    }

    #[test]
    fn multi_document_skips_empty() {
        let d = p("---\n# only a comment\n---\na: 1\n---\n---\nb: 2\n");
        assert_eq!(d.docs.len(), 2);
        assert!(d.error.is_none());
    }

    #[test]
    fn duplicate_key_is_located() {
        let d = p("a: 1\nb: 2\na: 3\n");
        let e = d.error.unwrap();
        assert_eq!(e.kind, YamlErrorKind::DuplicateKey);
        assert_eq!(e.loc.line, 3);
    }

    #[test]
    fn syntax_error_is_located() {
        let d = p("a:\n  b: 1\n c: 2\n");
        let e = d.error.unwrap();
        assert_eq!(e.kind, YamlErrorKind::Syntax);
        assert_eq!(e.loc.line, 3);
    }

    #[test]
    fn alias_bomb_is_bounded() {
        let mut s = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..9 {
            let prev = if i == 0 { "a".to_string() } else { format!("l{}", i - 1) };
            s.push_str(&format!("l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        let d = p(&s);
        assert_eq!(d.error.unwrap().kind, YamlErrorKind::LimitExceeded);
    }

    #[test]
    fn lone_carriage_returns_end_lines_for_locations_and_snippets() {
        let text = "a: 1\rb:\r  c: 2\r\nd: \"\u{1}\"\n";
        let d = p(text);
        assert_eq!(d.error.as_ref().map(|e| (e.loc.line, e.loc.col)), Some((4, 5)));
        let lines: Vec<&str> = super::super::yaml_lines(text).collect();
        assert_eq!(lines, vec!["a: 1", "b:", "  c: 2", "d: \"\u{1}\"", ""]);
        let ok = p("a: 1\rb:\r  c: 2\r\n");
        assert_eq!(ok.docs[0].path(&["b", "c"]).map(|n| n.loc.line), Some(3));
    }

    #[test]
    fn control_characters_are_located() {
        let e = p("a: b\nc: \"x\u{0}y\"\n").error.unwrap();
        assert_eq!((e.kind, e.loc.line, e.loc.col), (YamlErrorKind::Syntax, 2, 6));
        assert!(e.message.contains("U+0000"), "{}", e.message);
        let ok = p("a: \"tab\tand nel\u{85}\"\r\nb: c\n");
        assert!(ok.error.is_none(), "{:?}", ok.error);
    }

    #[test]
    fn trailing_tabs_and_equals_scalars() {
        let d = p("a: b\t\nc: key=value\n");
        assert!(d.error.is_none(), "{:?}", d.error);
        assert_eq!(d.docs[0].get("c").unwrap().as_str(), Some("key=value"));
    }

    #[test]
    fn alias_as_mapping_key_like_go_yaml() {
        let d = p("name: &app foo\ndata:\n  *app: bar\n  x: *app\n  *app : again\n");
        assert!(d.error.is_some(), "a key repeated through its alias is a duplicate");
        let d = p("name: &app foo\ndata:\n  *app: bar\n  x: *app\n");
        assert!(d.error.is_none(), "{:?}", d.error);
        let bar = d.docs[0].path(&["data", "foo"]).unwrap();
        assert_eq!((bar.as_str(), bar.loc.line, bar.loc.col), (Some("bar"), 3, 9));
        assert_eq!(d.docs[0].path(&["data", "x"]).unwrap().as_str(), Some("foo"));
        let e = p("a: *nope: b\n").error.unwrap();
        assert_eq!((e.loc.line, e.loc.col), (1, 4));
        assert!(p("a: &m {x: 1}\n*m: 2\n").error.is_some(), "a map is no key");
    }

    #[test]
    fn block_scalars_at_the_end_of_the_file() {
        let d = p("a: |\n  x\n  last");
        assert_eq!(d.docs[0].get("a").unwrap().as_str(), Some("x\nlast"));
        let d = p("a: |+\n  keep\n\n  end");
        assert_eq!(d.docs[0].get("a").unwrap().as_str(), Some("keep\n\nend"));
        let d = p("a: |\n  x\n");
        assert_eq!(d.docs[0].get("a").unwrap().as_str(), Some("x\n"));
        let d = p("a: |\n  x\nb: 1");
        assert_eq!(d.docs[0].get("a").unwrap().as_str(), Some("x\n"));
    }

    #[test]
    fn folded_scalars_as_kustomize_writes_them() {
        let d = p("a: >-\n  [\n    JSONPatch{\n  ]\n");
        assert_eq!(d.docs[0].get("a").unwrap().as_str(), Some("[\n\n  JSONPatch{\n]"));
        let d = parse("a: >-\n  [\n    JSONPatch{\n", FileId(0), Dialect::Yaml11, &Limits::default());
        assert_eq!(d.docs[0].get("a").unwrap().as_str(), Some("[\n  JSONPatch{"), "JSON patches are not rewritten");
    }

    #[test]
    fn flow_lines_indented_less_than_the_spec_wants_read_like_go_yaml() {
        let d = p("x:\n  a: [1,\n  2]\n  b: \"q\n  r\"\n");
        assert!(d.error.is_none(), "{:?}", d.error);
        let two = d.docs[0].path(&["x", "a"]).and_then(|a| a.as_seq()).map(|s| (s[1].loc.line, s[1].loc.col));
        assert_eq!(two, Some((3, 3)));
        assert_eq!(d.docs[0].path(&["x", "b"]).unwrap().as_str(), Some("q r"));
        let e = p("a: [\n  b,\n]\nc: 1\nc: 2\n").error.unwrap();
        assert_eq!((e.kind, e.loc.line, e.loc.col), (YamlErrorKind::DuplicateKey, 5, 1));
    }
}
