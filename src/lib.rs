//! xaa-conform: conformance and load testing for Cross App Access (XAA) resource
//! authorization servers that accept Identity Assertion JWT Authorization Grants (ID-JAGs).
//!
//! One scenario flows load → mint → mutate → send → judge → report; the modules follow it.

pub mod jose;
pub mod report;
pub mod spec;
