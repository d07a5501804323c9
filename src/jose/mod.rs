//! JOSE for the suite: keys, compact JWS assembly, ID-JAG minting and every mutation.
//!
//! Pure code: no I/O beyond key files, no async. The reference RAS never verifies with this
//! module (it uses jsonwebtoken's decoder), so a minting bug cannot cancel itself out.

pub mod dpop;
pub mod forge;
pub mod jws;
pub mod keys;
pub mod mint;
pub mod mutate;
pub mod serialization;
pub mod weak;

pub use keys::{IssuerRole, KeyAlg, Keyring, SigningKey};
pub use mint::{Baseline, Minted};
pub use mutate::JagMutation;
pub use serialization::Serialization;
pub use weak::WeakRsaKey;
