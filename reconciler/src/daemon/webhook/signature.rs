//! The signatures of the providers: HMAC-SHA256 of the body in a header (GitHub, Gitea,
//! Bitbucket, generic) or the secret itself (GitLab), compared in constant time.

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::daemon::config::{Provider, Secret};

/// Checks the provider's signature of `body`; the error says what was wrong, never the secret.
pub fn verify(
    provider: Provider,
    headers: &HeaderMap,
    body: &[u8],
    secret: &Secret,
) -> Result<(), String> {
    let header_value = |name: &str| -> Result<&str, String> {
        headers
            .get(name)
            .ok_or_else(|| format!("missing {name} header"))?
            .to_str()
            .map_err(|_| format!("{name} is not text"))
    };
    let hmac_hex = |name: &str, prefix: &str| -> Result<(), String> {
        let value = header_value(name)?;
        let hex = value
            .strip_prefix(prefix)
            .ok_or_else(|| format!("{name} does not start with {prefix:?}"))?;
        let signature =
            decode_hex(hex.trim()).ok_or_else(|| format!("{name} is not hexadecimal"))?;
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(body);
        // `verify_slice` compares in constant time.
        mac.verify_slice(&signature)
            .map_err(|_| format!("{name} does not match the body and the secret"))
    };
    match provider {
        Provider::Github => hmac_hex("x-hub-signature-256", "sha256="),
        Provider::Gitlab => {
            let token = header_value("x-gitlab-token")?;
            if tokens_match(token, secret.expose()) {
                Ok(())
            } else {
                Err("X-Gitlab-Token does not match the secret".into())
            }
        }
        Provider::Gitea => hmac_hex("x-gitea-signature", ""),
        Provider::Bitbucket => hmac_hex("x-hub-signature", "sha256="),
        Provider::Generic => hmac_hex("x-signature", "sha256="),
    }
}

/// Whether a token equals the secret, in time that depends on neither: both are hashed and the
/// digests compared in constant time. Comparing the bytes directly (`ct_eq` on slices) returns
/// at once when the lengths differ, which tells the length of the secret.
fn tokens_match(token: &str, secret: &str) -> bool {
    let token = Sha256::digest(token.as_bytes());
    let secret = Sha256::digest(secret.as_bytes());
    bool::from(token.as_slice().ct_eq(secret.as_slice()))
}

/// The signature a sender computes: lowercase hex HMAC-SHA256 of `body` with `secret`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::tokens_match;

    #[test]
    fn gitlab_token_comparison_does_not_return_early_when_lengths_differ() {
        assert!(tokens_match("s3cret", "s3cret"));
        assert!(!tokens_match("s3cre", "s3cret"));
        assert!(!tokens_match("s3cret!", "s3cret"));
        assert!(!tokens_match("", "s3cret"));
    }
}
