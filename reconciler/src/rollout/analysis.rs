//! Analysis of a rollout step: a Prometheus instant query per version (`/api/v1/query`),
//! templated with the Server, Domain, namespace and version, compared with min/max thresholds.
//! "No data" is its own outcome: it holds the step (until the progress deadline), it is not a
//! pass and not a failure.

use std::time::Duration;

use serde::Deserialize;

use super::{Measurement, Verdict};

/// A named analysis of the configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Analysis {
    /// Name the Servers refer to (`rollout.vimana.host/analysis`).
    pub name: String,
    /// Base URL of the Prometheus HTTP API (`http://prometheus.monitoring:9090`).
    pub prometheus: String,
    /// Query with `{{server}}`, `{{domain}}`, `{{namespace}}` and `{{version}}` placeholders.
    pub query: String,
    /// The value must be at least this.
    pub min: Option<f64>,
    /// The value must be at most this.
    pub max: Option<f64>,
}

/// What a measurement is about.
#[derive(Clone, Debug)]
pub struct Subject<'a> {
    /// The Server's `spec.id`: `{{server}}` in the query.
    pub server: &'a str,
    /// The Server's `spec.domain`: `{{domain}}`.
    pub domain: &'a str,
    /// The Server's namespace: `{{namespace}}`.
    pub namespace: &'a str,
    /// The version measured (one the step gives more traffic): `{{version}}`.
    pub version: &'a str,
}

/// The outcome of one measurement.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Within the thresholds.
    Pass(f64),
    /// Outside them.
    Fail(f64),
    /// The query returned no sample.
    NoData,
    /// The query could not be made or answered.
    Error(String),
}

/// The query with its placeholders filled in.
pub fn render_query(query: &str, s: &Subject<'_>) -> String {
    query
        .replace("{{server}}", s.server)
        .replace("{{domain}}", s.domain)
        .replace("{{namespace}}", s.namespace)
        .replace("{{version}}", s.version)
}

#[derive(Deserialize)]
struct Response {
    status: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    data: Option<Data>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    result_type: String,
    result: serde_json::Value,
}

/// Reads the first sample of a query answer: `NoData` for an empty vector or `NaN`.
pub fn parse(body: &str) -> Result<Option<f64>, String> {
    let r: Response =
        serde_json::from_str(body).map_err(|e| format!("not a Prometheus answer: {e}"))?;
    if r.status != "success" {
        return Err(r.error.unwrap_or_else(|| format!("status {}", r.status)));
    }
    let data = r.data.ok_or("answer without data")?;
    let value = match data.result_type.as_str() {
        "vector" => data.result.get(0).and_then(|s| s.get("value")).cloned(),
        "scalar" => Some(data.result.clone()),
        other => {
            return Err(format!(
                "the query returns a {other}, not a vector or scalar"
            ));
        }
    };
    let Some(v) = value else { return Ok(None) };
    let text = v
        .get(1)
        .and_then(|x| x.as_str())
        .ok_or("sample without a value")?;
    let x: f64 = text
        .parse()
        .map_err(|_| format!("sample value {text:?} is not a number"))?;
    Ok((!x.is_nan()).then_some(x))
}

impl Analysis {
    /// Compares a value with the thresholds.
    pub fn judge(&self, value: Option<f64>) -> Outcome {
        match value {
            None => Outcome::NoData,
            Some(v) if self.min.is_some_and(|m| v < m) || self.max.is_some_and(|m| v > m) => {
                Outcome::Fail(v)
            }
            Some(v) => Outcome::Pass(v),
        }
    }

    fn thresholds(&self) -> String {
        match (self.min, self.max) {
            (Some(a), Some(b)) => format!("{a} <= value <= {b}"),
            (Some(a), None) => format!("value >= {a}"),
            (None, Some(b)) => format!("value <= {b}"),
            (None, None) => "no threshold".into(),
        }
    }

    /// Runs the query for one subject.
    pub async fn measure(&self, http: &reqwest::Client, subject: &Subject<'_>) -> Measurement {
        let query = render_query(&self.query, subject);
        let url = format!("{}/api/v1/query", self.prometheus.trim_end_matches('/'));
        let answer = async {
            let resp = http
                .get(&url)
                .query(&[("query", query.as_str())])
                .timeout(Duration::from_secs(10))
                .send()
                .await
                .map_err(|e| format!("cannot query {url}: {e}"))?;
            let code = resp.status();
            let body = resp.text().await.map_err(|e| e.to_string())?;
            if !code.is_success() && !body.contains("\"status\"") {
                return Err(format!("{url} answered {code}"));
            }
            parse(&body)
        }
        .await;
        let outcome = match answer {
            Ok(v) => self.judge(v),
            Err(e) => Outcome::Error(e),
        };
        let (value, name, detail) = match outcome {
            Outcome::Pass(v) => (Some(v), Verdict::Pass, self.thresholds()),
            Outcome::Fail(v) => (Some(v), Verdict::Fail, self.thresholds()),
            Outcome::NoData => (None, Verdict::NoData, format!("no sample for {query}")),
            Outcome::Error(e) => (None, Verdict::Error, e),
        };
        Measurement {
            version: subject.version.to_owned(),
            value,
            outcome: name,
            detail: format!("{}: {detail}", self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vectors_scalars_and_no_data() {
        let v = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.5,"0.25"]}]}}"#;
        assert_eq!(parse(v), Ok(Some(0.25)));
        let empty = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert_eq!(parse(empty), Ok(None));
        let nan = r#"{"status":"success","data":{"resultType":"scalar","result":[1.5,"NaN"]}}"#;
        assert_eq!(parse(nan), Ok(None));
        let err = r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;
        assert_eq!(parse(err), Err("parse error".into()));
    }

    #[test]
    fn thresholds_and_templates() {
        let a = Analysis {
            name: "err".into(),
            prometheus: "http://p".into(),
            query: "rate{server=\"{{server}}\",version=\"{{version}}\"}".into(),
            min: None,
            max: Some(0.01),
        };
        assert_eq!(a.judge(Some(0.001)), Outcome::Pass(0.001));
        assert_eq!(a.judge(Some(0.5)), Outcome::Fail(0.5));
        assert_eq!(a.judge(None), Outcome::NoData);
        let s = Subject {
            server: "adder",
            domain: "d",
            namespace: "ns",
            version: "1.1.0",
        };
        assert_eq!(
            render_query(&a.query, &s),
            "rate{server=\"adder\",version=\"1.1.0\"}"
        );
    }
}
