//! Trusted documents: the manifest `TRUSTED_DOCUMENTS` names, each document by the SHA-256 of its
//! exact text, as `tkc-library trusted-documents` writes it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

/// The SHA-256 of `text`, as 64 lowercase hexadecimal characters: a document's id.
pub fn sha256_hex(text: &str) -> String {
    use std::fmt::Write;
    Sha256::digest(text.as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

/// Why `document` does not parse, on one line with its position (`line 2, column 1: expected
/// selection_set, …`); `None` when it parses.
pub fn parse_failure(document: &str) -> Option<String> {
    let error = async_graphql::parser::parse_query(document).err()?;
    let text = error.to_string();
    // A syntax error's text is drawn over several lines; its last `= …` line says what is wrong.
    let reason = text
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("= "))
        .or_else(|| text.lines().next())
        .unwrap_or_default()
        .to_owned();
    Some(match error.positions().next() {
        Some(at) => format!("line {}, column {}: {reason}", at.line, at.column),
        None => reason,
    })
}

/// The trusted documents: each document by the SHA-256 of its exact text.
#[derive(Default)]
pub struct Manifest {
    documents: HashMap<String, Arc<str>>,
}

impl Manifest {
    /// Reads a manifest file; `Err` says what is wrong with it (the caller names the file).
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot be read: {e}"))?;
        Self::from_json(&text)
    }

    /// A manifest from its JSON text: an object of lowercase SHA-256 hex → document text, each
    /// key the hash of its document, each document one that parses.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let entries: BTreeMap<String, String> = serde_json::from_str(text).map_err(|e| {
            format!("is not a JSON object of SHA-256 (lowercase hex) → document text: {e}")
        })?;
        let mut documents = HashMap::with_capacity(entries.len());
        for (hash, document) in entries {
            let actual = sha256_hex(&document);
            if hash != actual {
                let shown: String = hash.chars().take(80).collect();
                return Err(format!(
                    "the key `{shown}` is not the SHA-256 of its document (which is {actual})"
                ));
            }
            if let Some(failure) = parse_failure(&document) {
                return Err(format!(
                    "the document {hash} is not a GraphQL document: {failure}"
                ));
            }
            documents.insert(hash, Arc::from(document));
        }
        Ok(Self { documents })
    }

    /// A manifest of `documents` (their exact texts).
    pub fn from_documents(documents: impl IntoIterator<Item = String>) -> Self {
        Self {
            documents: documents
                .into_iter()
                .map(|d| (sha256_hex(&d), Arc::from(d)))
                .collect(),
        }
    }

    /// The manifest as JSON, keys sorted: what `TRUSTED_DOCUMENTS` reads.
    pub fn to_json(&self) -> String {
        let sorted: BTreeMap<&str, &str> = self
            .documents
            .iter()
            .map(|(hash, document)| (hash.as_str(), &**document))
            .collect();
        let mut json = serde_json::to_string_pretty(&sorted).unwrap_or_else(|_| "{}".to_owned());
        json.push('\n');
        json
    }

    /// How many documents it holds.
    pub fn len(&self) -> usize {
        self.documents.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
    }

    /// The document whose hash is `hash`.
    pub(super) fn get(&self, hash: &str) -> Option<&Arc<str>> {
        self.documents.get(hash)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_documents_id_is_the_sha256_of_its_exact_text_in_lowercase_hex() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(sha256_hex("{ a }"), sha256_hex("{ a } "));
    }

    #[test]
    fn a_manifest_reads_back_what_it_writes_and_refuses_a_wrong_key() {
        let manifest = Manifest::from_documents(["{ a }".to_owned(), "{ b }".to_owned()]);
        let again = Manifest::from_json(&manifest.to_json()).unwrap();
        assert_eq!(again.len(), 2);
        assert_eq!(&**again.get(&sha256_hex("{ b }")).unwrap(), "{ b }");

        let wrong = serde_json::json!({ sha256_hex("{ a }"): "{ b }" }).to_string();
        let error = Manifest::from_json(&wrong).err().unwrap();
        assert!(
            error.contains("is not the SHA-256 of its document"),
            "{error}"
        );
        assert!(Manifest::from_json("[]").is_err());
        let broken = serde_json::json!({ sha256_hex("{ a"): "{ a" }).to_string();
        assert!(
            Manifest::from_json(&broken)
                .err()
                .unwrap()
                .contains("line 1")
        );
    }

    #[test]
    fn a_parse_failure_is_one_line_with_its_position() {
        assert_eq!(parse_failure("{ a }"), None);
        let failure = parse_failure("{ a\n").unwrap();
        assert!(failure.starts_with("line 2, column 1: "), "{failure}");
        assert!(!failure.contains('\n'), "{failure}");
    }
}
