//! The standalone sea-orm-migration CLI: `cargo run -p migration -- status` (reads `DATABASE_URL`).
//! The server offers the same migrations as `tkc-library migrate`.

#[tokio::main]
async fn main() {
    sea_orm_migration::cli::run_cli(migration::Migrator).await;
}
