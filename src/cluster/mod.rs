//! Read-only access to a live cluster: find it from a kubeconfig (contexts, exec credential
//! plugins) or the pod's service account, and GET what other stages need (the server version,
//! CRDs, namespaces, ConfigMap/Secret keys, Flux objects). The client has no verb but GET, so
//! nothing fluxgate does can change a cluster. Every failure is one line ([`Error`]).

pub mod client;
pub mod exec;
pub mod kubeconfig;
pub mod lookup;

pub use client::{Client, Options};

/// Why the cluster could not be asked. Each variant displays as one line saying what to do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The kubeconfig (or its absence) does not say how to reach a cluster.
    #[error("{0}")]
    Config(String),
    /// Credentials could not be obtained (exec plugin failed, token file unreadable).
    #[error("{0}")]
    Auth(String),
    #[error("cannot reach the cluster at {server} (context {context}): {detail}")]
    Unreachable { server: String, context: String, detail: String },
    #[error("the cluster at {server} (context {context}) did not answer within {secs}s")]
    Timeout { server: String, context: String, secs: u64 },
    #[error(
        "the cluster at {server} rejected the credentials of context {context} (401 Unauthorized): log in again or refresh the token"
    )]
    Unauthorized { server: String, context: String },
    #[error("the cluster forbids reading {path} to the user of context {context} (403 Forbidden): {message}")]
    Forbidden { path: String, context: String, message: String },
    #[error("GET {path} answered {status}: {message}")]
    Status { path: String, status: u16, message: String },
    #[error("GET {path}: the answer is not the JSON expected: {detail}")]
    Decode { path: String, detail: String },
}
