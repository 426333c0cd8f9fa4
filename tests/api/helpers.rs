//! `TestApp`: a server started exactly as in production (on port 0) over its own database.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ConnectionTrait, Database, DatabaseConnection, EntityTrait,
};
use serde_json::{Value, json};
use tkc_library::auth::AuthServices;
use tkc_library::clock::Clock;
use tkc_library::config::Config;
use tkc_library::db::StatementMeter;
use tkc_library::domain::events::Bus;
use tkc_library::entity::{items, posts, sessions, users};
use tkc_library::startup::{Application, Harness};
use tokio::sync::OnceCell;

/// Test databases older than this are leftovers of killed runs, swept at start.
const LEFTOVER_AGE: Duration = Duration::from_secs(2 * 3600);
const PREFIX: &str = "tkc_t_";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// Direct database access, for arranging data and checking what was written.
    pub db: DatabaseConnection,
    pub statements: Arc<StatementMeter>,
    /// The server's authentication services, for calling the domain's flows directly.
    pub auth: AuthServices,
    /// The server's clock: `advance` it to reach a due date without sleeping.
    pub clock: Clock,
    /// The settings the server runs with.
    pub config: Config,
    /// Where the server's changes are announced (for calling the domain's flows directly).
    pub bus: Bus,
    _database: Arc<TestDatabase>,
}

impl TestApp {
    /// A server on a fresh, migrated, empty database.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// The same, with settings changed by `configure` first.
    pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> Self {
        let database = TestDatabase::create().await;
        let mut config = test_config(&database.url);
        configure(&mut config);
        Self::start(config, Arc::new(database)).await
    }

    async fn start(config: Config, database: Arc<TestDatabase>) -> Self {
        let app = Application::build_with(&config, HARNESS)
            .await
            .expect("the app builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        let db = app.db().clone();
        let statements = app.statements();
        let auth = app.auth().clone();
        let clock = app.clock().clone();
        let bus = app.bus().clone();
        tokio::spawn(app.run_until_stopped());
        Self {
            address,
            client: reqwest::Client::new(),
            db,
            statements,
            auth,
            clock,
            config,
            bus,
            _database: database,
        }
    }

    /// A second server over the same database, with the same settings.
    pub async fn another_instance(&self) -> Self {
        Self::start(self.config.clone(), Arc::clone(&self._database)).await
    }

    /// POSTs a GraphQL operation without cookies and returns the JSON body (asserting HTTP 200).
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        self.public().graphql(query, variables).await
    }

    /// Like [`graphql`](Self::graphql), but returns `data`, failing on any error.
    pub async fn query(&self, query: &str, variables: Value) -> Value {
        self.public().query(query, variables).await
    }

    /// An actor that keeps no cookies.
    fn public(&self) -> Actor {
        Actor {
            address: self.address.clone(),
            http: self.client.clone(),
        }
    }

    /// Like [`query`](Self::query), also returning how many SQL statements the server ran.
    pub async fn query_counting(&self, query: &str, variables: Value) -> (Value, u64) {
        let before = self.statements.count();
        let data = self.query(query, variables).await;
        (data, self.statements.count() - before)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("the server answers")
    }

    /// A client with an empty cookie jar of its own.
    pub fn anonymous(&self) -> Actor {
        Actor {
            address: self.address.clone(),
            http: reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .expect("a client"),
        }
    }

    /// A signed-in borrower (registered through the API) and its id.
    pub async fn borrower(&self, username: &str) -> (Actor, i64) {
        let actor = self.anonymous();
        let data = actor
            .query(
                "mutation($input: RegisterInput!) { register(input: $input) { id } }",
                json!({ "input": {
                    "username": username,
                    "email": format!("{username}@example.org"),
                    "password": PASSWORD,
                } }),
            )
            .await;
        let id = data["register"]["id"].as_str().unwrap().parse().unwrap();
        (actor, id)
    }

    /// A signed-in admin: registered through the API, promoted in the database, signed in anew.
    pub async fn admin(&self, username: &str) -> (Actor, i64) {
        let (_, id) = self.borrower(username).await;
        self.db
            .execute_unprepared(&format!("UPDATE users SET role = 'admin' WHERE id = {id}"))
            .await
            .expect("promote");
        (self.login(username, PASSWORD).await, id)
    }

    /// A new client signed in as `username`.
    pub async fn login(&self, username: &str, password: &str) -> Actor {
        let actor = self.anonymous();
        actor
            .query(
                "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { id } }",
                json!({ "u": username, "p": password }),
            )
            .await;
        actor
    }

    /// How many rows `table` has.
    pub async fn count(&self, table: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                self.db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .expect("count")
            .expect("a row");
        row.try_get::<i64>("", "n").expect("a number")
    }

    /// Every row of the application's tables, as text: to prove that nothing changed.
    pub async fn snapshot(&self) -> String {
        use sea_orm::QueryOrder;
        format!(
            "{:?}\n{:?}\n{:?}\n{:?}",
            users::Entity::find()
                .order_by_asc(users::Column::Id)
                .all(&self.db)
                .await
                .expect("users"),
            posts::Entity::find()
                .order_by_asc(posts::Column::Id)
                .all(&self.db)
                .await
                .expect("posts"),
            items::Entity::find()
                .order_by_asc(items::Column::Id)
                .all(&self.db)
                .await
                .expect("items"),
            sessions::Entity::find()
                .order_by_asc(sessions::Column::Id)
                .all(&self.db)
                .await
                .expect("sessions"),
        )
    }

    // Direct database access, for arranging data.

    pub async fn insert_user(&self, username: &str, created_at: DateTime<Utc>) -> i64 {
        users::Entity::insert(
            users::ActiveModel {
                id: NotSet,
                username: Set(username.to_owned()),
                email: Set(format!("{username}@example.org")),
                password_hash: Set("$argon2id$v=19$m=19456,t=2,p=1$x$y".to_owned()),
                role: Set(users::Role::Borrower),
                image_file: Set("default.jpg".to_owned()),
                created_at: Set(created_at),
                ..Default::default()
            }
            .with_keys(),
        )
        .exec(&self.db)
        .await
        .expect("insert user")
        .last_insert_id
    }

    pub async fn insert_items(&self, rows: impl IntoIterator<Item = (String, DateTime<Utc>)>) {
        let models: Vec<_> = rows
            .into_iter()
            .map(|(name, created_at)| {
                items::ActiveModel {
                    id: NotSet,
                    name: Set(name),
                    description: Set(None),
                    created_at: Set(created_at),
                    ..Default::default()
                }
                .with_keys()
            })
            .collect();
        for chunk in models.chunks(200) {
            items::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(&self.db)
                .await
                .expect("insert items");
        }
    }

    pub async fn insert_posts(&self, rows: impl IntoIterator<Item = (i64, String, DateTime<Utc>)>) {
        let models: Vec<_> = rows
            .into_iter()
            .map(|(author_id, title, at)| posts::ActiveModel {
                id: NotSet,
                title: Set(title),
                body: Set("body".to_owned()),
                created_at: Set(at),
                updated_at: Set(at),
                author_id: Set(author_id),
            })
            .collect();
        for chunk in models.chunks(200) {
            posts::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(&self.db)
                .await
                .expect("insert posts");
        }
    }

    /// The names of the application's tables that exist now.
    pub async fn tables(&self) -> Vec<String> {
        table_names(&self.db).await
    }
}

pub async fn table_names(db: &DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            "SELECT table_name AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name IN ('users', 'posts', 'items') \
             ORDER BY 1"
        }
        _ => {
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name IN ('users', 'posts', 'items') ORDER BY 1"
        }
    };
    db.query_all_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        sql,
    ))
    .await
    .expect("list tables")
    .iter()
    .map(|row| row.try_get::<String>("", "name").expect("a name"))
    .collect()
}

/// The password of the actors `borrower()` and `admin()` make.
pub const PASSWORD: &str = "correct horse battery";

/// A client of the API with its own cookie jar: it speaks only the public API.
pub struct Actor {
    pub address: String,
    pub http: reqwest::Client,
}

impl Actor {
    /// POSTs a GraphQL operation and returns the JSON body (asserting HTTP 200).
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/graphql", self.address))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status(), 200, "POST /graphql status");
        response.json().await.expect("a JSON body")
    }

    /// `data`, failing on any error.
    pub async fn query(&self, query: &str, variables: Value) -> Value {
        let body = self.graphql(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// The single error code of a response that must fail.
    pub async fn error_code(&self, query: &str, variables: Value) -> String {
        let body = self.graphql(query, variables).await;
        let codes = error_codes(&body);
        assert_eq!(codes.len(), 1, "expected one error: {body:#}");
        codes[0].clone()
    }

    /// The signed-in user's username, or None.
    pub async fn me(&self) -> Option<String> {
        let data = self.query("{ me { username } }", json!({})).await;
        data["me"]["username"].as_str().map(str::to_owned)
    }
}

/// A fixed point in time, plus `seconds`: test data has exact, repeatable timestamps.
pub fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_760_000_000 + seconds, 0).expect("a valid time")
}

/// Test servers serve the test routes and keep the text of their SQL statements.
pub const HARNESS: Harness = Harness {
    test_routes: true,
    record_statements: true,
};

/// The configuration tests run with: a free port, no demo data.
pub fn test_config(database_url: &str) -> Config {
    Config::from_lookup(|name| match name {
        "DATABASE_URL" => Some(database_url.to_owned()),
        "PORT" => Some("0".to_owned()),
        "SEED_DEMO" => Some("false".to_owned()),
        _ => None,
    })
    .expect("test configuration")
}

/// The error codes of a GraphQL response, in order.
pub fn error_codes(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    e["extensions"]["code"]
                        .as_str()
                        .unwrap_or("<none>")
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether this run is on PostgreSQL.
pub fn postgres_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// A database of one's own: an SQLite file in a temporary folder, or a PostgreSQL database
/// created for the test and dropped afterwards.
pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    pub async fn create() -> Self {
        match postgres_url() {
            None => {
                let dir = tempfile::tempdir().expect("a temporary folder");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                Self {
                    url,
                    _dir: Some(dir),
                    postgres: None,
                }
            }
            Some(admin_url) => {
                static SWEPT: OnceCell<()> = OnceCell::const_new();
                SWEPT.get_or_init(|| sweep_leftovers(&admin_url)).await;
                static COUNTER: AtomicU32 = AtomicU32::new(0);
                let secs = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let name = format!(
                    "{PREFIX}{secs}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::Relaxed)
                );
                let admin = Database::connect(&admin_url)
                    .await
                    .expect("TEST_DATABASE_URL answers");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("create the test database");
                admin.close().await.ok();
                Self {
                    url: with_database(&admin_url, &name),
                    _dir: None,
                    postgres: Some((admin_url, name)),
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs outside async: use a runtime of our own on a thread of our own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(drop_database(&admin_url, &name));
        })
        .join();
    }
}

async fn drop_database(admin_url: &str, name: &str) {
    if let Ok(admin) = Database::connect(admin_url).await {
        let _ = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await;
        admin.close().await.ok();
    }
}

async fn sweep_leftovers(admin_url: &str) {
    let Ok(admin) = Database::connect(admin_url).await else {
        return;
    };
    let rows = admin
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!("SELECT datname FROM pg_database WHERE datname LIKE '{PREFIX}%'"),
        ))
        .await
        .unwrap_or_default();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    for row in rows {
        let Ok(name) = row.try_get::<String>("", "datname") else {
            continue;
        };
        let created: u64 = name
            .trim_start_matches(PREFIX)
            .split('_')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(now);
        if now.saturating_sub(created) > LEFTOVER_AGE.as_secs() {
            drop_database(admin_url, &name).await;
        }
    }
    admin.close().await.ok();
}

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let (scheme, rest) = base.split_once("://").expect("a URL with a scheme");
    let authority = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{authority}/{name}{query}")
}
