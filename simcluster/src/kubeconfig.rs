//! The kubeconfig that points `kubectl` and the kube crate at a simulated cluster (bearer
//! token over plain HTTP on loopback).

/// Name of the cluster, user and context in the written kubeconfig.
pub const CONTEXT: &str = "simcluster";

/// A kubeconfig (YAML) for the server at `url` with bearer `token` and default `namespace`.
pub fn render(url: &str, token: &str, namespace: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
  - name: {CONTEXT}
    cluster:
      server: {url}
contexts:
  - name: {CONTEXT}
    context:
      cluster: {CONTEXT}
      user: {CONTEXT}
      namespace: {namespace}
current-context: {CONTEXT}
users:
  - name: {CONTEXT}
    user:
      token: {token}
preferences: {{}}
"
    )
}
