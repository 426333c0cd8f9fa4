//! Orders and filters for the lists: an index per order a list can be walked in (`items
//! (name_key, id)` for `NAME`, `users (username_key, id)` for `USERNAME`, and `items (status, …)`
//! for both item orders under a status filter; text keys compare by code point, under `COLLATE
//! "C"` on PostgreSQL as SQLite does, so A→Z is the same on both), and
//! `posts.search_key`, what a post search looks in: its title's and body's case keys, one per line
//! (computed in Rust like the other case keys, because SQLite's `lower()` folds ASCII only), filled
//! in here for existing posts. The entity leaves the column out, so reading posts never fetches it.

use caseless::Caseless;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
use unicode_normalization::UnicodeNormalization;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `(name, table, columns)`; ` COLLATE` marks a text key (`COLLATE "C"` on PostgreSQL).
const INDEXES: [(&str, &str, &str); 4] = [
    ("items_name_key_id_idx", "items", "name_key COLLATE, id"),
    (
        "items_status_created_at_id_idx",
        "items",
        "status, created_at, id",
    ),
    (
        "items_status_name_key_id_idx",
        "items",
        "status, name_key COLLATE, id",
    ),
    (
        "users_username_key_id_idx",
        "users",
        "username_key COLLATE, id",
    ),
];

/// Posts read and updated at a time while computing keys.
const CHUNK: u64 = 200;

/// `domain::posts::search_key`, as of this migration.
fn search_key(title: &str, body: &str) -> String {
    let key = |text: &str| -> String { text.chars().nfd().default_case_fold().nfc().collect() };
    format!("{}\n{}", key(title), key(body))
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let collate = match db.get_database_backend() {
            DbBackend::Postgres => r#" COLLATE "C""#,
            _ => "",
        };
        for (name, table, columns) in INDEXES {
            let columns = columns.replace(" COLLATE", collate);
            db.execute_unprepared(&format!("CREATE INDEX {name} ON {table} ({columns})"))
                .await?;
        }

        // Empty until computed: a post written by something other than the application (a
        // benchmark's seed in SQL) gets `lower()` of its text from the fallback trigger, exact for
        // ASCII; the application writes the full key itself.
        manager
            .alter_table(
                Table::alter()
                    .table(Posts::Table)
                    .add_column(
                        ColumnDef::new(Posts::SearchKey)
                            .text()
                            .not_null()
                            .default(""),
                    )
                    .to_owned(),
            )
            .await?;
        backfill(db).await?;
        for statement in fallback_trigger(db.get_database_backend()) {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let drops: &[&str] = match db.get_database_backend() {
            DbBackend::Postgres => &[
                "DROP TRIGGER IF EXISTS posts_search_key ON posts",
                "DROP FUNCTION IF EXISTS posts_search_key()",
            ],
            _ => &["DROP TRIGGER IF EXISTS posts_search_key"],
        };
        for statement in drops {
            db.execute_unprepared(statement).await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Posts::Table)
                    .drop_column(Posts::SearchKey)
                    .to_owned(),
            )
            .await?;
        for (name, _, _) in INDEXES {
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
                .await?;
        }
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

/// Fills in the key of a post whose key is empty (see [`up`]). (`CREATE OR REPLACE`: `migrate
/// fresh` drops the tables and their triggers but not the functions.)
fn fallback_trigger(backend: DbBackend) -> &'static [&'static str] {
    match backend {
        DbBackend::Postgres => &[
            "CREATE OR REPLACE FUNCTION posts_search_key() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
               IF NEW.search_key IS NULL OR NEW.search_key = '' THEN \
                 NEW.search_key := lower(NEW.title) || chr(10) || lower(NEW.body); END IF; \
               RETURN NEW; END $$",
            "CREATE TRIGGER posts_search_key BEFORE INSERT ON posts \
               FOR EACH ROW EXECUTE FUNCTION posts_search_key()",
        ],
        _ => &["CREATE TRIGGER posts_search_key AFTER INSERT ON posts \
               WHEN NEW.search_key = '' BEGIN \
                 UPDATE posts SET search_key = lower(title) || char(10) || lower(body) \
                 WHERE id = NEW.id; END"],
    }
}

/// Computes every existing post's key, `CHUNK` posts at a time.
async fn backfill(db: &SchemaManagerConnection<'_>) -> Result<(), DbErr> {
    let mut after = 0_i64;
    loop {
        let rows = db
            .query_all(
                Query::select()
                    .columns([Posts::Id, Posts::Title, Posts::Body])
                    .from(Posts::Table)
                    .and_where(Expr::col(Posts::Id).gt(after))
                    .order_by(Posts::Id, Order::Asc)
                    .limit(CHUNK),
            )
            .await?;
        let mut ids = Vec::with_capacity(rows.len());
        let mut case = CaseStatement::new();
        for row in &rows {
            let id: i64 = row.try_get_by_index(0)?;
            let title: String = row.try_get_by_index(1)?;
            let body: String = row.try_get_by_index(2)?;
            case = case.case(Expr::col(Posts::Id).eq(id), search_key(&title, &body));
            ids.push(id);
        }
        let Some(&last) = ids.last() else {
            return Ok(());
        };
        db.execute(
            Query::update()
                .table(Posts::Table)
                .value(Posts::SearchKey, case.finally(Expr::col(Posts::SearchKey)))
                .and_where(Expr::col(Posts::Id).is_in(ids)),
        )
        .await?;
        after = last;
        if (rows.len() as u64) < CHUNK {
            return Ok(());
        }
    }
}

#[derive(DeriveIden)]
enum Posts {
    Table,
    Id,
    Title,
    Body,
    SearchKey,
}
