//! Cross-site request forgery, checked in one place: every console action (start, stop, retry, log out) reads
//! its form through [`CsrfForm`], which refuses the request unless the form's `csrf` field is the session's
//! token ([`Session::check`], constant time). The same-origin check of every POST is [`super::session::guard`]'s.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};

use super::ConsoleError;
use super::session::Session;

/// A POSTed console form whose CSRF token is the session's; the only way an action handler reads its form.
#[derive(Debug, Clone)]
pub struct CsrfForm(pub HashMap<String, String>);

impl CsrfForm {
    /// The field `name`, or "".
    pub fn field(&self, name: &str) -> &str {
        super::field(&self.0, name)
    }
}

fn refused() -> ConsoleError {
    ConsoleError::Forbidden("the form's CSRF token is missing or stale; reload the page".into())
}

impl<S: Send + Sync> FromRequest<S> for CsrfForm {
    type Rejection = ConsoleError;

    async fn from_request(request: Request, state: &S) -> Result<CsrfForm, ConsoleError> {
        let session = request.extensions().get::<Session>().cloned();
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|e| ConsoleError::Invalid(e.body_text()))?;
        let form = super::form(&body);
        match session {
            Some(session) if session.check(super::field(&form, "csrf")) => Ok(CsrfForm(form)),
            Some(_) | None => Err(refused()),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;

    use super::*;

    fn session() -> Session {
        Session {
            csrf: "0123abcd".into(),
            id: "id".into(),
        }
    }

    async fn extract(session: Option<Session>, body: &'static str) -> Result<CsrfForm, ConsoleError> {
        let mut request = Request::builder()
            .method("POST")
            .uri("/console/builds/web:1/stop")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(body))
            .expect("a request");
        if let Some(session) = session {
            request.extensions_mut().insert(session);
        }
        CsrfForm::from_request(request, &()).await
    }

    #[tokio::test]
    async fn a_form_with_the_sessions_token_is_read_and_any_other_is_refused_with_403() {
        let form = extract(Some(session()), "csrf=0123abcd&variables=A%3D1")
            .await
            .expect("the session's token");
        assert_eq!(form.field("variables"), "A=1");
        assert_eq!(form.field("missing"), "");
        let refusals = [
            (Some(session()), "csrf=guess"),
            (Some(session()), "variables=A%3D1"),
            (Some(session()), "csrf="),
            (None, "csrf=0123abcd"),
        ];
        for (session, body) in refusals {
            let refused = extract(session, body).await.expect_err("refused");
            assert_eq!(refused.into_response().status(), StatusCode::FORBIDDEN, "{body}");
        }
    }
}
