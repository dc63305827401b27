//! `kiln projects apply kiln.yaml --stack NAME`: makes a deployed stack's projects and their EventBridge
//! Scheduler schedules match `kiln.yaml`.
//!
//! Projects are written to the stack's table (only those whose stored definition differs); each project's
//! schedules become `<project>.<schedule>` schedules in the stack's group, invoking the `schedule` function:
//! created, updated when their expression, time zone, input or target differ, and deleted when `kiln.yaml` no
//! longer lists them. Projects missing from the file, and their schedules, are left alone. A second apply of the
//! same file changes nothing. The stack's names come from flags or their environment variables, and whatever
//! those leave out from the stack's outputs (`BuildTableName`, `ScheduleTargetArn`, `ScheduleRoleArn`,
//! `ScheduleGroupName`, read with CloudFormation's DescribeStacks); the group defaults to the stack's name, as
//! the template names it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use kiln_aws::{AwsClients, DynamoBuildStore, ScheduleGroup, stack};
use kiln_core::ports::build_store::{ProjectStore, PutMode};
use kiln_core::project::{KilnConfig, StoredProject};
use kiln_core::usecases::apply_projects::{
    ExistingSchedule, ScheduleTarget, desired_schedules, plan_schedules, schedule_prefix,
};

/// Arguments of `kiln projects`.
#[derive(Debug, clap::Args)]
pub struct ProjectsArgs {
    #[command(subcommand)]
    command: ProjectsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ProjectsCommand {
    /// Store kiln.yaml's projects in a deployed stack and create, update or delete their schedules.
    Apply(ApplyArgs),
}

/// Arguments of `kiln projects apply`.
#[derive(Debug, clap::Args)]
struct ApplyArgs {
    /// The projects file.
    #[arg(default_value = "kiln.yaml")]
    file: PathBuf,
    /// The SAM stack (its name is the default schedule group).
    #[arg(long)]
    stack: String,
    /// The stack's table (default: the stack's output BuildTableName).
    #[arg(long, env = "KILN_TABLE")]
    table: Option<String>,
    /// The schedule function's ARN (default: the stack's output ScheduleTargetArn).
    #[arg(long, env = "KILN_SCHEDULE_TARGET_ARN")]
    schedule_target_arn: Option<String>,
    /// The role schedules invoke it with (default: the stack's output ScheduleRoleArn).
    #[arg(long, env = "KILN_SCHEDULE_ROLE_ARN")]
    schedule_role_arn: Option<String>,
    /// The schedule group (default: the stack's output ScheduleGroupName when the outputs are read, else the
    /// stack's name, as the template names it).
    #[arg(long, env = "KILN_SCHEDULE_GROUP")]
    schedule_group: Option<String>,
    /// Send every AWS request here (moto, a VPC endpoint); AWS_ENDPOINT_URL works too.
    #[arg(long, env = "KILN_AWS_ENDPOINT")]
    endpoint_url: Option<String>,
    /// Print what would change without changing it.
    #[arg(long)]
    dry_run: bool,
}

/// Runs `kiln projects ...`.
pub fn run(args: ProjectsArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        ProjectsCommand::Apply(args) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(apply(args))
        }
    }
}

/// Counts for the summary line.
#[derive(Default)]
struct Tally {
    created: usize,
    updated: usize,
    deleted: usize,
    unchanged: usize,
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} created, {} updated, {} deleted, {} unchanged",
            self.created, self.updated, self.deleted, self.unchanged
        )
    }
}

/// The stack's names: the flags (or their variables), and the stack's outputs for what they leave out.
struct StackNames {
    table: String,
    target: ScheduleTarget,
    group: String,
}

impl StackNames {
    async fn resolve(args: &ApplyArgs) -> anyhow::Result<StackNames> {
        let given = [&args.table, &args.schedule_target_arn, &args.schedule_role_arn];
        // The outputs are read only when a required name is missing (the group has a default of its own).
        let outputs = if given.iter().all(|v| v.is_some()) {
            Default::default()
        } else {
            let client = stack::client(args.endpoint_url.as_deref()).await;
            stack::stack_outputs(&client, &args.stack).await?
        };
        let pick = |given: &Option<String>, output: &str, flag: &str| -> anyhow::Result<String> {
            match given {
                Some(value) => Ok(value.clone()),
                None => outputs.get(output).cloned().with_context(|| {
                    format!(
                        "stack {:?} has no output {output}: pass {flag} (is it a Kiln stack?)",
                        args.stack
                    )
                }),
            }
        };
        Ok(StackNames {
            table: pick(&args.table, "BuildTableName", "--table")?,
            target: ScheduleTarget {
                arn: pick(
                    &args.schedule_target_arn,
                    "ScheduleTargetArn",
                    "--schedule-target-arn",
                )?,
                role_arn: pick(&args.schedule_role_arn, "ScheduleRoleArn", "--schedule-role-arn")?,
            },
            group: args
                .schedule_group
                .clone()
                .or_else(|| outputs.get("ScheduleGroupName").cloned())
                .unwrap_or_else(|| args.stack.clone()),
        })
    }
}

async fn apply(args: ApplyArgs) -> anyhow::Result<ExitCode> {
    let name = args.file.display().to_string();
    let text = std::fs::read_to_string(&args.file).with_context(|| format!("cannot read {name}"))?;
    let config = KilnConfig::from_yaml(&text).with_context(|| format!("{name} is not a valid kiln.yaml"))?;
    let desired = desired_schedules(&config).with_context(|| name.clone())?;
    let StackNames {
        table,
        target,
        group: group_name,
    } = StackNames::resolve(&args).await?;
    let endpoint = args.endpoint_url.as_deref();
    let store = DynamoBuildStore::new(AwsClients::from_env(endpoint).await.dynamodb, &table);
    let group = ScheduleGroup::from_env(endpoint, group_name).await;
    let verb = if args.dry_run { "would be " } else { "" };

    let mut projects = Tally::default();
    for project in &config.projects {
        let project_name = project.name.as_str();
        let wanted = StoredProject::from(project.clone());
        let stored = store
            .get_project(&project.name)
            .await
            .with_context(|| format!("reading project {project_name:?} from table {table}"))?;
        let outcome = match stored {
            Some(have) if have == wanted => {
                projects.unchanged += 1;
                continue;
            }
            Some(_) => {
                projects.updated += 1;
                "updated"
            }
            None => {
                projects.created += 1;
                "created"
            }
        };
        if !args.dry_run {
            store
                .put_project(&wanted, PutMode::Upsert)
                .await
                .with_context(|| format!("writing project {project_name:?} to table {table}"))?;
        }
        println!("project {project_name}: {verb}{outcome}");
    }

    let mut existing: Vec<ExistingSchedule> = Vec::new();
    for project in &config.projects {
        let prefix = schedule_prefix(project.name.as_str());
        existing.extend(group.list(&prefix).await?);
    }
    let plan = plan_schedules(&desired, &existing, &target);
    let schedules = Tally {
        created: plan.create.len(),
        updated: plan.update.len(),
        deleted: plan.delete.len(),
        unchanged: plan.unchanged.len(),
    };
    for schedule in &plan.create {
        if !args.dry_run {
            group.create(schedule, &target).await?;
        }
        println!(
            "schedule {}: {verb}created ({} {})",
            schedule.name, schedule.expression, schedule.timezone
        );
    }
    for schedule in &plan.update {
        if !args.dry_run {
            group.update(schedule, &target).await?;
        }
        println!(
            "schedule {}: {verb}updated ({} {})",
            schedule.name, schedule.expression, schedule.timezone
        );
    }
    for schedule in &plan.delete {
        if !args.dry_run {
            group.delete(schedule).await?;
        }
        println!("schedule {schedule}: {verb}deleted");
    }
    println!(
        "{name}: projects {projects}; schedules in group {}: {schedules}",
        group.name()
    );
    Ok(ExitCode::SUCCESS)
}
