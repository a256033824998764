//! Go regular expressions (RE2 syntax, as the API server compiles a CRD's `pattern`) rewritten
//! into the dialect of the Rust engine that checks them here.
//!
//! The two dialects agree almost everywhere; where they differ inside a character class, a
//! pattern the API server accepts would fail to compile here and the whole CRD version would be
//! lost (or, worse, reported as an invalid schema). Go reads these as literals, Rust does not:
//! - `-` next to a class escape (`[\d-_]`, `[\w-.]`): Go takes a literal `-`, Rust reports an
//!   invalid range;
//! - `[` inside a class (`[a[]`): Go takes a literal, Rust opens a nested class;
//! - `&&`, `--`, `~~` inside a class: Rust's set operations (intersection, difference,
//!   symmetric difference), literal characters in Go;
//! - POSIX classes (`[[:alpha:]]`): Go's ASCII sets; the engine here (which reads patterns as
//!   ECMA-262) takes them as the literal characters `[:alph`, so they are spelled out as ranges.
//!
//! Each is rewritten to an escaped literal, which means the same in both dialects. Everything
//! outside classes is passed through.

use std::borrow::Cow;

/// The Rust-engine spelling of the Go pattern `p`: unchanged (borrowed) unless one of the
/// differences in the module doc occurs.
pub fn to_rust(p: &str) -> Cow<'_, str> {
    if !p.contains('[') {
        return Cow::Borrowed(p);
    }
    let out = rewrite(p);
    if out == p { Cow::Borrowed(p) } else { Cow::Owned(out) }
}

/// One pass over the pattern, tracking whether we are inside a character class.
fn rewrite(p: &str) -> String {
    let chars: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len() + 4);
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                out.push('\\');
                if let Some(&c) = chars.get(i + 1) {
                    out.push(c);
                }
                i += 2;
            }
            '[' => i = class(&chars, i, &mut out),
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Copies the class opening at `start` into `out`, rewritten; returns the index after it.
/// Every literal punctuation character inside is written escaped (`\-`, `\[`, `\&`, `\~`),
/// which both dialects read as that character; only a range's `-` stays bare.
fn class(chars: &[char], start: usize, out: &mut String) -> usize {
    out.push('[');
    let mut i = start + 1;
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    // A `]` right after the opening (or `[^`) is a literal in both dialects.
    if chars.get(i) == Some(&']') {
        out.push_str("\\]");
        i += 1;
    }
    while i < chars.len() {
        if chars[i] == ']' {
            out.push(']');
            return i + 1;
        }
        let (lo, next, is_set) = item(chars, i);
        i = next;
        // As in Go: `-` between two single characters is a range, anywhere else a literal.
        let range = !is_set && chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|&c| c != ']');
        if range {
            let (hi, after, hi_set) = item(chars, i + 1);
            if !hi_set {
                out.push_str(&lo);
                out.push('-');
                out.push_str(&hi);
                i = after;
                continue;
            }
        }
        out.push_str(&lo);
    }
    i
}

/// The class item at `chars[i]`: its Rust spelling, the index after it, and whether it is a
/// set of characters (`\d`, `\p{L}`, `[:alpha:]`) rather than one character.
fn item(chars: &[char], i: usize) -> (String, usize, bool) {
    let text = |end: usize| chars[i..end.min(chars.len())].iter().collect::<String>();
    match chars[i] {
        '\\' => match chars.get(i + 1) {
            Some('p' | 'P') if chars.get(i + 2) == Some(&'{') => {
                let end = chars[i..].iter().position(|&c| c == '}').map_or(chars.len(), |n| i + n + 1);
                (text(end), end, true)
            }
            Some('p' | 'P') => (text(i + 3), i + 3, true),
            Some(c) => (text(i + 2), i + 2, matches!(c, 'd' | 'D' | 'w' | 'W' | 's' | 'S')),
            None => (text(i + 1), i + 1, false),
        },
        '[' if chars.get(i + 1) == Some(&':') => {
            // A POSIX class `[:alpha:]`, spelled out as the ASCII set Go gives it.
            let end = (i + 2..chars.len().saturating_sub(1))
                .find(|&j| chars[j] == ':' && chars[j + 1] == ']')
                .map_or(chars.len(), |j| j + 2);
            let name: String = chars[(i + 2).min(end)..end.saturating_sub(2).max(i + 2)].iter().collect();
            (posix(&name).map_or_else(|| text(end), str::to_string), end, true)
        }
        c @ ('-' | '[' | '&' | '~') => (format!("\\{c}"), i + 1, false),
        c => (c.to_string(), i + 1, false),
    }
}

/// The ASCII members of a POSIX class, as Go's regexp/syntax defines them.
fn posix(name: &str) -> Option<&'static str> {
    Some(match name {
        "alnum" => "0-9A-Za-z",
        "alpha" => "A-Za-z",
        "ascii" => "\\x00-\\x7F",
        "blank" => "\\t ",
        "cntrl" => "\\x00-\\x1F\\x7F",
        "digit" => "0-9",
        "graph" => "!-~",
        "lower" => "a-z",
        "print" => " -~",
        "punct" => "!-/:-@\\[-`{-~",
        "space" => "\\t\\n\\x0B\\f\\r ",
        "upper" => "A-Z",
        "word" => "0-9A-Za-z_",
        "xdigit" => "0-9A-Fa-f",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::to_rust;
    use serde_json::json;

    /// Patterns from real CRDs that the API server accepts compile here after the rewrite, and
    /// match what Go matches.
    #[test]
    fn go_class_literals_compile_and_match_as_in_go() {
        let cases = [
            // (Go pattern, matches, does not match)
            (r"^[a-zA-Z\d-_]+$", "ab-1_c", "a.b"),
            (r"^[\w-.]+$", "a-b.c_d", "a/b"),
            (r"^[-\w]+$", "-a", "a b"),
            (r"^[a[]+$", "a[a", "b"),
            (r"^[a&&b]+$", "a&b", "c"),
            (r"^[[:alpha:]-9]+$", "ab-9", "8"),
            (r"^[[:alnum:][:punct:]]+$", "a1-[]!", "a b"),
            (r"^[^[:space:]]+$", "ab", "a b"),
            (r"^[\p{L}-_]+$", "é-_", "1"),
            (r"^[--/]+$", "-./", "0"),
            (r"^[]a]+$", "]a", "b"),
        ];
        for (go, yes, no) in cases {
            let rust = to_rust(go);
            // The engine that checks `pattern` in a compiled schema.
            let v =
                jsonschema::validator_for(&json!({"pattern": rust})).unwrap_or_else(|e| panic!("{go} -> {rust}: {e}"));
            assert!(v.is_valid(&json!(yes)), "{go} -> {rust} should match {yes}");
            assert!(!v.is_valid(&json!(no)), "{go} -> {rust} should not match {no}");
        }
    }

    /// Patterns both dialects read alike keep their meaning; one without a class is untouched.
    #[test]
    fn common_patterns_keep_their_meaning() {
        for (p, yes, no) in [
            (r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$", "1.5s", "1x"),
            (r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "a-b", "a-"),
            (r"^[^-]+-[a-z]$", "ab-c", "-b-c"),
            (r"^\[x\]$", "[x]", "x"),
        ] {
            let v = jsonschema::validator_for(&json!({"pattern": to_rust(p)})).expect("compiles");
            assert!(v.is_valid(&json!(yes)) && !v.is_valid(&json!(no)), "{p} -> {}", to_rust(p));
        }
        assert!(matches!(to_rust(r"^\d+$"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn unterminated_input_does_not_panic() {
        for p in [r"[", r"[\", r"[\p{", r"[[:", "[a-", r"\"] {
            assert!(!to_rust(p).is_empty());
        }
    }
}
