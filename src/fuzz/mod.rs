//! `xaa-conform fuzz`: generated attacks on the token endpoint, judged by the oracle's fuzz
//! table (`crate::oracle::fuzz`) from the catalogue rows each case breaks, with every distinct
//! finding shrunk to a minimal case by proptest's value trees.

pub mod model;
pub mod run;
