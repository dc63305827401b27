//! `kiln-box`: the serverless Kiln on this machine (`scripts/aws-in-a-box` builds and runs it). Starts the box,
//! prints where everything is, and runs until Ctrl-C or SIGTERM.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use kiln_box::provision::Outcome;
use kiln_box::{BoxOptions, RunningBox};

/// AWS in a box: template.yaml's stack in moto, its seven functions in-process, its build tasks as local runners.
#[derive(Debug, Parser)]
#[command(name = "kiln-box", version)]
struct Args {
    /// The SAM template.
    #[arg(long, default_value = "template.yaml")]
    template: PathBuf,
    /// The stack's name (resources are named <stack>-<LogicalId>).
    #[arg(long, default_value = "kiln-box")]
    stack_name: String,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Use this moto instead of starting one (it should be fresh: the box creates the stack's resources).
    #[arg(long)]
    moto_endpoint: Option<String>,
    /// The moto_server to start (default: .venv/bin/moto_server beside the template, or on PATH).
    #[arg(long)]
    moto_server: Option<PathBuf>,
    /// The Python with the SAM CLI (default: .venv-sam/bin/python beside the template).
    #[arg(long)]
    sam_python: Option<PathBuf>,
    /// The kiln executable build tasks run (default: the one beside kiln-box, else kiln on PATH).
    #[arg(long)]
    kiln: Option<PathBuf>,
    /// Where task logs and work directories go (default: a new directory under the system's temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// A template parameter, NAME=VALUE (repeatable); the network parameters default to moto's default VPC.
    #[arg(long = "parameter", value_name = "NAME=VALUE")]
    parameters: Vec<String>,
    /// A fixed port for a Function URL or HTTP API, LOGICALID=PORT (repeatable; others get a free port).
    #[arg(long = "port", value_name = "ID=PORT")]
    ports: Vec<String>,
    /// Fire every scheduled rule (the reaper's) this often, e.g. 30s or 2m, instead of on its expression.
    #[arg(long, value_name = "DURATION")]
    schedule_every: Option<String>,
    /// Answer routes that use the AWS_IAM authoriser without checking signatures (AWS checks them).
    #[arg(long)]
    no_iam: bool,
    /// List every resource and what the box did with it.
    #[arg(long, short)]
    verbose: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let verbose = args.verbose;
    let options = options(args)?;
    let dir = options.dir.clone();
    let running = kiln_box::start(options).await.context("the box did not start")?;
    print!("{}", summary(&running, &dir, verbose));
    wait_for_stop().await;
    eprintln!("stopping: listeners and pollers, then the runners still running, then moto");
    running.stop().await;
    Ok(())
}

fn options(args: Args) -> anyhow::Result<BoxOptions> {
    let kiln = match args.kiln {
        Some(kiln) => kiln,
        None => std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|d| d.join("kiln")))
            .filter(|k| k.is_file())
            .unwrap_or_else(|| PathBuf::from("kiln")),
    };
    let dir = args
        .dir
        .unwrap_or_else(|| std::env::temp_dir().join(format!("kiln-box-{}", std::process::id())));
    let mut options = BoxOptions::new(args.template, kiln, dir);
    options.stack_name = args.stack_name;
    options.region = args.region;
    options.moto_endpoint = args.moto_endpoint;
    options.moto_server = args.moto_server;
    options.sam_python = args.sam_python;
    options.parameters = pairs(&args.parameters, "--parameter")?;
    options.ports = pairs(&args.ports, "--port")?
        .into_iter()
        .map(|(id, port)| {
            Ok((
                id,
                port.parse()
                    .with_context(|| format!("--port {port:?} is not a port number"))?,
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    options.schedule_every = args.schedule_every.as_deref().map(duration).transpose()?;
    options.check_iam = !args.no_iam;
    Ok(options)
}

fn pairs(items: &[String], flag: &str) -> anyhow::Result<BTreeMap<String, String>> {
    items
        .iter()
        .map(|item| {
            item.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .with_context(|| format!("{flag} {item:?} is not NAME=VALUE"))
        })
        .collect()
}

fn duration(text: &str) -> anyhow::Result<Duration> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let value: u64 = number
        .parse()
        .with_context(|| format!("{text:?} is not a duration such as 30s or 2m"))?;
    match unit {
        "s" | "" => Ok(Duration::from_secs(value)),
        "m" => Ok(Duration::from_secs(value * 60)),
        other => anyhow::bail!("{text:?}: unit {other:?} is not s or m"),
    }
}

async fn wait_for_stop() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

/// What the box prints once it runs.
fn summary(running: &RunningBox, dir: &std::path::Path, verbose: bool) -> String {
    let mut out = String::new();
    let created = running
        .outcomes
        .values()
        .filter(|o| matches!(o, Outcome::Created(_)))
        .count();
    let stood_in = running.outcomes.len() - created;
    out += &format!(
        "Kiln in a box: moto at {} (region and keys: see below)\n",
        running.endpoint
    );
    out += &format!(
        "  resources: {created} created in moto, {stood_in} stood in for{}\n",
        if verbose { ":" } else { " (-v lists them)" }
    );
    if verbose {
        for (id, outcome) in &running.outcomes {
            match outcome {
                Outcome::Created(name) => out += &format!("    {id}: {name}\n"),
                Outcome::StoodIn(reason) => out += &format!("    {id}: not created ({reason})\n"),
            }
        }
    }
    let plan = &running.plan;
    out += "  functions (in-process): ";
    out += &plan
        .functions
        .iter()
        .map(|f| format!("{} ({})", f.id, f.binary))
        .collect::<Vec<_>>()
        .join(", ");
    out += "\n  wiring read from the template:\n";
    for q in &plan.queues {
        out += &format!(
            "    {} -> {} (batches of {})\n",
            q.queue_arn.rsplit(':').next().unwrap_or_default(),
            q.function,
            q.batch_size
        );
    }
    for r in &plan.rules {
        let trigger = r.schedule.clone().unwrap_or_else(|| "event pattern".to_owned());
        let targets: Vec<&str> = r.targets.iter().map(|t| t.function.as_str()).collect();
        out += &format!("    rule {} ({trigger}) -> {}\n", r.id, targets.join(", "));
    }
    for l in &running.listeners {
        out += &format!("    {} {} ({})\n", l.id, l.url, l.kind);
    }
    let webhook = running
        .url("AWS::Lambda::Url")
        .unwrap_or("(no Function URL in the template)");
    let api = running
        .url("AWS::ApiGatewayV2::Api")
        .unwrap_or("(no HTTP API in the template)");
    out += &format!(
        "\n  Webhook URL: {webhook}  (a repository's webhook goes to {webhook}webhooks/<project>)\n"
    );
    out += &format!("  API URL:     {api}\n");
    out += &format!("  Console:     {api}\n");
    let stack = &running.stack_name;
    let moto = &running.endpoint;
    out += &format!(
        "  Access key:  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 kiln keys create --stack {stack} --endpoint-url {moto}\n"
    );
    out += &format!(
        "  Try:         AWS_ACCESS_KEY_ID=<KILN... id> AWS_SECRET_ACCESS_KEY=<its secret> aws codebuild list-projects --region us-east-1 --endpoint-url {api}\n"
    );
    out += &format!(
        "  IAM door:    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_ENDPOINT_URL={moto} kiln builds --stack {stack}\n"
    );
    out += &format!(
        "  moto:        aws --endpoint-url {} dynamodb list-tables  (any service, same keys)\n",
        running.endpoint
    );
    out += &format!("  Task logs:   {}/tasks/<task id>.log\n", dir.display());
    out += "  Stop:        Ctrl-C (stops the runners, then moto)\n";
    out
}
