//! xaa-conform: conformance and load testing for Cross App Access (XAA) resource
//! authorization servers that accept Identity Assertion JWT Authorization Grants (ID-JAGs).
//!
//! One scenario flows load → mint → mutate → send → judge → report; the modules follow it:
//! [`scenario`] (load), [`jose`] (mint, mutate), [`client`] (send), [`oracle`] (judge),
//! [`report`], with [`runner`] driving them and [`idp`] and [`reference`] as the servers the
//! suite plays and tests.

pub mod catalogue;
pub mod cli;
pub mod client;
pub mod expected;
pub mod fixture;
pub mod fuzz;
pub mod idp;
pub mod input;
pub mod interrupt;
pub mod jose;
pub mod load;
pub mod oracle;
pub mod pace;
pub mod protocol;
pub mod reference;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod server;
pub mod spec;
pub mod target;
pub mod tls;
