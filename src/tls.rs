//! HTTPS for the fake IdP: a throwaway certificate authority made with rcgen for each start
//! (or one kept in a folder across starts, `--idp-ca-dir`), and a leaf certificate for the
//! IdP's host names signed by it.
//!
//! Real resource authorization servers refuse plain-http JWKS URLs, so the IdP can serve TLS.
//! The server under test trusts the CA through the PEM file the suite writes; the CA's private
//! key never leaves memory and is dropped as soon as the leaf is signed, unless it is kept in
//! a `--idp-ca-dir` folder (mode 0600).

use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// The fake IdP's TLS material: the CA certificate (public) and the leaf certificate with its
/// private key (in memory only).
#[derive(Clone)]
pub struct IdpTls {
    ca_pem: String,
    leaf_pem: String,
    leaf_key_pem: String,
}

impl fmt::Debug for IdpTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the private key.
        f.debug_struct("IdpTls").finish_non_exhaustive()
    }
}

/// The names the leaf certificate always covers: the loopback address and `localhost`.
pub const LOOPBACK_NAMES: [&str; 3] = ["127.0.0.1", "localhost", "::1"];

impl IdpTls {
    /// A fresh CA and a leaf certificate for the loopback names plus `extra_hosts` (host names
    /// or IP addresses, e.g. the host of the IdP's public URL).
    pub fn generate(extra_hosts: &[String]) -> Result<Self, String> {
        let ca_key = KeyPair::generate().map_err(err("generate the CA key"))?;
        let (ca_pem, issuer) = Self::ca(ca_key)?;
        Self::signed_by(ca_pem, &issuer, extra_hosts)
    }

    /// Like [`IdpTls::generate`], with the CA kept in `dir` across starts (`ca.pem`, and its
    /// key in `ca-key.pem` at mode 0600): made there on the first start, read back later, so
    /// that a RAS's trust store need not change at every start. Only the leaf is new.
    pub fn persistent(dir: &Path, extra_hosts: &[String]) -> Result<Self, String> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        if cert_path.exists() || key_path.exists() {
            let read = |p: &Path| {
                std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
            };
            let (cert, key) = (read(&cert_path)?, read(&key_path)?);
            let ca_key = KeyPair::from_pem(&key)
                .map_err(|e| format!("{}: not a PEM private key: {e}", key_path.display()))?;
            // The same subject and key sign the leaf; the certificate on file stays the CA.
            let (_, issuer) = Self::ca(ca_key)?;
            return Self::signed_by(cert, &issuer, extra_hosts);
        }
        let ca_key = KeyPair::generate().map_err(err("generate the CA key"))?;
        let key_pem = ca_key.serialize_pem();
        let (ca_pem, issuer) = Self::ca(ca_key)?;
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
        write_private(&key_path, key_pem.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", key_path.display()))?;
        std::fs::write(&cert_path, ca_pem.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", cert_path.display()))?;
        Self::signed_by(ca_pem, &issuer, extra_hosts)
    }

    /// The CA certificate (PEM) for `ca_key` and the issuer that signs with it.
    fn ca(ca_key: KeyPair) -> Result<(String, Issuer<'static, KeyPair>), String> {
        let mut ca_params =
            CertificateParams::new(Vec::<String>::new()).map_err(err("make the CA parameters"))?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "xaa-conform fake IdP test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params
            .self_signed(&ca_key)
            .map_err(err("sign the CA certificate"))?;
        Ok((ca_cert.pem(), Issuer::new(ca_params, ca_key)))
    }

    /// A leaf for the loopback names plus `extra_hosts`, signed by `issuer` (whose
    /// certificate is `ca_pem`).
    fn signed_by(
        ca_pem: String,
        issuer: &Issuer<'static, KeyPair>,
        extra_hosts: &[String],
    ) -> Result<Self, String> {
        let mut names: Vec<String> = LOOPBACK_NAMES.iter().map(|s| s.to_string()).collect();
        for h in extra_hosts {
            let h = h.trim_start_matches('[').trim_end_matches(']').to_string();
            if !h.is_empty() && !names.contains(&h) {
                names.push(h);
            }
        }
        let leaf_key = KeyPair::generate().map_err(err("generate the IdP's TLS key"))?;
        let mut leaf_params =
            CertificateParams::new(names).map_err(err("make the IdP certificate parameters"))?;
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "xaa-conform fake IdP");
        leaf_params.use_authority_key_identifier_extension = true;
        leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf = leaf_params
            .signed_by(&leaf_key, issuer)
            .map_err(err("sign the IdP certificate"))?;
        Ok(IdpTls {
            ca_pem,
            leaf_pem: leaf.pem(),
            leaf_key_pem: leaf_key.serialize_pem(),
        })
    }

    /// The CA certificate as PEM, for the server under test to trust.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Writes the CA certificate (never a key) to `path`, creating its folder.
    pub fn write_ca(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, self.ca_pem.as_bytes())
    }

    /// The rustls server configuration serving the leaf certificate.
    pub async fn server_config(&self) -> std::io::Result<axum_server::tls_rustls::RustlsConfig> {
        axum_server::tls_rustls::RustlsConfig::from_pem(
            self.leaf_pem.clone().into_bytes(),
            self.leaf_key_pem.clone().into_bytes(),
        )
        .await
    }

    /// The CA as a certificate reqwest clients can trust.
    pub fn reqwest_root(&self) -> Result<reqwest::Certificate, String> {
        reqwest::Certificate::from_pem(self.ca_pem.as_bytes())
            .map_err(|e| format!("the IdP CA certificate does not parse: {e}"))
    }
}

/// The CA certificate's file in a `--idp-ca-dir` folder.
pub const CA_CERT_FILE: &str = "ca.pem";

/// The CA private key's file in a `--idp-ca-dir` folder (mode 0600).
pub const CA_KEY_FILE: &str = "ca-key.pem";

fn err(what: &'static str) -> impl Fn(rcgen::Error) -> String {
    move |e| format!("cannot {what}: {e}")
}

/// Writes a file readable by its owner only (the CA key, the IdP control token): the one
/// the issuer keys are written with.
pub use crate::jose::keys::write_private;

/// The host of a URL such as `https://idp.example:7400`, when it names one.
pub fn url_host(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    match u.host()? {
        url::Host::Domain(d) => Some(d.to_string()),
        url::Host::Ipv4(a) => Some(IpAddr::V4(a).to_string()),
        url::Host::Ipv6(a) => Some(IpAddr::V6(a).to_string()),
    }
}
