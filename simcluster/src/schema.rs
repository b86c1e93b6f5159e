//! Structural OpenAPI v3 schemas: parsing, validation with Kubernetes field paths, pruning of
//! unknown fields, and the list and map types that server-side apply merges by.

use std::collections::BTreeMap;

use regex::Regex;
use serde_json::{Map, Value};

/// How the items of an array are merged by server-side apply (`x-kubernetes-list-type`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ListType {
    /// The list is replaced as a whole (the default of custom resources).
    #[default]
    Atomic,
    /// Items are scalars, each owned on its own.
    Set,
    /// Items are objects identified by the given key fields.
    Map(Vec<String>),
}

/// One node of a structural schema.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    /// `type`, if given; a node without one accepts any type.
    pub type_: Option<String>,
    /// `format`, if given (`int32`, `int64`, `date-time`).
    pub format: Option<String>,
    /// Known fields of an object.
    pub properties: BTreeMap<String, Schema>,
    /// Schema of the values of a map (`additionalProperties`).
    pub additional_properties: Option<Box<Schema>>,
    /// Schema of array items.
    pub items: Option<Box<Schema>>,
    /// Required fields of an object.
    pub required: Vec<String>,
    /// `x-kubernetes-preserve-unknown-fields`.
    pub preserve_unknown_fields: bool,
    /// `x-kubernetes-int-or-string`.
    pub int_or_string: bool,
    /// `nullable`.
    pub nullable: bool,
    /// `x-kubernetes-list-type` with `x-kubernetes-list-map-keys`.
    pub list_type: ListType,
    /// `x-kubernetes-map-type: atomic`.
    pub map_atomic: bool,
    /// `pattern`, compiled.
    pub pattern: Option<Regex>,
    /// `enum`: the allowed values; empty allows any.
    pub enum_: Vec<Value>,
    /// `minimum`.
    pub minimum: Option<f64>,
    /// `maximum`.
    pub maximum: Option<f64>,
    /// `minLength`.
    pub min_length: Option<usize>,
    /// `maxLength`.
    pub max_length: Option<usize>,
    /// `minItems`.
    pub min_items: Option<usize>,
    /// `maxItems`.
    pub max_items: Option<usize>,
    /// `minProperties`.
    pub min_properties: Option<usize>,
    /// `maxProperties`.
    pub max_properties: Option<usize>,
}

/// One validation failure, as a `StatusCause` of a 422 answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueRequired`, `FieldValueInvalid`, `FieldValueTypeInvalid`, ...
    pub reason: &'static str,
    /// Text after the field path (`Required value`, `Invalid value: ...`).
    pub message: String,
    /// Field path such as `spec.versionWeights.1.0.0` or `spec.regions[0]`.
    pub field: String,
}

impl Cause {
    /// A cause with the given reason, message and path.
    pub fn new(
        reason: &'static str,
        message: impl Into<String>,
        field: impl Into<String>,
    ) -> Cause {
        Cause {
            reason,
            message: message.into(),
            field: field.into(),
        }
    }
}

fn usize_of(v: &Value, key: &str) -> Option<usize> {
    v.get(key).and_then(Value::as_u64).map(|n| n as usize)
}

impl Schema {
    /// Parses an OpenAPI v3 schema (the `openAPIV3Schema` of a CRD version).
    pub fn from_openapi(v: &Value) -> Result<Schema, String> {
        let obj = v.as_object().ok_or("a schema must be an object")?;
        let mut s = Schema {
            type_: obj.get("type").and_then(Value::as_str).map(str::to_owned),
            format: obj.get("format").and_then(Value::as_str).map(str::to_owned),
            preserve_unknown_fields: obj
                .get("x-kubernetes-preserve-unknown-fields")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            int_or_string: obj
                .get("x-kubernetes-int-or-string")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            nullable: obj
                .get("nullable")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            map_atomic: obj.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic"),
            enum_: obj
                .get("enum")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            minimum: obj.get("minimum").and_then(Value::as_f64),
            maximum: obj.get("maximum").and_then(Value::as_f64),
            min_length: usize_of(v, "minLength"),
            max_length: usize_of(v, "maxLength"),
            min_items: usize_of(v, "minItems"),
            max_items: usize_of(v, "maxItems"),
            min_properties: usize_of(v, "minProperties"),
            max_properties: usize_of(v, "maxProperties"),
            ..Schema::default()
        };
        if let Some(p) = obj.get("pattern").and_then(Value::as_str) {
            s.pattern = Some(Regex::new(p).map_err(|e| format!("pattern {p:?}: {e}"))?);
        }
        if let Some(props) = obj.get("properties").and_then(Value::as_object) {
            for (k, pv) in props {
                let child = Schema::from_openapi(pv).map_err(|e| format!("{k}: {e}"))?;
                s.properties.insert(k.clone(), child);
            }
        }
        if let Some(ap) = obj.get("additionalProperties") {
            match ap {
                Value::Object(_) => {
                    s.additional_properties = Some(Box::new(Schema::from_openapi(ap)?));
                }
                Value::Bool(true) => s.preserve_unknown_fields = true,
                _ => {}
            }
        }
        if let Some(items) = obj.get("items") {
            s.items = Some(Box::new(Schema::from_openapi(items)?));
        }
        if let Some(req) = obj.get("required").and_then(Value::as_array) {
            s.required = req
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
        }
        s.list_type = match obj.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => ListType::Set,
            Some("map") => ListType::Map(
                obj.get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|keys| {
                        keys.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            _ => ListType::Atomic,
        };
        Ok(s)
    }

    /// A schema that accepts anything and keeps every field.
    pub fn any() -> Schema {
        Schema {
            preserve_unknown_fields: true,
            ..Schema::default()
        }
    }

    /// The schema of the field `name` of an object, if the schema knows it (or keeps unknown
    /// fields, in which case the answer is an untyped schema).
    pub fn field(&self, name: &str) -> Option<&Schema> {
        static ANY: std::sync::OnceLock<Schema> = std::sync::OnceLock::new();
        if let Some(p) = self.properties.get(name) {
            return Some(p);
        }
        if let Some(ap) = &self.additional_properties {
            return Some(ap);
        }
        if self.preserve_unknown_fields || self.type_.is_none() {
            return Some(ANY.get_or_init(Schema::any));
        }
        None
    }

    /// The schema of array items (untyped when not given).
    pub fn item(&self) -> &Schema {
        static ANY: std::sync::OnceLock<Schema> = std::sync::OnceLock::new();
        self.items
            .as_deref()
            .unwrap_or_else(|| ANY.get_or_init(Schema::any))
    }

    /// Removes fields the schema does not know, recording their paths in `unknown`.
    pub fn prune(&self, value: &mut Value, path: &str, unknown: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                let known_only = self.additional_properties.is_none()
                    && !self.preserve_unknown_fields
                    && self.type_.as_deref() == Some("object");
                let mut drop = Vec::new();
                for (k, v) in map.iter_mut() {
                    let child_path = join(path, k);
                    match self.properties.get(k) {
                        Some(p) => p.prune(v, &child_path, unknown),
                        None => match &self.additional_properties {
                            Some(ap) => ap.prune(v, &child_path, unknown),
                            None if known_only => drop.push(k.clone()),
                            None => {}
                        },
                    }
                }
                for k in drop {
                    unknown.push(join(path, &k));
                    map.remove(&k);
                }
            }
            Value::Array(items) => {
                if let Some(item) = &self.items {
                    for (i, v) in items.iter_mut().enumerate() {
                        item.prune(v, &format!("{path}[{i}]"), unknown);
                    }
                }
            }
            _ => {}
        }
    }

    /// The schema of a custom resource: `format: int32` and `int64` are not range-checked
    /// there. kube-openapi's validator checks formats of strings only
    /// (`k8s.io/kube-openapi/pkg/validation/validate/formats.go`, `formatValidator.Applies`),
    /// so an int32 field of a CRD takes any integer; built-in types are Go structs, whose
    /// decoding refuses out-of-range numbers.
    pub fn without_integer_format_bounds(mut self) -> Schema {
        fn strip(s: &mut Schema) {
            if matches!(s.format.as_deref(), Some("int32" | "int64")) {
                s.format = None;
            }
            s.properties.values_mut().for_each(strip);
            if let Some(ap) = s.additional_properties.as_deref_mut() {
                strip(ap);
            }
            if let Some(items) = s.items.as_deref_mut() {
                strip(items);
            }
        }
        strip(&mut self);
        self
    }

    /// Validates `value` at `path` (dotted, empty for the root), appending every failure.
    pub fn validate(&self, value: &Value, path: &str, causes: &mut Vec<Cause>) {
        if value.is_null() {
            if !self.nullable && self.type_.is_some() {
                causes.push(Cause::new(
                    "FieldValueTypeInvalid",
                    format!(
                        "Invalid value: \"null\": {} in body must be of type {}: \"null\"",
                        shown(path),
                        self.type_.as_deref().unwrap_or("object")
                    ),
                    path,
                ));
            }
            return;
        }
        if !self.type_ok(value) {
            let expected = if self.int_or_string {
                "integer or string"
            } else {
                self.type_.as_deref().unwrap_or("object")
            };
            causes.push(Cause::new(
                "FieldValueTypeInvalid",
                format!(
                    "Invalid value: \"{}\": {} in body must be of type {expected}: \"{}\"",
                    type_name(value),
                    shown(path),
                    type_name(value)
                ),
                path,
            ));
            return;
        }
        if !self.enum_.is_empty() && !self.enum_.contains(value) {
            let supported: Vec<String> = self.enum_.iter().map(Value::to_string).collect();
            causes.push(Cause::new(
                "FieldValueNotSupported",
                format!(
                    "Unsupported value: {value}: supported values: {}",
                    supported.join(", ")
                ),
                path,
            ));
        }
        match value {
            Value::String(s) => self.validate_string(s, value, path, causes),
            Value::Number(n) => self.validate_number(n, value, path, causes),
            Value::Array(items) => self.validate_array(items, path, causes),
            Value::Object(map) => self.validate_object(map, path, causes),
            Value::Bool(_) | Value::Null => {}
        }
    }

    /// Item counts, every item, and the keys of list-maps.
    fn validate_array(&self, items: &[Value], path: &str, causes: &mut Vec<Cause>) {
        if let Some(min) = self.min_items
            && items.len() < min
        {
            causes.push(Cause::new(
                "FieldValueInvalid",
                format!(
                    "Invalid value: {}: {} in body should have at least {min} items",
                    items.len(),
                    shown(path)
                ),
                path,
            ));
        }
        if let Some(max) = self.max_items
            && items.len() > max
        {
            causes.push(Cause::new(
                "FieldValueTooMany",
                format!("Too many: {}: must have at most {max} items", items.len()),
                path,
            ));
        }
        let item = self.item();
        for (i, v) in items.iter().enumerate() {
            item.validate(v, &format!("{path}[{i}]"), causes);
        }
        self.validate_list_keys(items, path, causes);
    }

    /// Required members, member counts, and every member against its property's schema.
    fn validate_object(&self, map: &Map<String, Value>, path: &str, causes: &mut Vec<Cause>) {
        for r in &self.required {
            if !map.contains_key(r) {
                causes.push(Cause::new(
                    "FieldValueRequired",
                    "Required value",
                    join(path, r),
                ));
            }
        }
        if let Some(max) = self.max_properties
            && map.len() > max
        {
            causes.push(Cause::new(
                "FieldValueTooMany",
                format!("Too many: {}: must have at most {max} items", map.len()),
                path,
            ));
        }
        if let Some(min) = self.min_properties
            && map.len() < min
        {
            causes.push(Cause::new(
                "FieldValueInvalid",
                format!(
                    "Invalid value: {}: {} in body should have at least {min} properties",
                    map.len(),
                    shown(path)
                ),
                path,
            ));
        }
        for (k, v) in map {
            let child = self
                .properties
                .get(k)
                .or(self.additional_properties.as_deref());
            if let Some(child) = child {
                child.validate(v, &join(path, k), causes);
            }
        }
    }

    fn type_ok(&self, value: &Value) -> bool {
        if self.int_or_string {
            return value.is_string() || value.is_i64() || value.is_u64();
        }
        match self.type_.as_deref() {
            None => true,
            Some("object") => value.is_object(),
            Some("array") => value.is_array(),
            Some("string") => value.is_string(),
            Some("integer") => value.is_i64() || value.is_u64(),
            Some("number") => value.is_number(),
            Some("boolean") => value.is_boolean(),
            Some(_) => true,
        }
    }

    fn validate_string(&self, s: &str, value: &Value, path: &str, causes: &mut Vec<Cause>) {
        let len = s.chars().count();
        if let Some(max) = self.max_length
            && len > max
        {
            causes.push(Cause::new(
                "FieldValueTooLong",
                format!("Too long: may not be more than {max} bytes"),
                path,
            ));
        }
        if let Some(min) = self.min_length
            && len < min
        {
            causes.push(Cause::new(
                "FieldValueInvalid",
                format!(
                    "Invalid value: {value}: {} in body should be at least {min} chars long",
                    shown(path)
                ),
                path,
            ));
        }
        if let Some(re) = &self.pattern
            && !re.is_match(s)
        {
            causes.push(Cause::new(
                "FieldValueInvalid",
                format!(
                    "Invalid value: {value}: {} in body should match '{}'",
                    shown(path),
                    re.as_str()
                ),
                path,
            ));
        }
        if self.format.as_deref() == Some("date-time") && !crate::time::is_rfc3339(s) {
            causes.push(Cause::new(
                "FieldValueInvalid",
                format!(
                    "Invalid value: {value}: {} in body must be of type date-time: {value}",
                    shown(path)
                ),
                path,
            ));
        }
    }

    fn validate_number(
        &self,
        n: &serde_json::Number,
        value: &Value,
        path: &str,
        causes: &mut Vec<Cause>,
    ) {
        let f = n.as_f64().unwrap_or(0.0);
        if let Some(min) = self.minimum
            && f < min
        {
            causes.push(Cause::new(
                "FieldValueInvalid",
                format!(
                    "Invalid value: {value}: {} in body should be greater than or equal to {min}",
                    shown(path)
                ),
                path,
            ));
        }
        if let Some(max) = self.maximum
            && f > max
        {
            causes.push(Cause::new(
                "FieldValueInvalid",
                format!(
                    "Invalid value: {value}: {} in body should be less than or equal to {max}",
                    shown(path)
                ),
                path,
            ));
        }
        let range = match self.format.as_deref() {
            Some("int32") => Some((i32::MIN as f64, i32::MAX as f64)),
            Some("int64") => Some((i64::MIN as f64, i64::MAX as f64)),
            _ => None,
        };
        if let Some((lo, hi)) = range
            && (f < lo || f > hi)
        {
            causes.push(Cause::new(
                "FieldValueInvalid",
                format!(
                    "Invalid value: {value}: {} in body must be of type {}",
                    shown(path),
                    self.format.as_deref().unwrap_or_default()
                ),
                path,
            ));
        }
    }

    /// Items of a list-map must have their keys and be unique by them; items of a set unique.
    fn validate_list_keys(&self, items: &[Value], path: &str, causes: &mut Vec<Cause>) {
        match &self.list_type {
            ListType::Atomic => {}
            ListType::Set => {
                for (i, v) in items.iter().enumerate() {
                    if items[..i].contains(v) {
                        causes.push(Cause::new(
                            "FieldValueDuplicate",
                            format!("Duplicate value: {v}"),
                            format!("{path}[{i}]"),
                        ));
                    }
                }
            }
            ListType::Map(keys) => {
                let mut seen = Vec::new();
                for (i, v) in items.iter().enumerate() {
                    let key: Vec<Option<&Value>> = keys.iter().map(|k| v.get(k)).collect();
                    for (k, kv) in keys.iter().zip(&key) {
                        if kv.is_none() {
                            causes.push(Cause::new(
                                "FieldValueRequired",
                                "Required value",
                                format!("{path}[{i}].{k}"),
                            ));
                        }
                    }
                    if seen.contains(&key) {
                        let shown_key: Vec<String> = keys
                            .iter()
                            .zip(&key)
                            .map(|(k, kv)| {
                                format!("\"{k}\"={}", kv.map(Value::to_string).unwrap_or_default())
                            })
                            .collect();
                        causes.push(Cause::new(
                            "FieldValueDuplicate",
                            format!("Duplicate value: map[{}]", shown_key.join(" ")),
                            format!("{path}[{i}]"),
                        ));
                    } else {
                        seen.push(key);
                    }
                }
            }
        }
    }
}

/// `parent.child`, or `child` at the root.
pub fn join(path: &str, child: &str) -> String {
    if path.is_empty() {
        return child.to_owned();
    }
    // Not format!: this runs for every field of every write.
    let mut s = String::with_capacity(path.len() + 1 + child.len());
    s.push_str(path);
    s.push('.');
    s.push_str(child);
    s
}

fn shown(path: &str) -> &str {
    if path.is_empty() { "body" } else { path }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Schema {
        Schema::from_openapi(&json!({
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
                "weights": {"type": "object", "additionalProperties": {"type": "integer", "format": "int32", "minimum": 0}},
                "conds": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"],
                          "items": {"type": "object", "properties": {"type": {"type": "string"}}}}
            }
        }))
        .unwrap()
    }

    #[test]
    fn reports_every_failure_with_its_path() {
        let mut causes = Vec::new();
        schema().validate(
            &json!({"weights": {"1.0.0": -1, "2.0.0": "x"}, "conds": [{"type": "A"}, {"type": "A"}]}),
            "spec",
            &mut causes,
        );
        let fields: Vec<&str> = causes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "spec.id",
                "spec.conds[1]",
                "spec.weights.1.0.0",
                "spec.weights.2.0.0"
            ]
        );
        assert_eq!(causes[0].reason, "FieldValueRequired");
        assert_eq!(causes[1].reason, "FieldValueDuplicate");
        assert!(
            causes[2].message.contains("greater than or equal to 0"),
            "{causes:?}"
        );
    }

    #[test]
    fn prunes_unknown_fields_only_where_the_schema_is_closed() {
        let mut v = json!({"id": "x", "extra": 1, "weights": {"1.0.0": 1}});
        let mut unknown = Vec::new();
        schema().prune(&mut v, "spec", &mut unknown);
        assert_eq!(unknown, ["spec.extra"]);
        assert_eq!(v, json!({"id": "x", "weights": {"1.0.0": 1}}));
    }
}
