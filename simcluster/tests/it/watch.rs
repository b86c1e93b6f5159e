//! WATCH: events in order, resumption from a resourceVersion, selectors, bookmarks.

use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use kube::api::{DeleteParams, ListParams, WatchEvent, WatchParams};
use serde_json::json;

use crate::cluster::{TestCluster, apply, component};

#[tokio::test]
async fn watch_from_a_list_sees_every_change_in_order() {
    let c = TestCluster::new("watch-order").await;
    let components = c.vimana("components");
    let list = components.list(&ListParams::default()).await.unwrap();
    let rv = list.metadata.resource_version.unwrap();
    let wp = WatchParams::default()
        .labels("vimana.host/server=adder")
        .timeout(20);
    let mut stream = components.watch(&wp, &rv).await.unwrap().boxed();
    apply(
        &components,
        "rec",
        &component("adder-1-0-0", "1.0.0"),
        false,
    )
    .await
    .unwrap();
    let mut changed = component("adder-1-0-0", "1.0.0");
    changed["metadata"]["annotations"] = json!({"note": "x"});
    apply(&components, "rec", &changed, false).await.unwrap();
    components
        .delete("adder-1-0-0", &DeleteParams::default())
        .await
        .unwrap();
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !seen.contains(&"DELETED") {
        let ev = tokio::time::timeout_at(deadline, stream.try_next())
            .await
            .expect("events in time")
            .unwrap()
            .expect("stream open");
        match ev {
            WatchEvent::Added(o) => {
                assert_eq!(o.metadata.name.as_deref(), Some("adder-1-0-0"));
                seen.push("ADDED");
            }
            // The operator may write status in between: every MODIFIED counts once.
            WatchEvent::Modified(_) => {
                if seen.last() != Some(&"MODIFIED") {
                    seen.push("MODIFIED");
                }
            }
            WatchEvent::Deleted(_) => seen.push("DELETED"),
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(e) => panic!("watch error {e:?}"),
        }
    }
    assert_eq!(seen, ["ADDED", "MODIFIED", "DELETED"]);
    c.cleanup().await;
}

#[tokio::test]
async fn watch_resumes_from_a_resource_version() {
    let c = TestCluster::new("watch-resume").await;
    let components = c.vimana("components");
    let first = apply(
        &components,
        "rec",
        &component("adder-1-0-0", "1.0.0"),
        false,
    )
    .await
    .unwrap();
    apply(
        &components,
        "rec",
        &component("adder-2-0-0", "2.0.0"),
        false,
    )
    .await
    .unwrap();
    // Starting after the first object's version replays the second creation.
    let rv = first.metadata.resource_version.unwrap();
    let wp = WatchParams::default().timeout(20);
    let mut stream = components.watch(&wp, &rv).await.unwrap().boxed();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let ev = tokio::time::timeout_at(deadline, stream.try_next())
            .await
            .expect("events in time")
            .unwrap()
            .expect("open");
        if let WatchEvent::Added(o) = ev {
            assert_eq!(o.metadata.name.as_deref(), Some("adder-2-0-0"));
            break;
        }
    }
    c.cleanup().await;
}

#[tokio::test]
async fn watches_that_allow_bookmarks_get_them() {
    let c = TestCluster::new("watch-bookmarks").await;
    if c.sim_only("a bookmark within seconds").is_none() {
        return c.cleanup().await;
    }
    let components = c.vimana("components");
    let list = components.list(&ListParams::default()).await.unwrap();
    let rv = list.metadata.resource_version.unwrap();
    apply(
        &components,
        "rec",
        &component("adder-1-0-0", "1.0.0"),
        false,
    )
    .await
    .unwrap();
    let wp = WatchParams::default().timeout(20);
    let mut stream = components.watch(&wp, &rv).await.unwrap().boxed();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut last_event_rv = 0u64;
    loop {
        let ev = tokio::time::timeout_at(deadline, stream.try_next())
            .await
            .expect("a bookmark in time")
            .unwrap()
            .expect("open");
        match ev {
            WatchEvent::Added(o) | WatchEvent::Modified(o) => {
                last_event_rv = o.metadata.resource_version.unwrap().parse().unwrap();
            }
            WatchEvent::Bookmark(b) => {
                let brv: u64 = b.metadata.resource_version.parse().unwrap();
                assert!(
                    brv >= last_event_rv,
                    "bookmark {brv} behind event {last_event_rv}"
                );
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    c.cleanup().await;
}

#[tokio::test]
async fn a_too_old_resource_version_is_gone() {
    let c = TestCluster::new("watch-gone").await;
    if c.sim_only("a known-expired resourceVersion").is_none() {
        return c.cleanup().await;
    }
    let components = c.vimana("components");
    // Version 1 predates every logged event once something was written.
    apply(
        &components,
        "rec",
        &component("adder-1-0-0", "1.0.0"),
        false,
    )
    .await
    .unwrap();
    let mut stream = components
        .watch(&WatchParams::default().timeout(5), "1")
        .await
        .unwrap()
        .boxed();
    match stream.try_next().await.unwrap() {
        Some(WatchEvent::Error(e)) => assert_eq!(e.code, 410),
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    c.cleanup().await;
}

/// A restart of the API server keeps the objects (etcd keeps them) but not the watch cache: it
/// starts at the current resourceVersion, so a watch resumed from an older one is 410 Gone
/// (`staging/src/k8s.io/apiserver/pkg/storage/cacher/watch_cache.go`: a new cache knows no
/// event before its first resourceVersion), while one from the current version goes on.
#[tokio::test]
async fn a_restart_keeps_the_objects_and_expires_older_resource_versions() {
    let mut c = TestCluster::new("watch-restart").await;
    if c.sim_only("restarting the API server").is_none() {
        return c.cleanup().await;
    }
    let components = c.vimana("components");
    let first = apply(
        &components,
        "rec",
        &component("adder-1-0-0", "1.0.0"),
        false,
    )
    .await
    .unwrap();
    let second = apply(
        &components,
        "rec",
        &component("adder-1-1-0", "1.1.0"),
        false,
    )
    .await
    .unwrap();
    c.sim.as_mut().unwrap().restart().await.unwrap();
    let listed = components.list(&Default::default()).await.unwrap();
    assert_eq!(listed.items.len(), 2, "the objects outlive the restart");
    let old = first.metadata.resource_version.unwrap();
    let mut stream = components
        .watch(&WatchParams::default().timeout(5), &old)
        .await
        .unwrap()
        .boxed();
    match stream.try_next().await.unwrap() {
        Some(WatchEvent::Error(e)) => assert_eq!(e.code, 410),
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    let current = listed.metadata.resource_version.unwrap();
    let rv = |v: &str| v.parse::<u64>().unwrap();
    assert!(rv(&current) >= rv(&second.metadata.resource_version.unwrap()));
    let mut stream = components
        .watch(&WatchParams::default().timeout(5), &current)
        .await
        .unwrap()
        .boxed();
    apply(
        &components,
        "rec",
        &component("adder-1-2-0", "1.2.0"),
        false,
    )
    .await
    .unwrap();
    match stream.try_next().await.unwrap() {
        Some(WatchEvent::Added(o)) => assert_eq!(o.metadata.name.as_deref(), Some("adder-1-2-0")),
        other => panic!("expected the new object, got {other:?}"),
    }
    c.cleanup().await;
}
