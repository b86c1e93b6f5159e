//! The signal that asks a running pass to stop at a safe point. It belongs to the engine, which
//! obeys it; the daemon raises it on shutdown and when it loses the leadership.

use tokio::sync::watch;

/// Tells a running sync that its caller is stopping (the daemon shuts down, or this replica is
/// no longer the leader and another may soon write): finish the current step, or stop where it
/// is safe (between waves, before the next rollout step), and return.
#[derive(Clone, Debug)]
pub struct StopSignal(watch::Receiver<bool>);

impl StopSignal {
    /// A signal and the sender that raises it.
    pub fn new() -> (watch::Sender<bool>, StopSignal) {
        let (tx, rx) = watch::channel(false);
        (tx, StopSignal(rx))
    }

    /// Whether the caller asked to stop.
    pub fn is_stopping(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once the caller asks to stop (never, if its sender is gone without asking).
    pub async fn stopping(&mut self) {
        if self.0.wait_for(|s| *s).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
