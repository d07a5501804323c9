//! Reports of a run: terminal table, `results.json`, `junit.xml`.

pub mod model;
