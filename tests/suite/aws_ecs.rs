//! The ECS launcher against moto: RunTask with a capacity provider strategy, `startedBy` = the build uuid,
//! overrides that carry only the build id and a few variables, the task size, the awsvpc network, StopTask.
//!
//! moto's RunTask needs a container with `memory`, a subnet that exists in its EC2, and `securityGroups` in the
//! awsvpc configuration (see the tooling notes).

use aws_sdk_ecs::types::{Compatibility, ContainerDefinition, NetworkMode};
use kiln_aws::ecs::BUILD_ID_VARIABLE;
use kiln_aws::{AwsClients, Capacity, EcsLauncher, EcsSettings, TaskRequest, TaskSize};
use kiln_core::ports::launcher::TaskLauncher;

use crate::aws_support::{REGION, with_moto};

const BUILD_ID: &str = "web:8745a7a9-c340-456a-9166-edf953571bff";

/// One of moto's default subnets (their ids are random), through EC2's query API.
pub(crate) async fn default_subnet(endpoint: &str) -> String {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/ec2/aws4_request, SignedHeaders=host, Signature=0"
    );
    let body = reqwest::Client::new()
        .post(endpoint)
        .header("Authorization", auth)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("Action=DescribeSubnets&Version=2016-11-15")
        .send()
        .await
        .expect("moto answers DescribeSubnets")
        .text()
        .await
        .expect("a body");
    let start = body.find("<subnetId>").expect("a subnet in moto's default VPC") + "<subnetId>".len();
    let end = body[start..].find("</subnetId>").expect("a closing tag") + start;
    body[start..end].to_owned()
}

pub(crate) async fn setup(clients: &AwsClients, endpoint: &str) -> EcsSettings {
    clients
        .ecs
        .create_cluster()
        .cluster_name("builds")
        .capacity_providers("FARGATE")
        .capacity_providers("FARGATE_SPOT")
        .send()
        .await
        .expect("create cluster");
    clients
        .ecs
        .register_task_definition()
        .family("runner")
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::Fargate)
        .cpu("2048")
        .memory("4096")
        .container_definitions(
            ContainerDefinition::builder()
                .name("runner")
                .image("kiln-runner:latest")
                .memory(4096)
                .essential(true)
                .build(),
        )
        .send()
        .await
        .expect("register task definition");
    EcsSettings {
        cluster: "builds".to_owned(),
        task_definition: "runner".to_owned(),
        container: "runner".to_owned(),
        subnets: vec![default_subnet(endpoint).await],
        security_groups: Vec::new(),
        assign_public_ip: false,
        capacity: Capacity::OnDemand,
        size: TaskSize {
            cpu: 2048,
            memory_mib: 4096,
        },
        environment: vec![("KILN_TABLE".to_owned(), "kiln-builds".to_owned())],
    }
}

#[test]
fn a_build_task_starts_with_its_uuid_size_and_only_the_build_id_in_its_overrides() {
    with_moto(|clients, endpoint| async move {
        let settings = setup(&clients, &endpoint).await;
        let launcher = EcsLauncher::new(clients.ecs.clone(), settings);
        let request = TaskRequest {
            build_id: BUILD_ID.to_owned(),
            size: TaskSize::for_compute_type("BUILD_GENERAL1_MEDIUM").expect("a fargate size"),
            capacity: Capacity::Spot { fallback: true },
        };
        let arn = launcher.run(&request).await.expect("run task");

        let described = clients
            .ecs
            .describe_tasks()
            .cluster("builds")
            .tasks(&arn)
            .send()
            .await
            .expect("describe");
        let task = described.tasks().first().expect("the task");
        assert_eq!(task.started_by(), Some("8745a7a9-c340-456a-9166-edf953571bff"));
        let overrides = task.overrides().expect("overrides");
        assert_eq!(overrides.cpu(), Some("4096"));
        assert_eq!(overrides.memory(), Some("8192"));
        let container = overrides
            .container_overrides()
            .first()
            .expect("the runner override");
        assert_eq!(container.name(), Some("runner"));
        let env: Vec<(&str, &str)> = container
            .environment()
            .iter()
            .map(|kv| (kv.name().unwrap_or_default(), kv.value().unwrap_or_default()))
            .collect();
        assert_eq!(
            env,
            vec![(BUILD_ID_VARIABLE, BUILD_ID), ("KILN_TABLE", "kiln-builds")]
        );
    });
}

#[test]
fn a_launched_task_is_alive_until_stopped() {
    with_moto(|clients, endpoint| async move {
        let settings = setup(&clients, &endpoint).await;
        let launcher = EcsLauncher::new(clients.ecs.clone(), settings);
        let id = kiln_core::build::BuildId::parse(BUILD_ID).expect("id");
        let arn = launcher.launch(&id).await.expect("launch");
        assert!(launcher.is_alive(&arn).await.expect("describe"));
        launcher.stop(&arn).await.expect("stop");
        let mut alive = true;
        for _ in 0..10 {
            alive = launcher.is_alive(&arn).await.expect("describe");
            if !alive {
                break;
            }
        }
        assert!(!alive, "a stopped task reaches STOPPED");
    });
}

#[test]
fn a_build_id_without_a_uuid_is_refused_before_any_call() {
    with_moto(|clients, endpoint| async move {
        let settings = setup(&clients, &endpoint).await;
        let launcher = EcsLauncher::new(clients.ecs.clone(), settings);
        let request = TaskRequest {
            build_id: "web:not a uuid".to_owned(),
            size: TaskSize::for_compute_type("BUILD_GENERAL1_SMALL").expect("a fargate size"),
            capacity: Capacity::OnDemand,
        };
        let err = launcher.run(&request).await.unwrap_err();
        assert!(err.to_string().contains("uuid"), "{err}");
    });
}
