//! Manual control of rollouts through Server annotations, written by `reconciler rollout` and
//! read by the engine: never through Git.

use super::Request;

/// `"true"` while a Server's rollouts are paused.
pub const PAUSED: &str = "reconciler.vimana.host/rollout-paused";
/// A one-shot request, `<verb>@<id>`: `promote`, `abort` or `retry`. The engine records the
/// last id it handled in the rollout state, so each request is handled once.
pub const REQUEST: &str = "reconciler.vimana.host/rollout-request";

/// Whether the Server is paused, and its pending request with its id.
pub fn read(annotations: &model::StringMap) -> (bool, Option<(String, Request)>) {
    let paused = annotations.get(PAUSED).is_some_and(|v| v == "true");
    let request = annotations.get(REQUEST).and_then(|v| {
        let verb = v.split('@').next()?;
        let r = match verb {
            "promote" => Request::Promote,
            "abort" => Request::Abort,
            "retry" => Request::Retry,
            _ => return None,
        };
        Some((v.clone(), r))
    });
    (paused, request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pause_and_requests() {
        let mut a = model::StringMap::new();
        assert_eq!(read(&a), (false, None));
        a.insert(PAUSED.to_owned(), "true".to_owned());
        a.insert(REQUEST.to_owned(), "promote@42".to_owned());
        assert_eq!(
            read(&a),
            (true, Some(("promote@42".to_owned(), Request::Promote)))
        );
        a.insert(REQUEST.to_owned(), "dance@1".to_owned());
        assert_eq!(read(&a).1, None);
    }
}
