//! The `xaa-conform` command line: argument parsing and exit codes, everything else in the
//! library.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use xaa_conform::args::{parse_defect, parse_duration};

use clap::{Parser, Subcommand, ValueEnum};

use xaa_conform::fixture::Secret;
use xaa_conform::idp::{AppRegistration, FakeIdp};
use xaa_conform::jose::Keyring;
use xaa_conform::reference::{self, Defect, ReferenceRas};
use xaa_conform::report::{self, terminal};
use xaa_conform::runner::{self, CLIENT_SECRET_ENV, IDP_SECRET_ENV, RunOptions};
use xaa_conform::scenario;
use xaa_conform::target::{DEFAULT_TIMEOUT, TargetFile};

/// Conformance testing for Cross App Access (ID-JAG) resource authorization servers.
#[derive(Parser)]
#[command(name = "xaa-conform", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the conformance catalogue (against the embedded reference RAS unless --target).
    Run(RunArgs),
    /// The fake IdP on its own, for manual setups.
    Idp {
        #[command(subcommand)]
        command: IdpCommand,
    },
    /// The reference RAS on its own.
    Reference {
        #[command(subcommand)]
        command: ReferenceCommand,
    },
    /// Issuer signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// List the checks: IDs, levels, sources and the reference defects that prove them.
    List(ListArgs),
    /// Print the JSON Schemas of scenario, target, results and load files.
    Schema(SchemaArgs),
    /// Generated attacks: proptest cases over the mutation model, shrunk to a minimal
    /// violating case.
    Fuzz(xaa_conform::fuzz::cli::FuzzArgs),
    /// Load-test the token endpoint: an open-model arrival rate, fresh ID-JAGs, HDR latency,
    /// rate-limit probes and thresholds (`load merge` adds up shard reports).
    Load(xaa_conform::load::cli::LoadArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// The RAS under test (target.yaml); without it the embedded reference RAS is tested.
    #[arg(long)]
    target: Option<PathBuf>,
    /// Run the scenarios in this folder instead of the built-in catalogue.
    #[arg(long)]
    scenarios: Option<PathBuf>,
    /// Expectation profile.
    #[arg(long)]
    profile: Option<String>,
    /// Only checks whose ID matches this glob (plus what they depend on), e.g. 'JAG-AUD-*'.
    #[arg(long)]
    filter: Option<String>,
    /// Where results.json and junit.xml go.
    #[arg(long, default_value = "reports")]
    report_dir: PathBuf,
    /// Switch a defect on in the embedded reference RAS (repeatable); see `list`.
    #[arg(long = "reference-defect", value_name = "NAME", value_parser = parse_defect)]
    reference_defect: Vec<Defect>,
    /// Per-request timeout (default 10s, or the target file's).
    #[arg(long, value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Folder of issuer keys from `keys generate`; without key files, keys are made in memory.
    #[arg(long, default_value = "keys")]
    keys: PathBuf,
    /// YAML list of `{ id, reason }`: known FAILs that do not fail the run (a listed check that
    /// no longer fails does).
    #[arg(long, value_name = "FILE")]
    expected_failures: Option<PathBuf>,
    /// Serve the fake IdP over HTTPS, with a certificate from a CA made for this run (its
    /// private key stays in memory); the CA certificate is written to --idp-ca-out.
    #[arg(long)]
    idp_tls: bool,
    /// Where --idp-tls writes the CA certificate (default <report-dir>/idp-ca.pem).
    #[arg(long, value_name = "FILE", requires = "idp_tls")]
    idp_ca_out: Option<PathBuf>,
    /// Rate limit of the embedded reference RAS: requests per second per client (429 with
    /// Retry-After above it).
    #[arg(long, value_name = "N")]
    reference_rate_limit: Option<u32>,
}

#[derive(Subcommand)]
enum IdpCommand {
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

#[derive(Subcommand)]
enum ReferenceCommand {
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
        /// Serve a compliant variant of the reference's world (other scopes, one algorithm,
        /// JIT provisioning, …); an unknown name lists them.
        #[arg(long, value_name = "NAME")]
        variant: Option<reference::ReferenceVariant>,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Write an RS256 (RSA-2048) and an ES256 (P-256) key for every fake issuer.
    Generate {
        /// Folder to write into.
        #[arg(long, default_value = "keys")]
        dir: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(clap::Args)]
struct ListArgs {
    /// Output format: one line per requirement, or a JSON array for scripts.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Decide coverage from the scenarios of this folder instead of the built-in catalogue.
    #[arg(long)]
    scenarios: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum SchemaKind {
    Scenario,
    Target,
    Results,
    /// `load.json` of `xaa-conform load`.
    Load,
}

#[derive(clap::Args)]
struct SchemaArgs {
    /// Which schema; all of them as one JSON object when omitted.
    kind: Option<SchemaKind>,
}

fn main() -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("XAA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,goose=error")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(3);
        }
    };
    let code = runtime.block_on(dispatch(cli.command));
    ExitCode::from(code)
}

async fn dispatch(command: Command) -> u8 {
    match command {
        Command::Run(args) => run(args).await,
        Command::Idp {
            command:
                IdpCommand::Serve {
                    config,
                    bind,
                    keys,
                    idp_tls,
                    idp_ca_out,
                },
        } => idp_serve(config, bind, keys, idp_tls.then_some(idp_ca_out)).await,
        Command::Reference {
            command:
                ReferenceCommand::Serve {
                    defect,
                    bind,
                    idp_bind,
                    variant,
                },
        } => reference_serve(defect, bind, idp_bind, variant).await,
        Command::Keys {
            command: KeysCommand::Generate { dir },
        } => keys_generate(dir),
        Command::List(args) => list(args),
        Command::Schema(args) => schema(args),
        Command::Fuzz(args) => xaa_conform::fuzz::cli::main(args).await,
        Command::Load(args) => xaa_conform::load::cli::main(args).await,
    }
}

fn color() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
}

use xaa_conform::spec::worst_exit as worst;

/// A progress bar on stderr when it is a terminal; nothing in CI logs.
fn progress_bar() -> Option<(runner::Progress, indicatif::ProgressBar)> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let shown = bar.clone();
    let progress = runner::Progress(Arc::new(move |done, total, check| {
        shown.set_length(total as u64);
        shown.set_position(done as u64);
        shown.set_message(format!("{} {}", check.id, check.verdict));
    }));
    Some((progress, bar))
}

async fn run(args: RunArgs) -> u8 {
    let (progress, bar) = progress_bar().unzip();
    let opts = RunOptions {
        target: args.target,
        scenarios: args.scenarios,
        filter: args.filter,
        profile: args.profile,
        defects: args.reference_defect.into_iter().collect(),
        timeout: args.timeout,
        keys_dir: Some(args.keys),
        expected_failures: args.expected_failures,
        reference_rate_limit: args.reference_rate_limit,
        progress,
        idp_tls_ca: args.idp_tls.then(|| {
            args.idp_ca_out
                .clone()
                .unwrap_or_else(|| args.report_dir.join("idp-ca.pem"))
        }),
    };
    let outcome = runner::run_suite(&opts, None).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let results = match outcome {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return e.exit_code();
        }
    };
    println!("{}", terminal::table(&results, color()));
    println!("{}", terminal::summary(&results));
    for e in &results.expected_failures {
        match e.status {
            xaa_conform::report::model::ExpectedStatus::Expected => {
                println!("expected failure {}: {}", e.id, e.reason)
            }
            xaa_conform::report::model::ExpectedStatus::Stale => {
                println!(
                    "STALE expected failure {}: it no longer fails; remove it from the file",
                    e.id
                )
            }
        }
    }
    let mut code = runner::exit_code(&results);
    match report::write_reports(&results, &args.report_dir) {
        Ok(paths) => {
            let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            println!("reports: {}", shown.join(", "));
        }
        Err(e) => {
            eprintln!("error: {e}");
            code = worst(code, 3);
        }
    }
    code
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
    let keyring = match runner::keyring(&RunOptions {
        keys_dir: Some(keys),
        ..Default::default()
    }) {
        Ok(k) => Arc::new(k),
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
        Some(path) => {
            let hosts: Vec<String> = public_url
                .as_deref()
                .and_then(xaa_conform::tls::url_host)
                .into_iter()
                .collect();
            let made = xaa_conform::tls::IdpTls::generate(&hosts)
                .and_then(|t| t.write_ca(path).map(|()| t).map_err(|e| e.to_string()));
            match made {
                Ok(t) => Some(t),
                Err(e) => {
                    eprintln!("error: IdP TLS ({}): {e}", path.display());
                    return 3;
                }
            }
        }
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
        println!(
            "serving HTTPS; the RAS must trust the CA certificate in {} (new at every start)",
            path.display()
        );
    }
    if let Some(t) = &target {
        idp.register_audience(&t.issuer, &t.client.id);
    }
    println!("fake IdP listening on {}", idp.addr());
    println!("configure the RAS to trust these issuers:");
    for role in [
        xaa_conform::jose::IssuerRole::Trusted,
        xaa_conform::jose::IssuerRole::TrustedB,
    ] {
        println!(
            "  issuer {}  jwks_uri {}",
            idp.issuer(role),
            idp.jwks_uri(role)
        );
    }
    println!(
        "private_key_jwt client C3: register jwks_uri {}",
        xaa_conform::fixture::client3_jwks_uri(idp.base_url())
    );
    println!(
        "do not trust (negative checks use it): {}",
        idp.issuer(xaa_conform::jose::IssuerRole::Untrusted)
    );
    println!(
        "requesting app at this IdP: client_id requesting-app, secret from ${IDP_SECRET_ENV}{}",
        if std::env::var_os(IDP_SECRET_ENV).is_some() {
            ""
        } else {
            " (unset: a random secret is used)"
        }
    );
    tokio::select! {
        _ = idp.wait() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    0
}

async fn reference_serve(
    defects: Vec<Defect>,
    bind: String,
    idp_bind: String,
    variant: Option<reference::ReferenceVariant>,
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
    let issuers = xaa_conform::fixture::issuer_urls(&format!("http://{idp_bind}"));
    let defect_set: BTreeSet<Defect> = defects.into_iter().collect();
    let options = reference::ReferenceOptions {
        defects: defect_set.clone(),
        variant,
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
    print!(
        "{}",
        reference::target_yaml(&f, variant, &idp_bind, secrets, &header)
    );
    tokio::select! {
        _ = ras.wait() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    0
}

fn keys_generate(dir: PathBuf) -> u8 {
    let written = Keyring::ephemeral().and_then(|k| k.save(&dir));
    match written {
        Ok(paths) => {
            for p in paths {
                println!("wrote {} (mode 0600)", p.display());
            }
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            3
        }
    }
}

/// Prints the requirement catalogue: every row of requirements.md, covered when the loaded
/// scenarios have a check with its ID, with the reference defects that prove it or the reason
/// it is not covered; then the scenarios outside the catalogue, the defects and a summary.
fn list(args: ListArgs) -> u8 {
    use std::collections::BTreeMap;
    use std::io::Write as _;
    use xaa_conform::catalogue::{self, RequirementRow};
    use xaa_conform::scenario::LoadedScenario;
    use xaa_conform::spec::Level;

    let scenarios = match &args.scenarios {
        Some(dir) => scenario::load_dir(dir),
        None => scenario::embedded(),
    };
    let scenarios = match scenarios {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let by_id: BTreeMap<&str, &LoadedScenario> = scenarios
        .iter()
        .map(|l| (l.scenario.id.as_str(), l))
        .collect();
    let proving = |id: &str| -> Vec<&'static str> {
        catalogue::proving_defects(id)
            .into_iter()
            .map(|d| d.name())
            .collect()
    };
    let mut rows: Vec<&RequirementRow> = catalogue::REQUIREMENTS.iter().collect();
    rows.sort_by_key(|r| r.section_key());
    let custom: Vec<&LoadedScenario> = scenarios
        .iter()
        .filter(|l| catalogue::find(&l.scenario.id).is_none())
        .collect();

    let covered =
        |r: &RequirementRow| by_id.contains_key(r.id) || catalogue::load_command(r.id).is_some();
    let count = |f: &dyn Fn(&RequirementRow) -> bool| rows.iter().filter(|r| f(r)).count();
    let summary = format!(
        "{} rows: {} covered ({} MUST), {} not covered ({} MUST)",
        rows.len(),
        count(&|r| covered(r)),
        count(&|r| covered(r) && r.level == Level::Must),
        count(&|r| !covered(r)),
        count(&|r| !covered(r) && r.level == Level::Must),
    );

    let mut text = String::new();
    match args.format {
        Format::Json => {
            let mut out: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    let s = by_id.get(r.id).map(|l| (&l.scenario, l.origin.as_str()));
                    serde_json::json!({
                        "id": r.id,
                        "title": s.map_or(r.summary, |(s, _)| s.title.as_str()),
                        "level": r.level,
                        "area": r.area,
                        "section": r.section,
                        "source": r.source,
                        "summary": r.summary,
                        "in_catalogue": true,
                        "covered": covered(r),
                        "command": catalogue::load_command(r.id).unwrap_or("xaa-conform run"),
                        "defects": proving(r.id),
                        "reason": if covered(r) { None } else { Some(r.reason()) },
                        "scenario": s.map(|(_, origin)| origin),
                        "scenario_level": s.map(|(s, _)| s.requirement.level),
                        "tags": s.map_or(&[][..], |(s, _)| s.tags.as_slice()),
                    })
                })
                .collect();
            out.extend(custom.iter().map(|l| {
                let s = &l.scenario;
                serde_json::json!({
                    "id": s.id,
                    "title": s.title,
                    "level": s.requirement.level,
                    "area": s.tags.first().map_or("custom", String::as_str),
                    "section": null,
                    "source": s.requirement.source,
                    "summary": s.title,
                    "in_catalogue": false,
                    "covered": true,
                    "defects": proving(&s.id),
                    "reason": null,
                    "scenario": l.origin,
                    "scenario_level": s.requirement.level,
                    "tags": s.tags,
                })
            }));
            text = serde_json::to_string_pretty(&out).unwrap_or_default();
            text.push('\n');
        }
        Format::Text => {
            let proven_by = |id: &str| {
                let names = proving(id);
                if names.is_empty() {
                    "proven by: -".to_string()
                } else {
                    format!("proven by: {}", names.join(", "))
                }
            };
            for r in &rows {
                let detail = if let Some(command) = catalogue::load_command(r.id) {
                    format!("{:<12} {} (by `{command}`)", "covered", proven_by(r.id))
                } else if covered(r) {
                    format!("{:<12} {}", "covered", proven_by(r.id))
                } else {
                    format!("not covered: {}", r.reason())
                };
                text.push_str(&format!(
                    "{:<12} {:<6} {:<17} {detail}\n",
                    r.id,
                    r.level.name(),
                    r.section
                ));
            }
            if !custom.is_empty() {
                text.push_str("\nscenarios not in the requirement catalogue (custom):\n");
                for l in &custom {
                    let s = &l.scenario;
                    text.push_str(&format!(
                        "{:<12} {:<6} {:<17} {:<12} {} ({})\n",
                        s.id,
                        s.requirement.level.name(),
                        "custom",
                        "covered",
                        proven_by(&s.id),
                        l.origin
                    ));
                }
            }
            text.push_str("\nreference defects:\n");
            for d in Defect::ALL {
                text.push_str(&format!("  {:<22} {}\n", d.name(), d.description()));
            }
            text.push_str(&format!("\n{summary}\n"));
        }
    }
    // One write, and a closed pipe (`list | head`) is not an error.
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => 0,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("error: cannot write the list: {e}");
            3
        }
    }
}

fn schema(args: SchemaArgs) -> u8 {
    let scenario = scenario::schema();
    let target = serde_json::to_value(schemars::schema_for!(TargetFile)).unwrap_or_default();
    let results = report::json::results_schema();
    let out = match args.kind {
        Some(SchemaKind::Scenario) => scenario,
        Some(SchemaKind::Target) => target,
        Some(SchemaKind::Results) => results,
        Some(SchemaKind::Load) => xaa_conform::load::report::load_report_schema(),
        None => serde_json::json!({ "scenario": scenario, "target": target, "results": results,
            "load": xaa_conform::load::report::load_report_schema() }),
    };
    println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    0
}
