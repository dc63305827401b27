//! An HTTP API (`AWS::ApiGatewayV2::Api`) as the SAM transform writes it: an OpenAPI body whose paths carry
//! `x-amazon-apigateway-integration`s (Lambda proxy, payload format 2.0) and `security` requirements. Read into
//! routes with their function and authorisation, and matched the way API Gateway selects a route: the most
//! specific path first, greedy `{proxy+}` paths after exact ones, then `$default`.

use serde_json::Value;

/// An HTTP API, served on one loopback port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSource {
    pub id: String,
    pub routes: Vec<Route>,
}

/// One route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The method, upper case; `None` for any method.
    pub method: Option<String>,
    /// The path template (`/webhooks/{project}`); `None` for `$default`.
    pub path: Option<String>,
    /// The function's logical id.
    pub function: String,
    /// Whether the route requires a SigV4 signature for service `execute-api` (the `AWS_IAM` authoriser).
    pub iam: bool,
}

impl Route {
    /// The route key, as API Gateway writes it (`$default`, `ANY /path`, `POST /path`).
    pub fn key(&self) -> String {
        match &self.path {
            None => "$default".to_owned(),
            Some(path) => format!("{} {path}", self.method.as_deref().unwrap_or("ANY")),
        }
    }
}

/// The routes of an API's resolved properties; `function` finds a function's logical id by ARN.
pub fn routes(properties: &Value, function: &dyn Fn(&str) -> Option<String>) -> Result<Vec<Route>, String> {
    let body = &properties["Body"];
    let Some(paths) = body["paths"].as_object() else {
        return Err(
            "the box reads routes from the API's OpenAPI Body (as the SAM transform writes it)".into(),
        );
    };
    let schemes = &body["components"]["securitySchemes"];
    let mut routes = Vec::new();
    for (path, methods) in paths {
        for (method, operation) in methods.as_object().into_iter().flatten() {
            let integration = &operation["x-amazon-apigateway-integration"];
            if integration.is_null() {
                continue;
            }
            let route = format!("{method} {path}");
            if integration["type"].as_str() != Some("aws_proxy") {
                return Err(format!(
                    "route {route}: only Lambda proxy integrations are served"
                ));
            }
            if integration["payloadFormatVersion"].as_str() != Some("2.0") {
                return Err(format!("route {route}: only payload format 2.0 is served"));
            }
            let uri = integration["uri"].as_str().unwrap_or_default();
            let arn = uri
                .split_once("/functions/")
                .and_then(|(_, rest)| rest.strip_suffix("/invocations"))
                .unwrap_or(uri);
            let function = function(arn)
                .ok_or_else(|| format!("route {route}: {uri:?} names no function of the template"))?;
            routes.push(Route {
                method: match method.as_str() {
                    "x-amazon-apigateway-any-method" => None,
                    m => Some(m.to_ascii_uppercase()),
                },
                path: (path != "$default").then(|| path.clone()),
                function,
                iam: iam(&operation["security"], schemes).map_err(|e| format!("route {route}: {e}"))?,
            });
        }
    }
    Ok(routes)
}

fn iam(security: &Value, schemes: &Value) -> Result<bool, String> {
    let mut iam = false;
    for requirement in security.as_array().into_iter().flatten() {
        for name in requirement.as_object().into_iter().flatten().map(|(k, _)| k) {
            match schemes[name]["x-amazon-apigateway-authtype"].as_str() {
                Some("awsSigv4") => iam = true,
                // SAM's `Authorizer: NONE` on a route: open, whatever the API's default.
                None if name == "NONE" => {}
                other => return Err(format!("authoriser {name} ({other:?}) is not played by the box")),
            }
        }
    }
    Ok(iam)
}

/// How API Gateway ranks matching routes: exact over greedy, more literal segments, a named method over ANY.
type Rank = (bool, usize, bool);

/// A route's path parameters, name and value.
type Parameters = Vec<(String, String)>;

/// The route API Gateway would pick for `method` and `path`, with its path parameters.
pub fn select<'a>(
    routes: &'a [Route],
    method: &str,
    path: &str,
) -> Option<(&'a Route, Vec<(String, String)>)> {
    let method_matches = |r: &Route| r.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method));
    let mut best: Option<(&Route, Parameters, Rank)> = None;
    for route in routes.iter().filter(|r| method_matches(r)) {
        let Some(template) = &route.path else {
            continue;
        };
        let Some((parameters, greedy)) = match_path(template, path) else {
            continue;
        };
        // Exact over greedy, more literal segments first, a named method over ANY.
        let literal = template.split('/').filter(|s| !s.starts_with('{')).count();
        let rank = (!greedy, literal, route.method.is_some());
        if best.as_ref().is_none_or(|(_, _, r)| rank > *r) {
            best = Some((route, parameters, rank));
        }
    }
    if let Some((route, parameters, _)) = best {
        return Some((route, parameters));
    }
    routes.iter().find(|r| r.path.is_none()).map(|r| (r, Vec::new()))
}

fn match_path(template: &str, path: &str) -> Option<(Vec<(String, String)>, bool)> {
    let wanted: Vec<&str> = template.trim_start_matches('/').split('/').collect();
    let given: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut parameters = Vec::new();
    for (i, segment) in wanted.iter().enumerate() {
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix("+}")) {
            let rest = given.get(i..)?.join("/");
            if rest.is_empty() {
                return None;
            }
            parameters.push((name.to_owned(), rest));
            return Some((parameters, true));
        }
        let value = given.get(i)?;
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) if !value.is_empty() => parameters.push((name.to_owned(), (*value).to_owned())),
            Some(_) => return None,
            None if segment == value => {}
            None => return None,
        }
    }
    (wanted.len() == given.len()).then_some((parameters, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn route(method: Option<&str>, path: Option<&str>, function: &str) -> Route {
        Route {
            method: method.map(str::to_owned),
            path: path.map(str::to_owned),
            function: function.to_owned(),
            iam: false,
        }
    }

    #[test]
    fn the_most_specific_route_wins_and_default_takes_the_rest() {
        let routes = vec![
            route(None, None, "Default"),
            route(Some("POST"), Some("/webhooks/{project}"), "Webhook"),
            route(None, Some("/files/{proxy+}"), "Files"),
            route(Some("GET"), Some("/files/index"), "Index"),
        ];
        let pick = |m, p| select(&routes, m, p).map(|(r, params)| (r.function.clone(), params));
        assert_eq!(
            pick("POST", "/webhooks/app"),
            Some(("Webhook".into(), vec![("project".into(), "app".into())]))
        );
        assert_eq!(pick("GET", "/webhooks/app").map(|p| p.0), Some("Default".into()));
        assert_eq!(pick("GET", "/files/index").map(|p| p.0), Some("Index".into()));
        assert_eq!(
            pick("GET", "/files/a/b"),
            Some(("Files".into(), vec![("proxy".into(), "a/b".into())]))
        );
        assert_eq!(pick("POST", "/").map(|p| p.0), Some("Default".into()));
    }

    #[test]
    fn the_sam_output_reads_as_one_iam_default_route() {
        let properties = json!({"Body": {
            "paths": {"$default": {"x-amazon-apigateway-any-method": {
                "x-amazon-apigateway-integration": {
                    "type": "aws_proxy", "payloadFormatVersion": "2.0", "httpMethod": "POST",
                    "uri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:1:function:api/invocations"
                },
                "security": [{"AWS_IAM": []}]
            }}},
            "components": {"securitySchemes": {"AWS_IAM": {"x-amazon-apigateway-authtype": "awsSigv4"}}}
        }});
        let find =
            |arn: &str| (arn == "arn:aws:lambda:us-east-1:1:function:api").then(|| "ApiFunction".to_owned());
        let routes = routes(&properties, &find).expect("routes");
        assert_eq!(
            routes,
            vec![Route {
                method: None,
                path: None,
                function: "ApiFunction".into(),
                iam: true
            }]
        );
        assert_eq!(routes[0].key(), "$default");
    }

    #[test]
    fn a_route_with_sams_none_authoriser_is_open_and_an_unknown_authoriser_is_refused() {
        let body = |security: Value| {
            json!({"Body": {
                "paths": {"/iam": {"post": {
                    "x-amazon-apigateway-integration": {
                        "type": "aws_proxy", "payloadFormatVersion": "2.0",
                        "uri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/api/invocations"
                    },
                    "security": security
                }}},
                "components": {"securitySchemes": {"AWS_IAM": {"x-amazon-apigateway-authtype": "awsSigv4"}}}
            }})
        };
        let find = |_: &str| Some("ApiFunction".to_owned());
        let open = routes(&body(json!([{"NONE": []}])), &find).expect("routes");
        assert!(!open[0].iam);
        assert_eq!(open[0].key(), "POST /iam");
        let err = routes(&body(json!([{"MyJwt": []}])), &find).expect_err("not played");
        assert!(err.contains("MyJwt"), "{err}");
    }
}
