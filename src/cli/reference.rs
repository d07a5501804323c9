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
        } => reference_serve(defect, bind, idp_bind).await,
    }
}

async fn reference_serve(defects: Vec<Defect>, bind: String, idp_bind: String) -> u8 {
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
    let issuers = crate::fixture::issuer_urls(&format!("http://{idp_bind}"));
    let defect_set: BTreeSet<Defect> = defects.into_iter().collect();
    let options = reference::ReferenceOptions {
        defects: defect_set.clone(),
        ..Default::default()
    };
    let started = ReferenceRas::start(&bind, options, |base| {
        let mut f = reference::embedded_fixture(base, &issuers, DEFAULT_TIMEOUT);
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
    print_target(&ras, &f, &defect_set, &idp_bind);
    tokio::select! {
        _ = ras.wait() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    0
}

/// The target.yaml for the running reference; the client secrets stay `${…}` references to
/// the environment.
fn print_target(ras: &ReferenceRas, f: &Fixture, defect_set: &BTreeSet<Defect>, idp_bind: &str) {
    let names: Vec<&str> = defect_set.iter().map(|d| d.name()).collect();
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    println!(
        "# target.yaml for the reference RAS at {} (defects: {})",
        ras.base_url(),
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    );
    println!("token_endpoint: {}", f.token_endpoint);
    println!("issuer: {}", f.ras_issuer);
    println!(
        "client: {{ id: {}, secret: \"${{{CLIENT_SECRET_ENV}}}\", auth: client_secret_basic }}",
        f.client.id
    );
    if let Some(c2) = &f.client2 {
        println!(
            "client2: {{ id: {}, secret: \"${{XAA_CLIENT2_SECRET}}\" }}",
            c2.id
        );
    }
    println!("subject: {}", f.subject);
    println!("subject_b: {}", opt(&f.subject_b));
    println!("whoami: {}", opt(&f.whoami));
    println!("resource: {}", opt(&f.resource));
    println!("resource2: {}", opt(&f.resource2));
    println!("scope: \"{}\"", opt(&f.scope));
    println!("idp: {{ bind: \"{idp_bind}\" }}");
    if let Some(ttl) = f.jwks_cache_ttl {
        println!("jwks_cache_ttl: {}", humantime::format_duration(ttl));
    }
}
