//! What handlers read from a request: query parameters, the answer form of `Accept`, write
//! options (`dryRun`, `fieldManager`, `force`, `fieldValidation`), selectors, and the body.

use std::collections::HashMap;

use axum::http::{HeaderMap, header};
use serde_json::Value;

use super::{AppState, protobuf};
use crate::resources::ResourceType;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::Status;
use crate::store::{FieldValidation, WriteOptions};
use crate::table::Form;

/// One request on objects, as the handlers read it.
pub(super) struct Ctx<'a> {
    pub(super) state: &'a AppState,
    pub(super) query: HashMap<String, String>,
    pub(super) headers: &'a HeaderMap,
}

impl Ctx<'_> {
    /// A query parameter; an empty one counts as absent.
    pub(super) fn q(&self, k: &str) -> Option<&str> {
        self.query
            .get(k)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// A boolean query parameter (`true` or `1`).
    pub(super) fn flag(&self, k: &str) -> bool {
        matches!(self.q(k), Some("true" | "1"))
    }

    /// The form the `Accept` header asks for; a plain object when there is none.
    pub(super) fn form(&self) -> Form {
        self.headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .map(Form::from_accept)
            .unwrap_or(Form::Object)
    }

    /// The options of a write from `dryRun`, `fieldManager`, `force` and `fieldValidation`,
    /// refusing values the API server refuses.
    pub(super) fn write_options(&self) -> Result<WriteOptions, Status> {
        let dry_run = match self.q("dryRun") {
            None => false,
            Some("All") => true,
            Some(other) => {
                return Err(Status::bad_request(format!(
                    "Invalid dry run value {other:?}: supported values: \"All\""
                )));
            }
        };
        let validation = match self.q("fieldValidation") {
            None | Some("Warn") => FieldValidation::Warn,
            Some("Strict") => FieldValidation::Strict,
            Some("Ignore") => FieldValidation::Ignore,
            Some(other) => {
                return Err(Status::bad_request(format!(
                    "fieldValidation {other:?} is not one of Ignore, Warn, Strict"
                )));
            }
        };
        let manager = match self.q("fieldManager") {
            Some(m) if m.len() > 128 => {
                return Err(Status::bad_request(
                    "fieldManager: Too long: may not be more than 128 bytes",
                ));
            }
            Some(m) => m.to_owned(),
            None => self.user_agent_manager(),
        };
        Ok(WriteOptions {
            dry_run,
            manager,
            force: self.flag("force"),
            validation,
        })
    }

    /// The default field manager: the user agent up to its first `/` (as the API server does).
    fn user_agent_manager(&self) -> String {
        let ua = self
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("unknown");
        ua.split('/')
            .next()
            .unwrap_or(ua)
            .chars()
            .take(128)
            .collect()
    }
}

/// `labelSelector` and `fieldSelector`; a selector that does not parse is a 400.
pub(super) fn selectors(ctx: &Ctx<'_>) -> Result<(LabelSelector, FieldSelector), Status> {
    let labels = LabelSelector::parse(ctx.q("labelSelector").unwrap_or_default())
        .map_err(Status::bad_request)?;
    let fields = FieldSelector::parse(ctx.q("fieldSelector").unwrap_or_default())
        .map_err(Status::bad_request)?;
    Ok((labels, fields))
}

/// The object of a create or update, in the encoding its `Content-Type` names: JSON (also
/// when there is none), YAML, or protobuf for built-in kinds; others are 415, as the API
/// server's `negotiation.NegotiateInputSerializer`
/// (`staging/src/k8s.io/apiserver/pkg/endpoints/handlers/negotiation/negotiate.go`) answers.
pub(super) fn body_object(ctx: &Ctx<'_>, rt: &ResourceType, body: &[u8]) -> Result<Value, Status> {
    let ct = ctx
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let media = ct.split(';').next().unwrap_or_default().trim();
    match media {
        "" | "application/json" | "application/yaml" | "*/*" => parse_json(body),
        protobuf::MEDIA_TYPE if protobuf::served(rt) => protobuf::decode(rt, body),
        _ => Err(protobuf::unsupported(rt)),
    }
}

/// The body of a create, update or delete: JSON, or YAML as kubectl may send.
pub(super) fn parse_json(body: &[u8]) -> Result<Value, Status> {
    if body.is_empty() {
        return Err(Status::bad_request("the request body is empty"));
    }
    serde_json::from_slice(body)
        .or_else(|_| {
            // kubectl and others may send YAML on create/update.
            std::str::from_utf8(body)
                .ok()
                .and_then(|s| serde_yaml::from_str(s).ok())
                .ok_or(())
        })
        .map_err(|()| Status::bad_request("the request body is not valid JSON"))
}
