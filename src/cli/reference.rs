//! `xaa-conform reference serve`: the reference RAS on its own, with the target.yaml that
//! points at it.

use std::collections::BTreeSet;

use crate::cli::args::parse_defect;
use crate::fixture::{Fixture, Secret};
use crate::reference::{self, Defect, ReferenceRas};
use crate::runner::CLIENT_SECRET_ENV;
use crate::target::DEFAULT_TIMEOUT;

/// Subcommands of `reference`.
#[derive(clap::Subcommand)]
pub enum ReferenceCommand {
    /// Serve the reference RAS until stopped, and print the target.yaml that points at it.
    /// Client secrets come from XAA_CLIENT_SECRET and XAA_CLIENT2_SECRET.
    Serve {
        /// Switch a defect on (repeatable).
        #[arg(long, value_name = "NAME", value_parser = parse_defect)]
        defect: Vec<Defect>,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:7600")]
        bind: String,
        /// Address the fake IdP will listen on (`run --target` starts it there).
        #[arg(long, default_value = "127.0.0.1:7400")]
        idp_bind: String,
        /// The base URL of a fake IdP already running in `idp serve` (its issuers are
        /// `{URL}/idp-a`, …), instead of `http://{idp-bind}`.
        #[arg(long, value_name = "URL")]
        idp_url: Option<String>,
        /// A CA certificate (PEM) to trust, alone, when fetching from the IdP over HTTPS
        /// (`idp serve --idp-tls` writes it).
        #[arg(long, value_name = "FILE")]
        idp_ca: Option<std::path::PathBuf>,
        /// The control API of the running IdP (`idp serve` prints it), written into the
        /// printed target.yaml's `idp.control` with --idp-control-token-file.
        #[arg(long, value_name = "URL", requires = "idp_control_token_file")]
        idp_control_url: Option<String>,
        /// The file holding the running IdP's control token, for `idp.control.token_file`.
        #[arg(long, value_name = "FILE", requires = "idp_control_url")]
        idp_control_token_file: Option<String>,
        /// Serve a compliant variant of the reference's world (other scopes, one algorithm,
        /// JIT provisioning, …); an unknown name lists them.
        #[arg(long, value_name = "NAME")]
        variant: Option<reference::ReferenceVariant>,
        /// Requests per second allowed per client at the token endpoint (a token bucket
        /// with a burst of one second; above it, 429 with `Retry-After`), as
        /// `--reference-rate-limit` gives the embedded reference of `run` and `load`.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        rate_limit: Option<u32>,
    },
}

/// Runs `xaa-conform reference …` until stopped; returns the exit code (2 without the client
/// secrets, 3 the server could not start).
pub async fn main(command: ReferenceCommand) -> u8 {
    match command {
        ReferenceCommand::Serve {
            defect,
            bind,
            idp_bind,
            idp_url,
            idp_ca,
            idp_control_url,
            idp_control_token_file,
            variant,
            rate_limit,
        } => {
            let idp = IdpOptions {
                bind: idp_bind,
                url: idp_url,
                ca: idp_ca,
                control: idp_control_url.zip(idp_control_token_file),
            };
            reference_serve(defect, bind, idp, variant, rate_limit).await
        }
    }
}

/// Where the reference finds the fake IdP, and what the printed target.yaml says of it.
struct IdpOptions {
    bind: String,
    url: Option<String>,
    ca: Option<std::path::PathBuf>,
    control: Option<(String, String)>,
}

impl IdpOptions {
    /// The `idp` section of the printed target.yaml.
    fn yaml(&self) -> String {
        let q = |s: &str| serde_json::Value::String(s.to_string()).to_string();
        let mut members = Vec::new();
        match &self.url {
            Some(u) => members.push(format!("public_url: {}", q(u))),
            None => members.push(format!("bind: {}", q(&self.bind))),
        }
        if let Some((url, file)) = &self.control {
            members.push(format!(
                "control: {{ url: {}, token_file: {} }}",
                q(url),
                q(file)
            ));
        }
        format!("{{ {} }}", members.join(", "))
    }
}

async fn reference_serve(
    defects: Vec<Defect>,
    bind: String,
    idp: IdpOptions,
    variant: Option<reference::ReferenceVariant>,
    rate_limit: Option<u32>,
) -> u8 {
    let secret = |var: &str| {
        std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .map(Secret::new)
    };
    let (Some(s1), Some(s2)) = (secret(CLIENT_SECRET_ENV), secret("XAA_CLIENT2_SECRET")) else {
        eprintln!(
            "error: set {CLIENT_SECRET_ENV} and XAA_CLIENT2_SECRET (any values) first: the reference registers its clients \
             with them, and the target.yaml it prints reads them from the environment"
        );
        return 2;
    };
    let base = idp.url.as_ref().map_or_else(
        || format!("http://{}", idp.bind),
        |u| u.trim_end_matches('/').into(),
    );
    let issuers = crate::fixture::issuer_urls(&base);
    let idp_ca_pem = match &idp.ca {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(pem) => Some(pem),
            Err(e) => {
                eprintln!("error: --idp-ca {}: {e}", path.display());
                return 2;
            }
        },
        None => None,
    };
    let defect_set: BTreeSet<Defect> = defects.into_iter().collect();
    let options = reference::ReferenceOptions {
        defects: defect_set.clone(),
        variant,
        idp_ca_pem,
        rate_limit,
        ..Default::default()
    };
    let started = ReferenceRas::start(&bind, options, |base| {
        let mut f = reference::embedded_fixture(base, &issuers, DEFAULT_TIMEOUT);
        // C4 (registered without the grant) shares C1's secret, so two variables do.
        if let Some(c4) = f.client4.as_mut() {
            c4.secret = s1.clone();
        }
        f.client.secret = s1;
        if let Some(c2) = f.client2.as_mut() {
            c2.secret = s2;
        }
        f
    })
    .await;
    let (ras, f) = match started {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return 3;
        }
    };
    print_target(&ras, &f, &defect_set, &idp.yaml(), variant);
    tokio::select! {
        _ = ras.wait() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    0
}

/// The target.yaml for the running reference; the client secrets stay `${…}` references to
/// the environment.
fn print_target(
    ras: &ReferenceRas,
    f: &Fixture,
    defect_set: &BTreeSet<Defect>,
    idp: &str,
    variant: Option<reference::ReferenceVariant>,
) {
    let names: Vec<&str> = defect_set.iter().map(|d| d.name()).collect();
    let header = format!(
        "target.yaml for the reference RAS at {} (defects: {})",
        ras.base_url(),
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    );
    let secrets = reference::SecretsIn::Environment;
    out!(
        "{}",
        reference::target_yaml_with_idp(f, variant, idp, secrets, &header)
    );
}
