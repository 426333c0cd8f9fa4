//! Case keys: `users.username_key`, `users.email_key` and `items.name_key` hold the value in any
//! case (Unicode full case folding, NFC), computed in Rust because SQLite's `lower()` and `LIKE`
//! fold ASCII only. Uniqueness moves from the `lower()` indexes to the keys; existing rows get
//! their keys here. Existing users whose keys collide (distinct under `lower()`, one under
//! folding: `straße@x.org` and `STRASSE@x.org`) stop the migration with their keys named, and
//! nothing is changed: which account keeps the address is for a person to decide.

use caseless::Caseless;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
use unicode_normalization::UnicodeNormalization;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Rows read and updated at a time while computing keys.
const CHUNK: u64 = 500;

/// The application's `domain::validate::case_key`, as of this migration (a later change of the
/// definition needs a migration of its own that recomputes the keys).
fn case_key(text: &str) -> String {
    text.chars().nfd().default_case_fold().nfc().collect()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let keys = [
            (Users::Table.into_iden(), Users::UsernameKey.into_iden()),
            (Users::Table.into_iden(), Users::EmailKey.into_iden()),
            (Items::Table.into_iden(), Items::NameKey.into_iden()),
        ];
        // NOT NULL needs a default to add a column to existing rows on SQLite; PostgreSQL drops it
        // once every row has its key, so that a writer that forgets the key fails there.
        for (table, column) in &keys {
            manager
                .alter_table(
                    Table::alter()
                        .table(table.clone())
                        .add_column(ColumnDef::new(column.clone()).text().not_null().default(""))
                        .to_owned(),
                )
                .await?;
        }

        backfill(
            db,
            Users::Table,
            &[Users::Username, Users::Email],
            &[Users::UsernameKey, Users::EmailKey],
        )
        .await?;
        backfill(db, Items::Table, &[Items::Name], &[Items::NameKey]).await?;

        for key in [Users::UsernameKey, Users::EmailKey] {
            refuse_duplicates(db, key).await?;
        }
        for name in ["users_username_lower_key", "users_email_lower_key"] {
            manager
                .drop_index(Index::drop().name(name).table(Users::Table).to_owned())
                .await?;
        }
        for (name, key) in [
            ("users_username_key_unique", Users::UsernameKey),
            ("users_email_key_unique", Users::EmailKey),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Users::Table)
                        .col(key)
                        .unique()
                        .to_owned(),
                )
                .await?;
        }

        if db.get_database_backend() == DbBackend::Postgres {
            for (table, column) in &keys {
                db.execute_unprepared(&format!(
                    r#"ALTER TABLE "{}" ALTER COLUMN "{}" DROP DEFAULT"#,
                    table, column
                ))
                .await?;
            }
        }
        for statement in fallback_triggers(db.get_database_backend()) {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let drops: &[&str] = match db.get_database_backend() {
            DbBackend::Postgres => &[
                "DROP TRIGGER IF EXISTS users_case_keys ON users",
                "DROP TRIGGER IF EXISTS items_case_keys ON items",
                "DROP FUNCTION IF EXISTS users_case_keys()",
                "DROP FUNCTION IF EXISTS items_case_keys()",
            ],
            _ => &[
                "DROP TRIGGER IF EXISTS users_case_keys",
                "DROP TRIGGER IF EXISTS items_case_keys",
            ],
        };
        for statement in drops {
            db.execute_unprepared(statement).await?;
        }
        for name in ["users_username_key_unique", "users_email_key_unique"] {
            manager
                .drop_index(Index::drop().name(name).table(Users::Table).to_owned())
                .await?;
        }
        db.execute_unprepared(
            "CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username))",
        )
        .await?;
        db.execute_unprepared("CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email))")
            .await?;
        for (table, column) in [
            (Users::Table.into_iden(), Users::UsernameKey.into_iden()),
            (Users::Table.into_iden(), Users::EmailKey.into_iden()),
            (Items::Table.into_iden(), Items::NameKey.into_iden()),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

/// A fallback for rows written by something other than the application (a benchmark's seed in
/// SQL, a hand-written fix): a key left empty is filled in with `lower()` of its value, exact for
/// ASCII (SQLite's `lower()` folds nothing else). The application always writes the full key
/// itself, so for its rows the triggers change nothing. (`CREATE OR REPLACE`: `migrate fresh` drops
/// the tables and their triggers but not the functions, so a fresh run must be able to redo them.)
fn fallback_triggers(backend: DbBackend) -> &'static [&'static str] {
    match backend {
        DbBackend::Postgres => &[
            "CREATE OR REPLACE FUNCTION users_case_keys() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
               IF NEW.username_key IS NULL OR NEW.username_key = '' THEN \
                 NEW.username_key := lower(NEW.username); END IF; \
               IF NEW.email_key IS NULL OR NEW.email_key = '' THEN \
                 NEW.email_key := lower(NEW.email); END IF; \
               RETURN NEW; END $$",
            "CREATE OR REPLACE FUNCTION items_case_keys() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
               IF NEW.name_key IS NULL OR NEW.name_key = '' THEN \
                 NEW.name_key := lower(NEW.name); END IF; \
               RETURN NEW; END $$",
            "CREATE TRIGGER users_case_keys BEFORE INSERT OR UPDATE ON users \
               FOR EACH ROW EXECUTE FUNCTION users_case_keys()",
            "CREATE TRIGGER items_case_keys BEFORE INSERT OR UPDATE ON items \
               FOR EACH ROW EXECUTE FUNCTION items_case_keys()",
        ],
        _ => &[
            "CREATE TRIGGER users_case_keys AFTER INSERT ON users \
               WHEN NEW.username_key = '' OR NEW.email_key = '' BEGIN \
                 UPDATE users SET \
                   username_key = CASE username_key WHEN '' THEN lower(username) ELSE username_key END, \
                   email_key = CASE email_key WHEN '' THEN lower(email) ELSE email_key END \
                 WHERE id = NEW.id; END",
            "CREATE TRIGGER items_case_keys AFTER INSERT ON items \
               WHEN NEW.name_key = '' BEGIN \
                 UPDATE items SET name_key = lower(name) WHERE id = NEW.id; END",
        ],
    }
}

/// Sets `keys[i]` to the case key of `values[i]` on every row of `table`, `CHUNK` rows at a time.
async fn backfill<T, C>(
    db: &SchemaManagerConnection<'_>,
    table: T,
    values: &[C],
    keys: &[C],
) -> Result<(), DbErr>
where
    T: Iden + Clone + 'static,
    C: Iden + Clone + 'static,
{
    let mut after = 0_i64;
    loop {
        let rows = db
            .query_all(
                Query::select()
                    .column(Alias::new("id"))
                    .columns(values.iter().cloned())
                    .from(table.clone())
                    .and_where(Expr::col(Alias::new("id")).gt(after))
                    .order_by(Alias::new("id"), Order::Asc)
                    .limit(CHUNK),
            )
            .await?;
        // One UPDATE a chunk: `SET key = CASE WHEN id = 1 THEN 'a' WHEN id = 2 THEN 'b' … END`.
        let mut ids = Vec::with_capacity(rows.len());
        let mut cases: Vec<CaseStatement> = keys.iter().map(|_| CaseStatement::new()).collect();
        for row in &rows {
            let id = row.try_get_by_index::<i64>(0)?;
            for (i, case) in cases.iter_mut().enumerate() {
                let value: String = row.try_get_by_index(i + 1)?;
                *case =
                    std::mem::take(case).case(Expr::col(Alias::new("id")).eq(id), case_key(&value));
            }
            ids.push(id);
        }
        let Some(&last) = ids.last() else {
            return Ok(());
        };
        let mut update = Query::update();
        update
            .table(table.clone())
            .and_where(Expr::col(Alias::new("id")).is_in(ids));
        for (key, case) in keys.iter().zip(cases) {
            update.value(key.clone(), case.finally(Expr::col(key.clone())));
        }
        db.execute(&update).await?;
        after = last;
        if (rows.len() as u64) < CHUNK {
            return Ok(());
        }
    }
}

/// Fails, naming them, when users share a key the unique index is about to be built on.
async fn refuse_duplicates(db: &SchemaManagerConnection<'_>, key: Users) -> Result<(), DbErr> {
    let rows = db
        .query_all(
            Query::select()
                .column(key.clone())
                .from(Users::Table)
                .group_by_col(key.clone())
                .and_having(Expr::expr(Func::count(Expr::col(Users::Id))).gt(1))
                .order_by(key.clone(), Order::Asc)
                .limit(10),
        )
        .await?;
    if rows.is_empty() {
        return Ok(());
    }
    let taken = rows
        .iter()
        .map(|row| row.try_get_by_index::<String>(0))
        .collect::<Result<Vec<_>, _>>()?;
    Err(DbErr::Migration(format!(
        "users share {} in any case (Unicode case folding): {}; rename or remove all but one of \
         each, then migrate again",
        key.to_string(),
        taken.join(", ")
    )))
}

#[derive(DeriveIden, Clone)]
enum Users {
    Table,
    Id,
    Username,
    Email,
    UsernameKey,
    EmailKey,
}

#[derive(DeriveIden, Clone)]
enum Items {
    Table,
    Name,
    NameKey,
}
