//! Who is calling, and what they may do. Three kinds of caller:
//!
//! - anyone, when the server has no credentials at all (`kiln serve` on loopback without keys);
//! - the server's own key pair (`kiln serve --access-key-id`), or an IAM principal API Gateway already
//!   authorised (the deployed API's `/iam/` routes, where the `api` function marks the request with
//!   [`IamCaller`]): every operation on every project;
//! - a Kiln access key (`kiln keys create`, [`kiln_core::access_keys`]): a SigV4 signature for service
//!   `codebuild` checked against the key's secret, then the key's scope: its operations and projects.
//!
//! [`authenticate`] finds the caller of a request; [`Caller::authorise`] checks one operation on some projects.
//! [`require`] guards the server's own GET endpoints (build logs, their live stream, the notice feed): a
//! logged-in console session, or a signed request whose caller may read the build's project (`BatchGetBuilds`;
//! every project for the feed). Refusals are 403 in the API's error shape, naming the key and what it lacks.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kiln_core::access_keys::KeyScope;
use kiln_core::sigv4::{AmzDate, Credentials, HttpRequest, VerifyPolicy, claimed_access_key_id, verify};
use kiln_core::usecases::keys::{KeyError, Keyring};

use crate::AppState;
use crate::error::AppError;

/// Who may call: the server's own key pair and the deployment's Kiln access keys. The default lets no signed
/// caller in at all (nothing to check signatures against), never everyone: only [`Access::open`] does that.
#[derive(Clone, Default)]
pub struct Access {
    /// The server's own key pair (`kiln serve --access-key-id`), allowed everything.
    pub server_key: Option<Credentials>,
    /// The Kiln access keys, each allowed its scope.
    pub keyring: Option<Keyring>,
    /// No credentials at all: every caller is let in (`kiln serve` on loopback).
    pub anyone: bool,
}

impl Access {
    /// No credentials: every caller is let in (loopback only).
    pub fn open() -> Access {
        Access {
            anyone: true,
            ..Access::default()
        }
    }

    /// Signatures by `server_key` or a key of `keyring`; with neither, [`Access::open`].
    pub fn signed(server_key: Option<Credentials>, keyring: Option<Keyring>) -> Access {
        let anyone = server_key.is_none() && keyring.is_none();
        Access {
            server_key,
            keyring,
            anyone,
        }
    }

    /// Whether calls must be signed.
    pub fn required(&self) -> bool {
        !self.anyone
    }
}

/// Put on a request's extensions by the `api` function when API Gateway's IAM authoriser accepted it (the
/// `/iam/` routes): the caller's ARN. Nothing else sets it, and `kiln serve` never does.
#[derive(Debug, Clone)]
pub struct IamCaller(pub String);

/// Who made a request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No credentials are configured: anyone.
    Anyone,
    /// The server's own key pair, or an IAM principal: allowed everything.
    Operator(String),
    /// A Kiln access key and its scope.
    Key { id: String, scope: KeyScope },
}

impl Caller {
    /// Whether the caller may call `operation` on every project in `projects`; an AccessDeniedException (403)
    /// naming the key, the operation and the first project out of its scope otherwise.
    pub fn authorise<'a>(
        &self,
        operation: &str,
        projects: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), AppError> {
        let Caller::Key { id, scope } = self else {
            return Ok(());
        };
        if !scope.allows_action(operation) {
            return Err(AppError::Forbidden(format!(
                "access key {id} is not allowed to call {operation} (its operations: {}); create a key whose \
                 scope includes it (`kiln keys create --action {operation}`)",
                scope.actions.join(", ")
            )));
        }
        if let Some(project) = projects.into_iter().find(|p| !scope.allows_project(p)) {
            return Err(AppError::Forbidden(format!(
                "access key {id} is not allowed to call {operation} on project {project:?} (its projects: {})",
                scope.projects.join(", ")
            )));
        }
        Ok(())
    }

    /// Whether the caller may touch every project (needed for views across projects, like the notice feed).
    pub fn authorise_all_projects(&self, operation: &str) -> Result<(), AppError> {
        self.authorise(operation, [])?;
        match self {
            Caller::Key { id, scope } if !scope.all_projects() => Err(AppError::Forbidden(format!(
                "access key {id} is limited to some projects ({}); this view covers every project",
                scope.projects.join(", ")
            ))),
            _ => Ok(()),
        }
    }
}

/// Finds the caller of a request: anyone when no credentials are configured, an IAM principal API Gateway
/// authorised, or the holder of the key whose SigV4 signature (service `codebuild`) checks out.
pub async fn authenticate(
    state: &AppState,
    request: &SignedRequest<'_>,
    iam: Option<&IamCaller>,
) -> Result<Caller, AppError> {
    if let Some(IamCaller(arn)) = iam {
        return Ok(Caller::Operator(arn.clone()));
    }
    if !state.access.required() {
        return Ok(Caller::Anyone);
    }
    let pairs: Vec<(&str, &str)> = request
        .headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)))
        .collect();
    let http = HttpRequest {
        method: request.method.as_str(),
        path: request.uri.path(),
        query: request.uri.query().unwrap_or(""),
        headers: &pairs,
        body: request.body,
    };
    let claimed = claimed_access_key_id(&http).map_err(|e| AppError::Forbidden(e.to_string()))?;
    let (credentials, caller) = match state.access.server_key.as_ref() {
        Some(server) if server.access_key_id() == claimed => {
            (server.clone(), Caller::Operator(claimed.clone()))
        }
        _ => match lookup(state.access.keyring.as_ref(), &claimed).await? {
            Some(found) => found,
            None => {
                return Err(AppError::Forbidden(format!(
                    "the access key id {claimed:?} is not one of this server's keys, or was revoked \
                     (`kiln keys list` shows them)"
                )));
            }
        },
    };
    let now = AmzDate::from_system_time(std::time::SystemTime::now())
        .ok_or_else(|| AppError::Internal("the system clock is before 1970".into()))?;
    verify(&http, &credentials, &VerifyPolicy::codebuild(), now)
        .map_err(|e| AppError::Forbidden(e.to_string()))?;
    Ok(caller)
}

async fn lookup(keyring: Option<&Keyring>, id: &str) -> Result<Option<(Credentials, Caller)>, AppError> {
    let Some(keyring) = keyring else {
        return Ok(None);
    };
    match keyring.active(id).await {
        Ok(Some(active)) => Ok(Some((
            active.credentials,
            Caller::Key {
                id: id.to_owned(),
                scope: active.scope,
            },
        ))),
        Ok(None) => Ok(None),
        Err(KeyError::Store(kiln_core::ports::access_keys::KeyStoreError::Backend {
            message,
            retryable: true,
        })) => Err(AppError::Unavailable(message)),
        Err(err) => Err(AppError::Internal(err.to_string())),
    }
}

/// The parts of a request its signature covers.
pub struct SignedRequest<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// Middleware of the logs and events routes: a logged-in console session, or a signed caller who may read the
/// build's project (`BatchGetBuilds`); the notice feed needs every project.
pub async fn require(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !state.access.required() || crate::console::session::authenticated(&state, request.headers()).await {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let signed = SignedRequest {
        method: &parts.method,
        uri: &parts.uri,
        headers: &parts.headers,
        body: &[],
    };
    let checked = match authenticate(&state, &signed, parts.extensions.get::<IamCaller>()).await {
        Ok(caller) => match build_project(parts.uri.path()) {
            Some(project) => caller.authorise("BatchGetBuilds", [project.as_str()]),
            None => caller.authorise_all_projects("BatchGetBuilds"),
        },
        Err(AppError::Forbidden(reason)) => Err(AppError::Forbidden(format!(
            "{reason}; sign the request with SigV4 (service codebuild) or log in to the console"
        ))),
        Err(other) => Err(other),
    };
    match checked {
        Ok(()) => next.run(Request::from_parts(parts, body)).await,
        Err(err) => err.into_response(),
    }
}

/// The project of a `/builds/{id}/logs…` path (the id is `<project>:<uuid>`, percent-encoded or not).
fn build_project(path: &str) -> Option<String> {
    let id = path.strip_prefix("/builds/")?.split('/').next()?;
    let id = percent_encoding::percent_decode_str(id).decode_utf8().ok()?;
    kiln_core::build::BuildId::parse(&id)
        .ok()
        .map(|id| id.project().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_held_to_its_operations_and_projects() {
        let key = Caller::Key {
            id: "KILNTEST".into(),
            scope: KeyScope::new(vec!["BatchGet*".into()], vec!["web-*".into()]).expect("scope"),
        };
        assert!(key.authorise("BatchGetBuilds", ["web-front"]).is_ok());
        let err = key.authorise("StartBuild", ["web-front"]).expect_err("operation");
        assert!(
            err.to_string().contains("not allowed to call StartBuild"),
            "{err}"
        );
        let err = key
            .authorise("BatchGetBuilds", ["web-front", "api"])
            .expect_err("project");
        assert!(err.to_string().contains("project \"api\""), "{err}");
        assert!(key.authorise_all_projects("BatchGetBuilds").is_err());
        assert!(Caller::Anyone.authorise("DeleteProject", ["x"]).is_ok());
        assert!(Caller::Operator("me".into()).authorise_all_projects("X").is_ok());
    }

    #[test]
    fn the_project_of_a_log_path_is_read_from_the_build_id() {
        let id = "web:6f1c1a1e-0000-4000-8000-000000000001";
        assert_eq!(
            build_project(&format!("/builds/{id}/logs")).as_deref(),
            Some("web")
        );
        assert_eq!(
            build_project("/builds/web%3A6f1c1a1e-0000-4000-8000-000000000001/logs/stream").as_deref(),
            Some("web")
        );
        assert_eq!(build_project("/events"), None);
    }
}
