//! The `xaa-conform` command line: one module per subcommand.

pub mod fuzz;
pub mod load;
