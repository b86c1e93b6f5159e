//! The inventory ConfigMap's contents: the keys an instance applied, as a JSON list of
//! `Kind/namespace/name` under `data.objects` while that is small enough to read by eye, and
//! gzip-compressed under `binaryData["objects.json.gz"]` above it.
//!
//! Why two forms: the API server refuses a ConfigMap whose data is over 1 MiB
//! (`validation.ValidateConfigMap`, `MaxSecretSize`), and at about 35 bytes a key the plain list
//! reaches it near 30,000 objects. The key lists repeat themselves (kinds, namespaces, name
//! stems), so gzip shrinks them about twentyfold: the compressed form holds several hundred
//! thousand objects. Beyond what fits, a sync stops before it writes anything, with a message
//! that says how to split the repository.

use std::collections::BTreeSet;
use std::io::{Read, Write};

use base64::Engine;
use model::{Kind, ObjectKey};
use serde_json::{Map, Value};

/// Key of `data` holding the plain JSON list.
pub const PLAIN_KEY: &str = "objects";
/// Key of `binaryData` holding the gzip-compressed JSON list.
pub const COMPRESSED_KEY: &str = "objects.json.gz";

/// Largest plain list written as is (bytes of JSON); a longer one is compressed.
const PLAIN_UP_TO: usize = 256 * 1024;
/// The API server's limit on a ConfigMap's data and binaryData together (decoded bytes).
pub const CONFIGMAP_LIMIT: usize = 1024 * 1024;
/// Room kept under [`CONFIGMAP_LIMIT`] for the `revision` entry and the keys' own names.
const HEADROOM: usize = 4 * 1024;
/// Largest list a compressed inventory may decompress to: a damaged or hostile ConfigMap must
/// not make the reader allocate without end (a gzip stream can expand a thousandfold).
const DECOMPRESSED_UP_TO: u64 = 64 * 1024 * 1024;

/// The `data` and `binaryData` maps of an inventory ConfigMap.
pub type Maps = (Map<String, Value>, Map<String, Value>);

/// Why an inventory cannot be written or read; [`crate::Error`] carries it with the
/// ConfigMap's name.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    /// Even compressed, the list is over what a ConfigMap holds.
    #[error(
        "the inventory of {objects} objects is {bytes} bytes compressed, over the {limit} bytes a ConfigMap may hold; split the repository into several instances (`--instance`, one folder each)",
        limit = CONFIGMAP_LIMIT - HEADROOM
    )]
    TooLarge {
        /// Keys in the list.
        objects: usize,
        /// Its compressed size.
        bytes: usize,
    },
    /// The stored list does not read: not JSON, not gzip, or over the decompression bound.
    #[error(
        "damaged: {0}; delete it to start over (nothing will be pruned until the next sync records it again)"
    )]
    Damaged(String),
}

/// The `data` and `binaryData` maps of an inventory of `keys` (one of them empty).
pub fn encode(keys: &BTreeSet<ObjectKey>) -> Result<Maps, Problem> {
    let listed: Vec<String> = keys.iter().map(key_text).collect();
    let text = serde_json::to_string(&listed).expect("strings serialize");
    let (mut data, mut binary) = (Map::new(), Map::new());
    if text.len() <= PLAIN_UP_TO {
        data.insert(PLAIN_KEY.into(), Value::String(text));
        return Ok((data, binary));
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let bytes = gz
        .write_all(text.as_bytes())
        .and_then(|()| gz.finish())
        .expect("writing to memory does not fail");
    if bytes.len() > CONFIGMAP_LIMIT - HEADROOM {
        return Err(Problem::TooLarge {
            objects: listed.len(),
            bytes: bytes.len(),
        });
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
    binary.insert(COMPRESSED_KEY.into(), Value::String(b64));
    Ok((data, binary))
}

/// The keys recorded in an inventory's `data` and `binaryData` (as the API returns them:
/// binaryData already decoded from base64). Entries naming a kind the reconciler does not
/// manage are skipped.
pub fn decode(
    plain: Option<&str>,
    compressed: Option<&[u8]>,
) -> Result<BTreeSet<ObjectKey>, Problem> {
    let mut keys = BTreeSet::new();
    if let Some(text) = plain {
        keys.extend(parse_list(text)?);
    }
    if let Some(bytes) = compressed {
        let mut text = String::new();
        flate2::read::GzDecoder::new(bytes)
            .take(DECOMPRESSED_UP_TO + 1)
            .read_to_string(&mut text)
            .map_err(|e| {
                Problem::Damaged(format!("{COMPRESSED_KEY} is not gzip-compressed text: {e}"))
            })?;
        if text.len() as u64 > DECOMPRESSED_UP_TO {
            return Err(Problem::Damaged(format!(
                "{COMPRESSED_KEY} decompresses to more than {DECOMPRESSED_UP_TO} bytes"
            )));
        }
        keys.extend(parse_list(&text)?);
    }
    Ok(keys)
}

fn parse_list(text: &str) -> Result<impl Iterator<Item = ObjectKey>, Problem> {
    let listed: Vec<String> = serde_json::from_str(text)
        .map_err(|e| Problem::Damaged(format!("not a JSON list of strings: {e}")))?;
    Ok(listed.into_iter().filter_map(|s| parse_key(&s)))
}

/// `Kind/namespace/name`.
pub fn key_text(k: &ObjectKey) -> String {
    format!("{}/{}/{}", k.kind, k.namespace, k.name)
}

/// The key of a `Kind/namespace/name` entry, if its kind is one the reconciler manages.
pub fn parse_key(s: &str) -> Option<ObjectKey> {
    let mut parts = s.splitn(3, '/');
    let kind = Kind::from_kind_str(parts.next()?)?;
    Some(ObjectKey {
        kind,
        namespace: parts.next()?.to_owned(),
        name: parts.next()?.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: usize) -> BTreeSet<ObjectKey> {
        (0..n)
            .map(|i| ObjectKey {
                kind: Kind::Component,
                namespace: "vimana".into(),
                name: format!("domain-{}-server-{}-v{}", i / 75, (i / 3) % 25, i % 3),
            })
            .collect()
    }

    #[test]
    fn keys_round_trip_through_the_inventory_text() {
        let k = ObjectKey {
            kind: Kind::Component,
            namespace: "vimana".into(),
            name: "adder-1-0-0".into(),
        };
        assert_eq!(key_text(&k), "Component/vimana/adder-1-0-0");
        assert_eq!(parse_key(&key_text(&k)), Some(k));
        assert_eq!(parse_key("Pod/x/y"), None);
    }

    #[test]
    fn a_small_inventory_is_plain_text() {
        let keys = keys(10);
        let (data, binary) = encode(&keys).unwrap();
        assert!(binary.is_empty());
        let text = data[PLAIN_KEY].as_str().unwrap();
        assert!(
            text.starts_with("[\"Component/vimana/domain-0-server-0-v0\""),
            "{text}"
        );
        assert_eq!(decode(Some(text), None).unwrap(), keys);
    }

    #[test]
    fn a_large_inventory_is_compressed_under_the_configmap_limit() {
        // 100k keys are about 3.7 MB of plain JSON, over the API server's 1 MiB.
        let keys = keys(100_000);
        let (data, binary) = encode(&keys).unwrap();
        assert!(data.is_empty());
        let b64 = binary[COMPRESSED_KEY].as_str().unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert!(
            bytes.len() < CONFIGMAP_LIMIT - HEADROOM,
            "{} bytes",
            bytes.len()
        );
        assert_eq!(decode(None, Some(&bytes)).unwrap(), keys);
    }

    #[test]
    fn an_inventory_that_cannot_fit_is_refused_with_how_to_split() {
        // Names without repetition do not compress: 40k random 40-character names.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let keys: BTreeSet<ObjectKey> = (0..40_000)
            .map(|_| ObjectKey {
                kind: Kind::Component,
                namespace: "vimana".into(),
                name: (0..40)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        char::from(b'a' + (state % 26) as u8)
                    })
                    .collect(),
            })
            .collect();
        let err = encode(&keys).unwrap_err();
        assert!(
            matches!(
                err,
                Problem::TooLarge {
                    objects: 40_000,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("--instance"), "{err}");
    }

    #[test]
    fn a_damaged_or_hostile_compressed_inventory_is_an_error_not_an_allocation() {
        assert!(matches!(
            decode(None, Some(b"not gzip")),
            Err(Problem::Damaged(_))
        ));
        // A gzip bomb: 80 MB of zeros compresses to about 80 KB.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![b'0'; 1024 * 1024];
        for _ in 0..80 {
            gz.write_all(&zeros).unwrap();
        }
        let bomb = gz.finish().unwrap();
        let err = decode(None, Some(&bomb)).unwrap_err();
        assert!(err.to_string().contains("more than"), "{err}");
        assert!(matches!(decode(Some("{}"), None), Err(Problem::Damaged(_))));
    }
}
