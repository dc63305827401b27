//! The buildspec 0.2 model: YAML parsed once into validated types, with every error's key path and position.
