//! Placeholder: see the flux-subst worktree.
