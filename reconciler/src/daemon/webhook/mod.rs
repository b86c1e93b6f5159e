//! The webhook receiver: `POST /hooks/{github,gitlab,gitea,bitbucket,generic}`.
//!
//! Each request goes through, in order: the provider is enabled and a secret is configured
//! (else 404), the shared rate limit (429), the body size limit (413), the provider's signature
//! checked in constant time (401), a delivery id seen already (200, a replay: no sync), then
//! the payload: a push of the tracked ref asks the sync loop for a sync (202); pings, other
//! events and other refs are acknowledged (200); a payload that cannot be read is 400. A body
//! that does not arrive within [`settings::BODY_READ_TIMEOUT`] is 408.
//!
//! Nothing here knows the daemon's state: [`receive`] answers a request from the
//! [`WebhookSettings`], and the route of [`super::server`] asks for the sync.

mod answer;
mod event;
mod ratelimit;
mod receive;
pub mod replay;
pub mod settings;
mod signature;

pub use answer::Answer;
pub use ratelimit::RateLimiter;
pub use receive::receive;
pub use settings::WebhookSettings;
pub use signature::{sign, verify};
