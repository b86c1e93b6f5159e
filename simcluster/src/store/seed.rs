//! Objects that enter the store without the API pipeline: the initial namespaces and CRDs of
//! every cluster, and the bulk seeding of benchmarks.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{EventType, INITIAL_NAMESPACES, Store};
use crate::time;

impl Store {
    /// Stores the namespaces every cluster starts with and the CRDs of `deploy/crds`.
    pub(super) fn insert_initial_objects(&self) {
        let ns_type = self
            .registry
            .find("", "v1", "namespaces")
            .expect("namespaces are served");
        for ns in INITIAL_NAMESPACES {
            self.insert_initial(
                ns_type,
                json!({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": ns}, "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"}}),
            );
        }
        let crd_type = self
            .registry
            .find("apiextensions.k8s.io", "v1", "customresourcedefinitions")
            .expect("CRDs are served");
        for crd in crate::resources::crds() {
            self.insert_initial(crd_type, crd);
        }
    }

    /// Stores one object with the fields the server sets on creation. No event: nobody can
    /// watch a store that is still being built.
    fn insert_initial(&self, type_id: usize, mut obj: Value) {
        let mut inner = self.lock();
        inner.rv += 1;
        let rv = inner.rv;
        let meta = &mut obj["metadata"];
        meta["uid"] = json!(self.new_uid());
        meta["creationTimestamp"] = json!(time::now_rfc3339());
        meta["resourceVersion"] = json!(rv.to_string());
        if self.registry.get(type_id).custom {
            meta["generation"] = json!(1);
        }
        let name = meta["name"].as_str().unwrap_or_default().to_owned();
        inner.objects[type_id].insert((String::new(), name), Arc::new(obj));
    }

    /// Inserts objects without the API pipeline (no validation, no managedFields): for seeding
    /// large stores in benchmarks. Namespaces are created as needed. Returns how many were stored.
    pub fn seed(&self, type_id: usize, objects: impl IntoIterator<Item = Value>) -> usize {
        let rt = self.registry.get(type_id);
        let ns_type = self.registry.find("", "v1", "namespaces").expect("served");
        let mut n = 0;
        let now = time::now_rfc3339();
        let mut inner = self.lock();
        for mut obj in objects {
            let ns = obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_owned();
            let name = obj["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if rt.namespaced && !self.namespace_exists(&inner, &ns) {
                let ns_obj = json!({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": ns, "uid": self.new_uid(), "creationTimestamp": now},
                    "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
                let _ = self.store(
                    &mut inner,
                    ns_type,
                    (String::new(), ns.clone()),
                    ns_obj,
                    EventType::Added,
                );
            }
            obj["apiVersion"] = json!(rt.api_version());
            obj["kind"] = json!(rt.kind);
            obj["metadata"]["uid"] = json!(self.new_uid());
            obj["metadata"]["creationTimestamp"] = json!(now);
            if rt.custom {
                obj["metadata"]["generation"] = json!(1);
            }
            let key = (if rt.namespaced { ns } else { String::new() }, name);
            let _ = self.store(&mut inner, type_id, key, obj, EventType::Added);
            n += 1;
        }
        n
    }
}
