//! `xaa-conform fuzz`: generated attacks on the token endpoint, judged by a model of the spec,
//! with proptest shrinking every violation to a minimal case.

/// The `fuzz` command moved to [`crate::cli::fuzz`]; this path stays for older imports.
pub use crate::cli::fuzz as cli;
pub mod model;
pub mod run;
