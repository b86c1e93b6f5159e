//! Errors: [`ApiError`] is a Kubernetes `Status` answer (404, 409, 422, ...) of the API; [`Error`]
//! is why the simulated cluster could not start or stop.

use serde_json::{Value, json};

use crate::resources::ResourceType;
use crate::schema::Cause;

/// Why the simulated cluster failed outside the API (start-up, kubeconfig, shutdown).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The kubeconfig could not be written.
    #[error("cannot write the kubeconfig {path}")]
    Kubeconfig {
        /// The path.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The server stopped with an I/O error.
    #[error("the server failed")]
    Serve(#[source] std::io::Error),
    /// A fault rule or configuration value is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// A failed API request, answered with a `Status` body.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, ...
    pub reason: &'static str,
    /// Human-readable message.
    pub message: String,
    /// `details` of the Status, if any.
    pub details: Option<Value>,
}

impl ApiError {
    /// An error without details.
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    /// 404 NotFound for an object.
    pub fn not_found(t: &ResourceType, name: &str) -> ApiError {
        ApiError {
            details: Some(json!({"name": name, "group": t.group, "kind": t.plural})),
            ..ApiError::new(
                404,
                "NotFound",
                format!("{} \"{name}\" not found", t.group_resource()),
            )
        }
    }

    /// 404 for a path the server does not serve.
    pub fn no_route() -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    /// 409 AlreadyExists.
    pub fn already_exists(t: &ResourceType, name: &str) -> ApiError {
        ApiError {
            details: Some(json!({"name": name, "group": t.group, "kind": t.plural})),
            ..ApiError::new(
                409,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", t.group_resource()),
            )
        }
    }

    /// 409 Conflict on a stale resourceVersion or failed precondition.
    pub fn conflict(t: &ResourceType, name: &str, why: &str) -> ApiError {
        ApiError {
            details: Some(json!({"name": name, "group": t.group, "kind": t.plural})),
            ..ApiError::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} \"{name}\": {why}",
                    t.group_resource()
                ),
            )
        }
    }

    /// 422 Invalid with one cause per failed field.
    pub fn invalid(t: &ResourceType, name: &str, mut causes: Vec<Cause>) -> ApiError {
        causes.sort_by(|a, b| a.field.cmp(&b.field));
        causes.dedup();
        let texts: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        let joined = if texts.len() == 1 {
            texts[0].clone()
        } else {
            format!("[{}]", texts.join(", "))
        };
        let causes_json: Vec<Value> = causes
            .iter()
            .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
            .collect();
        ApiError {
            details: Some(
                json!({"name": name, "group": t.group, "kind": t.kind, "causes": causes_json}),
            ),
            ..ApiError::new(
                422,
                "Invalid",
                format!("{} \"{name}\" is invalid: {joined}", t.group_kind()),
            )
        }
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed(what: &str) -> ApiError {
        ApiError::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource: {what}"),
        )
    }

    /// The `Status` body.
    pub fn status_body(&self) -> Value {
        let mut v = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            v["details"] = d.clone();
        }
        v
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}
