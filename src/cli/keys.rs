//! `xaa-conform keys`: the issuer signing keys of the fake IdP, written to files.

use std::path::PathBuf;

use crate::jose::Keyring;

/// Subcommands of `keys`.
#[derive(clap::Subcommand)]
pub enum KeysCommand {
    /// Write an RS256 (RSA-2048) and an ES256 (P-256) key for every fake issuer, and C3's
    /// client key; existing key files are kept unless --force.
    Generate {
        /// Folder to write into.
        #[arg(long, default_value = "keys")]
        dir: PathBuf,
        /// Replace key files that exist (a RAS that cached the old JWKS will not know the
        /// new keys until it fetches again).
        #[arg(long)]
        force: bool,
    },
}

/// Runs `xaa-conform keys …`; returns the exit code (2 when key files exist and --force is
/// not given, 3 when the keys cannot be made or written).
pub fn main(command: KeysCommand) -> u8 {
    match command {
        KeysCommand::Generate { dir, force } => keys_generate(dir, force),
    }
}

fn keys_generate(dir: PathBuf, force: bool) -> u8 {
    let existing = Keyring::existing_files(&dir);
    if !existing.is_empty() && !force {
        let shown: Vec<String> = existing.iter().map(|p| p.display().to_string()).collect();
        eprintln!(
            "error: key files exist: {}; pass --force to replace them (a RAS that cached their \
             JWKS will not know the new keys)",
            shown.join(", ")
        );
        return 2;
    }
    let keyring = match Keyring::ephemeral() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e}");
            return 3;
        }
    };
    match keyring.save(&dir) {
        Ok(paths) => {
            let kids = keyring.file_kids();
            for (p, (_, kid)) in paths.iter().zip(kids) {
                outln!("wrote {} (mode 0600) kid {kid}", p.display());
            }
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            3
        }
    }
}
