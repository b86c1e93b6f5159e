//! `/metrics` (Prometheus text format) with `simcluster_requests_total{verb,resource}` and
//! `simcluster_faults_total{verb,resource,fault}`, and the request log.

use std::collections::VecDeque;
use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// Labels of the request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Kubernetes verb (`get`, `list`, `watch`, `create`, `update`, `patch`, `apply`,
    /// `delete`, `deletecollection`) or `discovery`.
    pub verb: String,
    /// Resource (`components`, `components/status`), empty for discovery.
    pub resource: String,
}

/// Labels of the fault counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FaultLabels {
    /// The verb of the faulted request, as [`RequestLabels::verb`].
    pub verb: String,
    /// The resource of the faulted request, as [`RequestLabels::resource`].
    pub resource: String,
    /// `error_500`, `error_503`, `error_429` or `drop`.
    pub fault: String,
}

/// One line of the request log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// RFC 3339 time the request arrived.
    pub time: String,
    /// HTTP method (`GET`, `PATCH`, ...).
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// Verb, as counted.
    pub verb: String,
    /// Resource, as counted.
    pub resource: String,
    /// Status code answered (0 for a dropped connection).
    pub status: u16,
    /// Milliseconds until the answer started.
    pub millis: u64,
    /// The `User-Agent` header, empty when absent.
    pub user_agent: String,
}

impl std::fmt::Display for LogEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} {} {}ms verb={} resource={} agent={:?}",
            self.time,
            self.status,
            self.method,
            self.uri,
            self.millis,
            self.verb,
            self.resource,
            self.user_agent
        )
    }
}

/// Keeps this many entries of the request log.
const LOG_CAPACITY: usize = 10_000;

/// Counters and the request log.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    faults: Family<FaultLabels, Counter>,
    log: Mutex<VecDeque<LogEntry>>,
    print_log: bool,
}

impl Metrics {
    /// Counters at zero; `print_log` also prints each log line to standard error.
    pub fn new(print_log: bool) -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let faults = Family::<FaultLabels, Counter>::default();
        registry.register(
            "simcluster_requests",
            "API requests received, by Kubernetes verb and resource",
            requests.clone(),
        );
        registry.register(
            "simcluster_faults",
            "Faults injected, by verb, resource and fault",
            faults.clone(),
        );
        Metrics {
            registry,
            requests,
            faults,
            log: Mutex::new(VecDeque::new()),
            print_log,
        }
    }

    /// Adds one to `simcluster_requests_total{verb,resource}`.
    pub fn count(&self, verb: &str, resource: &str) {
        self.requests
            .get_or_create(&RequestLabels {
                verb: verb.to_owned(),
                resource: resource.to_owned(),
            })
            .inc();
    }

    /// Adds one to `simcluster_faults_total{verb,resource,fault}`.
    pub fn count_fault(&self, verb: &str, resource: &str, fault: &str) {
        self.faults
            .get_or_create(&FaultLabels {
                verb: verb.to_owned(),
                resource: resource.to_owned(),
                fault: fault.to_owned(),
            })
            .inc();
    }

    /// The count of requests with this verb and resource.
    pub fn requests(&self, verb: &str, resource: &str) -> u64 {
        self.requests
            .get_or_create(&RequestLabels {
                verb: verb.to_owned(),
                resource: resource.to_owned(),
            })
            .get()
    }

    /// The `/metrics` answer, in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }

    /// Appends to the request log (the oldest entry goes past 10,000), and prints the line
    /// when the metrics were made to.
    pub fn log(&self, entry: LogEntry) {
        if self.print_log {
            eprintln!("{entry}");
        }
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        if log.len() >= LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(entry);
    }

    /// The request log, oldest first.
    pub fn request_log(&self) -> Vec<LogEntry> {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}
