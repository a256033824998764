//! Custom rules in Kubernetes' own format: ValidatingAdmissionPolicy and
//! ValidatingAdmissionPolicyBinding objects evaluated offline with CEL.
