//! Cluster access with the kube crate: which cluster (`--kubeconfig`, `--context`, in-cluster
//! config, or `--cluster embedded`), discovery of the Vimana kinds, and the typed paths to them.
//!
//! Its modules: `live` (the live state and the inventory ConfigMap), `inventory` (its
//! contents, compressed when large), `fresh` (the Components a pass
//! creates), `watch` (the managed objects as they change), `managed` (who owns which field),
//! `event` (Kubernetes Events), `availability`, `retry` and `throttle` (requests in flight, 429).

pub mod availability;
pub mod event;
pub mod fresh;
pub mod inventory;
pub mod live;
pub mod managed;
pub mod retry;
pub mod throttle;
pub mod watch;

use std::path::PathBuf;
use std::time::Duration;

use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use model::Kind;

use crate::error::Error;

/// Which cluster to talk to.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ClusterArgs {
    /// Kubeconfig file (default: `KUBECONFIG`, then `~/.kube/config`, then the in-cluster
    /// service account).
    #[arg(long, value_name = "FILE", env = "KUBECONFIG", hide_env_values = true)]
    pub kubeconfig: Option<PathBuf>,
    /// Context of the kubeconfig to use (default: its current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// `embedded`: start an empty simulated cluster inside this process (demos, tries).
    #[arg(long, value_enum, value_name = "KIND")]
    pub cluster: Option<ClusterKind>,
    /// Timeout of each API request.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// Requests in flight at once for every client of this cluster (`--concurrency` of `sync`,
    /// `apply.concurrency` of the daemon); `None`: [`throttle::DEFAULT_MAX_IN_FLIGHT`].
    #[arg(skip)]
    pub max_in_flight: Option<usize>,
}

/// Runs `futures` with at most `limit` in flight; the results come in the input order. The
/// futures are boxed where they are built (in loops, not closures), which keeps the callers'
/// futures `Send` for every lifetime (async closures over borrowed items are not).
pub async fn bounded<'a, T: 'a>(
    futures: Vec<futures_util::future::BoxFuture<'a, T>>,
    limit: usize,
) -> Vec<T> {
    use futures_util::StreamExt;
    // Unordered, so that one slow request does not hold the others' slots; put back in order
    // at the end.
    let mut tagged: Vec<futures_util::future::BoxFuture<'a, (usize, T)>> =
        Vec::with_capacity(futures.len());
    for (i, f) in futures.into_iter().enumerate() {
        tagged.push(Box::pin(async move { (i, f.await) }));
    }
    let mut done: Vec<(usize, T)> = futures_util::stream::iter(tagged)
        .buffer_unordered(limit.max(1))
        .collect()
        .await;
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, t)| t).collect()
}

/// Objects per LIST page: large enough that a no-op sync makes a handful of requests (one more
/// per 2,500 objects of a kind: 18 LISTs at 40k objects), small enough that a page's text is a
/// few MB (about 2.3 kB per Component with its managed fields and status; the client holds a
/// page twice while it is read, as body chunks and as text). 10,000 held 50 MB at the peak of
/// a no-op sync at 15k objects.
pub const LIST_PAGE: u32 = 2_500;

/// LISTs the Vimana objects `kind` of `namespace` that match the label `selector`, in
/// pages of [`LIST_PAGE`], and hands each to `each` as it is decoded: a page is held as the
/// text of the answer, never as a list of decoded objects (for 10,000 Components that is
/// 23 MB of text against several times as much as JSON values). Returns the LIST's
/// resourceVersion (the pages of one LIST are one snapshot, of the first page's version).
pub async fn list_each<T: serde::de::DeserializeOwned>(
    client: &kube::Client,
    kind: Kind,
    namespace: &str,
    selector: &str,
    mut each: impl FnMut(T) -> Result<(), Error>,
) -> Result<String, Error> {
    let request = kube::core::Request::new(
        Api::<DynamicObject>::namespaced_with(client.clone(), namespace, &resource(kind))
            .resource_url(),
    );
    let failed = |source| Error::Kube {
        what: format!("cannot list {} in namespace {namespace}", kind.plural()),
        source: Box::new(source),
    };
    let mut version = String::new();
    let mut token: Option<String> = None;
    loop {
        let mut params = ListParams::default().labels(selector).limit(LIST_PAGE);
        if let Some(t) = &token {
            params = params.continue_token(t);
        }
        let text = retry::retry("list", || async {
            let req = request.list(&params).map_err(kube::Error::BuildRequest)?;
            client.request_text(req).await
        })
        .await
        .map_err(failed)?;
        let mut refused = None;
        let page = page::Page {
            each: &mut each,
            refused: &mut refused,
            item: std::marker::PhantomData,
        };
        let mut reader = serde_json::Deserializer::from_str(&text);
        let decoded = serde::de::DeserializeSeed::deserialize(page, &mut reader)
            .and_then(|meta| reader.end().map(|()| meta));
        let meta = match (decoded, refused) {
            (_, Some(e)) => return Err(e),
            (Err(e), None) => return Err(failed(kube::Error::SerdeError(e))),
            (Ok(meta), None) => meta,
        };
        drop(text);
        if version.is_empty() {
            version = meta.resource_version.unwrap_or_default();
        }
        match meta.continue_ {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => return Ok(version),
        }
    }
}

mod page {
    //! One page of a LIST answer decoded item by item.

    use std::fmt;
    use std::marker::PhantomData;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
    use serde::de::{self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};

    use crate::error::Error;

    /// The page's `metadata` is its value; each member of `items` goes to `each` as soon as it
    /// is decoded, and the first error `each` returns ends the decoding (kept in `refused`).
    pub(super) struct Page<'a, T, F> {
        pub each: &'a mut F,
        pub refused: &'a mut Option<Error>,
        pub item: PhantomData<fn() -> T>,
    }

    impl<'de, T, F> DeserializeSeed<'de> for Page<'_, T, F>
    where
        T: DeserializeOwned,
        F: FnMut(T) -> Result<(), Error>,
    {
        type Value = ListMeta;

        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<ListMeta, D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de, T, F> Visitor<'de> for Page<'_, T, F>
    where
        T: DeserializeOwned,
        F: FnMut(T) -> Result<(), Error>,
    {
        type Value = ListMeta;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a LIST answer")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ListMeta, A::Error> {
            let mut meta = ListMeta::default();
            while let Some(key) = map.next_key::<String>()? {
                match key.as_str() {
                    "metadata" => meta = map.next_value()?,
                    "items" => map.next_value_seed(Items {
                        each: &mut *self.each,
                        refused: &mut *self.refused,
                        item: PhantomData,
                    })?,
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(meta)
        }
    }

    /// The `items` of a page (`null` reads as none).
    struct Items<'a, T, F> {
        each: &'a mut F,
        refused: &'a mut Option<Error>,
        item: PhantomData<fn() -> T>,
    }

    impl<'de, T, F> DeserializeSeed<'de> for Items<'_, T, F>
    where
        T: DeserializeOwned,
        F: FnMut(T) -> Result<(), Error>,
    {
        type Value = ();

        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de, T, F> Visitor<'de> for Items<'_, T, F>
    where
        T: DeserializeOwned,
        F: FnMut(T) -> Result<(), Error>,
    {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of objects")
        }

        fn visit_unit<E: de::Error>(self) -> Result<(), E> {
            Ok(())
        }

        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(item) = seq.next_element::<T>()? {
                if let Err(e) = (self.each)(item) {
                    *self.refused = Some(e);
                    return Err(de::Error::custom("an item was refused"));
                }
            }
            Ok(())
        }
    }
}

/// Clusters that need no configuration.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterKind {
    /// A simulated cluster started in-process, with the Vimana CRDs installed.
    Embedded,
}

/// Parses a Go-style duration for clap.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    model::duration::parse(s)
}

/// A cluster that serves the Vimana CRDs (checked on connecting).
pub struct Cluster {
    /// The kube client, with the request timeouts of [`ClusterArgs`].
    pub client: kube::Client,
    /// The simulated cluster behind `--cluster embedded`, kept alive with the client.
    pub embedded: Option<simcluster::Handle>,
}

fn build_client(config: kube::Config, max_in_flight: usize) -> Result<kube::Client, Error> {
    let builder = kube::client::ClientBuilder::try_from(config).map_err(|source| Error::Kube {
        what: "cannot build the cluster client".into(),
        source: Box::new(source),
    })?;
    Ok(builder
        .with_layer(&throttle::ThrottleLayer::new(max_in_flight))
        .build())
}

/// The API resource of a Vimana kind.
pub fn resource(kind: Kind) -> ApiResource {
    ApiResource {
        group: model::GROUP.into(),
        version: model::VERSION.into(),
        api_version: model::API_VERSION.into(),
        kind: kind.as_str().into(),
        plural: kind.plural().into(),
    }
}

impl Cluster {
    /// Connects as `args` say and checks that the Vimana CRDs are served.
    pub async fn connect(args: &ClusterArgs) -> Result<Cluster, Error> {
        let max_in_flight = args
            .max_in_flight
            .unwrap_or(throttle::DEFAULT_MAX_IN_FLIGHT);
        if args.cluster == Some(ClusterKind::Embedded) {
            let config = simcluster::Config {
                log_requests: false,
                ..simcluster::Config::default()
            };
            return Cluster::start_embedded(config, max_in_flight).await;
        }
        let (mut config, embedded) = if let Some(path) = &args.kubeconfig {
            let kubeconfig = Kubeconfig::read_from(path).map_err(|source| Error::Kubeconfig {
                what: format!("cannot read the kubeconfig {}", path.display()),
                source: Box::new(source),
            })?;
            let options = KubeConfigOptions {
                context: args.context.clone(),
                ..KubeConfigOptions::default()
            };
            let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|source| Error::Kubeconfig {
                    what: format!("cannot use the kubeconfig {}", path.display()),
                    source: Box::new(source),
                })?;
            (config, None)
        } else if let Some(context) = &args.context {
            let options = KubeConfigOptions {
                context: Some(context.clone()),
                ..KubeConfigOptions::default()
            };
            let config = kube::Config::from_kubeconfig(&options)
                .await
                .map_err(|source| Error::Kubeconfig {
                    what: format!("cannot use the context {context:?} of ~/.kube/config"),
                    source: Box::new(source),
                })?;
            (config, None)
        } else {
            let config = kube::Config::infer()
                .await
                .map_err(|e| Error::NoCluster(Box::new(e)))?;
            (config, None)
        };
        config.read_timeout = Some(args.request_timeout);
        config.write_timeout = Some(args.request_timeout);
        config.connect_timeout = Some(args.request_timeout.min(Duration::from_secs(10)));
        let client = build_client(config, max_in_flight)?;
        let cluster = Cluster { client, embedded };
        cluster.check_crds().await?;
        Ok(cluster)
    }

    /// Starts a simulated cluster in this process with `config` and connects to it.
    pub async fn embedded(config: simcluster::Config) -> Result<Cluster, Error> {
        Cluster::start_embedded(config, throttle::DEFAULT_MAX_IN_FLIGHT).await
    }

    async fn start_embedded(
        config: simcluster::Config,
        max_in_flight: usize,
    ) -> Result<Cluster, Error> {
        let sim = simcluster::SimCluster::start(config)
            .await
            .map_err(|e| Error::Embedded(Box::new(e)))?;
        let embedded_kubeconfig = |source| Error::Kubeconfig {
            what: "cannot use the kubeconfig of the embedded cluster".into(),
            source: Box::new(source),
        };
        let kubeconfig = Kubeconfig::from_yaml(&sim.kubeconfig()).map_err(embedded_kubeconfig)?;
        let config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(embedded_kubeconfig)?;
        let client = build_client(config, max_in_flight)?;
        let cluster = Cluster {
            client,
            embedded: Some(sim),
        };
        cluster.check_crds().await?;
        Ok(cluster)
    }

    /// Checks by discovery that the four Vimana kinds are served.
    pub async fn check_crds(&self) -> Result<(), Error> {
        let served = retry::retry("discovery", || async {
            match self
                .client
                .list_api_group_resources(model::API_VERSION)
                .await
            {
                Ok(list) => Ok(list
                    .resources
                    .into_iter()
                    .map(|r| r.name)
                    .collect::<Vec<_>>()),
                Err(kube::Error::Api(e)) if e.code == 404 => Ok(Vec::new()),
                Err(e) => Err(e),
            }
        })
        .await
        .map_err(|source| Error::Kube {
            what: "cannot reach the cluster".into(),
            source: Box::new(source),
        })?;
        let missing: Vec<&str> = Kind::ALL
            .iter()
            .map(|k| k.plural())
            .filter(|p| !served.iter().any(|s| s == p))
            .collect();
        if !missing.is_empty() {
            return Err(Error::MissingCrds {
                missing: missing.join(", "),
            });
        }
        Ok(())
    }

    /// One server-side apply of `body` to the Vimana object `kind` `namespace`/`name`, and
    /// the answer as text: callers that need the object decode it once, the others not at all.
    pub async fn apply(
        &self,
        kind: Kind,
        namespace: &str,
        name: &str,
        params: &PatchParams,
        body: &serde_json::Value,
    ) -> Result<String, kube::Error> {
        let request = kube::core::Request::new(self.api(kind, namespace).resource_url());
        let req = request
            .patch(name, params, &Patch::Apply(body))
            .map_err(kube::Error::BuildRequest)?;
        self.client.request_text(req).await
    }

    /// The API of a Vimana kind in a namespace.
    pub fn api(&self, kind: Kind, namespace: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), namespace, &resource(kind))
    }

    /// Shuts the embedded cluster down, if there is one.
    pub async fn close(self) {
        if let Some(sim) = self.embedded {
            let _ = sim.shutdown().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::page::Page;
    use crate::error::Error;

    #[test]
    fn a_page_hands_over_each_item_and_reads_its_metadata() {
        let text = r#"{"kind": "ComponentList", "items": [{"n": 1}, {"n": 2}],
            "metadata": {"resourceVersion": "7", "continue": "c"}}"#;
        let mut seen = Vec::new();
        let mut each = |v: serde_json::Value| {
            seen.push(v["n"].as_i64().unwrap_or_default());
            Ok(())
        };
        let mut refused = None;
        let page = Page {
            each: &mut each,
            refused: &mut refused,
            item: std::marker::PhantomData,
        };
        let mut reader = serde_json::Deserializer::from_str(text);
        let meta = serde::de::DeserializeSeed::deserialize(page, &mut reader).unwrap();
        assert_eq!(seen, [1, 2]);
        assert_eq!(meta.resource_version.as_deref(), Some("7"));
        assert_eq!(meta.continue_.as_deref(), Some("c"));
        assert!(refused.is_none());
    }

    #[test]
    fn an_item_refused_ends_the_page_with_its_error() {
        let text = r#"{"items": [{"n": 1}, {"n": 2}, {"n": 3}]}"#;
        let mut seen = 0;
        let mut each = |_: serde_json::Value| {
            seen += 1;
            if seen == 2 {
                return Err(Error::EmptyRender {
                    live: 2,
                    instance: "i".into(),
                });
            }
            Ok(())
        };
        let mut refused = None;
        let page = Page {
            each: &mut each,
            refused: &mut refused,
            item: std::marker::PhantomData,
        };
        let mut reader = serde_json::Deserializer::from_str(text);
        assert!(serde::de::DeserializeSeed::deserialize(page, &mut reader).is_err());
        assert_eq!(seen, 2, "the third item is not decoded");
        assert!(matches!(refused, Some(Error::EmptyRender { live: 2, .. })));
    }

    #[test]
    fn a_page_without_items_has_none() {
        let mut each = |_: serde_json::Value| -> Result<(), Error> { panic!("no item") };
        let mut refused = None;
        let page = Page {
            each: &mut each,
            refused: &mut refused,
            item: std::marker::PhantomData,
        };
        let mut reader = serde_json::Deserializer::from_str(r#"{"items": null, "metadata": {}}"#);
        assert!(serde::de::DeserializeSeed::deserialize(page, &mut reader).is_ok());
    }

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use futures_util::future::BoxFuture;

    #[tokio::test]
    async fn bounded_keeps_the_order_and_the_limit_while_a_slow_one_runs() {
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(AtomicUsize::new(0));
        let mut futures: Vec<BoxFuture<'_, (usize, usize)>> = Vec::new();
        for i in 0..20 {
            let (running, most, started) = (running.clone(), most.clone(), started.clone());
            futures.push(Box::pin(async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                started.fetch_add(1, Ordering::SeqCst);
                // The first one is slow: the others do not wait for it to take its place.
                let pause = if i == 0 { 500 } else { 1 };
                tokio::time::sleep(Duration::from_millis(pause)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                (i, started.load(Ordering::SeqCst))
            }));
        }
        let out = super::bounded(futures, 3).await;
        assert_eq!(
            out.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            (0..20).collect::<Vec<_>>(),
            "results in the input order"
        );
        assert_eq!(most.load(Ordering::SeqCst), 3, "never more than the limit");
        assert_eq!(
            out[0].1, 20,
            "the other 19 ran in the two other places while the slow one ran"
        );
    }
}
