//! Placeholder: see the schema worktree.
