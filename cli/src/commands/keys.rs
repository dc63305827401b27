//! `kiln keys create|list|revoke`: the access keys that sign calls to Kiln's CodeBuild API
//! ([`kiln_core::access_keys`]). The `aws` CLI, boto3 and `kiln` use one as they would an AWS key
//! (`AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, or `KILN_ACCESS_KEY_ID` / `KILN_SECRET_ACCESS_KEY` for `kiln`).
//!
//! Keys are managed where they are stored, by someone who can reach the store: a local data directory
//! (`--data-dir`, the SQLite database and `keys.secret` beside it), or a deployed stack (`--stack NAME`, whose
//! outputs name the table and the key-sealing secret; the caller's AWS credentials need the table's items and
//! `secretsmanager:GetSecretValue` on the secret). A secret is shown once, when its key is made.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use kiln_core::access_keys::{AccessKey, KeyScope, READ_ONLY_ACTIONS};
use kiln_core::build::Timestamp;
use kiln_core::usecases::keys::Keyring;

/// `kiln keys ...`.
#[derive(Debug, clap::Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
    #[command(flatten)]
    place: Place,
}

#[derive(Debug, clap::Subcommand)]
enum KeysCommand {
    /// Make a key and print its id and secret (the secret is shown this once).
    Create(CreateArgs),
    /// List the keys, newest first, revoked ones included.
    List(ListArgs),
    /// Revoke a key: calls signed with it are refused from now on.
    Revoke(RevokeArgs),
}

/// Where the keys are kept.
#[derive(Debug, clap::Args)]
struct Place {
    /// A local Kiln's data directory (as `kiln serve --data-dir`); the default when no --stack is given.
    #[arg(long, global = true, default_value = ".kiln")]
    data_dir: PathBuf,
    /// A deployed stack: its outputs BuildTableName and KeySealingSecretArn say where its keys are.
    #[arg(long, global = true, env = "KILN_STACK")]
    stack: Option<String>,
    /// The stack's table (default: the stack's output BuildTableName).
    #[arg(long, global = true, env = "KILN_TABLE")]
    table: Option<String>,
    /// The stack's key-sealing secret (default: the stack's output KeySealingSecretArn).
    #[arg(long, global = true, env = "KILN_KEY_SEALING_SECRET")]
    sealing_secret: Option<String>,
    /// Send every AWS request here (moto, a VPC endpoint); AWS_ENDPOINT_URL works too.
    #[arg(long, global = true, env = "KILN_AWS_ENDPOINT")]
    endpoint_url: Option<String>,
}

#[derive(Debug, clap::Args)]
struct CreateArgs {
    /// What the key is for (shown by `kiln keys list`).
    #[arg(long, short, default_value = "")]
    description: String,
    /// An operation the key may call, as a glob (`StartBuild`, `BatchGet*`); repeat for more. Default: all.
    #[arg(long = "action", value_name = "PATTERN")]
    actions: Vec<String>,
    /// A project the key may touch, as a glob (`web-*`); repeat for more. Default: all.
    #[arg(long = "project", value_name = "PATTERN")]
    projects: Vec<String>,
    /// Only the read operations (BatchGet*, List*, Describe*, Get*).
    #[arg(long, conflicts_with = "actions")]
    read_only: bool,
    /// Print JSON (with the secret) instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct ListArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct RevokeArgs {
    /// The access key id (`KILN...`).
    id: String,
}

/// Runs `kiln keys ...`.
pub fn run(args: KeysArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let keyring = open(&args.place).await?;
        let now = Timestamp::from(std::time::SystemTime::now());
        match args.command {
            KeysCommand::Create(create) => create_key(&keyring, create, now).await,
            KeysCommand::List(list) => list_keys(&keyring, list.json).await,
            KeysCommand::Revoke(revoke) => {
                keyring.revoke(&revoke.id, now).await?;
                println!("revoked {}", revoke.id);
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

async fn open(place: &Place) -> anyhow::Result<Keyring> {
    if place.stack.is_none() && place.table.is_none() {
        let root = &place.data_dir;
        if !root.join("kiln.db").exists() {
            bail!(
                "{} holds no Kiln database: pass --data-dir (as given to `kiln serve`) or --stack NAME for a deployed stack",
                root.display()
            );
        }
        let store = kiln_local::sqlite::SqliteStore::open(&root.join("kiln.db"))
            .with_context(|| format!("opening {}", root.join("kiln.db").display()))?;
        let sealer = kiln_local::sqlite_keys::local_sealer(root)?;
        return Ok(Keyring::new(Arc::new(store), sealer));
    }
    let endpoint = place.endpoint_url.as_deref();
    let outputs = match (&place.table, &place.sealing_secret, &place.stack) {
        (Some(_), Some(_), _) => Default::default(),
        (_, _, Some(stack)) => {
            let client = kiln_aws::stack::client(endpoint).await;
            kiln_aws::stack::stack_outputs(&client, stack).await?
        }
        _ => bail!("give --stack NAME, or both --table and --sealing-secret"),
    };
    let pick = |given: &Option<String>, output: &str, flag: &str| -> anyhow::Result<String> {
        given
            .clone()
            .or_else(|| outputs.get(output).cloned())
            .with_context(|| {
                format!(
                    "stack {:?} has no output {output}: pass {flag} (is it a Kiln stack of this version?)",
                    place.stack.as_deref().unwrap_or_default()
                )
            })
    };
    let table = pick(&place.table, "BuildTableName", "--table")?;
    let secret = pick(&place.sealing_secret, "KeySealingSecretArn", "--sealing-secret")?;
    let clients = kiln_aws::AwsClients::from_env(endpoint).await;
    Ok(kiln_aws::keyring::open_keyring(&clients, &table, &secret).await?)
}

async fn create_key(keyring: &Keyring, args: CreateArgs, now: Timestamp) -> anyhow::Result<ExitCode> {
    let all = || vec!["*".to_owned()];
    let actions = if args.read_only {
        READ_ONLY_ACTIONS.iter().map(|a| (*a).to_owned()).collect()
    } else if args.actions.is_empty() {
        all()
    } else {
        args.actions
    };
    let projects = if args.projects.is_empty() {
        all()
    } else {
        args.projects
    };
    let scope = KeyScope::new(actions, projects)?;
    let made = keyring.create(&args.description, scope, now).await?;
    if args.json {
        let out = serde_json::json!({
            "accessKeyId": made.key.id,
            "secretAccessKey": made.secret,
            "description": made.key.description,
            "scope": made.key.scope,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("access key id:     {}", made.key.id);
        println!("secret access key: {}", made.secret);
        println!("operations:        {}", made.key.scope.actions.join(", "));
        println!("projects:          {}", made.key.scope.projects.join(", "));
        println!();
        println!("The secret is shown this once. Use the pair as AWS keys, for example:");
        println!(
            "  AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY=<secret> aws codebuild list-projects --endpoint-url <ApiUrl>",
            made.key.id
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn list_keys(keyring: &Keyring, json: bool) -> anyhow::Result<ExitCode> {
    let keys = keyring.list().await?;
    if json {
        let out: Vec<serde_json::Value> = keys.iter().map(key_json).collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<20}  {:<20}  {:<28}  {:<24}  {:<16}  DESCRIPTION",
        "ACCESS KEY ID", "CREATED", "STATUS", "OPERATIONS", "PROJECTS"
    );
    for key in &keys {
        let status = key
            .revoked
            .map_or_else(|| "active".to_owned(), |at| format!("revoked {}", at.iso8601()));
        println!(
            "{:<20}  {:<20}  {:<28}  {:<24}  {:<16}  {}",
            key.id,
            key.created.iso8601(),
            status,
            key.scope.actions.join(","),
            key.scope.projects.join(","),
            key.description
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A key as `--json` lists it: never its sealed secret.
fn key_json(key: &AccessKey) -> serde_json::Value {
    serde_json::json!({
        "accessKeyId": key.id,
        "description": key.description,
        "scope": key.scope,
        "created": key.created.iso8601(),
        "revoked": key.revoked.map(Timestamp::iso8601),
        "status": if key.is_active() { "active" } else { "revoked" },
    })
}
