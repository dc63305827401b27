//! A function's start-up: the settings from the environment the template sets (or given, in the box), every AWS client, the use
//! cases over the AWS adapters, the dispatch signal and the secret resolver — built once per function instance, before the first
//! event — through [`AwsSettings`], the one place that turns settings into adapters.

use kiln_aws::settings::{AwsSettings, SettingsError};
use kiln_aws::{AwsClients, AwsSecretResolver, SqsDispatchSignal};
use kiln_core::usecases::Services;

/// What a function builds at start-up.
#[derive(Clone)]
pub struct Wiring {
    pub settings: AwsSettings,
    pub clients: AwsClients,
    pub services: Services,
}

impl Wiring {
    /// Reads the settings and builds the clients and the use cases.
    pub async fn from_env() -> Result<Wiring, SettingsError> {
        let settings = AwsSettings::from_env()?;
        let clients = settings.clients().await;
        Wiring::new(settings, clients)
    }

    /// Builds the use cases from settings and clients given (the box runs functions in-process this way, with
    /// each function's environment from the template and clients on its moto).
    pub fn new(settings: AwsSettings, clients: AwsClients) -> Result<Wiring, SettingsError> {
        let services = settings.services(&clients)?;
        Ok(Wiring {
            settings,
            clients,
            services,
        })
    }

    /// The dispatch signal: one message per queued build on `KILN_DISPATCH_QUEUE_URL`.
    pub fn dispatch_signal(&self) -> Result<SqsDispatchSignal, SettingsError> {
        self.settings.dispatch_signal(&self.clients)
    }

    /// The secret resolver of a function: SSM and Secrets Manager, each value reused for
    /// [`kiln_aws::SECRET_TTL`] across invocations.
    pub fn secrets(&self) -> AwsSecretResolver {
        AwsSecretResolver::cached(&self.clients)
    }
}
