//! The client commands: `kiln start|builds|show|logs|stop|retry|events`, all through the server's API, with a
//! table by default and `--json`.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;
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

fn print_build(build: &Value, json_out: bool) {
    if json_out {
        println!("{}", serde_json::to_string_pretty(build).unwrap_or_default());
        return;
    }
    println!("{:<14} {}", "id", build["id"].as_str().unwrap_or("-"));
    println!("{:<14} {}", "number", build["buildNumber"]);
    println!(
        "{:<14} {}",
        "status",
        build["buildStatus"].as_str().unwrap_or("-")
    );
    println!(
        "{:<14} {}",
        "phase",
        build["currentPhase"].as_str().unwrap_or("-")
    );
    println!(
        "{:<14} {}",
        "source",
        build["sourceVersion"].as_str().unwrap_or("-")
    );
    println!(
        "{:<14} {}",
        "commit",
        build["resolvedSourceVersion"].as_str().unwrap_or("-")
    );
    println!(
        "{:<14} {}",
        "initiator",
        build["initiator"].as_str().unwrap_or("-")
    );
    if let Some(location) = build["artifacts"]["location"].as_str() {
        println!("{:<14} {location}", "artifact");
    }
    for phase in build["phases"].as_array().into_iter().flatten() {
        let status = phase["phaseStatus"].as_str().unwrap_or("");
        let seconds = phase["durationInSeconds"]
            .as_i64()
            .map(|s| format!("{s}s"))
            .unwrap_or_default();
        println!(
            "  {:<18} {:<11} {seconds}",
            phase["phaseType"].as_str().unwrap_or("-"),
            status
        );
    }
}

/// `kiln start`.
pub fn start(args: StartArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.connection)?;
    let mut overrides = Vec::new();
    for pair in &args.env {
        let Some((name, value)) = pair.split_once('=') else {
            bail!("--env {pair:?} is not NAME=VALUE");
        };
        overrides.push(json!({"name": name, "value": value, "type": "PLAINTEXT"}));
    }
    let mut input = json!({"projectName": args.project, "environmentVariablesOverride": overrides});
    if let Some(version) = args.source_version {
        input["sourceVersion"] = json!(version);
    }
    let out = client.api("StartBuild", &input)?;
    print_build(&out["build"], args.connection.json);
    Ok(ExitCode::SUCCESS)
}

/// `kiln builds`.
pub fn builds(args: BuildsArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.connection)?;
    let listed = match &args.project {
        Some(project) => client.api("ListBuildsForProject", &json!({"projectName": project}))?,
        None => client.api("ListBuilds", &json!({}))?,
    };
    let ids = listed["ids"].as_array().cloned().unwrap_or_default();
    let builds = if ids.is_empty() {
        Vec::new()
    } else {
        client.api("BatchGetBuilds", &json!({"ids": ids}))?["builds"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    if args.connection.json {
        println!("{}", serde_json::to_string_pretty(&builds)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<52} {:>5} {:<10} {:<17} SOURCE",
        "ID", "NUM", "STATUS", "PHASE"
    );
    for b in &builds {
        println!(
            "{:<52} {:>5} {:<10} {:<17} {}",
            b["id"].as_str().unwrap_or("-"),
            b["buildNumber"],
            b["buildStatus"].as_str().unwrap_or("-"),
            b["currentPhase"].as_str().unwrap_or("-"),
            b["sourceVersion"].as_str().unwrap_or("-")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `kiln show ID`.
pub fn show(args: IdArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.connection)?;
    let out = client.api("BatchGetBuilds", &json!({"ids": [args.id]}))?;
    let Some(build) = out["builds"].as_array().and_then(|b| b.first()) else {
        bail!("build {:?} cannot be found", args.id);
    };
    print_build(build, args.connection.json);
    Ok(ExitCode::SUCCESS)
}

/// `kiln stop ID` and `kiln retry ID`.
pub fn stop_or_retry(args: IdArgs, operation: &str) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.connection)?;
    let out = client.api(operation, &json!({"id": args.id}))?;
    print_build(&out["build"], args.connection.json);
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

/// `kiln events [-f]`.
pub fn events(args: EventsArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.connection)?;
    let mut after = args.after;
    loop {
        let page: Value = client.get(&format!("/events?after={after}&limit=500"))?.json()?;
        for item in page["events"].as_array().into_iter().flatten() {
            let event = &item["event"];
            if args.connection.json {
                println!("{}", serde_json::to_string(item)?);
            } else {
                let detail = &event["detail"];
                let what = detail["build-status"]
                    .as_str()
                    .map(|s| format!("build {s}"))
                    .unwrap_or_else(|| {
                        format!(
                            "phase {} {}",
                            detail["completed-phase"].as_str().unwrap_or("-"),
                            detail["completed-phase-status"].as_str().unwrap_or("")
                        )
                    });
                let build = detail["build-id"]
                    .as_str()
                    .unwrap_or("-")
                    .rsplit('/')
                    .next()
                    .unwrap_or("-");
                println!(
                    "{:>6} {} {build} {what}",
                    item["cursor"],
                    event["time"].as_str().unwrap_or("-")
                );
            }
        }
        after = page["next"].as_u64().unwrap_or(after);
        if !args.follow {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
