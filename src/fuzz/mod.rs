//! `xaa-conform fuzz`: generated attacks on the token endpoint, judged by a model of the spec,
//! with proptest shrinking every violation to a minimal case.

pub mod model;
pub mod run;
