//! A port of the `envsubst` dialect Flux's kustomize-controller runs over each rendered object
//! (`github.com/fluxcd/pkg/envsubst`, itself forked from `drone/envsubst`). It is ported
//! quirk for quirk rather than written from the shell manual, because users' manifests are
//! judged by what the controller does: `$$` becomes `$` anywhere in the text, a bare `$var` is
//! left alone, `${var=x}` uses `x` also when `var` is set but empty, `${var-x}` is a syntax
//! error, and the bash operators (`${var^^}`, `${#var}`, `${var:1:2}`, `${var/a/b}`, ...) work.

use std::fmt;

/// Deepest `${...}` nesting accepted; Go recurses without a bound, we refuse rather than
/// overflow the stack on hostile input.
const MAX_DEPTH: usize = 64;

/// A parse failure, with the messages the Go parser uses (`parse.Err*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    BadSubstitution,
    MissingClosingBrace,
    VariableName,
    FuncSubstitution,
    DefaultFunction,
    TooDeep,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseError::BadSubstitution => "bad substitution",
            ParseError::MissingClosingBrace => "missing closing brace",
            ParseError::VariableName => "unable to parse variable name",
            ParseError::FuncSubstitution => "unable to parse substitution within function",
            ParseError::DefaultFunction => "unable to parse default function",
            ParseError::TooDeep => "substitutions nested too deeply",
        })
    }
}

/// A parsed template piece.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    /// `${param}` or `${param<op>args}`; `op` is empty for a plain reference.
    Func {
        param: String,
        op: String,
        args: Vec<Vec<Piece>>,
    },
}

/// Where a parse error happened: the parse error and, when the variable name was already read,
/// that name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseFailure {
    pub error: ParseError,
    pub var: Option<String>,
}

const M_IDENT: u8 = 1;
const M_LBRACK: u8 = 2;
const M_RBRACK: u8 = 4;
const M_ESCAPE: u8 = 8;
const E_DOLLAR: u8 = 1;
const E_BACKSLASH: u8 = 2;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tok {
    Illegal,
    Eof,
    Ident,
    Lbrack,
    Rbrack,
}

type Accept = fn(char, usize) -> bool;

/// The Go scanner, except that "skipping" an escape character is recorded instead of cutting
/// it out of the buffer (same result, no quadratic copying).
struct Scanner<'a> {
    buf: &'a str,
    pos: usize,
    start: usize,
    width: usize,
    mode: u8,
    escape: u8,
    accept: Accept,
    skips: Vec<usize>,
}

impl<'a> Scanner<'a> {
    fn read(&mut self) -> Option<char> {
        match self.buf.get(self.pos..).and_then(|s| s.chars().next()) {
            Some(c) => {
                self.width = c.len_utf8();
                self.pos += self.width;
                Some(c)
            }
            None => {
                self.width = 0;
                None
            }
        }
    }

    fn unread(&mut self) {
        self.pos = self.pos.saturating_sub(self.width);
    }

    fn peek(&mut self) -> Option<char> {
        let r = self.read();
        self.unread();
        r
    }

    /// Drops the escape character just read; the escaped character after it is taken as text.
    fn skip(&mut self) {
        self.skips.push(self.pos - 1);
        if let Some(c) = self.buf.get(self.pos..).and_then(|s| s.chars().next()) {
            self.pos += c.len_utf8();
        }
    }

    fn string(&self) -> String {
        let mut out = String::new();
        let mut from = self.start;
        for &s in &self.skips {
            if s >= from && s < self.pos {
                out.push_str(self.buf.get(from..s).unwrap_or(""));
                from = s + 1;
            }
        }
        out.push_str(self.buf.get(from..self.pos).unwrap_or(""));
        out
    }

    fn scan(&mut self) -> Tok {
        self.start = self.pos;
        self.skips.clear();
        let Some(r) = self.read() else { return Tok::Eof };
        if self.scan_lbrack(r) {
            Tok::Lbrack
        } else if self.mode & M_RBRACK != 0 && r == '}' {
            Tok::Rbrack
        } else if self.scan_ident(r) {
            Tok::Ident
        } else {
            Tok::Illegal
        }
    }

    fn scan_ident(&mut self, r: char) -> bool {
        if self.mode & M_IDENT == 0 {
            return false;
        }
        if self.scan_escaped(r) {
            self.skip();
        } else if !(self.accept)(r, self.pos - self.start) {
            return false;
        }
        loop {
            let Some(r) = self.read() else {
                self.unread();
                break;
            };
            if self.scan_lbrack(r) {
                self.unread();
                self.unread();
                break;
            }
            if self.scan_escaped(r) {
                self.skip();
                continue;
            }
            if !(self.accept)(r, self.pos - self.start) {
                self.unread();
                break;
            }
        }
        true
    }

    fn scan_lbrack(&mut self, r: char) -> bool {
        if self.mode & M_LBRACK == 0 {
            return false;
        }
        if r == '$' {
            if self.read() == Some('{') {
                return true;
            }
            self.unread();
        }
        false
    }

    fn scan_escaped(&mut self, r: char) -> bool {
        if self.mode & M_ESCAPE == 0 {
            return false;
        }
        if r == '$' && self.escape & E_DOLLAR != 0 && self.peek() == Some('$') {
            return true;
        }
        if r == '\\' && self.escape & E_BACKSLASH != 0 {
            return matches!(self.peek(), Some('/' | '\\'));
        }
        false
    }
}

fn accept_rune(_: char, _: usize) -> bool {
    true
}
fn accept_ident(r: char, _: usize) -> bool {
    r.is_alphabetic() || r.is_numeric() || r == '_'
}
fn accept_colon(r: char, _: usize) -> bool {
    r == ':'
}
fn accept_one_hash(r: char, i: usize) -> bool {
    r == '#' && i == 1
}
fn accept_not_closing(r: char, _: usize) -> bool {
    r != '}'
}
fn accept_hash_func(r: char, i: usize) -> bool {
    r == '#' && i < 3
}
fn accept_percent_func(r: char, i: usize) -> bool {
    r == '%' && i < 3
}
fn accept_default_func(r: char, i: usize) -> bool {
    (i == 1 && r == ':') || (i == 2 && matches!(r, '=' | '-' | '?' | '+'))
}
fn accept_replace_func(r: char, i: usize) -> bool {
    (i == 1 && r == '/') || (i == 2 && matches!(r, '/' | '#' | '%'))
}
fn accept_one_equal(r: char, i: usize) -> bool {
    i == 1 && r == '='
}
fn accept_one_colon(r: char, i: usize) -> bool {
    i == 1 && r == ':'
}
fn reject_colon_close(r: char, _: usize) -> bool {
    r != ':' && r != '}'
}
fn accept_slash(r: char, _: usize) -> bool {
    r == '/'
}
fn accept_not_slash(r: char, _: usize) -> bool {
    r != '/'
}
fn accept_casing_func(r: char, i: usize) -> bool {
    (r == ',' || r == '^') && i < 3
}

struct Parser<'a> {
    s: Scanner<'a>,
    depth: usize,
    /// The variable whose expression is being parsed (for error messages).
    current: Option<String>,
}

type PResult<T> = Result<T, ParseError>;

/// Parses a whole text (a YAML document or one string) into pieces.
pub fn parse(text: &str) -> Result<Vec<Piece>, ParseFailure> {
    let mut p = Parser {
        s: Scanner {
            buf: text,
            pos: 0,
            start: 0,
            width: 0,
            mode: 0,
            escape: 0,
            accept: accept_rune,
            skips: Vec::new(),
        },
        depth: 0,
        current: None,
    };
    p.parse_any().map_err(|error| ParseFailure { error, var: p.current.clone() })
}

impl Parser<'_> {
    fn set(&mut self, accept: Accept, mode: u8) {
        self.s.accept = accept;
        self.s.mode = mode;
    }

    fn parse_any(&mut self) -> PResult<Vec<Piece>> {
        let mut out = Vec::new();
        loop {
            self.set(accept_rune, M_IDENT | M_LBRACK | M_ESCAPE);
            self.s.escape = E_DOLLAR;
            match self.s.scan() {
                Tok::Ident => push_text(&mut out, self.s.string()),
                Tok::Eof => return Ok(out),
                Tok::Lbrack => {
                    self.current = None;
                    let f = self.parse_func()?;
                    out.push(f);
                }
                _ => return Err(ParseError::BadSubstitution),
            }
        }
    }

    fn parse_func(&mut self) -> PResult<Piece> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError::TooDeep);
        }
        let r = self.parse_func_inner();
        self.depth -= 1;
        r
    }

    fn parse_func_inner(&mut self) -> PResult<Piece> {
        self.s.escape = E_DOLLAR | E_BACKSLASH;
        if self.s.peek() == Some('#') {
            return self.parse_len_func();
        }
        self.set(accept_ident, M_IDENT);
        let name = match self.s.scan() {
            Tok::Ident => self.s.string(),
            _ => return Err(ParseError::VariableName),
        };
        if self.current.is_none() {
            self.current = Some(name.clone());
        }
        match self.s.peek() {
            Some(':') => return self.parse_default_or_substr(name),
            Some('=') => return self.parse_default_func(name),
            Some(',' | '^') => return self.parse_simple_op(name, accept_casing_func),
            Some('/') => return self.parse_replace_func(name),
            Some('#') => return self.parse_remove_func(name, accept_hash_func),
            Some('%') => return self.parse_remove_func(name, accept_percent_func),
            _ => {}
        }
        self.set(accept_ident, M_RBRACK);
        match self.s.scan() {
            Tok::Rbrack => Ok(Piece::Func { param: name, op: String::new(), args: Vec::new() }),
            _ => Err(ParseError::MissingClosingBrace),
        }
    }

    fn parse_param(&mut self, accept: Accept, mode: u8) -> PResult<Vec<Piece>> {
        self.set(accept, mode | M_LBRACK);
        match self.s.scan() {
            Tok::Lbrack => Ok(vec![self.parse_func()?]),
            Tok::Ident | Tok::Rbrack => Ok(vec![Piece::Text(self.s.string())]),
            _ => Err(ParseError::FuncSubstitution),
        }
    }

    fn scan_op(&mut self, accept: Accept, err: ParseError) -> PResult<String> {
        self.set(accept, M_IDENT);
        match self.s.scan() {
            Tok::Ident => Ok(self.s.string()),
            _ => Err(err),
        }
    }

    fn parse_default_or_substr(&mut self, name: String) -> PResult<Piece> {
        self.s.read();
        let r = self.s.peek();
        self.s.unread();
        match r {
            Some('=' | '-' | '?' | '+') => self.parse_default_func(name),
            _ => self.parse_substr_func(name),
        }
    }

    fn parse_substr_func(&mut self, name: String) -> PResult<Piece> {
        let op = self.scan_op(accept_one_colon, ParseError::BadSubstitution)?;
        let mut args = vec![self.parse_param(reject_colon_close, M_IDENT)?];
        self.set(accept_colon, M_IDENT | M_RBRACK);
        match self.s.scan() {
            Tok::Rbrack => return Ok(Piece::Func { param: name, op, args }),
            Tok::Ident => {}
            _ => return Err(ParseError::BadSubstitution),
        }
        args.push(self.parse_param(accept_not_closing, M_IDENT)?);
        self.consume_rbrack()?;
        Ok(Piece::Func { param: name, op, args })
    }

    fn parse_remove_func(&mut self, name: String, accept: Accept) -> PResult<Piece> {
        let op = self.scan_op(accept, ParseError::BadSubstitution)?;
        let args = vec![self.parse_param(accept_not_closing, M_IDENT)?];
        self.consume_rbrack()?;
        Ok(Piece::Func { param: name, op, args })
    }

    fn parse_replace_func(&mut self, name: String) -> PResult<Piece> {
        let op = self.scan_op(accept_replace_func, ParseError::BadSubstitution)?;
        // An empty pattern (`${v/#/x}`): the delimiter follows at once.
        let mut args = if self.s.peek() == Some('/') {
            vec![vec![Piece::Text(String::new())]]
        } else {
            vec![self.parse_param(accept_not_slash, M_IDENT | M_ESCAPE)?]
        };
        self.set(accept_slash, M_IDENT);
        if self.s.scan() != Tok::Ident {
            return Err(ParseError::BadSubstitution);
        }
        if self.s.peek() == Some('}') {
            self.consume_rbrack()?;
            return Ok(Piece::Func { param: name, op, args });
        }
        args.push(self.parse_param(accept_not_closing, M_IDENT | M_ESCAPE)?);
        self.consume_rbrack()?;
        Ok(Piece::Func { param: name, op, args })
    }

    fn parse_default_func(&mut self, name: String) -> PResult<Piece> {
        let accept: Accept = if self.s.peek() == Some('=') { accept_one_equal } else { accept_default_func };
        let op = self.scan_op(accept, ParseError::DefaultFunction)?;
        let mut args = Vec::new();
        loop {
            if self.s.peek() == Some('}') {
                self.consume_rbrack()?;
                return Ok(Piece::Func { param: name, op, args });
            }
            args.push(self.parse_param(accept_not_closing, M_IDENT)?);
        }
    }

    fn parse_simple_op(&mut self, name: String, accept: Accept) -> PResult<Piece> {
        let op = self.scan_op(accept, ParseError::BadSubstitution)?;
        self.consume_rbrack()?;
        Ok(Piece::Func { param: name, op, args: Vec::new() })
    }

    fn parse_len_func(&mut self) -> PResult<Piece> {
        let op = self.scan_op(accept_one_hash, ParseError::BadSubstitution)?;
        self.set(accept_ident, M_IDENT);
        let param = match self.s.scan() {
            Tok::Ident => self.s.string(),
            _ => return Err(ParseError::BadSubstitution),
        };
        if self.current.is_none() {
            self.current = Some(param.clone());
        }
        self.consume_rbrack()?;
        Ok(Piece::Func { param, op, args: Vec::new() })
    }

    fn consume_rbrack(&mut self) -> PResult<()> {
        self.s.mode = M_RBRACK;
        if self.s.scan() != Tok::Rbrack {
            return Err(ParseError::BadSubstitution);
        }
        Ok(())
    }
}

fn push_text(out: &mut Vec<Piece>, s: String) {
    if let Some(Piece::Text(t)) = out.last_mut() {
        t.push_str(&s);
    } else {
        out.push(Piece::Text(s));
    }
}

/// Operators that supply their own value for an unset variable, so strict mode lets them be.
fn is_default_op(op: &str) -> bool {
    matches!(op, "-" | "+" | "=" | "?" | ":-" | ":+" | ":=" | ":?")
}

/// Every variable name the pieces reference (nested defaults included), in order.
pub fn referenced(pieces: &[Piece], out: &mut Vec<String>) {
    for p in pieces {
        if let Piece::Func { param, args, .. } = p {
            out.push(param.clone());
            for a in args {
                referenced(a, out);
            }
        }
    }
}

/// Evaluates pieces. `lookup` returns `None` for an unset variable; in strict mode such a
/// reference (other than through a default operator) is recorded in `unset` and expands to
/// nothing. Like Go, arguments (defaults) are expanded before the variable is looked at, so an
/// unset variable inside a default is an error even when the default is not needed.
pub fn eval(
    pieces: &[Piece],
    lookup: &dyn Fn(&str) -> Option<String>,
    strict: bool,
    unset: &mut Vec<String>,
) -> String {
    let mut out = String::new();
    for p in pieces {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Func { param, op, args } => {
                let args: Vec<String> = args.iter().map(|a| eval(a, lookup, strict, unset)).collect();
                let (v, exists) = match lookup(param) {
                    Some(v) => (v, true),
                    None => (String::new(), !strict),
                };
                if !exists && !is_default_op(op) {
                    unset.push(param.clone());
                    continue;
                }
                if !op.is_empty() && !is_default_op(op) && is_placeholder(param, &v) {
                    out.push_str(&unknown(param, op, &args));
                    continue;
                }
                out.push_str(&apply(op, &v, &args));
            }
        }
    }
    out
}

/// Whether `value` is the placeholder fluxgate gives a variable whose value is not known here
/// (a SOPS-encrypted key, a Secret the cluster makes): the reference itself, `${NAME}`.
fn is_placeholder(param: &str, value: &str) -> bool {
    value.strip_prefix("${").and_then(|v| v.strip_suffix('}')) == Some(param)
}

/// The expression of a function applied to a variable whose value is not known, as written:
/// its result is not known either, and the placeholder's own text (`${NAME}`, whose length,
/// case or `.` a function would judge) says nothing about it.
fn unknown(param: &str, op: &str, args: &[String]) -> String {
    match op {
        "#" if args.is_empty() => format!("${{#{param}}}"),
        ":" => format!("${{{param}:{}}}", args.join(":")),
        "/" | "//" | "/#" | "/%" => format!("${{{param}{op}{}}}", args.join("/")),
        _ => format!("${{{param}{op}{}}}", args.concat()),
    }
}

/// `lookupFunc` and the functions it returns.
fn apply(op: &str, s: &str, args: &[String]) -> String {
    match op {
        "," => first_char(s, |c| c.to_lowercase().collect()),
        ",," => s.to_lowercase(),
        "^" => first_char(s, |c| c.to_uppercase().collect()),
        "^^" => s.to_uppercase(),
        "#" if args.is_empty() => s.len().to_string(),
        "#" | "##" | "%" | "%%" => {
            let Some(pat) = args.first() else { return s.to_string() };
            match op {
                "#" => trim_shortest(s, pat),
                "##" => trim_longest(s, pat),
                "%" => reverse(&trim_shortest(&reverse(s), &reverse(pat))),
                _ => reverse(&trim_longest(&reverse(s), &reverse(pat))),
            }
        }
        ":" => substr(s, args),
        "/#" => match args {
            [pat, rep] if s.starts_with(pat.as_str()) => s.replacen(pat.as_str(), rep, 1),
            _ => s.to_string(),
        },
        "/%" => match args {
            [pat, rep] if s.ends_with(pat.as_str()) => format!("{}{}", &s[..s.len() - pat.len()], rep),
            _ => s.to_string(),
        },
        "/" => match args {
            [] => s.to_string(),
            [pat] => s.replacen(pat.as_str(), "", 1),
            [pat, rep, ..] => s.replacen(pat.as_str(), rep, 1),
        },
        "//" => match args {
            [] => s.to_string(),
            [pat] => go_replace_all(s, pat, ""),
            [pat, rep, ..] => go_replace_all(s, pat, rep),
        },
        // toDefault for every other name, the default operators included.
        _ => {
            if s.is_empty() && !args.is_empty() {
                args.concat()
            } else {
                s.to_string()
            }
        }
    }
}

/// Go's `strings.Replace(s, pat, rep, -1)`; Rust's `replace` agrees, the empty pattern (insert
/// around every rune) included.
fn go_replace_all(s: &str, pat: &str, rep: &str) -> String {
    s.replace(pat, rep)
}

fn first_char(s: &str, f: impl Fn(char) -> String) -> String {
    let mut it = s.chars();
    match it.next() {
        Some(c) => f(c) + it.as_str(),
        None => String::new(),
    }
}

fn reverse(s: &str) -> String {
    s.chars().rev().collect()
}

/// `${s:pos}` / `${s:pos:len}`, on bytes as Go slices strings (lossy where that cuts a character).
fn substr(s: &str, args: &[String]) -> String {
    let b = s.as_bytes();
    let Some(first) = args.first() else { return s.to_string() };
    let Ok(mut pos) = first.parse::<i64>() else { return s.to_string() };
    let n = b.len() as i64;
    if pos < 0 {
        pos = (n + pos).max(0);
    }
    let slice = |a: i64, z: i64| String::from_utf8_lossy(&b[a as usize..z as usize]).into_owned();
    if args.len() == 1 {
        return if pos < n { slice(pos, n) } else { String::new() };
    }
    let Ok(len) = args[1].parse::<i64>() else { return s.to_string() };
    if pos.saturating_add(len) >= n {
        return if pos < n { slice(pos, n) } else { String::new() };
    }
    if len < 0 {
        // Go would panic on s[pos:pos+len] with len < 0 unless it lands past pos; keep the text.
        return s.to_string();
    }
    slice(pos, pos + len)
}

/// Prefixes of `s` from longest to shortest (never empty), as Go's loop over `s[0:len(s)-i]`.
fn prefixes(s: &str) -> impl Iterator<Item = &str> {
    (1..=s.len()).rev().filter(|&e| s.is_char_boundary(e)).map(move |e| &s[..e])
}

fn trim_shortest(s: &str, pat: &str) -> String {
    let mut shortest: Option<&str> = None;
    for p in prefixes(s) {
        match glob_match(pat, p) {
            Err(()) => return s.to_string(),
            Ok(true) => shortest = Some(p),
            Ok(false) => {}
        }
    }
    match shortest {
        Some(p) => s[p.len()..].to_string(),
        None => s.to_string(),
    }
}

fn trim_longest(s: &str, pat: &str) -> String {
    for p in prefixes(s) {
        match glob_match(pat, p) {
            Err(()) => return s.to_string(),
            Ok(true) => return s[p.len()..].to_string(),
            Ok(false) => {}
        }
    }
    s.to_string()
}

/// Shell-style glob (`*` — across `/` too —, `?`, `[...]` with `^` negation and ranges,
/// `\` escapes), as the forked `path.Match` used by the trim operators. `Err` for a malformed
/// pattern (the operators then leave the value unchanged).
fn glob_match(pat: &str, s: &str) -> Result<bool, ()> {
    let p: Vec<char> = pat.chars().collect();
    let t: Vec<char> = s.chars().collect();
    // Validate classes and escapes once, so errors do not depend on the input.
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' => {
                if i + 1 >= p.len() {
                    return Err(());
                }
                i += 2;
            }
            '[' => i = class_end(&p, i)?,
            _ => i += 1,
        }
    }
    // Iterative matcher with backtracking to the last star.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' => {
                    let end = class_end(&p, pi)?;
                    if class_matches(&p[pi + 1..end - 1], t[ti]) {
                        pi = end;
                        ti += 1;
                        continue;
                    }
                }
                '\\' if pi + 1 < p.len() && p[pi + 1] == t[ti] => {
                    pi += 2;
                    ti += 1;
                    continue;
                }
                '\\' => {}
                c if c == t[ti] => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return Ok(false),
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    Ok(pi == p.len())
}

/// Index just past the `]` closing the class that starts at `start`.
fn class_end(p: &[char], start: usize) -> Result<usize, ()> {
    let mut i = start + 1;
    if i < p.len() && p[i] == '^' {
        i += 1;
    }
    let mut first = true;
    while i < p.len() {
        match p[i] {
            ']' if !first => return Ok(i + 1),
            '\\' => i += 2,
            _ => i += 1,
        }
        first = false;
    }
    Err(())
}

fn class_matches(body: &[char], c: char) -> bool {
    let (neg, body) = match body.first() {
        Some('^') => (true, &body[1..]),
        _ => (false, body),
    };
    let mut i = 0;
    let mut hit = false;
    while i < body.len() {
        let mut lo = body[i];
        if lo == '\\' && i + 1 < body.len() {
            i += 1;
            lo = body[i];
        }
        i += 1;
        let mut hi = lo;
        if i + 1 < body.len() && body[i] == '-' {
            hi = body[i + 1];
            if hi == '\\' && i + 2 < body.len() {
                hi = body[i + 2];
                i += 1;
            }
            i += 2;
        }
        if lo <= c && c <= hi {
            hit = true;
        }
    }
    hit != neg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &str, vars: &[(&str, &str)], strict: bool) -> Result<String, String> {
        let pieces = parse(input).map_err(|e| e.error.to_string())?;
        let lookup = |n: &str| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string());
        let mut unset = Vec::new();
        let out = eval(&pieces, &lookup, strict, &mut unset);
        if unset.is_empty() { Ok(out) } else { Err(format!("unset {}", unset.join(","))) }
    }

    fn ok(input: &str, vars: &[(&str, &str)]) -> String {
        run(input, vars, false).unwrap()
    }

    #[test]
    fn functions_of_an_unknown_value_stay_as_written() {
        let v = [("DOMAIN", "${DOMAIN}")];
        for e in ["${DOMAIN/./-}", "${DOMAIN//./-}", "${DOMAIN^^}", "${#DOMAIN}", "${DOMAIN:0:3}", "${DOMAIN%.*}"] {
            assert_eq!(ok(&format!("{e}-tls"), &v), format!("{e}-tls"));
        }
        assert_eq!(ok("${DOMAIN}", &v), "${DOMAIN}");
        assert_eq!(ok("${DOMAIN:=x}", &v), "${DOMAIN}");
        assert_eq!(ok("${DOMAIN/./-}", &[("DOMAIN", "a.b")]), "a-b");
    }

    // Cases from fluxcd/pkg envsubst/eval_test.go (TestExpand, TestExpandStrict).
    #[test]
    fn flux_expand_cases() {
        let v = [("var01", "abcdEFGH28ij")];
        assert_eq!(ok("abcdEFGH28ij", &[]), "abcdEFGH28ij");
        assert_eq!(ok("${#var01}", &v), "12");
        assert_eq!(ok("${var01^}", &v), "AbcdEFGH28ij");
        assert_eq!(ok("${var01^^}", &v), "ABCDEFGH28IJ");
        assert_eq!(ok("${var01,}", &[("var01", "ABCD")]), "aBCD");
        assert_eq!(ok("${var01,,}", &[("var01", "ABCD")]), "abcd");
        let p = [("path_name", "/home/bozo/ideas/thoughts.for.today")];
        assert_eq!(ok("${path_name:11}", &p), "ideas/thoughts.for.today");
        assert_eq!(ok("${path_name:11:5}", &p), "ideas");
        assert_eq!(ok("${var=xyz}", &[("var", "abc")]), "abc");
        assert_eq!(ok("${var=xyz}", &[]), "xyz");
        assert_eq!(ok("something ${var=${default_var}}", &[("default_var", "foo")]), "something foo");
        assert_eq!(ok("foo: ${var=prefix${default_var}-suffix}", &[("default_var", "foo1")]), "foo: prefixfoo1-suffix");
        let z = [("stringZ", "abcABC123ABCabc")];
        assert_eq!(ok("${stringZ/%abc/XYZ}", &z), "abcABC123ABCXYZ");
        assert_eq!(ok("${stringZ/#abc/XYZ}", &z), "XYZABC123ABCabc");
        assert_eq!(ok("${stringZ//abc/xyz}", &z), "xyzABC123ABCxyz");
        assert_eq!(ok("${stringZ/abc/xyz}", &z), "xyzABC123ABCabc");
        assert_eq!(ok("${stringZ/#/prefix-}", &[("stringZ", "v")]), "prefix-v");
        assert_eq!(ok("${stringZ/%/-suffix}", &[("stringZ", "v")]), "v-suffix");
        let f = [("filename", "bash.string.txt")];
        assert_eq!(ok("${filename#*.}", &f), "string.txt");
        assert_eq!(ok("${filename##*.}", &f), "txt");
        assert_eq!(ok("${filename%.*}", &f), "bash.string");
        assert_eq!(ok("${filename%%.*}", &f), "bash");
        assert_eq!(ok("${filename##*/}", &[("filename", "path/to/file")]), "file");
        assert_eq!(ok("${filename#*/}", &[("filename", "/path/to/file")]), "path/to/file");
        assert_eq!(ok("${var=${var01^^}}", &v), "ABCDEFGH28IJ");
        assert_eq!(ok("$${var01}", &v), "${var01}");
        assert_eq!(
            ok("some text ${var01}$${var$${var01}$var01${var01}", &v),
            "some text abcdEFGH28ij${var${var01}$var01abcdEFGH28ij"
        );
        assert_eq!(ok("something $${var=${default_var}}", &[("default_var", "foo")]), "something ${var=foo}");
        assert_eq!(ok(r"${stringZ/\//-}", &[("stringZ", "foo/bar")]), "foo-bar");
        assert_eq!(ok(r"${stringZ//\//-}", &[("stringZ", "foo/bar/baz")]), "foo-bar-baz");
        assert_eq!(ok(r"\\something ${var=${default_var}}", &[("default_var", "foo")]), r"\\something foo");
        assert_eq!(ok("${stringZ/./}", &[("stringZ", "foo.bar")]), "foobar");
    }

    #[test]
    fn strict_mode() {
        assert_eq!(run("${foo}", &[("foo", "")], true), Ok(String::new()));
        assert_eq!(run("${missing}", &[], true), Err("unset missing".into()));
        for e in ["${#missing}", "${missing^^}", "${missing:0:10}", "${missing//a/b}", "${missing%%p}"] {
            assert!(run(e, &[], true).is_err(), "{e}");
        }
        for e in ["${missing:-x}", "${missing:=x}", "${missing=x}", "${missing:+x}", "${missing:?x}"] {
            assert_eq!(run(e, &[], true), Ok("x".into()), "{e}");
        }
        // Defaults are expanded eagerly.
        assert!(run("${a:=${b}}", &[("a", "1")], true).is_err());
        // Lenient: unset is empty.
        assert_eq!(run("[${missing}]", &[], false), Ok("[]".into()));
    }

    #[test]
    fn quirks_of_the_flux_dialect() {
        // `=` also replaces an empty value; `$var` is text; `$$` is `$` everywhere.
        assert_eq!(ok("${a=d}", &[("a", "")]), "d");
        assert_eq!(ok("$a $ a$$b", &[("a", "x")]), "$a $ a$b");
        assert_eq!(ok("${a:=with: colon and spaces}", &[]), "with: colon and spaces");
        assert_eq!(parse("${a-d}").unwrap_err().error, ParseError::MissingClosingBrace);
        assert_eq!(parse("${a").unwrap_err().error, ParseError::MissingClosingBrace);
        assert_eq!(parse("${}").unwrap_err().error, ParseError::VariableName);
        assert_eq!(parse("${a:=x").unwrap_err().error, ParseError::FuncSubstitution);
        assert_eq!(parse("${a-d}").unwrap_err().var.as_deref(), Some("a"));
        let deep = "${a:=".repeat(1000);
        assert_eq!(parse(&deep).unwrap_err().error, ParseError::TooDeep);
        assert_eq!(ok("é ${a}ü", &[("a", "ß")]), "é ßü");
    }

    #[test]
    fn no_panics_on_odd_operator_input() {
        for e in ["${a:-5:-2}", "${a:99}", "${a:1:-9}", "${a#[}", "${a##[a-}", "${a%\\}", "${a,^}", "${a/}", "${a//}"] {
            // Odd operator input either substitutes or is an explained error, never a panic.
            if let Err(m) = run(e, &[("a", "héllo")], false) {
                assert!(!m.is_empty(), "{e}: an error without a message");
            }
        }
    }
}
