//! The JSONPath subset that printer columns use: `.a.b`, `.a[0]`, `.a[*]` and filters such as
//! `.status.conditions[?(@.type=="Available")].status`.

use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
    All,
    Filter { field: Vec<String>, equals: Value },
}

/// A parsed JSONPath expression.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonPath {
    steps: Vec<Step>,
}

impl JsonPath {
    /// Parses an expression, with or without surrounding `{}`.
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let t = text.trim();
        let t = t
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or(t);
        let t = t.strip_prefix('$').unwrap_or(t);
        let mut steps = Vec::new();
        let mut rest = t;
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix('.') {
                let end = r.find(['.', '[']).unwrap_or(r.len());
                if end == 0 {
                    return Err(format!("empty field name in JSONPath {text:?}"));
                }
                steps.push(Step::Field(r[..end].to_owned()));
                rest = &r[end..];
            } else if let Some(r) = rest.strip_prefix('[') {
                let end =
                    find_closing(r).ok_or_else(|| format!("unclosed [ in JSONPath {text:?}"))?;
                let inner = r[..end].trim();
                rest = &r[end + 1..];
                steps.push(parse_bracket(inner).ok_or_else(|| {
                    format!("unsupported JSONPath expression [{inner}] in {text:?}")
                })?);
            } else {
                return Err(format!("JSONPath {text:?} must start with '.'"));
            }
        }
        Ok(JsonPath { steps })
    }

    /// Every value the expression selects in `root`.
    pub fn select<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        let mut current = vec![root];
        for step in &self.steps {
            let mut next = Vec::new();
            for v in current {
                match step {
                    Step::Field(f) => next.extend(v.get(f)),
                    Step::Index(i) => next.extend(v.get(*i)),
                    Step::All => match v {
                        Value::Array(items) => next.extend(items),
                        Value::Object(map) => next.extend(map.values()),
                        _ => {}
                    },
                    Step::Filter { field, equals } => {
                        for item in v.as_array().into_iter().flatten() {
                            let got = field.iter().try_fold(item, |cur, f| cur.get(f));
                            if got == Some(equals) {
                                next.push(item);
                            }
                        }
                    }
                }
            }
            current = next;
        }
        current
    }
}

fn find_closing(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[') => depth += 1,
            (None, ']') if depth == 0 => return Some(i),
            (None, ']') => depth -= 1,
            _ => {}
        }
    }
    None
}

fn parse_bracket(inner: &str) -> Option<Step> {
    if inner == "*" {
        return Some(Step::All);
    }
    if let Ok(i) = inner.parse() {
        return Some(Step::Index(i));
    }
    if let Some(q) = inner
        .strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
    {
        return Some(Step::Field(q.to_owned()));
    }
    let cond = inner.strip_prefix("?(")?.strip_suffix(')')?;
    let (lhs, rhs) = cond.split_once("==")?;
    let field: Vec<String> = lhs
        .trim()
        .strip_prefix("@.")?
        .split('.')
        .map(str::to_owned)
        .collect();
    let rhs = rhs.trim();
    let equals = if let Some(s) = rhs
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .or_else(|| rhs.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
    {
        Value::String(s.to_owned())
    } else {
        serde_json::from_str(rhs).ok()?
    };
    Some(Step::Filter { field, equals })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selects_fields_indexes_and_filters() {
        let v = json!({"spec": {"regions": ["a", "b"]}, "status": {"conditions": [
            {"type": "Ready", "status": "False"}, {"type": "Available", "status": "True"}]}});
        let p = JsonPath::parse(r#".status.conditions[?(@.type=="Available")].status"#).unwrap();
        assert_eq!(p.select(&v), [&json!("True")]);
        assert_eq!(
            JsonPath::parse(".spec.regions[1]").unwrap().select(&v),
            [&json!("b")]
        );
        assert_eq!(
            JsonPath::parse("{.spec.regions[*]}")
                .unwrap()
                .select(&v)
                .len(),
            2
        );
        assert!(
            JsonPath::parse(".spec.missing")
                .unwrap()
                .select(&v)
                .is_empty()
        );
        assert!(JsonPath::parse("spec").is_err());
    }
}
