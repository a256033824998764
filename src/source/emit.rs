pub fn emit_documents(_d: &[&super::Node]) -> String { String::new() }
