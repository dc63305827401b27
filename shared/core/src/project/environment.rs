//! A project's build environment (CodeBuild's `ProjectEnvironment`) and its Fargate task size.
//!
//! A size is either a CodeBuild `computeType` mapped to the nearest Fargate size (reference §6.5, marked [I]) or
//! an explicit `cpu`/`memory` pair checked against Fargate's table (reference §10.1).

use serde::{Deserialize, Serialize};

use super::error::{FieldPath, Problem, ProjectError};
use super::names::codebuild_enum;
use crate::buildspec::secret_ref;

codebuild_enum! {
    /// The container type. Kiln runs Linux containers only (Fargate has no Windows build images, GPUs or macOS).
    EnvironmentType {
        LinuxContainer = "LINUX_CONTAINER",
        ArmContainer = "ARM_CONTAINER",
    }
}

codebuild_enum! {
    /// CodeBuild's compute types that map onto a Fargate size.
    ComputeType {
        Small = "BUILD_GENERAL1_SMALL",
        Medium = "BUILD_GENERAL1_MEDIUM",
        Large = "BUILD_GENERAL1_LARGE",
        XLarge = "BUILD_GENERAL1_XLARGE",
    }
}

codebuild_enum! {
    /// CPU architecture of the task.
    Architecture {
        X86_64 = "x86_64",
        Arm64 = "arm64",
    }
}

codebuild_enum! {
    /// Where an environment variable's value comes from.
    EnvironmentVariableType {
        Plaintext = "PLAINTEXT",
        ParameterStore = "PARAMETER_STORE",
        SecretsManager = "SECRETS_MANAGER",
    }
}

/// A Fargate task size: cpu units (1024 = 1 vCPU) and memory in MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FargateSize {
    /// CPU units.
    pub cpu: u32,
    /// Memory in MiB.
    pub memory: u32,
}

impl ComputeType {
    /// The nearest Fargate size [I]: SMALL 2 vCPU/4 GB, MEDIUM 4/8, LARGE 8/16, XLARGE 16/72.
    pub fn fargate_size(self) -> FargateSize {
        let (cpu, memory) = match self {
            ComputeType::Small => (2048, 4096),
            ComputeType::Medium => (4096, 8192),
            ComputeType::Large => (8192, 16384),
            ComputeType::XLarge => (16384, 73728),
        };
        FargateSize { cpu, memory }
    }
}

/// The memory sizes (MiB) Fargate offers for a cpu value; `None` for a cpu value it does not offer.
pub fn fargate_memory_options(cpu: u32) -> Option<Vec<u32>> {
    let (from, to, step) = match cpu {
        256 => return Some(vec![512, 1024, 2048]),
        512 => (1024, 4096, 1024),
        1024 => (2048, 8192, 1024),
        2048 => (4096, 16384, 1024),
        4096 => (8192, 30720, 1024),
        8192 => (16384, 61440, 4096),
        16384 => (32768, 122880, 8192),
        _ => return None,
    };
    Some((from..=to).step_by(step).collect())
}

/// How the task size was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compute {
    /// A CodeBuild compute type.
    Named(ComputeType),
    /// An explicit Fargate size (Kiln's `cpu`/`memory` members).
    Custom(FargateSize),
}

impl Compute {
    /// The Fargate size to run with.
    pub fn fargate_size(self) -> FargateSize {
        match self {
            Compute::Named(named) => named.fargate_size(),
            Compute::Custom(size) => size,
        }
    }
}

/// An environment variable of the project or a start-build override.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentVariable {
    /// Name; names starting with `CODEBUILD_` are reserved.
    pub name: String,
    /// The value, or for PARAMETER_STORE / SECRETS_MANAGER the parameter or secret name (never the secret).
    pub value: String,
    /// Where the value comes from.
    #[serde(rename = "type", with = "variable_type", default = "plaintext")]
    pub variable_type: EnvironmentVariableType,
}

fn plaintext() -> EnvironmentVariableType {
    EnvironmentVariableType::Plaintext
}

mod variable_type {
    use super::EnvironmentVariableType;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &EnvironmentVariableType, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(t.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<EnvironmentVariableType, D::Error> {
        let text = String::deserialize(d)?;
        let found = EnvironmentVariableType::OPTIONS
            .iter()
            .find(|(name, _)| *name == text);
        found.map(|(_, t)| *t).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown environment variable type {text:?}; expected PLAINTEXT, PARAMETER_STORE or SECRETS_MANAGER"
            ))
        })
    }
}

/// Checks a list of environment variables: names non-empty, not reserved, unique.
pub fn check_variables(vars: &[EnvironmentVariable], path: &FieldPath) -> Result<(), ProjectError> {
    let mut seen = std::collections::HashSet::new();
    for (i, var) in vars.iter().enumerate() {
        let at = path.index(i).key("name");
        if var.name.is_empty() || var.name.contains('=') {
            return Err(at.invalid(&var.name, "names are non-empty and contain no '='"));
        }
        if var.name.starts_with("CODEBUILD_") {
            return Err(at.invalid(
                &var.name,
                "names starting with CODEBUILD_ are reserved; rename the variable",
            ));
        }
        if !seen.insert(var.name.as_str()) {
            return Err(at.err(Problem::Duplicate(var.name.clone())));
        }
    }
    Ok(())
}

/// Checks that each SECRETS_MANAGER variable holds a reference CodeBuild accepts (see [`check_reference`]).
/// Definitions are checked (projects, schedules, StartBuild); stored builds are read as they were stored.
pub fn check_references(vars: &[EnvironmentVariable], path: &FieldPath) -> Result<(), ProjectError> {
    for (i, var) in vars.iter().enumerate() {
        check_reference(var, &path.index(i))?;
    }
    Ok(())
}

/// Checks that a SECRETS_MANAGER variable's value is a reference CodeBuild accepts,
/// `secret-id:json-key:version-stage:version-id` (see [`secret_ref`]); `path` is the variable's.
pub fn check_reference(var: &EnvironmentVariable, path: &FieldPath) -> Result<(), ProjectError> {
    match var.variable_type {
        EnvironmentVariableType::SecretsManager => match secret_ref(&var.value) {
            Ok(_) => Ok(()),
            Err(err) => Err(path.key("value").invalid(
                &var.value,
                format!(
                    "SECRETS_MANAGER variable {} is not secret-id:json-key:version-stage:version-id: {err}",
                    var.name
                ),
            )),
        },
        EnvironmentVariableType::Plaintext | EnvironmentVariableType::ParameterStore => Ok(()),
    }
}

/// The project's variables with `overrides` merged over them by name (StartBuild's and schedules' overrides):
/// an override replaces the variable of the same name in place; new names are appended in order.
pub fn merge_variables(
    base: &[EnvironmentVariable],
    overrides: &[EnvironmentVariable],
) -> Vec<EnvironmentVariable> {
    let mut merged = base.to_vec();
    for o in overrides {
        match merged.iter_mut().find(|v| v.name == o.name) {
            Some(existing) => *existing = o.clone(),
            None => merged.push(o.clone()),
        }
    }
    merged
}

/// Spot capacity settings (Kiln).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SpotPolicy {
    /// Run on Fargate Spot.
    pub enabled: bool,
    /// Retry on on-demand Fargate when Spot capacity is unavailable or the task is interrupted.
    pub fallback_to_on_demand: bool,
}

/// A validated build environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawEnvironment", into = "RawEnvironment")]
pub struct ProjectEnvironment {
    /// Container type.
    pub environment_type: EnvironmentType,
    /// Container image.
    pub image: String,
    /// Task size.
    pub compute: Compute,
    /// Architecture given explicitly; see [`ProjectEnvironment::architecture`].
    pub explicit_architecture: Option<Architecture>,
    /// Variables given to every build.
    pub environment_variables: Vec<EnvironmentVariable>,
    /// Privileged mode (Docker-in-Docker); Fargate cannot grant it, so runners refuse builds that need it.
    pub privileged_mode: Option<bool>,
    /// `CODEBUILD` or `SERVICE_ROLE`.
    pub image_pull_credentials_type: Option<String>,
    /// Spot settings.
    pub spot: SpotPolicy,
}

impl ProjectEnvironment {
    /// The architecture: the explicit one, else arm64 for ARM_CONTAINER and x86_64 otherwise.
    pub fn architecture(&self) -> Architecture {
        self.explicit_architecture.unwrap_or(match self.environment_type {
            EnvironmentType::ArmContainer => Architecture::Arm64,
            EnvironmentType::LinuxContainer => Architecture::X86_64,
        })
    }

    /// Kiln's defaults when a project gives no environment: Linux, x86_64, BUILD_GENERAL1_SMALL.
    pub fn default_linux() -> Self {
        Self {
            environment_type: EnvironmentType::LinuxContainer,
            image: DEFAULT_IMAGE.to_owned(),
            compute: Compute::Named(ComputeType::Small),
            explicit_architecture: None,
            environment_variables: Vec::new(),
            privileged_mode: None,
            image_pull_credentials_type: None,
            // As an environment given without `spotFallbackToOnDemand` reads (see `validate`).
            spot: SpotPolicy {
                enabled: false,
                fallback_to_on_demand: true,
            },
        }
    }
}

/// The image used when a project names none (a public CodeBuild standard image).
pub const DEFAULT_IMAGE: &str = "public.ecr.aws/codebuild/amazonlinux-x86_64-standard:5.0";

/// `ProjectEnvironment` as CodeBuild's JSON spells it, plus Kiln's `cpu`, `memory`, `architecture`, `spot`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawEnvironment {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub environment_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    #[serde(default)]
    pub environment_variables: Vec<EnvironmentVariable>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged_mode: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_credentials_type: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub spot: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spot_fallback_to_on_demand: Option<bool>,
}

impl ProjectEnvironment {
    /// Validates a raw environment found at `path`.
    pub fn validate(raw: RawEnvironment, path: &FieldPath) -> Result<Self, ProjectError> {
        let environment_type = match &raw.environment_type {
            Some(t) => path.key("type").one_of(t, EnvironmentType::OPTIONS)?,
            None => EnvironmentType::LinuxContainer,
        };
        let image = raw
            .image
            .filter(|i| !i.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_IMAGE.to_owned());
        let compute = compute(&raw.compute_type, raw.cpu, raw.memory, path)?;
        let explicit_architecture = match &raw.architecture {
            Some(a) => Some(path.key("architecture").one_of(a, Architecture::OPTIONS)?),
            None => None,
        };
        let arm_type = environment_type == EnvironmentType::ArmContainer;
        if let Some(arch) = explicit_architecture.filter(|a| (*a == Architecture::Arm64) != arm_type) {
            let reason =
                format!("{arch} does not match type {environment_type}; use ARM_CONTAINER with arm64");
            return Err(path.key("architecture").invalid(arch.as_str(), reason));
        }
        check_variables(&raw.environment_variables, &path.key("environmentVariables"))?;
        if let Some(kind) = &raw.image_pull_credentials_type {
            path.key("imagePullCredentialsType")
                .one_of(kind, &[("CODEBUILD", ()), ("SERVICE_ROLE", ())])?;
        }
        Ok(Self {
            environment_type,
            image,
            compute,
            explicit_architecture,
            environment_variables: raw.environment_variables,
            privileged_mode: raw.privileged_mode,
            image_pull_credentials_type: raw.image_pull_credentials_type,
            spot: SpotPolicy {
                enabled: raw.spot,
                fallback_to_on_demand: raw.spot_fallback_to_on_demand.unwrap_or(true),
            },
        })
    }
}

fn compute(
    named: &Option<String>,
    cpu: Option<u32>,
    memory: Option<u32>,
    path: &FieldPath,
) -> Result<Compute, ProjectError> {
    match (named, cpu, memory) {
        (Some(name), None, None) => named_compute(name, &path.key("computeType")).map(Compute::Named),
        (None, None, None) => Ok(Compute::Named(ComputeType::Small)),
        (None, Some(cpu), Some(memory)) => fargate_size(cpu, memory, path).map(Compute::Custom),
        (None, Some(_), None) => Err(path.key("memory").err(Problem::Missing {
            hint: "give memory (MiB) with cpu",
        })),
        (None, None, Some(_)) => Err(path.key("cpu").err(Problem::Missing {
            hint: "give cpu (units) with memory",
        })),
        (Some(name), _, _) => Err(path
            .key("computeType")
            .invalid(name, "give either computeType or cpu/memory, not both")),
    }
}

fn named_compute(name: &str, path: &FieldPath) -> Result<ComputeType, ProjectError> {
    match name {
        "BUILD_GENERAL1_2XLARGE" => Err(path.invalid(
            name,
            "72 vCPU/145 GB has no Fargate size (max 16 vCPU/120 GB); use BUILD_GENERAL1_XLARGE or cpu/memory",
        )),
        _ if name.starts_with("BUILD_LAMBDA_") => {
            Err(path.invalid(name, "Lambda compute is not supported; use a BUILD_GENERAL1_* type or cpu/memory"))
        }
        _ => path.one_of(name, ComputeType::OPTIONS),
    }
}

fn fargate_size(cpu: u32, memory: u32, path: &FieldPath) -> Result<FargateSize, ProjectError> {
    let Some(valid) = fargate_memory_options(cpu) else {
        let reason = "Fargate cpu is one of 256, 512, 1024, 2048, 4096, 8192, 16384";
        return Err(path.key("cpu").invalid(cpu.to_string(), reason));
    };
    if !valid.contains(&memory) {
        return Err(path
            .key("memory")
            .err(Problem::FargateMemory { cpu, memory, valid }));
    }
    Ok(FargateSize { cpu, memory })
}

impl TryFrom<RawEnvironment> for ProjectEnvironment {
    type Error = ProjectError;
    fn try_from(raw: RawEnvironment) -> Result<Self, ProjectError> {
        Self::validate(raw, &FieldPath::named("environment"))
    }
}

impl From<ProjectEnvironment> for RawEnvironment {
    fn from(e: ProjectEnvironment) -> Self {
        let (compute_type, cpu, memory) = match e.compute {
            Compute::Named(named) => (Some(named.as_str().to_owned()), None, None),
            Compute::Custom(size) => (None, Some(size.cpu), Some(size.memory)),
        };
        RawEnvironment {
            environment_type: Some(e.environment_type.as_str().to_owned()),
            image: Some(e.image),
            compute_type,
            cpu,
            memory,
            architecture: e.explicit_architecture.map(|a| a.as_str().to_owned()),
            environment_variables: e.environment_variables,
            privileged_mode: e.privileged_mode,
            image_pull_credentials_type: e.image_pull_credentials_type,
            spot: e.spot.enabled,
            spot_fallback_to_on_demand: e.spot.enabled.then_some(e.spot.fallback_to_on_demand),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(
        compute_type: Option<&str>,
        cpu: Option<u32>,
        memory: Option<u32>,
    ) -> Result<ProjectEnvironment, ProjectError> {
        let raw = RawEnvironment {
            compute_type: compute_type.map(Into::into),
            cpu,
            memory,
            ..RawEnvironment::default()
        };
        ProjectEnvironment::try_from(raw)
    }

    #[test]
    fn compute_types_map_to_the_nearest_fargate_size() {
        let table = [
            ("BUILD_GENERAL1_SMALL", 2048, 4096),
            ("BUILD_GENERAL1_MEDIUM", 4096, 8192),
            ("BUILD_GENERAL1_LARGE", 8192, 16384),
            ("BUILD_GENERAL1_XLARGE", 16384, 73728),
        ];
        for (name, cpu, memory) in table {
            let size = env(Some(name), None, None).unwrap().compute.fargate_size();
            assert_eq!(size, FargateSize { cpu, memory }, "{name}");
            assert!(
                fargate_memory_options(cpu).unwrap().contains(&memory),
                "{name} is a valid Fargate size"
            );
        }
        assert_eq!(
            env(None, None, None).unwrap().compute,
            Compute::Named(ComputeType::Small)
        );
    }

    #[test]
    fn explicit_cpu_and_memory_are_checked_against_the_fargate_table() {
        assert_eq!(
            env(None, Some(256), Some(512)).unwrap().compute.fargate_size(),
            FargateSize {
                cpu: 256,
                memory: 512
            }
        );
        assert!(env(None, Some(8192), Some(20480)).is_ok());
        let err = env(None, Some(8192), Some(18432)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment.memory: memory 18432 MiB is not available with cpu 8192; valid memory values (MiB): \
             16384, 20480, 24576, 28672, 32768, 36864, 40960, 45056, 49152, 53248, 57344, 61440"
        );
        assert!(
            env(None, Some(3000), Some(4096))
                .unwrap_err()
                .to_string()
                .starts_with("environment.cpu: invalid value \"3000\"")
        );
        assert!(env(None, Some(1024), None).is_err());
    }

    #[test]
    fn unsupported_compute_types_say_what_to_use_instead() {
        for (name, hint) in [
            ("BUILD_GENERAL1_2XLARGE", "no Fargate size"),
            ("BUILD_LAMBDA_1GB", "Lambda compute is not supported"),
            ("BUILD_GENERAL1_HUGE", "expected one of BUILD_GENERAL1_SMALL"),
        ] {
            let message = env(Some(name), None, None).unwrap_err().to_string();
            assert!(
                message.starts_with("environment.computeType: ") && message.contains(hint),
                "{message}"
            );
            assert!(message.contains(&format!("{name:?}")), "{message}");
        }
        assert!(env(Some("BUILD_GENERAL1_SMALL"), Some(2048), Some(4096)).is_err());
    }

    #[test]
    fn reserved_and_duplicate_variable_names_are_refused() {
        let var = |name: &str| EnvironmentVariable {
            name: name.into(),
            value: "1".into(),
            variable_type: EnvironmentVariableType::Plaintext,
        };
        for (vars, expected) in [
            (
                vec![var("CODEBUILD_X")],
                "environment.environmentVariables[0].name: invalid value \"CODEBUILD_X\"",
            ),
            (
                vec![var("A"), var("A")],
                "environment.environmentVariables[1].name: duplicate name \"A\"",
            ),
        ] {
            let raw = RawEnvironment {
                environment_variables: vars,
                ..RawEnvironment::default()
            };
            let message = ProjectEnvironment::try_from(raw).unwrap_err().to_string();
            assert!(message.starts_with(expected), "{message}");
        }
    }

    #[test]
    fn secrets_manager_variables_take_the_four_part_reference_and_a_malformed_one_names_the_variable() {
        let var = |value: &str| EnvironmentVariable {
            name: "DB_PASSWORD".into(),
            value: value.into(),
            variable_type: EnvironmentVariableType::SecretsManager,
        };
        let path = FieldPath::named("environment.environmentVariables");
        for good in [
            "db",
            "db:password",
            "db:password:AWSPREVIOUS",
            "db:password::0123-4567",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf:password:AWSCURRENT",
        ] {
            assert!(check_references(&[var(good)], &path).is_ok(), "{good}");
        }
        for (bad, reason) in [
            ("db:k:s:v:extra", "more than four fields"),
            (":password", "secret id before the first colon is required"),
            ("db:k:AWSCURRENT:0123", "version-stage or version-id, not both"),
            ("arn:aws:secretsmanager:eu-west-1", "a secret ARN has the form"),
        ] {
            let message = check_references(&[var(bad)], &path).unwrap_err().to_string();
            assert!(
                message.starts_with(&format!(
                    "environment.environmentVariables[0].value: invalid value {bad:?}: SECRETS_MANAGER variable \
                     DB_PASSWORD is not secret-id:json-key:version-stage:version-id"
                )) && message.contains(reason),
                "{message}"
            );
        }
        let plain = EnvironmentVariable {
            variable_type: EnvironmentVariableType::ParameterStore,
            ..var("a:b:c:d:e:f")
        };
        assert!(check_references(&[plain], &path).is_ok());
    }

    #[test]
    fn overrides_replace_variables_by_name_and_append_new_ones() {
        let var = |name: &str, value: &str| EnvironmentVariable {
            name: name.into(),
            value: value.into(),
            variable_type: EnvironmentVariableType::Plaintext,
        };
        let merged = merge_variables(&[var("A", "1"), var("B", "2")], &[var("B", "3"), var("C", "4")]);
        assert_eq!(merged, vec![var("A", "1"), var("B", "3"), var("C", "4")]);
    }

    #[test]
    fn architecture_follows_the_container_type_unless_given() {
        let arm = RawEnvironment {
            environment_type: Some("ARM_CONTAINER".into()),
            ..RawEnvironment::default()
        };
        assert_eq!(
            ProjectEnvironment::try_from(arm.clone()).unwrap().architecture(),
            Architecture::Arm64
        );
        let clash = RawEnvironment {
            architecture: Some("x86_64".into()),
            ..arm
        };
        assert!(ProjectEnvironment::try_from(clash).is_err());
    }
}
