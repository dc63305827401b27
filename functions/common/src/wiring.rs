//! A function's start-up: the settings from the environment the template sets, every AWS client, and the use
//! cases over the AWS adapters — built once per function instance, before the first event — through
//! [`AwsSettings`], the one place that turns settings into adapters.

use kiln_aws::settings::{AwsSettings, SettingsError};
use kiln_aws::{AwsClients, SqsQueue};
use kiln_core::usecases::Services;

use crate::DispatchSender;

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
        let services = settings.services(&clients)?;
        Ok(Wiring {
            settings,
            clients,
            services,
        })
    }

    /// The sender of dispatch messages (`KILN_DISPATCH_QUEUE_URL`).
    pub fn dispatch_sender(&self) -> Result<DispatchSender, SettingsError> {
        let url = self.settings.dispatch_queue_url()?;
        Ok(DispatchSender::new(SqsQueue::new(self.clients.sqs.clone(), url)))
    }
}
