//! Checks on rendered objects. This stage only finds problems; it never changes objects.

pub mod memo;
pub mod objects;
