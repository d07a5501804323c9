//! Load testing of the token endpoint: an open-model arrival schedule drives goose users,
//! each request carries a freshly minted ID-JAG, and every answer is classed and timed into
//! HDR histograms that thresholds, reports and shard merges read.

pub mod engine;
pub mod figures;
pub mod html;
pub mod jag;
pub mod lane;
pub mod limit;
pub mod merge;
pub mod output;
pub mod phase;
pub mod probe;
pub mod race;
pub mod report;
pub mod schedule;
pub mod shard;
pub mod stall;
pub mod stats;
pub mod threshold;
