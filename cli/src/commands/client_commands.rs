//! The client commands: `kiln start|builds|show|logs|stop|retry|events`, all through the server's API, with a
//! table by default and `--json`.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use kiln_core::build::{Build, StatusType};
use kiln_core::notice::{NoticeDetail, NoticeEvent};
use kiln_core::usecases::start::{EnvVar, StartBuildInput};
use serde::Deserialize;
use serde_json::{Value, json};

use super::client::{Client, Connection};

/// `kiln start PROJECT`.
#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// The project to build.
    pub project: String,
    /// Branch, tag, commit or `pr/<n>` to build.
    #[arg(long)]
    pub source_version: Option<String>,
    /// Environment variable overrides, `NAME=VALUE` (repeatable).
    #[arg(long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    #[command(flatten)]
    pub connection: Connection,
}

/// `kiln builds [--project P]`.
#[derive(Debug, clap::Args)]
pub struct BuildsArgs {
    /// Only this project's builds.
    #[arg(long)]
    pub project: Option<String>,
    #[command(flatten)]
    pub connection: Connection,
}

/// Commands that take one build id.
#[derive(Debug, clap::Args)]
pub struct IdArgs {
    /// The build id (`project:uuid`).
    pub id: String,
    /// Follow (logs: until the build ends).
    #[arg(short, long)]
    pub follow: bool,
    #[command(flatten)]
    pub connection: Connection,
}

/// `kiln events [-f]`.
#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    /// Start after this cursor.
    #[arg(long, default_value_t = 0)]
    pub after: u64,
    /// Keep waiting for new notices.
    #[arg(short, long)]
    pub follow: bool,
    #[command(flatten)]
    pub connection: Connection,
}

/// `StartBuild`, `StopBuild` and `RetryBuild`'s output; the build stays JSON so `--json` prints it as it came.
#[derive(Deserialize)]
struct BuildOutput {
    build: Value,
}

/// `BatchGetBuilds`'s output.
#[derive(Deserialize)]
struct BuildsOutput {
    #[serde(default)]
    builds: Vec<Value>,
}

/// `ListBuilds` and `ListBuildsForProject`'s output.
#[derive(Deserialize)]
struct IdsOutput {
    #[serde(default)]
    ids: Vec<String>,
}

/// A build from the API as a typed record.
fn typed(build: &Value) -> anyhow::Result<Build> {
    serde_json::from_value(build.clone()).context("the server's answer is not a CodeBuild build")
}

fn print_build(build: &Value, json_out: bool) -> anyhow::Result<()> {
    if json_out {
        println!("{}", serde_json::to_string_pretty(build).unwrap_or_default());
        return Ok(());
    }
    let build = typed(build)?;
    let or_dash = |text: Option<&str>| text.unwrap_or("-").to_owned();
    println!("{:<14} {}", "id", build.id());
    println!("{:<14} {}", "number", build.build_number());
    println!("{:<14} {}", "status", build.build_status().as_str());
    println!("{:<14} {}", "phase", build.current_phase().as_str());
    println!("{:<14} {}", "source", or_dash(build.source_version.as_deref()));
    println!(
        "{:<14} {}",
        "commit",
        or_dash(build.resolved_source_version.as_deref())
    );
    println!("{:<14} {}", "initiator", or_dash(build.initiator.as_deref()));
    if let Some(location) = build.artifacts.as_ref().and_then(|a| a.location.as_deref()) {
        println!("{:<14} {location}", "artifact");
    }
    for phase in build.phases() {
        let status = phase.phase_status.map_or("", StatusType::as_str);
        let seconds = phase
            .duration_in_seconds
            .map(|s| format!("{s}s"))
            .unwrap_or_default();
        println!("  {:<18} {:<11} {seconds}", phase.phase_type.as_str(), status);
    }
    Ok(())
}

/// `kiln start`.
pub fn start(args: StartArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.connection)?;
    let mut overrides = Vec::new();
    for pair in &args.env {
        let Some((name, value)) = pair.split_once('=') else {
            bail!("--env {pair:?} is not NAME=VALUE");
        };
        overrides.push(EnvVar {
            name: name.to_owned(),
            value: value.to_owned(),
            var_type: "PLAINTEXT".into(),
        });
    }
    let input = StartBuildInput {
        project_name: args.project,
        source_version: args.source_version,
        environment_variables_override: overrides,
        ..StartBuildInput::default()
    };
    let out: BuildOutput = client.api("StartBuild", &input)?;
    print_build(&out.build, args.connection.json)?;
    Ok(ExitCode::SUCCESS)
}

/// `kiln builds`.
pub fn builds(args: BuildsArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.connection)?;
    let listed: IdsOutput = match &args.project {
        Some(project) => client.api("ListBuildsForProject", &json!({"projectName": project}))?,
        None => client.api("ListBuilds", &json!({}))?,
    };
    let builds = if listed.ids.is_empty() {
        Vec::new()
    } else {
        client
            .api::<BuildsOutput>("BatchGetBuilds", &json!({"ids": listed.ids}))?
            .builds
    };
    if args.connection.json {
        println!("{}", serde_json::to_string_pretty(&builds)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<52} {:>5} {:<10} {:<17} SOURCE",
        "ID", "NUM", "STATUS", "PHASE"
    );
    for build in &builds {
        let b = typed(build)?;
        println!(
            "{:<52} {:>5} {:<10} {:<17} {}",
            b.id().as_str(),
            b.build_number(),
            b.build_status().as_str(),
            b.current_phase().as_str(),
            b.source_version.as_deref().unwrap_or("-")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `kiln show ID`.
pub fn show(args: IdArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.connection)?;
    let out: BuildsOutput = client.api("BatchGetBuilds", &json!({"ids": [args.id]}))?;
    let Some(build) = out.builds.first() else {
        bail!("build {:?} cannot be found", args.id);
    };
    print_build(build, args.connection.json)?;
    Ok(ExitCode::SUCCESS)
}

/// `kiln stop ID` and `kiln retry ID`.
pub fn stop_or_retry(args: IdArgs, operation: &str) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.connection)?;
    let out: BuildOutput = client.api(operation, &json!({"id": args.id}))?;
    print_build(&out.build, args.connection.json)?;
    Ok(ExitCode::SUCCESS)
}

/// `kiln logs ID [-f]`.
pub fn logs(args: IdArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.connection)?;
    let mut offset = 0u64;
    let mut stdout = std::io::stdout();
    loop {
        let response = client.get(&format!("/builds/{}/logs?offset={offset}", args.id))?;
        let next = response
            .headers()
            .get("x-kiln-next-offset")
            .and_then(|v| v.to_str().ok()?.parse().ok());
        let complete = response
            .headers()
            .get("x-kiln-build-complete")
            .is_some_and(|v| v == "true");
        let bytes = response.bytes()?;
        stdout.write_all(&bytes)?;
        stdout.flush()?;
        offset = next.unwrap_or(offset + bytes.len() as u64);
        if !args.follow || (complete && bytes.is_empty()) {
            return Ok(ExitCode::SUCCESS);
        }
        if bytes.is_empty() {
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

/// A page of `GET /events`; the items stay JSON so `--json` prints them as they came.
#[derive(Deserialize)]
struct EventsPage {
    #[serde(default)]
    events: Vec<Value>,
    #[serde(default)]
    next: Option<u64>,
}

/// One notice of the feed with its cursor.
#[derive(Deserialize)]
struct FeedItem {
    cursor: u64,
    event: NoticeEvent,
}

/// A notice as one line: cursor, time, build and what changed.
fn event_line(item: &FeedItem) -> String {
    let event = &item.event;
    let what = match &event.detail {
        NoticeDetail::State(d) => format!("build {}", d.build_status.as_str()),
        NoticeDetail::Phase(d) => format!(
            "phase {} {}",
            d.completed_phase.as_str(),
            d.completed_phase_status.as_str()
        ),
    };
    let arn = event.detail.build_arn().as_str();
    let build = arn.rsplit('/').next().unwrap_or("-");
    format!("{:>6} {} {build} {what}", item.cursor, event.time)
}

/// `kiln events [-f]`.
pub fn events(args: EventsArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.connection)?;
    let mut after = args.after;
    loop {
        let page: EventsPage = client.get(&format!("/events?after={after}&limit=500"))?.json()?;
        for item in &page.events {
            if args.connection.json {
                println!("{}", serde_json::to_string(item)?);
                continue;
            }
            match serde_json::from_value::<FeedItem>(item.clone()) {
                Ok(notice) => println!("{}", event_line(&notice)),
                // A notice this version cannot read is shown as it came.
                Err(_) => println!("{item}"),
            }
        }
        after = page.next.unwrap_or(after);
        if !args.follow {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
