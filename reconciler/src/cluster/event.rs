//! Kubernetes Events on the Vimana objects, as `kubectl describe` and `kubectl get events`
//! show them. A failure to record one is logged, never fatal: the Event tells, it does not
//! decide.

use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, PostParams};
use model::{ObjectKey, keys};
use serde_json::json;

use super::{Cluster, retry};

/// Records an Event of `reason` on the object `key` (of `uid`, when known), `Normal` or
/// `Warning`.
pub async fn record(
    cluster: &Cluster,
    key: &ObjectKey,
    uid: Option<&str>,
    reason: &str,
    message: &str,
    event_type: &str,
) {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let events: Api<Event> = Api::namespaced(cluster.client.clone(), &key.namespace);
    let event: Event = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"generateName": format!("{}.", key.name), "namespace": key.namespace},
        "involvedObject": {"apiVersion": model::API_VERSION, "kind": key.kind.as_str(), "name": key.name, "namespace": key.namespace, "uid": uid},
        "reason": reason, "message": message, "type": event_type,
        "source": {"component": keys::MANAGED_BY_VALUE},
        "firstTimestamp": now, "lastTimestamp": now, "count": 1,
        "reportingComponent": keys::MANAGED_BY_VALUE, "reportingInstance": keys::MANAGED_BY_VALUE,
    }))
    .expect("the Event is a well-formed core/v1 Event");
    let params = PostParams::default();
    if let Err(e) = retry::retry("record an Event", || events.create(&params, &event)).await {
        tracing::warn!(
            object = %format!("{} {}/{}", key.kind, key.namespace, key.name),
            error = %retry::describe(&e),
            "cannot record an Event"
        );
    }
}
