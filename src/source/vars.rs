//! Flux post-build variables as text: `${NAME}` references and the names Flux accepts. Every
//! layer that judges a value must know a reference when it sees one (its final value is known
//! only after substitution), so the syntax lives here, below them all.

/// Whether a string still holds a Flux `${...}` reference: its final value is known only after
/// post-build substitution, so checks that judge values leave it alone.
pub fn has_reference(s: &str) -> bool {
    s.contains("${")
}

/// Whether any key or scalar under `node` satisfies `is_reference` (a value Flux substitutes
/// later, so checks that judge values leave the whole node alone).
pub fn holds_reference(node: &super::Node, is_reference: &dyn Fn(&str) -> bool) -> bool {
    match &node.value {
        super::Value::Map(m) => m.iter().any(|(k, v)| is_reference(k) || holds_reference(v, is_reference)),
        super::Value::Seq(items) => items.iter().any(|v| holds_reference(v, is_reference)),
        _ => node.scalar_text().is_some_and(|t| is_reference(&t)),
    }
}

/// Whether `name` is a variable name Flux accepts in `substitute`/`substituteFrom`.
pub fn valid_name(name: &str) -> bool {
    let mut it = name.chars();
    matches!(it.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && it.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_references() {
        assert!(valid_name("cluster_env") && valid_name("_x1"));
        assert!(!valid_name("1x") && !valid_name("a-b") && !valid_name(""));
        assert!(has_reference("host-${env}.example.com") && !has_reference("$env"));
    }
}
