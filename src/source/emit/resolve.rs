//! How text reads back through kustomize's JSON → yaml.v2 round trip: which plain strings
//! yaml.v2 would resolve to another type (and so must be quoted), how Go prints floats, and what
//! the JSON step does to NEL. Kept apart from the layout code in [`super`].

use super::Style;

/// The style yaml.v2's encoder asks for: literal for multi-line text, double quotes for text
/// that would read back as another type, else plain (which the emitter may still quote).
pub(super) fn string_style(s: &str) -> Style {
    if s.contains('\n') {
        Style::Literal
    } else if !resolves_to_string(s) || is_base60_float(s) {
        Style::Double
    } else {
        Style::Plain
    }
}

/// The string as it comes back from kustomize's JSON → YAML step: yaml.v2 reads Go's JSON, in
/// which NEL (U+0085) is left unescaped, so it folds like a line break in a quoted scalar.
pub(super) fn json_string(s: &str) -> String {
    if !s.contains('\u{85}') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('\u{85}') {
        out.push_str(rest[..pos].trim_end_matches(' '));
        let mut breaks = 0;
        let mut tail = &rest[pos..];
        while let Some(t) = tail.trim_start_matches(' ').strip_prefix('\u{85}') {
            breaks += 1;
            tail = t;
        }
        if breaks == 1 {
            out.push(' ');
        } else {
            (1..breaks).for_each(|_| out.push('\n'));
        }
        rest = tail.trim_start_matches(' ');
    }
    out.push_str(rest);
    out
}

/// Whether yaml.v2's `resolve` reads `s`, unquoted, as a string (and not null, bool, number,
/// or timestamp).
fn resolves_to_string(s: &str) -> bool {
    const SPECIAL: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "n", "N", "no", "No", "NO", "false",
        "False", "FALSE", "off", "Off", "OFF", "", "~", "null", "Null", "NULL", ".nan", ".NaN", ".NAN", ".inf", ".Inf",
        ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
    ];
    let Some(&first) = s.as_bytes().first() else { return false };
    let hint_known = matches!(first, b'+' | b'-' | b'0'..=b'9' | b'.') || "yYnNtTfFoO~".as_bytes().contains(&first);
    if !hint_known {
        return true;
    }
    if SPECIAL.contains(&s) {
        return false;
    }
    match first {
        b'.' => !(underscores_ok(s) && is_go_float(&s.replace('_', ""))),
        b'+' | b'-' | b'0'..=b'9' => {
            let plain = s.replace('_', "");
            !(is_timestamp(s) || is_go_int(&plain) || is_go_float(&plain))
        }
        _ => true,
    }
}

/// Go's `strconv.ParseInt`/`ParseUint` with base 0 accept `s` and the value fits 64 bits.
fn is_go_int(s: &str) -> bool {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let b = body.as_bytes();
    let (digits, radix) = match b {
        [b'0', p, _, ..] if p.eq_ignore_ascii_case(&b'x') => (&body[2..], 16),
        [b'0', p, _, ..] if p.eq_ignore_ascii_case(&b'o') => (&body[2..], 8),
        [b'0', p, _, ..] if p.eq_ignore_ascii_case(&b'b') => (&body[2..], 2),
        [b'0', ..] => (&body[1..], 8),
        [] => return false,
        _ => (body, 10),
    };
    if !digits.chars().all(|c| c.is_digit(radix)) {
        return false;
    }
    let Ok(v) = u64::from_str_radix(if digits.is_empty() { "0" } else { digits }, radix) else { return false };
    !neg || v <= 1 << 63
}

/// yaml.v2's float pattern (`[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`), finite.
fn is_go_float(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => digits(frac),
        Some((int, frac)) => digits(int) && (frac.is_empty() || digits(frac)),
        None => digits(mantissa),
    };
    let exp_ok = exp.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exp_ok && s.parse::<f64>().is_ok_and(f64::is_finite)
}

/// Go's `underscoreOK`: underscores only between digits.
fn underscores_ok(s: &str) -> bool {
    let mut saw = '^';
    for c in s.chars() {
        if c.is_ascii_digit() {
            saw = '0';
        } else if c == '_' {
            if saw != '0' {
                return false;
            }
            saw = '_';
        } else if saw == '_' {
            return false;
        } else {
            saw = '!';
        }
    }
    saw != '_'
}

/// yaml.v2's timestamp formats: `2006-1-2`, `2006-1-2T15:4:5.999999999Z07:00` (also with `t`),
/// `2006-1-2 15:4:5.999999999`.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let mut p = 5;
    let num = |p: &mut usize, max: u32| -> Option<u32> {
        let start = *p;
        while *p < b.len() && *p < start + 2 && b[*p].is_ascii_digit() {
            *p += 1;
        }
        let v: u32 = s.get(start..*p)?.parse().ok()?;
        (v <= max).then_some(v)
    };
    let year: u32 = s[..4].parse().unwrap_or(0);
    let Some(month) = num(&mut p, 12).filter(|&m| m >= 1) else { return false };
    if b.get(p) != Some(&b'-') {
        return false;
    }
    p += 1;
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if num(&mut p, days).is_none_or(|d| d == 0) {
        return false;
    }
    if p == b.len() {
        return true;
    }
    let sep = b[p];
    match sep {
        b'T' | b't' => p += 1,
        b' ' => p += s[p..].len() - s[p..].trim_start_matches(' ').len(),
        _ => return false,
    }
    for (max, next) in [(23, Some(b':')), (59, Some(b':')), (59, None)] {
        if num(&mut p, max).is_none() {
            return false;
        }
        if let Some(n) = next {
            if b.get(p) != Some(&n) {
                return false;
            }
            p += 1;
        }
    }
    if matches!(b.get(p), Some(b'.' | b',')) && b.get(p + 1).is_some_and(u8::is_ascii_digit) {
        p += 1;
        while b.get(p).is_some_and(u8::is_ascii_digit) {
            p += 1;
        }
    }
    let zone = &b[p..];
    match (sep, zone) {
        (b' ', z) => z.is_empty(),
        (_, [b'Z']) => true,
        (_, [b'+' | b'-', h1, h2, b':', m1, m2]) => [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()),
        _ => false,
    }
}

/// YAML 1.1 base-60 floats (`1:30`), which yaml.v2 quotes for other parsers' sake.
fn is_base60_float(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    if !body.starts_with(|c: char| c.is_ascii_digit()) || !body.contains(':') {
        return false;
    }
    let (main, frac) = body.split_once('.').unwrap_or((body, ""));
    let mut parts = main.split(':');
    let head = parts.next().unwrap_or("");
    head.bytes().all(|b| b.is_ascii_digit() || b == b'_')
        && parts.all(|p| {
            (1..=2).contains(&p.len())
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p.len() == 1 || p.as_bytes()[0] <= b'5')
        })
        && frac.bytes().all(|b| b.is_ascii_digit() || b == b'_')
}

/// A float as it comes out of kustomize: Go's JSON writes whole numbers below 1e21 as integers,
/// which yaml.v2 reads back as ints when they fit 64 bits; the rest print as Go's `%g`.
pub(super) fn float_text(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    let (neg, digits, exp) = shortest_digits(f);
    let sign = if neg { "-" } else { "" };
    if f.fract() == 0.0 && f.abs() < 1e21 {
        let zeros = ((exp + 1) as usize).saturating_sub(digits.len());
        let int_text = format!("{sign}{digits}{}", "0".repeat(zeros));
        if int_text.parse::<i64>().is_ok() || int_text.parse::<u64>().is_ok() {
            return int_text;
        }
    }
    // Go's `%g` for the shortest representation: exponent form outside 1e-4 <= |f| < 1e6.
    if !(-4..6).contains(&exp) {
        let (head, tail) = digits.split_at(1);
        let dot = if tail.is_empty() { "" } else { "." };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{head}{dot}{tail}e{esign}{:02}", exp.abs())
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        let padded = format!("{digits:0<int_len$}");
        let (int, frac) = padded.split_at(int_len);
        if frac.is_empty() { format!("{sign}{int}") } else { format!("{sign}{int}.{frac}") }
    } else {
        format!("{sign}0.{}{digits}", "0".repeat((-exp - 1) as usize))
    }
}

/// Shortest round-trip decimal digits of `f` and the exponent of the first digit.
fn shortest_digits(f: f64) -> (bool, String, i32) {
    let s = format!("{:e}", f.abs());
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    (f.is_sign_negative() && f != 0.0, mantissa.replace('.', ""), exp.parse().unwrap_or(0))
}
