//! Rebuilds the binary when the scenario catalogue changes: it is compiled in.

fn main() {
    println!("cargo:rerun-if-changed=scenarios");
}
