//! The settings: defaults, bounds, and one line naming the setting for each bad value.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use std::collections::HashMap;

fn config(pairs: &[(&str, &str)]) -> Result<Config, StartupError> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(|k| map.get(k).cloned())
}

#[test]
fn defaults_serve_sqlite_on_localhost_8000_in_development() {
    let c = config(&[]).unwrap();
    assert_eq!(c.database.url.expose(), DEFAULT_DATABASE_URL);
    assert_eq!((c.http.host.as_str(), c.http.port), ("127.0.0.1", 8000));
    assert_eq!(c.app_env, AppEnv::Development);
    assert!(c.database.auto_migrate && c.database.seed_demo);
}

#[test]
fn a_bad_value_names_its_setting() {
    assert_eq!(config(&[("PORT", "eighty")]).unwrap_err().setting, "PORT");
    assert_eq!(config(&[("PORT", "70000")]).unwrap_err().setting, "PORT");
    assert_eq!(
        config(&[("APP_ENV", "staging")]).unwrap_err().setting,
        "APP_ENV"
    );
    assert_eq!(
        config(&[("AUTO_MIGRATE", "maybe")]).unwrap_err().setting,
        "AUTO_MIGRATE"
    );
    let err = config(&[("DATABASE_URL", "mysql://root:hunter2@db/x")]).unwrap_err();
    assert_eq!(err.setting, "DATABASE_URL");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[test]
fn production_never_seeds_demo_accounts() {
    let key = "k".repeat(64);
    let c = config(&[("APP_ENV", "production"), ("SECRET_KEY", &key)]).unwrap();
    assert!(!c.database.seed_demo);
    let err = config(&[("APP_ENV", "production"), ("SEED_DEMO", "true")]).unwrap_err();
    assert_eq!(err.setting, "SEED_DEMO");
}

#[test]
fn production_demands_a_strong_secret_key() {
    let strong = "k".repeat(64);
    let prod = |key: Option<&str>| {
        let mut pairs = vec![("APP_ENV", "production")];
        if let Some(k) = key {
            pairs.push(("SECRET_KEY", k));
        }
        config(&pairs)
    };
    assert_eq!(prod(None).unwrap_err().setting, "SECRET_KEY");
    assert_eq!(prod(Some("short")).unwrap_err().setting, "SECRET_KEY");
    assert_eq!(
        prod(Some(DEVELOPMENT_SECRET_KEY)).unwrap_err().setting,
        "SECRET_KEY"
    );
    let c = prod(Some(&strong)).unwrap();
    assert!(
        c.sessions.cookie_secure,
        "cookies are Secure in production by default"
    );
    assert!(
        !format!("{c:?}").contains(&strong),
        "the key is never printed"
    );
    // Development works without a key, and never with a short one.
    assert!(!config(&[]).unwrap().sessions.cookie_secure);
    assert_eq!(
        config(&[("SECRET_KEY", "short")]).unwrap_err().setting,
        "SECRET_KEY"
    );
}

#[test]
fn production_hides_introspection_and_the_playground_unless_asked() {
    let key = "k".repeat(64);
    let prod = config(&[("APP_ENV", "production"), ("SECRET_KEY", &key)]).unwrap();
    assert!(!prod.graphql.introspection && !prod.http.playground && !prod.http.metrics);
    let asked = config(&[
        ("APP_ENV", "production"),
        ("SECRET_KEY", &key),
        ("GRAPHQL_INTROSPECTION", "true"),
        ("PLAYGROUND", "true"),
    ])
    .unwrap();
    assert!(asked.graphql.introspection && asked.http.playground);
    let dev = config(&[]).unwrap();
    assert!(dev.graphql.introspection && dev.http.playground);
}

#[test]
fn trusted_documents_only_needs_a_manifest_and_persisted_queries_are_bounded() {
    let c = config(&[]).unwrap();
    assert_eq!(c.graphql.persisted_queries, 1000);
    assert!(c.graphql.trusted_documents.is_none() && !c.graphql.trusted_documents_only);
    let err = config(&[("TRUSTED_DOCUMENTS_ONLY", "true")]).unwrap_err();
    assert_eq!(err.setting, "TRUSTED_DOCUMENTS_ONLY");
    assert!(err.message.contains("TRUSTED_DOCUMENTS"), "{err}");
    let c = config(&[
        ("TRUSTED_DOCUMENTS", "ops/manifest.json"),
        ("TRUSTED_DOCUMENTS_ONLY", "true"),
        ("GRAPHQL_PERSISTED_QUERIES", "0"),
    ])
    .unwrap();
    assert_eq!(
        c.graphql.trusted_documents.as_deref(),
        Some(std::path::Path::new("ops/manifest.json"))
    );
    assert!(c.graphql.trusted_documents_only);
    assert_eq!(c.graphql.persisted_queries, 0);
    assert_eq!(
        config(&[("GRAPHQL_PERSISTED_QUERIES", "-1")])
            .unwrap_err()
            .setting,
        "GRAPHQL_PERSISTED_QUERIES"
    );
}

#[test]
fn cors_origins_are_exact_origins() {
    let c = config(&[(
        "CORS_ALLOWED_ORIGINS",
        "https://a.example, http://localhost:5173",
    )])
    .unwrap();
    assert_eq!(
        c.http
            .cors_allowed_origins
            .iter()
            .map(Origin::as_str)
            .collect::<Vec<_>>(),
        ["https://a.example", "http://localhost:5173"]
    );
    for bad in ["*", "a.example", "https://a.example/path"] {
        assert_eq!(
            config(&[("CORS_ALLOWED_ORIGINS", bad)])
                .unwrap_err()
                .setting,
            "CORS_ALLOWED_ORIGINS",
            "{bad}"
        );
    }
}

#[test]
fn trusted_proxies_are_ip_addresses() {
    let c = config(&[("TRUSTED_PROXIES", "10.0.0.2, ::1")]).unwrap();
    assert_eq!(c.http.trusted_proxies.len(), 2);
    assert_eq!(
        config(&[("TRUSTED_PROXIES", "proxy.local")])
            .unwrap_err()
            .setting,
        "TRUSTED_PROXIES"
    );
}

#[test]
fn durations_take_units() {
    let c = config(&[("SESSION_TTL", "2h"), ("SESSION_IDLE_TTL", "90")]).unwrap();
    assert_eq!(c.sessions.ttl, Duration::from_secs(7200));
    assert_eq!(c.sessions.idle_ttl, Duration::from_secs(90));
    assert_eq!(
        config(&[]).unwrap().sessions.ttl,
        Duration::from_secs(14 * 86_400)
    );
    // humantime's units: `1h 30m`, `2 weeks`.
    let c = config(&[("SESSION_TTL", "1h 30m"), ("SESSION_IDLE_TTL", "2 weeks")]).unwrap();
    assert_eq!(c.sessions.ttl, Duration::from_secs(5400));
    assert_eq!(c.sessions.idle_ttl, Duration::from_secs(14 * 86_400));
    for bad in ["0", "0s", "two weeks", "h", "-1d", "5 parsecs"] {
        assert_eq!(
            config(&[("SESSION_TTL", bad)]).unwrap_err().setting,
            "SESSION_TTL"
        );
    }
}

#[test]
fn the_hash_queue_and_the_registration_limit_have_defaults_and_bounds() {
    let c = config(&[]).unwrap();
    assert_eq!(
        (
            c.sessions.password_hash_queue,
            c.sessions.register_max_per_client
        ),
        (32, 10)
    );
    let c = config(&[
        ("PASSWORD_HASH_QUEUE", "0"),
        ("REGISTER_MAX_PER_CLIENT", "3"),
    ])
    .unwrap();
    assert_eq!(
        (
            c.sessions.password_hash_queue,
            c.sessions.register_max_per_client
        ),
        (0, 3)
    );
    for (name, bad) in [
        ("PASSWORD_HASH_QUEUE", "-1"),
        ("PASSWORD_HASH_QUEUE", "lots"),
        ("REGISTER_MAX_PER_CLIENT", "0"),
    ] {
        assert_eq!(config(&[(name, bad)]).unwrap_err().setting, name);
    }
}

#[test]
fn connection_limits_have_defaults_and_bounds() {
    let c = config(&[]).unwrap();
    assert_eq!(c.http.header_read_timeout, Duration::from_secs(10));
    assert_eq!(c.http.max_connections, 4096);
    let c = config(&[
        ("HTTP_HEADER_READ_TIMEOUT", "30s"),
        ("HTTP_MAX_CONNECTIONS", "100"),
    ])
    .unwrap();
    assert_eq!(c.http.header_read_timeout, Duration::from_secs(30));
    assert_eq!(c.http.max_connections, 100);
    for (name, bad) in [
        ("HTTP_HEADER_READ_TIMEOUT", "0"),
        ("HTTP_MAX_CONNECTIONS", "0"),
    ] {
        assert_eq!(config(&[(name, bad)]).unwrap_err().setting, name);
    }
}

#[test]
fn the_document_cache_can_be_turned_off() {
    assert_eq!(config(&[]).unwrap().graphql.document_cache, 1000);
    let off = config(&[("GRAPHQL_DOCUMENT_CACHE", "0")]).unwrap();
    assert_eq!(off.graphql.document_cache, 0);
    let bad = config(&[("GRAPHQL_DOCUMENT_CACHE", "-1")]).unwrap_err();
    assert_eq!(bad.setting, "GRAPHQL_DOCUMENT_CACHE");
}

#[test]
fn passwords_are_redacted_from_database_urls() {
    assert_eq!(
        value::redact_url("postgres://postgres:s3cret@localhost:5521/tkc_library"),
        "postgres://postgres:***@localhost:5521/tkc_library"
    );
    assert_eq!(
        value::redact_url("sqlite://tkc_library.db"),
        "sqlite://tkc_library.db"
    );
}

#[test]
fn nothing_secret_is_printed() {
    let key = "k".repeat(64);
    let c = config(&[
        ("DATABASE_URL", "postgres://app:hunter2@db:5432/tkc"),
        ("SECRET_KEY", &key),
    ])
    .unwrap();
    let printed = format!("{c:?}");
    assert!(
        printed.contains("postgres://app:***@db:5432/tkc"),
        "{printed}"
    );
    assert!(
        !printed.contains("hunter2") && !printed.contains(&key),
        "{printed}"
    );
    assert_eq!(
        c.database.url.expose(),
        "postgres://app:hunter2@db:5432/tkc"
    );
}

#[test]
fn the_statement_timeout_follows_the_request_timeout_unless_set() {
    let c = config(&[("REQUEST_TIMEOUT", "20s")]).unwrap();
    assert_eq!(c.statement_timeout(), Duration::from_secs(20));
    let c = config(&[
        ("REQUEST_TIMEOUT", "20s"),
        ("DATABASE_STATEMENT_TIMEOUT", "5s"),
    ])
    .unwrap();
    assert_eq!(c.statement_timeout(), Duration::from_secs(5));
}

#[test]
fn the_log_filter_is_checked_at_start_up() {
    assert_eq!(config(&[]).unwrap().logging.filter.as_str(), "info");
    let c = config(&[("RUST_LOG", "tkc_library=debug,info")]).unwrap();
    assert_eq!(c.logging.filter.as_str(), "tkc_library=debug,info");
    assert_eq!(
        config(&[("RUST_LOG", "tkc_library=loud")])
            .unwrap_err()
            .setting,
        "RUST_LOG"
    );
}

/// The settings named in a document: `.env.example`'s `NAME=` lines (commented out or not), or
/// the first column of the README's settings table.
fn documented(text: &str, readme: bool) -> std::collections::BTreeSet<String> {
    let name = |s: &str| {
        let s = s.trim();
        (!s.is_empty() && s.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
            .then(|| s.to_owned())
    };
    text.lines()
        .filter_map(|line| {
            if readme {
                name(line.strip_prefix("| `")?.split_once('`')?.0)
            } else {
                name(line.trim_start_matches(['#', ' ']).split_once('=')?.0)
            }
        })
        .collect()
}

#[test]
fn env_example_and_the_readme_list_exactly_the_settings_read() {
    let read: std::collections::BTreeSet<String> = Config::NAMES
        .iter()
        .flat_map(|group| group.iter().map(|n| n.to_string()))
        .collect();
    let root = env!("CARGO_MANIFEST_DIR");
    let env_example = std::fs::read_to_string(format!("{root}/.env.example")).unwrap();
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Configuration"))
        .expect("the README has a Configuration section");
    for (file, listed) in [
        (".env.example", documented(&env_example, false)),
        ("README.md's settings table", documented(section, true)),
    ] {
        let missing: Vec<_> = read.difference(&listed).collect();
        let unknown: Vec<_> = listed.difference(&read).collect();
        assert!(
            missing.is_empty() && unknown.is_empty(),
            "{file} lacks {missing:?} and lists {unknown:?}, which the server does not read"
        );
    }
}
