//! Kiln's HTTP front: one [`axum::Router`] that serves `kiln serve` locally and the `api` Lambda.
