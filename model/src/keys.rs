//! Label and annotation keys, and other well-known names the reconciler and the platform share.

/// Label set on every object the reconciler renders (value [`MANAGED_BY_VALUE`]).
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Value of [`MANAGED_BY`].
pub const MANAGED_BY_VALUE: &str = "vimana-reconciler";
/// Label naming the reconciler instance that owns an object.
pub const INSTANCE: &str = "reconciler.vimana.host/instance";
/// Platform label: the Domain id an object belongs to.
pub const DOMAIN: &str = "vimana.host/domain";
/// Platform label: the Server id an object belongs to.
pub const SERVER: &str = "vimana.host/server";
/// Platform label: the version of a Component.
pub const VERSION: &str = "vimana.host/version";

/// Labels the reconciler sets itself; sources may not set them.
pub const RESERVED_LABELS: [&str; 5] = [MANAGED_BY, INSTANCE, DOMAIN, SERVER, VERSION];

/// Annotation: canonical JSON of the evaluated Kumori component of a Component.
pub const KUMORI_RENDERED: &str = "kumori.vimana.host/rendered";
/// Annotation: `sha256:` digest of [`KUMORI_RENDERED`].
pub const KUMORI_DIGEST: &str = "kumori.vimana.host/digest";
/// Annotation: `<module path>#<artifact>` a Component was rendered from.
pub const KUMORI_SOURCE: &str = "kumori.vimana.host/source";

/// Server annotation: rollout steps, percent of the transition (`10,25,50,100`).
pub const ROLLOUT_STEPS: &str = "rollout.vimana.host/steps";
/// Server annotation: bake time per step (`2m`).
pub const ROLLOUT_INTERVAL: &str = "rollout.vimana.host/interval";
/// Server annotation: name of an analysis of the daemon configuration.
pub const ROLLOUT_ANALYSIS: &str = "rollout.vimana.host/analysis";
/// Server annotation: failed checks before a rollout aborts.
pub const ROLLOUT_MAX_FAILURES: &str = "rollout.vimana.host/max-failures";
/// Server annotation: how long a step may wait for its Components to become Available.
pub const ROLLOUT_PROGRESS_DEADLINE: &str = "rollout.vimana.host/progress-deadline";
/// Server annotation where the reconciler keeps the state of a rollout.
pub const ROLLOUT_STATE: &str = "reconciler.vimana.host/rollout";

/// Annotation a source may set on any object: what the daemon does when the object drifts
/// (`correct`, `detect` or `ignore`), over the `apply.drift` of its configuration.
pub const DRIFT: &str = "reconciler.vimana.host/drift";
/// The values of [`DRIFT`].
pub const DRIFT_VALUES: [&str; 3] = ["correct", "detect", "ignore"];

/// Field manager of every server-side apply the reconciler makes.
pub const FIELD_MANAGER: &str = "vimana-reconciler";
/// Condition type the Vimana operator sets on every resource.
pub const CONDITION_AVAILABLE: &str = "Available";
