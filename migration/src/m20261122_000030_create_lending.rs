//! Lending: `loans` and `holds`, and each item's circulation `status`.
//!
//! The invariants are the database's own, as partial unique indexes (the same SQL on SQLite and
//! PostgreSQL): at most one active loan per item, at most one open hold per item and member, at
//! most one ready hold per item. Every lending mutation also locks its item's row first, so the
//! checks that span rows (a queue's order, a member's limits) see a settled state.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Items::Table)
                    .add_column(
                        ColumnDef::new(Items::Status)
                            .string_len(16)
                            .not_null()
                            .default("AVAILABLE")
                            .check(Expr::cust(
                                "status IN ('AVAILABLE', 'ON_LOAN', 'ON_HOLD_SHELF', 'UNAVAILABLE')",
                            )),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Loans::Table)
                    .col(
                        ColumnDef::new(Loans::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Loans::ItemId).big_integer().not_null())
                    // Null once the member's account is deleted: the history stays, anonymised.
                    .col(ColumnDef::new(Loans::BorrowerId).big_integer().null())
                    .col(
                        ColumnDef::new(Loans::CheckedOutAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Loans::DueAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Loans::ReturnedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Loans::RenewalCount)
                            .integer()
                            .not_null()
                            .default(0)
                            .check(Expr::cust("renewal_count >= 0")),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Loans::Table, Loans::ItemId)
                            .to(Items::Table, Items::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Loans::Table, Loans::BorrowerId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Holds::Table)
                    .col(
                        ColumnDef::new(Holds::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Holds::ItemId).big_integer().not_null())
                    .col(ColumnDef::new(Holds::MemberId).big_integer().not_null())
                    .col(
                        ColumnDef::new(Holds::Status)
                            .string_len(16)
                            .not_null()
                            .check(Expr::cust(
                                "status IN ('WAITING', 'READY', 'FULFILLED', 'CANCELLED', 'EXPIRED')",
                            )),
                    )
                    .col(
                        ColumnDef::new(Holds::PlacedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Holds::PickupBy)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Holds::EndedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Holds::Table, Holds::ItemId)
                            .to(Items::Table, Items::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Holds::Table, Holds::MemberId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        let db = manager.get_connection();
        for sql in [
            // The invariants.
            "CREATE UNIQUE INDEX loans_one_active_per_item ON loans (item_id) WHERE returned_at IS NULL",
            "CREATE UNIQUE INDEX holds_one_open_per_member ON holds (item_id, member_id) \
             WHERE status IN ('WAITING', 'READY')",
            "CREATE UNIQUE INDEX holds_one_ready_per_item ON holds (item_id) WHERE status = 'READY'",
            // The lists, keyset on (time, id): an item's history, a member's loans and holds, all
            // loans, an item's queue, and the ready holds by pickup time (the sweeper's).
            "CREATE INDEX loans_item_idx ON loans (item_id, checked_out_at, id)",
            "CREATE INDEX loans_borrower_idx ON loans (borrower_id, checked_out_at, id)",
            "CREATE INDEX loans_checked_out_at_idx ON loans (checked_out_at, id)",
            "CREATE INDEX loans_active_due_idx ON loans (due_at) WHERE returned_at IS NULL",
            "CREATE INDEX holds_member_idx ON holds (member_id, placed_at, id)",
            "CREATE INDEX holds_queue_idx ON holds (item_id, placed_at, id) WHERE status = 'WAITING'",
            "CREATE INDEX holds_ready_pickup_idx ON holds (pickup_by) WHERE status = 'READY'",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Holds::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Loans::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Items::Table)
                    .drop_column(Items::Status)
                    .to_owned(),
            )
            .await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[derive(DeriveIden)]
enum Items {
    Table,
    Id,
    Status,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Loans {
    Table,
    Id,
    ItemId,
    BorrowerId,
    CheckedOutAt,
    DueAt,
    ReturnedAt,
    RenewalCount,
}

#[derive(DeriveIden)]
enum Holds {
    Table,
    Id,
    ItemId,
    MemberId,
    Status,
    PlacedAt,
    PickupBy,
    EndedAt,
}
