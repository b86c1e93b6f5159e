//! The server-side printing of `kubectl get`: `Table` (meta.k8s.io/v1) answers with the
//! printer columns of each type, and `PartialObjectMetadata` answers.

use std::time::Duration;

use serde_json::{Value, json};

use crate::resources::{CellSource, ResourceType};
use crate::time;

/// What an `Accept` header asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// Plain objects and lists (no `as=`).
    Object,
    /// `as=Table`.
    Table,
    /// `as=PartialObjectMetadata` or `as=PartialObjectMetadataList`.
    Metadata,
}

impl Form {
    /// Reads the first form of the `Accept` header that the server supports.
    pub fn from_accept(accept: &str) -> Form {
        for part in accept.split(',') {
            let params: Vec<&str> = part.split(';').map(str::trim).collect();
            let media = params[0];
            if media != "application/json" && media != "*/*" && media != "application/*" {
                continue;
            }
            let as_ = params.iter().find_map(|p| p.strip_prefix("as="));
            return match as_ {
                Some("Table") => Form::Table,
                Some("PartialObjectMetadata" | "PartialObjectMetadataList") => Form::Metadata,
                Some(_) => continue,
                None => Form::Object,
            };
        }
        Form::Object
    }
}

/// `includeObject` of a Table request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Include {
    /// Rows without `object`.
    None,
    /// PartialObjectMetadata (the default).
    Metadata,
    /// The whole object in each row.
    Object,
}

impl Include {
    /// Reads the `includeObject` query parameter; absent or unknown values mean `Metadata`.
    pub fn parse(s: Option<&str>) -> Include {
        match s {
            Some("None") => Include::None,
            Some("Object") => Include::Object,
            _ => Include::Metadata,
        }
    }
}

/// The `PartialObjectMetadata` of an object: its metadata under that kind, what `kubectl get`
/// and the kube crate's metadata watches ask for.
pub fn partial(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]})
}

/// A Table of `objects`; `with_headers` false leaves out the column definitions (watch events
/// after the first).
pub fn table(
    rt: &ResourceType,
    objects: &[&Value],
    include: Include,
    rv: &str,
    with_headers: bool,
) -> Value {
    let columns: Vec<Value> = if with_headers {
        rt.columns
            .iter()
            .map(|c| {
                json!({"name": c.name, "type": c.type_, "format": c.format,
                       "description": c.description, "priority": c.priority})
            })
            .collect()
    } else {
        Vec::new()
    };
    let now = time::now_secs();
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| {
            let cells: Vec<Value> = rt
                .columns
                .iter()
                .map(|c| cell(&c.source, &c.type_, obj, now))
                .collect();
            let mut row = json!({"cells": cells});
            match include {
                Include::None => {}
                Include::Metadata => row["object"] = partial(obj),
                Include::Object => row["object"] = (*obj).clone(),
            }
            row
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv},
        "columnDefinitions": columns,
        "rows": rows,
    })
}

fn cell(source: &CellSource, type_: &str, obj: &Value, now: i64) -> Value {
    match source {
        CellSource::Name => obj["metadata"]["name"].clone(),
        CellSource::Age => obj["metadata"]["creationTimestamp"]
            .as_str()
            .and_then(time::parse_rfc3339)
            .map(|t| {
                json!(time::human_age(
                    Duration::from_secs((now - t).max(0) as u64)
                ))
            })
            .unwrap_or(json!("<unknown>")),
        CellSource::DataCount => {
            let n = |k: &str| obj[k].as_object().map_or(0, |m| m.len());
            json!(n("data") + n("binaryData"))
        }
        CellSource::Path(p) => {
            let Some(v) = p.select(obj).into_iter().next() else {
                return Value::Null;
            };
            match (type_, v) {
                ("date", Value::String(s)) => time::parse_rfc3339(s)
                    .map(|t| {
                        json!(time::human_age(
                            Duration::from_secs((now - t).max(0) as u64)
                        ))
                    })
                    .unwrap_or_else(|| v.clone()),
                (_, Value::Array(_) | Value::Object(_)) => json!(v.to_string()),
                _ => v.clone(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_accept_header_kubectl_sends() {
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(Form::from_accept(kubectl), Form::Table);
        assert_eq!(Form::from_accept("application/json"), Form::Object);
        assert_eq!(
            Form::from_accept("application/vnd.kubernetes.protobuf, */*"),
            Form::Object
        );
        assert_eq!(
            Form::from_accept("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"),
            Form::Metadata
        );
    }
}
