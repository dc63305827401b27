//! Console sessions and cross-site protection. A session is a signed cookie `kiln_console` =
//! `<id>.<auth>.<expiry>.<hmac>` (HMAC-SHA256; HttpOnly, SameSite=Strict); `auth` is `1` after a login with the
//! server's credentials. A logged-in session is also kept on the server ([`super::sessions`]) where the host has
//! a session store: each request must find it there, live, so logging out, an idle period or a revocation ends
//! it even for a copy of the cookie. Every POST must come from this origin (`Sec-Fetch-Site`, `Origin`, checked here) and
//! carry the session's CSRF token (checked by [`super::csrf::CsrfForm`]). Without configured credentials (loopback only) a session is issued on first visit.

use std::sync::OnceLock;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{Hmac, Mac};
use kiln_core::sigv4::Credentials;
use maud::{Markup, html};
use sha2::Sha256;

use super::return_path::ReturnPath;
use crate::AppState;

/// The cookie's name.
pub const COOKIE: &str = "kiln_console";
const LIFETIME_SECS: u64 = 12 * 3600;

/// The session of the request, put in its extensions by [`guard`].
#[derive(Debug, Clone)]
pub struct Session {
    /// The token every POST form carries.
    pub csrf: String,
    /// The random id the cookie names (a bearer secret: never rendered).
    pub(crate) id: String,
}

impl Session {
    /// Whether `token` is this session's CSRF token (constant time).
    pub fn check(&self, token: &str) -> bool {
        use subtle::ConstantTimeEq;
        !token.is_empty() && bool::from(self.csrf.as_bytes().ct_eq(token.as_bytes()))
    }
}

fn key(state: &AppState) -> Vec<u8> {
    // With credentials the key derives from the secret (sessions survive restarts); else it is the configured
    // key (shared by every instance of a function), else per process.
    static RANDOM: OnceLock<Vec<u8>> = OnceLock::new();
    match (&state.access.server_key, &state.session_key) {
        (Some(c), _) => mac_bytes(c.secret_access_key().as_bytes(), "kiln console session key"),
        (None, Some(key)) => mac_bytes(key, "kiln console session key"),
        (None, None) => RANDOM
            .get_or_init(|| {
                let mut k = uuid::Uuid::new_v4().as_bytes().to_vec();
                k.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
                k
            })
            .clone(),
    }
}

fn mac_bytes(key: &[u8], message: &str) -> Vec<u8> {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return Vec::new();
    };
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn sign(key: &[u8], message: &str) -> String {
    hex::encode(mac_bytes(key, message))
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A new cookie value for a session, `authenticated` or not.
fn issue(key: &[u8], authenticated: bool) -> (Session, String) {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let payload = format!("{id}.{}.{}", u8::from(authenticated), now_secs() + LIFETIME_SECS);
    let value = format!("{payload}.{}", sign(key, &payload));
    (session(key, id), value)
}

fn session(key: &[u8], id: String) -> Session {
    let csrf = sign(key, &format!("csrf:{id}"));
    Session { csrf, id }
}

/// The session a cookie value proves, and whether it logged in.
fn verify(key: &[u8], value: &str) -> Option<(Session, bool)> {
    let (payload, mac) = value.rsplit_once('.')?;
    let expected = sign(key, payload);
    use subtle::ConstantTimeEq;
    if !bool::from(expected.as_bytes().ct_eq(mac.as_bytes())) {
        return None;
    }
    let mut parts = payload.split('.');
    let (id, auth, expiry) = (parts.next()?, parts.next()?, parts.next()?);
    if expiry.parse::<u64>().ok()? < now_secs() {
        return None;
    }
    Some((session(key, id.to_owned()), auth == "1"))
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

fn set_cookie(value: &str, max_age: u64) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}"
    ))
    .ok()
}

/// A POST from another site: `Sec-Fetch-Site` other than same-origin/none, or an `Origin` not this host.
fn cross_site(headers: &HeaderMap) -> bool {
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if let Some(site) = fetch_site
        && site != "same-origin"
        && site != "none"
    {
        return true;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => false,
        Some(origin) => {
            let bare = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                .unwrap_or(origin);
            bare != host
        }
    }
}

fn forbidden(message: &str) -> Response {
    let body = html! { h1 { "Forbidden" } p { (message) } };
    (StatusCode::FORBIDDEN, super::html::page("Forbidden", body)).into_response()
}

/// Middleware of every console route: adds the security headers to what [`check`] answers.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = check(state, request, next).await;
    let headers = response.headers_mut();
    // Scripts and styles only from this server, no framing (clickjacking), no MIME sniffing.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
             form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

/// Checks or issues the session and refuses cross-site POSTs.
async fn check(state: AppState, mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let public = path.starts_with("/console/assets/") || path == "/console/login";
    if request.method() == Method::POST && cross_site(request.headers()) {
        return forbidden("cross-site request refused");
    }
    let key = key(&state);
    let existing = match cookie_value(request.headers()).and_then(|v| verify(&key, &v)) {
        Some((session, true)) => match super::sessions::is_live(&state, &session.id).await {
            Ok(true) => Some((session, true)),
            Ok(false) => None,
            Err(err) => return err.into_response(),
        },
        other => other,
    };
    // A caller API Gateway's IAM authoriser accepted (the deployed API's /iam routes) is who it says.
    let iam = request.extensions().get::<crate::access::IamCaller>().is_some();
    let needs_login = state.access.required() && !iam;
    match existing {
        Some((session, authenticated)) if authenticated || !needs_login => {
            request.extensions_mut().insert(session);
            next.run(request).await
        }
        _ if public => next.run(request).await,
        _ if needs_login => {
            if request.method() == Method::GET {
                Redirect::to(&format!("/console/login?next={}", super::html::pct(&path))).into_response()
            } else {
                forbidden("log in first")
            }
        }
        _ => {
            let (session, value) = issue(&key, false);
            request.extensions_mut().insert(session);
            let mut response = next.run(request).await;
            if let Some(cookie) = set_cookie(&value, LIFETIME_SECS) {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
    }
}

/// Whether the request carries the cookie of a live logged-in session (with credentials configured).
pub async fn authenticated(state: &AppState, headers: &HeaderMap) -> bool {
    let key = key(state);
    match cookie_value(headers).and_then(|v| verify(&key, &v)) {
        Some((session, true)) => super::sessions::is_live(state, &session.id)
            .await
            .unwrap_or(false),
        Some((_, false)) | None => false,
    }
}

/// The logout form (a POST with the session's CSRF token), shown when credentials are configured.
pub fn logout_form(state: &AppState, session: &Session) -> Markup {
    if !state.access.required() {
        return Markup::default();
    }
    html! {
        form method="post" action="/console/logout" class="logout" {
            (super::html::csrf_field(&session.csrf))
            a href="/console/sessions" { "Sessions" }
            " "
            button type="submit" { "Log out" }
        }
    }
}

/// `POST /console/logout`: ends the session on the server and clears its cookie (a form with the session's
/// CSRF token), then goes to the login page.
pub async fn logout(
    State(state): State<AppState>,
    axum::Extension(session): axum::Extension<Session>,
    _form: super::csrf::CsrfForm,
) -> Response {
    if let Err(err) = super::sessions::end(&state, &session.id).await {
        return err.into_response();
    }
    let target = if state.access.required() {
        "/console/login"
    } else {
        "/"
    };
    let mut response = Redirect::to(target).into_response();
    if let Some(cookie) = set_cookie("", 0) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// `GET /console/login` (its query read leniently: `next` resolved by [`ReturnPath`], `failed` when `true`).
pub async fn login_page(uri: axum::http::Uri) -> Markup {
    let failed = form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .any(|(name, value)| name == "failed" && value == "true");
    super::html::page(
        "Log in",
        login_form(ReturnPath::from_query(uri.query()).as_str(), failed),
    )
}

/// The login form, going on to `next` once logged in; `failed` says the last try was refused.
fn login_form(next: &str, failed: bool) -> Markup {
    html! {
        h1 { "Log in" }
        @if failed { p class="error" role="alert" { "Those credentials are not one of this server's keys." } }
        form method="post" action="/console/login" class="card login" {
            input type="hidden" name="next" value=(next);
            label { "Access key id " input name="access_key_id" autocomplete="username" required; }
            label {
                "Secret access key "
                input name="secret_access_key" type="password" autocomplete="current-password" required;
            }
            button type="submit" { "Log in" }
        }
    }
}

/// The credentials a console login with access key id `id` is checked against: the server's own key pair, or
/// a Kiln access key whose scope is everything (a key limited to some operations or projects cannot open the
/// console, whose pages start, stop and retry builds of every project).
async fn login_key(state: &AppState, id: &str) -> Result<Option<Credentials>, crate::error::AppError> {
    if let Some(server) = state
        .access
        .server_key
        .as_ref()
        .filter(|c| c.access_key_id() == id)
    {
        return Ok(Some(server.clone()));
    }
    let Some(keyring) = &state.access.keyring else {
        return Ok(None);
    };
    match keyring.active(id).await {
        Ok(Some(active)) if active.scope == kiln_core::access_keys::KeyScope::everything() => {
            Ok(Some(active.credentials))
        }
        Ok(_) => Ok(None),
        Err(err) => Err(crate::error::AppError::Internal(err.to_string())),
    }
}

/// Whether `id` and `secret` are `credentials`, compared in constant time.
fn same(credentials: &Credentials, id: &str, secret: &str) -> bool {
    use subtle::ConstantTimeEq;
    let id_ok = credentials.access_key_id().as_bytes().ct_eq(id.as_bytes());
    let secret_ok = credentials
        .secret_access_key()
        .as_bytes()
        .ct_eq(secret.as_bytes());
    bool::from(id_ok & secret_ok)
}

/// `POST /console/login`: checks the credentials against the server's, records the session and sets its cookie.
pub async fn login(State(state): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let form = super::form(&body);
    let next = ReturnPath::parse(super::field(&form, "next"));
    if !state.access.required() {
        return Redirect::to(next.as_str()).into_response();
    }
    let key = key(&state);
    let given = (
        super::field(&form, "access_key_id"),
        super::field(&form, "secret_access_key"),
    );
    let accepted = match login_key(&state, given.0).await {
        Ok(Some(credentials)) => same(&credentials, given.0, given.1),
        Ok(None) => false,
        Err(err) => return err.into_response(),
    };
    if !accepted {
        return Redirect::to(&format!(
            "/console/login?failed=true&next={}",
            super::html::pct(next.as_str())
        ))
        .into_response();
    }
    let (session, value) = issue(&key, true);
    let user_agent = headers
        .get(header::USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let lifetime = std::time::Duration::from_secs(LIFETIME_SECS);
    if let Err(err) = super::sessions::start(&state, &session.id, lifetime, &user_agent).await {
        return err.into_response();
    }
    let mut response = Redirect::to(next.as_str()).into_response();
    if let Some(cookie) = set_cookie(&value, LIFETIME_SECS) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_cookie_verifies_and_a_tampered_one_does_not() {
        let key = b"0123456789abcdef".to_vec();
        let (session, value) = issue(&key, true);
        let (again, authenticated) = verify(&key, &value).expect("valid");
        assert!(authenticated);
        assert_eq!(again.csrf, session.csrf);
        let tampered = value.replacen(".1.", ".0.", 1);
        assert!(verify(&key, &tampered).is_none());
        assert!(verify(b"another key", &value).is_none());
        assert!(session.check(&session.csrf));
        assert!(!session.check("x"));
        assert!(!session.check(""));
    }

    #[test]
    fn posts_from_other_sites_are_recognised() {
        let cases = [
            (
                vec![("host", "127.0.0.1:1"), ("origin", "http://127.0.0.1:1")],
                false,
            ),
            (
                vec![("host", "127.0.0.1:1"), ("origin", "http://evil.example")],
                true,
            ),
            (
                vec![("host", "127.0.0.1:1"), ("sec-fetch-site", "cross-site")],
                true,
            ),
            (
                vec![("host", "127.0.0.1:1"), ("sec-fetch-site", "same-origin")],
                false,
            ),
            (vec![("host", "127.0.0.1:1")], false),
        ];
        for (pairs, expected) in cases {
            let mut headers = HeaderMap::new();
            for (name, value) in &pairs {
                headers.insert(*name, HeaderValue::from_static(value));
            }
            assert_eq!(cross_site(&headers), expected, "{pairs:?}");
        }
    }

    #[test]
    fn a_refused_request_gets_an_html_page_not_its_source_as_text() {
        let response = forbidden("cross-site request refused");
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
    }
}
