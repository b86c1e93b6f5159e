//! What one render may read and produce. The sources are written by many teams and land on the
//! tracked branch unreviewed by the reconciler's operators, so every quantity an input controls
//! (bytes, nesting, expansion, chains of references) has a bound, checked before the work it
//! bounds, and hitting one is a diagnostic at file:line, never a crash. The defaults fit real
//! repositories with a wide margin; `docs/security.md` lists them and what happens at each.

/// The bounds of one render. `Limits::default()` is what the CLI and the daemon use unless
/// told otherwise (`--limit KEY=VALUE`, `render.limits` in the daemon's configuration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `fileBytes`: bytes of one source file (YAML, Kumori, `kumori.mod.json`), checked on its
    /// size before it is read.
    pub file_bytes: u64,
    /// `openBytes`: bytes of one file read by Kumori's `io.Open`, checked on its size before it
    /// is read. Its text ends up in an object, which Kubernetes bounds anyway.
    pub open_bytes: u64,
    /// `renderBytes`: bytes of all the files one render reads together.
    pub render_bytes: u64,
    /// `depth`: nesting of YAML collections, of Kumori expressions and values.
    pub depth: usize,
    /// `references`: length of a chain of Kumori references (`var`s naming `var`s, type
    /// aliases naming aliases).
    pub references: usize,
    /// `documentNodes`: nodes one YAML document may hold once its aliases are expanded (a few
    /// hundred bytes of anchors and aliases can otherwise stand for billions of nodes),
    /// counted before an alias is copied; a scalar counts one node per started 64 bytes of
    /// its text. The copies kept of anchored values have a budget of the same size.
    pub document_nodes: usize,
    /// `unionWidth`: members of one Kumori union type once its aliases are expanded.
    pub union_width: usize,
    /// `stringBytes`: bytes of one Kumori string value.
    pub string_bytes: usize,
    /// `listItems`: items of one Kumori list value.
    pub list_items: usize,
    /// `annotationBytes`: bytes of all annotations of one rendered object (keys and values), as
    /// Kubernetes bounds them (`TotalAnnotationSizeLimitB`, 256 KiB).
    pub annotation_bytes: usize,
    /// `objectBytes`: bytes of one rendered object as JSON; etcd refuses requests over 1.5 MiB
    /// by default (`--max-request-bytes`).
    pub object_bytes: usize,
}

/// The most `depth` may be set to: the functions that walk nested values recurse, on threads
/// whose stack may be 2 MiB (the daemon renders on tokio's blocking threads).
pub const MAX_DEPTH: usize = 256;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            file_bytes: 8 * MIB,
            open_bytes: MIB,
            render_bytes: 256 * MIB,
            depth: 128,
            references: 256,
            document_nodes: 1_000_000,
            union_width: 1024,
            string_bytes: MIB as usize,
            list_items: 100_000,
            annotation_bytes: 256 * KIB as usize,
            object_bytes: 3 * MIB as usize / 2,
        }
    }
}

/// The keys of [`Limits`] as configuration names them, with a word on each for messages.
pub const KEYS: &[(&str, &str)] = &[
    ("fileBytes", "bytes of one source file"),
    ("openBytes", "bytes of one file read by io.Open"),
    ("renderBytes", "bytes of all files of one render"),
    (
        "depth",
        "nesting of YAML collections and Kumori expressions",
    ),
    ("references", "length of a chain of Kumori references"),
    (
        "documentNodes",
        "nodes of one YAML document with its aliases expanded",
    ),
    ("unionWidth", "members of one Kumori union type"),
    ("stringBytes", "bytes of one Kumori string"),
    ("listItems", "items of one Kumori list"),
    (
        "annotationBytes",
        "bytes of the annotations of one rendered object",
    ),
    ("objectBytes", "bytes of one rendered object as JSON"),
];

impl Limits {
    /// Sets the limit `key` (a name of [`KEYS`]) to `value`: a whole number, for bytes with an
    /// optional unit (`512KiB`, `8MiB`, `1GiB`, `100k`, `2M`). Zero is refused: no render could
    /// pass.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let n = parse_amount(value).ok_or_else(|| {
            format!(
                "{key}: {value:?} is not a positive whole number (units: KiB, MiB, GiB, k, M, G)"
            )
        })?;
        let small = |n: u64| usize::try_from(n).map_err(|_| format!("{key}: {value} is too large"));
        match key {
            "fileBytes" => self.file_bytes = n,
            "openBytes" => self.open_bytes = n,
            "renderBytes" => self.render_bytes = n,
            "depth" if n > MAX_DEPTH as u64 => {
                return Err(format!(
                    "{key}: {value} is over {MAX_DEPTH}; deeper nesting could exhaust the stack of the thread that renders"
                ));
            }
            "depth" => self.depth = small(n)?,
            "references" => self.references = small(n)?,
            "documentNodes" => self.document_nodes = small(n)?,
            "unionWidth" => self.union_width = small(n)?,
            "stringBytes" => self.string_bytes = small(n)?,
            "listItems" => self.list_items = small(n)?,
            "annotationBytes" => self.annotation_bytes = small(n)?,
            "objectBytes" => self.object_bytes = small(n)?,
            _ => {
                let known: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
                return Err(format!(
                    "unknown limit {key:?}; the limits are {}",
                    known.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// Sets a limit from `KEY=VALUE` (the command line's `--limit`).
    pub fn set_pair(&mut self, pair: &str) -> Result<(), String> {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?}: write KEY=VALUE, for example fileBytes=16MiB"))?;
        self.set(key.trim(), value.trim())
    }
}

/// `8MiB` → 8388608; `100k` → 100000; `0` and anything else unreadable → `None`.
fn parse_amount(value: &str) -> Option<u64> {
    let value = value.trim();
    let split = value
        .find(|c: char| !c.is_ascii_digit() && c != '_')
        .unwrap_or(value.len());
    let (digits, unit) = value.split_at(split);
    let n: u64 = digits.replace('_', "").parse().ok()?;
    let factor: u64 = match unit.trim() {
        "" => 1,
        "KiB" | "Ki" => KIB,
        "MiB" | "Mi" => MIB,
        "GiB" | "Gi" => 1024 * MIB,
        "k" | "K" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        _ => return None,
    };
    n.checked_mul(factor).filter(|&n| n > 0)
}

/// `8388608` → `8 MiB`, for messages.
pub fn bytes_text(n: u64) -> String {
    if n >= MIB {
        format!("{:.1} MiB", n as f64 / MIB as f64).replace(".0 ", " ")
    } else if n >= KIB {
        format!("{:.1} KiB", n as f64 / KIB as f64).replace(".0 ", " ")
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_with_units_and_refuse_zero() {
        assert_eq!(parse_amount("8MiB"), Some(8 * MIB));
        assert_eq!(parse_amount("512 KiB"), Some(512 * KIB));
        assert_eq!(parse_amount("100k"), Some(100_000));
        assert_eq!(parse_amount("1_000"), Some(1000));
        assert_eq!(parse_amount("0"), None);
        assert_eq!(parse_amount("8 MB"), None);
        assert_eq!(parse_amount("99999999999999GiB"), None);
    }

    #[test]
    fn every_key_can_be_set_and_unknown_keys_are_named() {
        let mut l = Limits::default();
        for (key, _) in KEYS {
            l.set(key, "7").unwrap();
        }
        assert_eq!(l.depth, 7);
        assert_eq!(l.file_bytes, 7);
        let e = l.set_pair("fileByte=1").unwrap_err();
        assert!(
            e.contains("unknown limit") && e.contains("fileBytes"),
            "{e}"
        );
        assert!(l.set_pair("depth").is_err());
        assert!(l.set("depth", "256").is_ok());
        assert!(l.set("depth", "257").unwrap_err().contains("stack"));
    }

    #[test]
    fn byte_counts_read_well() {
        assert_eq!(bytes_text(8 * MIB), "8 MiB");
        assert_eq!(bytes_text(3 * MIB / 2), "1.5 MiB");
        assert_eq!(bytes_text(256 * KIB), "256 KiB");
        assert_eq!(bytes_text(12), "12 bytes");
    }
}
