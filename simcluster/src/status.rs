//! The failure `Status` answers of the Kubernetes API (404, 409, 422, ...), with the reasons,
//! messages and details the API server writes.

use serde_json::{Value, json};

use crate::resources::ResourceType;
use crate::schema::Cause;

/// A Kubernetes `Status` of failure: how the API refuses a request (404 NotFound, 409 Conflict,
/// 422 Invalid, ...). Handlers and the store return it as their `Err`, and the HTTP front
/// answers it as the body; it is an answer to a client, not a failure of the simulated
/// cluster, which is [`crate::Error`].
#[derive(Clone, Debug, PartialEq)]
pub struct Status {
    /// The HTTP status code, repeated as `code` in the body.
    pub code: u16,
    /// `NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, ...
    pub reason: &'static str,
    /// What went wrong, worded as the API server words it: clients print it as it is.
    pub message: String,
    /// `details` of the body: the object's name, group and kind, and `causes` per field.
    pub details: Option<Value>,
}

impl Status {
    /// A Status without `details`.
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Status {
        Status {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Status {
        Status::new(400, "BadRequest", message)
    }

    /// 404 NotFound for an object.
    pub fn not_found(t: &ResourceType, name: &str) -> Status {
        Status {
            details: Some(json!({"name": name, "group": t.group, "kind": t.plural})),
            ..Status::new(
                404,
                "NotFound",
                format!("{} \"{name}\" not found", t.group_resource()),
            )
        }
    }

    /// 404 for a path the server does not serve.
    pub fn no_route() -> Status {
        Status::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    /// 409 AlreadyExists.
    pub fn already_exists(t: &ResourceType, name: &str) -> Status {
        Status {
            details: Some(json!({"name": name, "group": t.group, "kind": t.plural})),
            ..Status::new(
                409,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", t.group_resource()),
            )
        }
    }

    /// 409 Conflict on a stale resourceVersion or failed precondition.
    pub fn conflict(t: &ResourceType, name: &str, why: &str) -> Status {
        Status {
            details: Some(json!({"name": name, "group": t.group, "kind": t.plural})),
            ..Status::new(
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
    pub fn invalid(t: &ResourceType, name: &str, mut causes: Vec<Cause>) -> Status {
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
        Status {
            details: Some(
                json!({"name": name, "group": t.group, "kind": t.kind, "causes": causes_json}),
            ),
            ..Status::new(
                422,
                "Invalid",
                format!("{} \"{name}\" is invalid: {joined}", t.group_kind()),
            )
        }
    }

    /// 422 Invalid for the options of a request (`ListOptions`, `PatchOptions`, ...), as
    /// `errors.NewInvalid(schema.GroupKind{Group: "meta.k8s.io", Kind: kind}, "", errs)`
    /// words it.
    pub fn invalid_options(kind: &str, causes: Vec<Cause>) -> Status {
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
        Status {
            details: Some(json!({"group": "meta.k8s.io", "kind": kind, "causes": causes_json})),
            ..Status::new(
                422,
                "Invalid",
                format!("{kind}.meta.k8s.io \"\" is invalid: {joined}"),
            )
        }
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed(what: &str) -> Status {
        Status::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource: {what}"),
        )
    }

    /// The JSON body of the answer (`kind: Status`, `status: Failure`), also the object of a
    /// watch's ERROR event.
    pub fn body(&self) -> Value {
        let mut v = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        // An error that is not an API status (a 500 from deep inside) has no reason.
        if self.reason.is_empty() {
            v.as_object_mut().map(|m| m.remove("reason"));
        }
        if let Some(d) = &self.details {
            v["details"] = d.clone();
        }
        v
    }
}
