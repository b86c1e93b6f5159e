//! Answers of injected faults (a dropped connection, and 429, 500 or 503 with `Retry-After`)
//! and of the max-in-flight limit (429).

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

/// The answer of the max-in-flight limit, as kube-apiserver's `tooManyRequests` writes it
/// (`filters/maxinflight.go`, through Go's `http.Error`): 429, `Retry-After`, a plain-text body.
pub(super) fn too_many_requests() -> Response {
    let mut r = Response::new(Body::from(crate::inflight::MESSAGE));
    *r.status_mut() = axum::http::StatusCode::TOO_MANY_REQUESTS;
    let h = r.headers_mut();
    h.insert(
        header::RETRY_AFTER,
        HeaderValue::from(crate::inflight::RETRY_AFTER_SECONDS),
    );
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}
