//! `xaa-conform idp serve`: the fake IdP on its own, for manual setups, with what a RAS
//! operator must configure to trust it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::fixture::Secret;
use crate::idp::{AppRegistration, FakeIdp};
use crate::idp_control::ControlState;
use crate::idp_control::server::ControlServer;
use crate::jose::{IssuerRole, Keyring, keys::KeyError};
use crate::runner::{self, IDP_SECRET_ENV, RunOptions};
use crate::target::TargetFile;
use crate::tls::IdpTls;

/// Subcommands of `idp`.
#[derive(clap::Subcommand)]
pub enum IdpCommand {
    /// Serve the fake IdP until stopped, and print what a RAS operator must configure, and
    /// the control API that `run --target` uses when target.yaml names it in `idp.control`.
    Serve {
        /// A target file: its `idp` section says where to listen, and its issuer and client
        /// are registered for token exchange.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Address to listen on (overrides the config).
        #[arg(long)]
        bind: Option<String>,
        /// Folder of issuer keys; `run` must be given the same one.
        #[arg(long, default_value = "keys")]
        keys: PathBuf,
        /// Serve HTTPS with a certificate from a CA made at start (its private key stays in
        /// memory unless --idp-ca-dir); the CA certificate is written to --idp-ca-out.
        #[arg(long)]
        idp_tls: bool,
        /// Where --idp-tls writes the CA certificate.
        #[arg(long, value_name = "FILE", default_value = "reports/idp-ca.pem")]
        idp_ca_out: PathBuf,
        /// Keep the --idp-tls CA in this folder across starts (ca.pem, and ca-key.pem at mode
        /// 0600), so the RAS's trust store need not change.
        #[arg(long, value_name = "DIR", requires = "idp_tls")]
        idp_ca_dir: Option<PathBuf>,
        /// Loopback address of the control API (conditions, request log) that runs use.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7401")]
        control_bind: String,
        /// Also write the control API's bearer token to this file (mode 0600), for
        /// target.yaml's `idp.control.token_file`.
        #[arg(long, value_name = "FILE")]
        control_token_file: Option<PathBuf>,
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
            idp_ca_dir,
            control_bind,
            control_token_file,
        } => {
            let options = ServeOptions {
                config,
                bind,
                keys,
                tls_ca_out: idp_tls.then_some(idp_ca_out),
                ca_dir: idp_ca_dir,
                control_bind,
                control_token_file,
            };
            idp_serve(options).await
        }
    }
}

/// What `idp serve` was asked for.
struct ServeOptions {
    config: Option<PathBuf>,
    bind: Option<String>,
    keys: PathBuf,
    tls_ca_out: Option<PathBuf>,
    ca_dir: Option<PathBuf>,
    control_bind: String,
    control_token_file: Option<PathBuf>,
}

async fn idp_serve(o: ServeOptions) -> u8 {
    let target = match &o.config {
        Some(path) => match TargetFile::read(path) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        },
        None => None,
    };
    if o.control_bind
        .parse::<std::net::SocketAddr>()
        .map_or(true, |a| !a.ip().is_loopback())
    {
        eprintln!(
            "error: --control-bind `{}`: the control API listens on a loopback address \
             (127.0.0.1:PORT or [::1]:PORT) only",
            o.control_bind
        );
        return 2;
    }
    let bind = o
        .bind
        .clone()
        .or_else(|| target.as_ref().map(|t| t.idp.bind.clone()))
        .unwrap_or_else(|| "127.0.0.1:7400".into());
    let public_url = target.as_ref().and_then(|t| t.idp.public_url.clone());
    let keyring = match keyring(o.keys.clone()) {
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
    let tls = match &o.tls_ca_out {
        Some(path) => match tls(path, o.ca_dir.as_deref(), public_url.as_deref()) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("error: IdP TLS ({}): {e}", path.display());
                return 3;
            }
        },
        None => None,
    };
    let idp = match FakeIdp::start_with_tls(
        &bind,
        public_url.as_deref(),
        keyring.clone(),
        app.clone(),
        tls.as_ref(),
    )
    .await
    {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return 3;
        }
    };
    let token = Secret::random();
    let state = ControlState {
        base_url: idp.base_url().to_string(),
        issuers: idp.issuers().clone(),
        kids: keyring.file_kids(),
        app_client_id: app.client_id.clone(),
        app_secret: app.secret.expose().to_string(),
        ca_pem: tls.as_ref().map(|t| t.ca_pem().to_string()),
    };
    let control =
        match ControlServer::start(&o.control_bind, token.clone(), idp.hit_log(), state).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: control API: {e}");
                return 3;
            }
        };
    if let Some(path) = &o.control_token_file {
        let written = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| crate::tls::write_private(path, token.expose().as_bytes()));
        if let Err(e) = written {
            eprintln!(
                "error: cannot write the control token to {}: {e}",
                path.display()
            );
            return 3;
        }
    }
    if let Some(path) = &o.tls_ca_out {
        match &o.ca_dir {
            Some(dir) => outln!(
                "serving HTTPS; the RAS must trust the CA certificate in {} (kept in {} across \
                 starts; also written to {})",
                dir.join(crate::tls::CA_CERT_FILE).display(),
                dir.display(),
                path.display()
            ),
            None => outln!(
                "serving HTTPS; the RAS must trust the CA certificate in {} (new at every start)",
                path.display()
            ),
        }
    }
    if let Some(t) = &target {
        idp.register_audience(&t.issuer, &t.client.id);
        let second = t
            .second_ras
            .as_deref()
            .unwrap_or(crate::fixture::DEFAULT_SECOND_RAS);
        idp.register_audience(second, &t.client.id);
        if let Some(alg) = t.accepted_algs.as_ref().and_then(|a| a.first()) {
            idp.set_jag_alg(*alg);
        }
    }
    print_setup(&idp);
    print_control(&idp, &control, &token, o.control_token_file.as_deref());
    tokio::select! {
        _ = idp.wait() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    control.stop().await;
    0
}

/// The control API's address and token, and the `idp` section of a target.yaml that makes
/// `run --target` use this IdP.
fn print_control(idp: &FakeIdp, control: &ControlServer, token: &Secret, file: Option<&Path>) {
    outln!(
        "control API (loopback only) on {}; bearer token: {}",
        control.url(),
        token.expose()
    );
    let token_file = match file {
        Some(f) => {
            outln!("control token written to {} (mode 0600)", f.display());
            f.display().to_string()
        }
        None => "FILE holding the token (--control-token-file)".into(),
    };
    outln!(
        "for run --target, in target.yaml: idp: {{ public_url: \"{}\", control: {{ url: \"{}\", token_file: \"{}\" }} }}",
        idp.base_url(),
        control.url(),
        token_file
    );
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

/// A CA made now (or kept in `ca_dir`) and a certificate for the public host; the CA
/// certificate goes to `ca_out`.
fn tls(ca_out: &Path, ca_dir: Option<&Path>, public_url: Option<&str>) -> Result<IdpTls, String> {
    let hosts: Vec<String> = public_url
        .and_then(crate::tls::url_host)
        .into_iter()
        .collect();
    match ca_dir {
        Some(dir) => IdpTls::persistent(dir, &hosts),
        None => IdpTls::generate(&hosts),
    }
    .and_then(|t| t.write_ca(ca_out).map(|()| t).map_err(|e| e.to_string()))
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
        "  and, for a RAS that declares multi_tenant, the multi-tenant issuer {}  jwks_uri {}",
        idp.issuer(IssuerRole::MultiTenant),
        idp.jwks_uri(IssuerRole::MultiTenant)
    );
    outln!(
        "  and, for a RAS that declares saml_subjects, the SAML NameID issuer {}  jwks_uri {}",
        idp.issuer(IssuerRole::SamlSubjects),
        idp.jwks_uri(IssuerRole::SamlSubjects)
    );
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
