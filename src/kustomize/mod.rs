//! The native kustomize engine.

pub mod build;
pub mod config;
pub mod diag;
pub mod fieldspec;
pub mod generator;
pub mod indexed;
pub mod kustomization;
mod memo;
pub mod patch;
pub mod plugin;
pub mod resource;
pub mod select;
pub mod transform;
