//! `xaa-conform idp serve`: the fake IdP on its own, for manual setups, with what a RAS
//! operator must configure to trust it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::fixture::Secret;
use crate::idp::{AppRegistration, FakeIdp};
use crate::jose::{IssuerRole, Keyring, keys::KeyError};
use crate::runner::{self, IDP_SECRET_ENV, RunOptions};
use crate::target::TargetFile;
use crate::tls::IdpTls;

/// Subcommands of `idp`.
#[derive(clap::Subcommand)]
pub enum IdpCommand {
    /// Serve the fake IdP until stopped, and print what a RAS operator must configure.
    Serve {
        /// A target file: its `idp` section says where to listen, and its issuer and client
        /// are registered for token exchange.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Address to listen on (overrides the config).
        #[arg(long)]
        bind: Option<String>,
        /// Folder of issuer keys.
        #[arg(long, default_value = "keys")]
        keys: PathBuf,
        /// Serve HTTPS with a certificate from a CA made at start (its private key stays in
        /// memory); the CA certificate is written to --idp-ca-out.
        #[arg(long)]
        idp_tls: bool,
        /// Where --idp-tls writes the CA certificate.
        #[arg(long, value_name = "FILE", default_value = "reports/idp-ca.pem")]
        idp_ca_out: PathBuf,
    },
}

/// Runs `xaa-conform idp …` until stopped; returns the exit code (2 bad config, 3 the IdP
/// could not start).
pub async fn main(command: IdpCommand) -> u8 {
    match command {
        IdpCommand::Serve {
            config,
            bind,
            keys,
            idp_tls,
            idp_ca_out,
        } => idp_serve(config, bind, keys, idp_tls.then_some(idp_ca_out)).await,
    }
}

async fn idp_serve(
    config: Option<PathBuf>,
    bind: Option<String>,
    keys: PathBuf,
    tls_ca_out: Option<PathBuf>,
) -> u8 {
    let target = match &config {
        Some(path) => match TargetFile::read(path) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        },
        None => None,
    };
    let bind = bind
        .or_else(|| target.as_ref().map(|t| t.idp.bind.clone()))
        .unwrap_or_else(|| "127.0.0.1:7400".into());
    let public_url = target.as_ref().and_then(|t| t.idp.public_url.clone());
    let keyring = match keyring(keys) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: keys: {e}");
            return 3;
        }
    };
    let secret = std::env::var(IDP_SECRET_ENV)
        .map(Secret::new)
        .unwrap_or_else(|_| Secret::random());
    let app = AppRegistration {
        client_id: "requesting-app".into(),
        secret,
    };
    let tls = match &tls_ca_out {
        Some(path) => match tls(path, public_url.as_deref()) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("error: IdP TLS ({}): {e}", path.display());
                return 3;
            }
        },
        None => None,
    };
    let idp =
        match FakeIdp::start_with_tls(&bind, public_url.as_deref(), keyring, app, tls.as_ref())
            .await
        {
            Ok(i) => i,
            Err(e) => {
                eprintln!("error: {e}");
                return 3;
            }
        };
    if let Some(path) = &tls_ca_out {
        outln!(
            "serving HTTPS; the RAS must trust the CA certificate in {} (new at every start)",
            path.display()
        );
    }
    if let Some(t) = &target {
        idp.register_audience(&t.issuer, &t.client.id);
        if let Some(alg) = t.accepted_algs.as_ref().and_then(|a| a.first()) {
            idp.set_jag_alg(*alg);
        }
    }
    print_setup(&idp);
    tokio::select! {
        _ = idp.wait() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    0
}

/// The issuer keys from `keys` (made in memory when the folder holds none).
fn keyring(keys: PathBuf) -> Result<Arc<Keyring>, KeyError> {
    let (k, from_files) = runner::keyring_from_files(&RunOptions {
        keys_dir: Some(keys.clone()),
        ..Default::default()
    })?;
    if !from_files {
        eprintln!("{}", runner::new_keys_note(&k, Some(&keys)));
    }
    Ok(Arc::new(k))
}

/// A CA made now and a certificate for the public host; the CA certificate goes to `ca_out`.
fn tls(ca_out: &Path, public_url: Option<&str>) -> Result<IdpTls, String> {
    let hosts: Vec<String> = public_url
        .and_then(crate::tls::url_host)
        .into_iter()
        .collect();
    IdpTls::generate(&hosts).and_then(|t| t.write_ca(ca_out).map(|()| t).map_err(|e| e.to_string()))
}

/// What a RAS operator must configure: the issuers to trust (and the one not to), the client
/// C3's JWKS and the requesting app's registration at this IdP.
fn print_setup(idp: &FakeIdp) {
    outln!("fake IdP listening on {}", idp.addr());
    outln!("configure the RAS to trust these issuers:");
    for role in [IssuerRole::Trusted, IssuerRole::TrustedB] {
        outln!(
            "  issuer {}  jwks_uri {}",
            idp.issuer(role),
            idp.jwks_uri(role)
        );
    }
    outln!(
        "private_key_jwt client C3: register jwks_uri {}",
        crate::fixture::client3_jwks_uri(idp.base_url())
    );
    outln!(
        "do not trust (negative checks use it): {}",
        idp.issuer(IssuerRole::Untrusted)
    );
    outln!(
        "requesting app at this IdP: client_id requesting-app, secret from ${IDP_SECRET_ENV}{}",
        if std::env::var_os(IDP_SECRET_ENV).is_some() {
            ""
        } else {
            " (unset: a random secret is used)"
        }
    );
}
