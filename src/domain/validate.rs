//! Input rules shared by every mutation: values are trimmed, and empty or over-long ones are
//! refused with a `BAD_USER_INPUT` naming the field. Also what "the same text in any case" means:
//! [`case_key`].

use caseless::Caseless;
use unicode_normalization::UnicodeNormalization;

use crate::error::AppError;

/// The key two texts share when they are equal in any case: Unicode full case folding of the
/// canonical decomposition, recomposed (NFC). So `Émile`, `ÉMILE` and `e\u{301}mile` share
/// `émile`, and `Straße` and `STRASSE` share `strasse`. Computed here rather than by the database,
/// whose `lower()` is ASCII-only on SQLite; stored in the `*_key` columns (the migration
/// `m20261122_000020_add_case_keys` computes it the same way for rows written before it).
pub fn case_key(text: &str) -> String {
    text.chars().nfd().default_case_fold().nfc().collect()
}

/// The longest search text, in characters (trimmed): a search is refused before any SQL runs
/// when longer (SQLite also refuses LIKE patterns over 50,000 bytes, as an internal error).
pub const SEARCH_MAX: usize = 200;

/// The LIKE pattern (escape character `\`) that finds `search` in any case inside a case key
/// column: `%key%`, with LIKE's wildcards `%`, `_` and `\` in the text taken literally. `None` for
/// no search (absent or blank); over [`SEARCH_MAX`] characters is `BAD_USER_INPUT` on `field`.
pub fn search_pattern(field: &str, search: Option<&str>) -> Result<Option<String>, AppError> {
    let Some(term) = search.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if term.chars().count() > SEARCH_MAX {
        return Err(AppError::bad_input(
            field,
            format!("must be at most {SEARCH_MAX} characters long"),
        ));
    }
    let key = case_key(term);
    let mut pattern = String::with_capacity(key.len() + 2);
    pattern.push('%');
    for c in key.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    Ok(Some(pattern))
}

/// A required text: trimmed, 1 to `max` characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, AppError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(AppError::bad_input(field, "must not be empty"));
    }
    if value.contains('\0') {
        // The GraphQL layer refuses these before execution; this keeps other callers honest.
        return Err(AppError::bad_input(
            field,
            "must not contain a NUL character",
        ));
    }
    if value.chars().count() > max {
        return Err(AppError::bad_input(
            field,
            format!("must be at most {max} characters long"),
        ));
    }
    Ok(value.to_owned())
}

/// An optional text: trimmed; blank means none.
pub fn optional_text(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, AppError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => text(field, v, max).map(Some),
    }
}

/// A username: 3 to 64 letters, digits, `_`, `.` or `-`.
pub fn username(field: &str, value: &str) -> Result<String, AppError> {
    let value = value.trim();
    let length = value.chars().count();
    if !(3..=USERNAME_MAX).contains(&length) {
        return Err(AppError::bad_input(
            field,
            format!("must be 3 to {USERNAME_MAX} characters long"),
        ));
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(AppError::bad_input(
            field,
            "may contain only letters, digits, `_`, `.` and `-`",
        ));
    }
    Ok(value.to_owned())
}

/// The longest username.
pub const USERNAME_MAX: usize = 64;
/// The longest email address.
pub const EMAIL_MAX: usize = 120;

/// An email address: trimmed, at most 120 characters, `local@domain.tld` without spaces.
pub fn email(field: &str, value: &str) -> Result<String, AppError> {
    let value = value.trim();
    let invalid = || AppError::bad_input(field, "is not a valid email address");
    if value.chars().count() > EMAIL_MAX {
        return Err(AppError::bad_input(
            field,
            format!("must be at most {EMAIL_MAX} characters long"),
        ));
    }
    let (local, domain) = value.split_once('@').ok_or_else(invalid)?;
    let well_formed = !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !value.chars().any(|c| c.is_whitespace() || c.is_control());
    if !well_formed {
        return Err(invalid());
    }
    Ok(value.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_trimmed_and_bounded() {
        assert_eq!(text("name", "  Dune ", 10).unwrap(), "Dune");
        assert_eq!(text("name", "   ", 10).unwrap_err().field(), Some("name"));
        assert!(text("name", &"é".repeat(10), 10).is_ok());
        assert!(text("name", &"é".repeat(11), 10).is_err());
        assert_eq!(optional_text("d", Some("  "), 10).unwrap(), None);
        assert!(text("name", "a\0b", 10).is_err());
    }

    #[test]
    fn search_terms_match_literally() {
        assert_eq!(
            search_pattern("search", Some(" 50% Off_now\\ ")).unwrap(),
            Some("%50\\% off\\_now\\\\%".to_owned())
        );
        assert_eq!(search_pattern("search", Some("  ")).unwrap(), None);
        assert!(search_pattern("search", Some(&"x".repeat(201))).is_err());
    }

    #[test]
    fn case_keys_fold_every_script_and_normalise() {
        for (a, b) in [
            ("Émile@X.org", "émile@x.org"),
            ("E\u{301}MILE", "émile"),
            ("Straße", "STRASSE"),
            ("STRAẞE", "strasse"),
            ("ΟΔΟΣ", "οδος"),
            ("ﬁle", "FILE"),
        ] {
            assert_eq!(case_key(a), case_key(b), "{a} / {b}");
        }
        assert_eq!(case_key("Écran"), "écran");
        assert_ne!(case_key("écran"), case_key("ecran"));
    }

    #[test]
    fn usernames_and_emails() {
        assert_eq!(username("u", " ada.l-1_ ").unwrap(), "ada.l-1_");
        for bad in ["ab", "has space", "émile", &"x".repeat(65)] {
            assert!(username("u", bad).is_err(), "{bad}");
        }
        assert!(email("e", "ada@example.org").is_ok());
        for bad in [
            "ada",
            "ada@",
            "@x.org",
            "a@b",
            "a b@x.org",
            "a@x..org",
            "a@@x.org",
        ] {
            assert!(email("e", bad).is_err(), "{bad}");
        }
    }
}
