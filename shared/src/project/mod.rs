//! Project definitions in CodeBuild's CreateProject shape, read from `kiln.yaml` (YAML) or JSON.
