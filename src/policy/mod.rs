//! Organisation policies: built-in rules, custom rules written as Kubernetes
//! ValidatingAdmissionPolicy objects (CEL), and suppressions. Policies run on rendered objects,
//! after schema checks, and produce ordinary findings.

pub mod admission;
pub mod builtin;
