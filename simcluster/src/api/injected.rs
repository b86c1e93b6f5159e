//! Answers of injected faults: a dropped connection, and 429, 500 or 503 with `Retry-After`.

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use serde_json::json;

use super::respond::error_response;
use crate::status::Status;

/// Marks a response whose connection must be dropped.
#[derive(Clone, Copy)]
pub(super) struct Dropped;

/// A response whose body fails at once, so that hyper aborts the connection without a
/// complete answer.
pub(super) fn dropped() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "simcluster: injected dropped connection",
        ))
    });
    let mut r = Response::new(Body::from_stream(stream));
    r.extensions_mut().insert(Dropped);
    r
}

/// The `Status` answer of an injected error, worded as the API server words it, with
/// `retryAfterSeconds` (and a `Retry-After` header for 429 and 503).
pub(super) fn injected_error(code: u16) -> Response {
    let (reason, message) = match code {
        429 => (
            "TooManyRequests",
            "the server has received too many requests and has asked us to try again later (injected by simcluster)",
        ),
        503 => (
            "ServiceUnavailable",
            "the server is currently unable to handle the request (injected by simcluster)",
        ),
        _ => (
            "InternalError",
            "an error on the server (\"injected by simcluster\") has prevented the request from succeeding",
        ),
    };
    let e = Status {
        details: Some(json!({"retryAfterSeconds": 1})),
        ..Status::new(code, reason, message)
    };
    let mut r = error_response(&e);
    if code == 429 || code == 503 {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}
