//! Reports are safe with hostile names: every string a repository controls (entry point
//! names, object names, messages, file paths) goes through each output format and is read back
//! with a real parser: JUnit with quick-xml, JSON and SARIF with serde_json, TeamCity service
//! messages with a parser written from the spec. Markup never leaks (`<script>` is text, `]]>`
//! ends nothing), and no format emits a raw control character a consumer or terminal would act on.

use fluxgate::finding::{Finding, Location, ObjectRef};
use fluxgate::report::{EntryPointKind, EntryPointReport, RunReport, SourceText};
use fluxgate::rules::Rule;

/// Hostile strings and what a reader gets back from JUnit (quick-junit drops the C0 and C1
/// controls, which XML 1.0 cannot carry or discourages; everything else must round-trip
/// exactly).
const HOSTILE: [(&str, &str); 6] = [
    ("<script>alert('x')</script>", "<script>alert('x')</script>"),
    ("]]><![CDATA[ & \"quoted\" 'single' &amp;", "]]><![CDATA[ & \"quoted\" 'single' &amp;"),
    ("ctl\u{1}\u{7}\u{8}\u{b}end", "ctlend"),
    ("pipe|[brackets]'quote'", "pipe|[brackets]'quote'"),
    ("breaks\u{85}\u{2028}\u{2029}done", "breaks\u{2028}\u{2029}done"),
    ("unicode é 😀 \u{7f}", "unicode é 😀 \u{7f}"),
];

struct Src;

impl SourceText for Src {
    fn line(&self, _file: &str, _line: u32) -> Option<String> {
        Some(format!("  name: \"{}\"\u{1b}[2J", HOSTILE[0].0))
    }
}

/// One entry point per hostile string, one object and one error finding on each, plus a
/// finding in a file whose path is hostile.
fn report() -> RunReport {
    let mut eps = Vec::new();
    let mut findings = Vec::new();
    for (i, (h, _)) in HOSTILE.iter().enumerate() {
        let ep = format!("apps/{i}-{h}");
        let obj = ObjectRef::new("v1", "ConfigMap", Some(h), h);
        eps.push(EntryPointReport {
            name: ep.clone(),
            kind: EntryPointKind::Kustomize,
            path: ep.clone(),
            rendered: true,
            objects: vec![obj.clone()],
        });
        findings.push(
            Finding::new(Rule::MetadataInvalidName, format!("name '{h}' is not a DNS-1123 subdomain"))
                .entry_point(&ep)
                .object(Some(obj))
                .at(Some(Location { file: format!("apps/{h}/configmap.yaml"), line: 4, column: 9 }))
                .help(format!("rename {h}")),
        );
    }
    RunReport::new(eps, findings)
}

fn write(f: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut out = Vec::new();
    f(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// No C0 control character (other than tab and newline) and no DEL... except where a format
/// carries it escaped.
fn assert_no_raw_controls(format: &str, text: &str) {
    let bad: Vec<(usize, char)> =
        text.char_indices().filter(|(_, c)| c.is_control() && !matches!(c, '\n' | '\t' | '\r')).collect();
    let bad: Vec<_> = bad.into_iter().filter(|(_, c)| *c != '\u{7f}' && *c != '\u{85}').collect();
    assert!(bad.is_empty(), "{format}: raw control characters {bad:?}");
}

#[test]
fn junit_round_trips_hostile_names_through_quick_xml() {
    let xml = write(|w| fluxgate::report::junit::write_junit(&report(), &Src, w));
    assert!(!xml.contains("<script>"), "markup leaked into the XML");
    assert_no_raw_controls("junit", &xml);
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut values = Vec::new();
    // Text arrives in pieces split at entity references; join them up to the next tag.
    let mut text = String::new();
    loop {
        let event = reader.read_event().unwrap_or_else(|e| panic!("invalid XML at {}: {e}", reader.buffer_position()));
        match event {
            quick_xml::events::Event::Text(t) => {
                text.push_str(&t.xml_content(quick_xml::XmlVersion::Implicit1_0).unwrap());
                continue;
            }
            quick_xml::events::Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().unwrap() {
                    Some(c) => c,
                    None => match &*r.decode().unwrap() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => panic!("unknown entity &{other};"),
                    },
                };
                text.push(c);
                continue;
            }
            _ => {}
        }
        values.push(std::mem::take(&mut text));
        match event {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                for a in e.attributes() {
                    let a = a.unwrap();
                    values.push(a.normalized_value(quick_xml::XmlVersion::Implicit1_0).unwrap().to_string());
                }
            }
            quick_xml::events::Event::CData(t) => values.push(String::from_utf8(t.into_inner().to_vec()).unwrap()),
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    for (h, back) in HOSTILE {
        assert!(values.iter().any(|v| v.contains(&format!("name '{back}' is not"))), "JUnit lost {h:?} -> {back:?}");
        // The failure body is the terminal rendering, which shows C0 controls as their visible
        // Unicode pictures (U+2400 + code, U+2421 for DEL) and NEL as U+FFFD instead of dropping them.
        let pictured: String = h
            .chars()
            .map(|c| match c {
                '\u{85}' => '\u{fffd}',
                '\u{7f}' => '\u{2421}',
                c if (c as u32) < 0x20 => char::from_u32(0x2400 + c as u32).unwrap(),
                c => c,
            })
            .collect();
        assert!(
            values.iter().any(|v| v.contains(&format!("apps/{pictured}/configmap.yaml:4:9"))),
            "JUnit lost the path of {h:?} (want {pictured:?}): {values:?}"
        );
    }
}

#[test]
fn json_and_sarif_round_trip_hostile_names_exactly() {
    let json = write(|w| fluxgate::report::json::write_json(&report(), w));
    let sarif = write(|w| fluxgate::report::sarif::write_sarif(&report(), w));
    for (format, text) in [("json", &json), ("sarif", &sarif)] {
        assert_no_raw_controls(format, text);
        let v: serde_json::Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{format}: {e}"));
        let mut strings = Vec::new();
        collect(&v, &mut strings);
        for (h, _) in HOSTILE {
            let msg = format!("name '{h}' is not");
            assert!(strings.iter().any(|s| s.contains(&msg)), "{format} lost {h:?}");
            assert!(
                strings.iter().any(|s| s.contains(&format!("apps/{h}/configmap.yaml"))),
                "{format} lost path {h:?}"
            );
        }
    }
}

fn collect(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        // SARIF artifact locations are URIs: percent-decode them back to the path.
        serde_json::Value::String(s) => {
            out.push(s.clone());
            if s.contains('%') {
                out.push(percent_decode(s));
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
        serde_json::Value::Object(o) => o.iter().for_each(|(k, x)| {
            out.push(k.clone());
            collect(x, out)
        }),
        _ => {}
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses one service message line per the TeamCity spec: `##teamcity[name key='value' ...]`
/// with `|'`, `|n`, `|r`, `|x`, `|l`, `|p`, `||`, `|[`, `|]` and `|0xNNNN` escapes.
fn parse_service_message(line: &str) -> (String, Vec<(String, String)>) {
    let body = line
        .strip_prefix("##teamcity[")
        .and_then(|l| l.strip_suffix(']'))
        .unwrap_or_else(|| panic!("not a service message: {line:?}"));
    let (name, mut rest) = body.split_once(' ').unwrap_or((body, ""));
    let mut attrs = Vec::new();
    while !rest.trim_start().is_empty() {
        rest = rest.trim_start();
        let (key, after) = rest.split_once("='").unwrap_or_else(|| panic!("bad attribute in {line:?}"));
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            let (i, c) = chars.next().unwrap_or_else(|| panic!("unterminated value in {line:?}"));
            match c {
                '\'' => break i + 1,
                '[' | ']' => panic!("unescaped '{c}' in a value of {line:?}"),
                '|' => {
                    let (_, e) = chars.next().unwrap();
                    match e {
                        '\'' | '|' | '[' | ']' => value.push(e),
                        'n' => value.push('\n'),
                        'r' => value.push('\r'),
                        'x' => value.push('\u{85}'),
                        'l' => value.push('\u{2028}'),
                        'p' => value.push('\u{2029}'),
                        '0' => {
                            let (_, x) = chars.next().unwrap();
                            assert_eq!(x, 'x', "bad |0x escape in {line:?}");
                            let hex: String = (0..4).map(|_| chars.next().unwrap().1).collect();
                            value.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
                        }
                        other => panic!("unknown escape |{other} in {line:?}"),
                    }
                }
                c => value.push(c),
            }
        };
        attrs.push((key.to_string(), value));
        rest = &after[end..];
    }
    (name.to_string(), attrs)
}

#[test]
fn teamcity_escape_round_trips_per_the_spec() {
    for (h, _) in HOSTILE.iter().chain(&[("\r\n|'[]\u{0}\u{1b}", "")]) {
        let line = format!("##teamcity[message text='{}']", fluxgate::report::teamcity::escape(h));
        assert_eq!(line.lines().count(), 1);
        let (_, attrs) = parse_service_message(&line);
        assert_eq!(attrs, vec![("text".to_string(), h.to_string())]);
    }
}

#[test]
fn teamcity_messages_are_one_line_each_and_carry_hostile_names() {
    let out = write(|w| fluxgate::report::teamcity::write_teamcity(&report(), &Src, w));
    assert_no_raw_controls("teamcity", &out.replace('\n', ""));
    let mut values = Vec::new();
    for line in out.lines() {
        let (_, attrs) = parse_service_message(line);
        values.extend(attrs.into_iter().map(|(_, v)| v));
    }
    for (h, _) in HOSTILE {
        assert!(values.iter().any(|v| v.contains(&format!("name '{h}' is not"))), "TeamCity lost {h:?}");
    }
}

#[test]
fn terminal_output_carries_no_control_sequences() {
    let out = write(|w| fluxgate::report::terminal::write_terminal(&report(), &Src, false, w));
    assert_no_raw_controls("terminal", &out);
    assert!(!out.contains('\u{1b}'), "an escape sequence from the repository reached the terminal");
}
