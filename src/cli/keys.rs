//! `xaa-conform keys`: the issuer signing keys of the fake IdP, written to files.

use std::path::PathBuf;

use crate::jose::Keyring;

/// Subcommands of `keys`.
#[derive(clap::Subcommand)]
pub enum KeysCommand {
    /// Write an RS256 (RSA-2048) and an ES256 (P-256) key for every fake issuer.
    Generate {
        /// Folder to write into.
        #[arg(long, default_value = "keys")]
        dir: PathBuf,
    },
}

/// Runs `xaa-conform keys …`; returns the exit code (3 when the keys cannot be made or
/// written).
pub fn main(command: KeysCommand) -> u8 {
    match command {
        KeysCommand::Generate { dir } => keys_generate(dir),
    }
}

fn keys_generate(dir: PathBuf) -> u8 {
    let written = Keyring::ephemeral().and_then(|k| k.save(&dir));
    match written {
        Ok(paths) => {
            for p in paths {
                outln!("wrote {} (mode 0600)", p.display());
            }
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            3
        }
    }
}
