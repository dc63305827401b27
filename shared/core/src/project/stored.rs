//! A project as the project store keeps it: the validated definition and, for projects made through the API,
//! when it was created and last changed (`created`, `lastModified`, epoch seconds, as CodeBuild's `Project`
//! shows them).

use serde::{Deserialize, Serialize};

use super::{Project, ProjectName};
use crate::build::Timestamp;

/// A stored project; it serialises as CodeBuild's `Project` JSON with `created` and `lastModified` beside the
/// definition's members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredProject {
    /// The definition.
    #[serde(flatten)]
    pub project: Project,
    /// When CreateProject made it (none for projects from `kiln.yaml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<Timestamp>,
    /// When it last changed through the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<Timestamp>,
}

impl StoredProject {
    /// The project's name, its key in the store.
    pub fn name(&self) -> &ProjectName {
        &self.project.name
    }
}

impl From<Project> for StoredProject {
    fn from(project: Project) -> Self {
        StoredProject {
            project,
            created: None,
            last_modified: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_stored_project_reads_the_definition_and_its_times_from_one_object() {
        let text = json!({"name": "web", "source": {"type": "NO_SOURCE", "buildspec": "version: 0.2"},
                          "created": 1700000000.5, "lastModified": 1700000060.0});
        let stored: StoredProject = serde_json::from_value(text).unwrap();
        assert_eq!(stored.name().as_str(), "web");
        assert_eq!(
            stored.created,
            Some(Timestamp::from_epoch_millis(1_700_000_000_500))
        );
        let again = serde_json::to_value(&stored).unwrap();
        assert_eq!(again["created"], json!(1700000000.5));
        assert_eq!(again["lastModified"], json!(1700000060.0));
        assert_eq!(serde_json::from_value::<StoredProject>(again).unwrap(), stored);
        let plain = StoredProject::from(stored.project.clone());
        assert!(serde_json::to_value(&plain).unwrap().get("created").is_none());
    }
}
