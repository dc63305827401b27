//! Ports: the narrow traits through which the core reaches storage, processes, secrets and the dispatcher. Each
//! has one local implementation (files, SQLite, child processes, an in-process wake-up) and one AWS implementation
//! (S3, DynamoDB, ECS, SSM and Secrets Manager, SQS), and the core never knows which one it holds.

pub mod access_keys;
pub mod build_store;
pub mod dispatch_signal;
pub mod launcher;
pub mod logs;
pub mod notifier;
pub mod object_store;
pub mod schedules;
pub mod secrets;
pub mod sessions;

/// A boxed future, so the ports stay usable as `Arc<dyn Trait>`.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
