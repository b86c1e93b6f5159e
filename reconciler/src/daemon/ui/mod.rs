//! The web view at `/` (issue 20): a read-only page of what the daemon manages (the source, the
//! tree Vimana → Domain → Server → Component with each object's state, the rollouts' weights,
//! the last syncs with their diffs, the drift) and the JSON endpoints it polls, which scripts
//! may use too (`/api/summary`, `/api/tree`, `/api/rollouts`, `/api/syncs`, `/api/drift`).
//! See `docs/ui.md`.
//!
//! - [`view`]: the snapshot the page shows, plain serializable data;
//! - [`build`]: the snapshot from the desired objects and the live ones, without I/O;
//! - [`store`]: what the shared state keeps of it between passes (the snapshot, the last
//!   syncs and their diffs, the token);
//! - [`api`]: the routes, the optional bearer token, and the embedded assets.
//!
//! The daemon does not read the cluster for the page: the caller of the sync (`reconciler
//! run`) hands over the live objects it read after each pass ([`store::UiStore::passed`]).

pub mod api;
pub mod build;
pub mod store;
pub mod view;
