//! Starting and stopping a box: moto, the transform, the resources, the functions, and the tasks that play
//! each event source, in that order; [`RunningBox`] holds what a caller needs (URLs, clients, the resources'
//! names, the wiring) and stops everything it started.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kiln_aws::{AwsClients, SqsQueue};
use kiln_core::sigv4::Credentials;
use serde_json::Value;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::functions::{Function, Functions};
use crate::gateway::{Front, Gateway};
use crate::moto::{MotoError, MotoProcess};
use crate::provision::{Outcome, StackError, Target};
use crate::queues::Poller;
use crate::rules::{Bus, Rule};
use crate::tasks::TaskRunner;
use crate::template::sam::{self, SamError};
use crate::template::{Attributes, StackIdentity, Template, TemplateError};
use crate::wiring::{LISTENERS, Plan, WiringError};

/// What to start.
#[derive(Debug, Clone)]
pub struct BoxOptions {
    /// The SAM template (`template.yaml`).
    pub template: PathBuf,
    pub stack_name: String,
    pub region: String,
    /// A moto already running; `None` starts one.
    pub moto_endpoint: Option<String>,
    /// The `moto_server` to start (default: found beside the template, or on `PATH`).
    pub moto_server: Option<PathBuf>,
    /// The Python with the SAM CLI (default: `.venv-sam` beside the template, or `$KILN_SAM_PYTHON`).
    pub sam_python: Option<PathBuf>,
    /// The `kiln` executable build tasks run.
    pub kiln: PathBuf,
    /// Where task logs, task directories and moto's log go.
    pub dir: PathBuf,
    /// Template parameter values (the network parameters default to moto's default VPC).
    pub parameters: BTreeMap<String, String>,
    /// Fixed ports for listeners, by logical id (others get a free port).
    pub ports: BTreeMap<String, u16>,
    /// Fire every scheduled rule this often instead of on its expression.
    pub schedule_every: Option<Duration>,
    /// Whether routes with the `AWS_IAM` authoriser check signatures (as on AWS).
    pub check_iam: bool,
    /// The access key id and secret the box's clients use and its IAM routes accept.
    pub keys: (String, String),
}

impl BoxOptions {
    /// The defaults: stack `kiln-box` in `us-east-1`, a moto of its own, keys `testing`/`testing`.
    pub fn new(
        template: impl Into<PathBuf>,
        kiln: impl Into<PathBuf>,
        dir: impl Into<PathBuf>,
    ) -> BoxOptions {
        BoxOptions {
            template: template.into(),
            stack_name: "kiln-box".to_owned(),
            region: "us-east-1".to_owned(),
            moto_endpoint: None,
            moto_server: None,
            sam_python: None,
            kiln: kiln.into(),
            dir: dir.into(),
            parameters: BTreeMap::new(),
            ports: BTreeMap::new(),
            schedule_every: None,
            check_iam: true,
            keys: ("testing".to_owned(), "testing".to_owned()),
        }
    }
}

/// Why the box could not start.
#[derive(Debug, thiserror::Error)]
pub enum BoxError {
    #[error(transparent)]
    Moto(#[from] MotoError),
    #[error(transparent)]
    Sam(#[from] SamError),
    #[error("template: {0}")]
    Template(#[from] TemplateError),
    #[error("stack: {0}")]
    Stack(#[from] StackError),
    #[error("wiring: {0}")]
    Wiring(#[from] WiringError),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("{0}")]
    Unplayable(String),
}

/// A loopback listener standing for a Function URL or an HTTP API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub id: String,
    pub kind: String,
    /// `http://127.0.0.1:PORT/`.
    pub url: String,
}

/// A started box.
pub struct RunningBox {
    /// moto's endpoint.
    pub endpoint: String,
    /// The stack's name (its outputs are recorded under it in moto's CloudFormation).
    pub stack_name: String,
    /// Clients on moto with the box's keys.
    pub clients: AwsClients,
    pub listeners: Vec<Listener>,
    /// What the template wires.
    pub plan: Plan,
    /// What became of each resource of the stack.
    pub outcomes: BTreeMap<String, Outcome>,
    /// The stack's outputs as recorded in moto's CloudFormation (`--stack NAME` readers find them).
    pub outputs: BTreeMap<String, String>,
    resources: BTreeMap<String, Attributes>,
    shutdown: CancellationToken,
    running: JoinSet<()>,
    _moto: Option<MotoProcess>,
}

impl RunningBox {
    /// The URL of the listener of this kind (`AWS::Lambda::Url` or `AWS::ApiGatewayV2::Api`), the first one.
    pub fn url(&self, kind: &str) -> Option<&str> {
        self.listeners
            .iter()
            .find(|l| l.kind == kind)
            .map(|l| l.url.as_str())
    }

    /// What `Ref` answers for a resource (a queue's URL, a table's name, ...).
    pub fn reference(&self, id: &str) -> Option<&str> {
        self.resources.get(id).and_then(|a| a.reference.as_str())
    }

    /// Stops the listeners, pollers and schedules, stops the runners still running, then moto (if the box
    /// started it).
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        let drain = async { while self.running.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(150), drain)
            .await
            .is_err()
        {
            self.running.abort_all();
        }
    }
}

/// Starts a box.
pub async fn start(options: BoxOptions) -> Result<RunningBox, BoxError> {
    let io = |what: &str| {
        let what = what.to_owned();
        move |source| BoxError::Io { what, source }
    };
    std::fs::create_dir_all(&options.dir).map_err(io("create the box directory"))?;
    let (moto, endpoint) = match &options.moto_endpoint {
        Some(endpoint) => (None, endpoint.trim_end_matches('/').to_owned()),
        None => {
            let binary = match &options.moto_server {
                Some(binary) => binary.clone(),
                None => crate::moto::find(&options.template)?,
            };
            let moto = MotoProcess::start(&binary, &options.dir.join("moto.log"))?;
            let endpoint = moto.endpoint().to_owned();
            (Some(moto), endpoint)
        }
    };
    crate::moto::keep_tasks_running(&endpoint).await?;
    let (key, secret) = options.keys.clone();
    let clients = AwsClients::with_static_credentials(&endpoint, &options.region, &key, &secret).await;
    let stack = StackIdentity {
        name: options.stack_name.clone(),
        region: options.region.clone(),
        account: crate::ACCOUNT.to_owned(),
    };

    let python = match &options.sam_python {
        Some(python) => python.clone(),
        None => sam::find_python(&options.template)?,
    };
    let mut transform_parameters: BTreeMap<String, Value> = options
        .parameters
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    transform_parameters.insert("AWS::Region".into(), Value::String(stack.region.clone()));
    transform_parameters.insert("AWS::AccountId".into(), Value::String(stack.account.clone()));
    transform_parameters.insert("AWS::StackName".into(), Value::String(stack.name.clone()));
    let transformed =
        sam::transform(&python, &options.template, &transform_parameters, &stack.region).await?;
    let template = Template::from_json(&transformed)?;

    let mut parameters = options.parameters.clone();
    let (subnets, groups) = crate::moto::default_network(&endpoint, &stack.region, &key).await?;
    for (name, kind) in template.parameter_types() {
        let default = match kind.as_str() {
            "List<AWS::EC2::Subnet::Id>" | "AWS::EC2::Subnet::Id" => subnets.join(","),
            "List<AWS::EC2::SecurityGroup::Id>" | "AWS::EC2::SecurityGroup::Id" => groups.join(","),
            _ => continue,
        };
        parameters.entry(name).or_insert(default);
    }
    let mut scope = template.scope(&parameters, &stack)?;

    let mut listeners = Vec::new();
    let mut bound = BTreeMap::new();
    for resource in template
        .active(&scope)
        .filter(|r| LISTENERS.contains(&r.kind.as_str()))
    {
        let port = options.ports.get(&resource.id).copied().unwrap_or(0);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(io(&format!("listen on 127.0.0.1:{port} for {}", resource.id)))?;
        let port = listener
            .local_addr()
            .map_err(io("read a listener's port"))?
            .port();
        listeners.push(Listener {
            id: resource.id.clone(),
            kind: resource.kind.clone(),
            url: format!("http://127.0.0.1:{port}/"),
        });
        bound.insert(resource.id.clone(), listener);
    }
    let urls = listeners.iter().map(|l| (l.id.clone(), l.url.clone())).collect();
    scope
        .resources
        .extend(crate::wiring::attributes(&template, &scope, &urls));

    let target = Target {
        clients: clients.clone(),
        stack: stack.clone(),
        endpoint: endpoint.clone(),
        keys: options.keys.clone(),
    };
    let outcomes = crate::provision::create(&template, &mut scope, &target).await?;
    let outputs = crate::outputs::resolve(&transformed, &scope, &listeners);
    let config = kiln_aws::config::load_static_sdk_config(&endpoint, &stack.region, &key, &secret).await;
    kiln_aws::stack::record_outputs(&kiln_aws::stack::client_from(&config), &stack.name, &outputs)
        .await
        .map_err(|e| BoxError::Unplayable(e.to_string()))?;
    let plan = crate::wiring::plan(&template, &scope)?;
    let mut functions = Functions::default();
    for declaration in &plan.functions {
        functions.insert(
            Function::build(declaration.clone(), &clients, &stack.region)
                .await
                .map_err(WiringError::from)?,
        );
    }
    let functions = Arc::new(functions);

    let shutdown = CancellationToken::new();
    let mut running = JoinSet::new();
    let function = |id: &str| {
        functions
            .get(id)
            .ok_or_else(|| BoxError::Unplayable(format!("function {id} was not built")))
    };

    let mut pattern_rules = Vec::new();
    for source in &plan.rules {
        if let Some(pattern) = &source.pattern {
            crate::rules::check_pattern(pattern)
                .map_err(|e| BoxError::Unplayable(format!("rule {}: {e}", source.id)))?;
        }
        let targets = source
            .targets
            .iter()
            .map(|t| Ok((function(&t.function)?, t.input.clone())))
            .collect::<Result<Vec<_>, BoxError>>()?;
        pattern_rules.push(Rule {
            source: source.clone(),
            targets,
        });
    }
    let (scheduled, patterned): (Vec<Rule>, Vec<Rule>) = pattern_rules
        .into_iter()
        .partition(|r| r.source.schedule.is_some());
    let bus = Arc::new(Bus::new(patterned, &stack.region, &stack.account));
    for rule in scheduled {
        running.spawn(crate::rules::run_schedule(
            rule,
            bus.clone(),
            options.schedule_every,
            shutdown.clone(),
        ));
    }

    for source in &plan.queues {
        let url = scope
            .resources
            .values()
            .find(|a| a.named.get("Arn").and_then(Value::as_str) == Some(source.queue_arn.as_str()))
            .and_then(|a| a.reference.as_str())
            .ok_or_else(|| {
                BoxError::Unplayable(format!(
                    "{}: queue {} is not a queue of the stack",
                    source.id, source.queue_arn
                ))
            })?;
        let poller = Poller {
            source: source.clone(),
            queue: SqsQueue::new(clients.sqs.clone(), url),
            function: function(&source.function)?,
            region: stack.region.clone(),
        };
        running.spawn(poller.run(shutdown.clone()));
    }

    let keys = Credentials::new(&key, &secret);
    for (id, listener) in bound {
        let front = if let Some(url) = plan.urls.iter().find(|u| u.id == id) {
            Front::Url {
                function: function(&url.function)?,
                iam: url.iam,
            }
        } else if let Some(api) = plan.apis.iter().find(|a| a.id == id) {
            Front::Api {
                routes: api.routes.clone(),
                functions: functions.clone(),
            }
        } else {
            continue;
        };
        let api_id = scope
            .resources
            .get(&id)
            .and_then(|a| a.reference.as_str())
            .unwrap_or(&id)
            .to_owned();
        let gateway = Gateway {
            front,
            api_id,
            region: stack.region.clone(),
            account: stack.account.clone(),
            keys: keys.clone(),
            check_iam: options.check_iam,
        };
        running.spawn(crate::gateway::serve(
            listener,
            Arc::new(gateway),
            shutdown.clone(),
        ));
    }

    let clusters: Vec<String> = template
        .active(&scope)
        .filter(|r| r.kind == "AWS::ECS::Cluster")
        .filter_map(|r| {
            scope
                .resources
                .get(&r.id)
                .and_then(|a| a.reference.as_str())
                .map(str::to_owned)
        })
        .collect();
    let runner = TaskRunner {
        clients: clients.clone(),
        clusters,
        kiln: options.kiln.clone(),
        dir: options.dir.clone(),
        platform: vec![
            ("AWS_ACCESS_KEY_ID".into(), key.clone()),
            ("AWS_SECRET_ACCESS_KEY".into(), secret.clone()),
            ("AWS_REGION".into(), stack.region.clone()),
            ("AWS_DEFAULT_REGION".into(), stack.region.clone()),
            ("AWS_ENDPOINT_URL".into(), endpoint.clone()),
        ],
        bus,
    };
    running.spawn(runner.run(shutdown.clone()));

    Ok(RunningBox {
        stack_name: stack.name.clone(),
        endpoint,
        clients,
        listeners,
        plan,
        outcomes,
        outputs,
        resources: scope.resources,
        shutdown,
        running,
        _moto: moto,
    })
}
