//! The built-in rules: checks every platform team wants, configured per environment.
