//! The demo data: a catalogue, a handful of users (among them the demo accounts `admin`/`admin`
//! and `borrower`/`borrower`) and a few posts each. Writing it twice changes nothing.

use chrono::Duration;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    Select, TransactionTrait,
};

use crate::auth::password::{Password, Passwords, random_hex};
use crate::config::Lending;
use crate::entity::users::Role;
use crate::entity::{items, posts, users};
use crate::error::AppError;

use super::lending;

/// What one run of [`seed`] added.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Seeded {
    pub users: usize,
    pub items: usize,
    pub posts: usize,
    /// Loans and holds (written with a new catalogue only).
    pub loans: usize,
    pub holds: usize,
}

/// `(username, password, role)`; `None` is a random password nobody knows.
const USERS: &[(&str, Option<&str>, Role)] = &[
    ("admin", Some("admin"), Role::Admin),
    ("borrower", Some("borrower"), Role::Borrower),
    ("ada", None, Role::Borrower),
    ("grace", None, Role::Borrower),
    ("linus", None, Role::Borrower),
    ("margaret", None, Role::Admin),
];

const ITEMS: &[(&str, &str)] = &[
    (
        "The Left Hand of Darkness",
        "Ursula K. Le Guin, 1969. Paperback.",
    ),
    (
        "A Wizard of Earthsea",
        "Ursula K. Le Guin, 1968. Hardcover.",
    ),
    ("Dune", "Frank Herbert, 1965. Paperback, well loved."),
    ("Neuromancer", "William Gibson, 1984."),
    ("The Dispossessed", "Ursula K. Le Guin, 1974."),
    ("Kindred", "Octavia E. Butler, 1979."),
    ("Parable of the Sower", "Octavia E. Butler, 1993."),
    ("Foundation", "Isaac Asimov, 1951."),
    ("Hyperion", "Dan Simmons, 1989."),
    (
        "The Name of the Rose",
        "Umberto Eco, 1980. English translation.",
    ),
    ("Middlemarch", "George Eliot, 1871."),
    ("Moby-Dick", "Herman Melville, 1851."),
    ("Don Quixote", "Miguel de Cervantes, 1605. Two volumes."),
    (
        "One Hundred Years of Solitude",
        "Gabriel García Márquez, 1967.",
    ),
    ("Things Fall Apart", "Chinua Achebe, 1958."),
    (
        "The Structure and Interpretation of Computer Programs",
        "Abelson & Sussman, 2nd edition.",
    ),
    (
        "The Rust Programming Language",
        "Klabnik & Nichols. Covers Rust 2021.",
    ),
    (
        "Designing Data-Intensive Applications",
        "Martin Kleppmann, 2017.",
    ),
    ("The Art of Electronics", "Horowitz & Hill, 3rd edition."),
    ("Gödel, Escher, Bach", "Douglas Hofstadter, 1979."),
    ("The Elements of Typographic Style", "Robert Bringhurst."),
    ("Salt, Fat, Acid, Heat", "Samin Nosrat. Cookbook."),
    ("The Joy of Cooking", "Irma S. Rombauer. 2019 edition."),
    ("A Pattern Language", "Christopher Alexander et al., 1977."),
    ("Cordless drill", "18 V, two batteries and a charger."),
    ("Hedge trimmer", "Electric, with a 5 m extension cable."),
    ("Camping tent (4 persons)", "Pegs and repair kit included."),
    ("Sewing machine", "Mechanical, with a box of needles."),
    ("Telescope", "70 mm refractor with a tripod."),
    ("Ukulele", "Soprano, with a soft case."),
    ("Carcassonne", "Board game, base game and river expansion."),
    ("Ticket to Ride", "Board game, Europe map."),
    ("Chess set", "Wooden pieces, folding board."),
    ("Projector", "1080p, HDMI cable included."),
    ("Pressure washer", "No description of the water bill."),
    ("Bread maker", "With the recipe booklet."),
];

const POSTS: &[(&str, &str)] = &[
    (
        "Hello from the library",
        "Glad to be here. Looking forward to borrowing and lending.",
    ),
    (
        "What I'm reading",
        "Halfway through a classic and enjoying every page.",
    ),
    (
        "Looking for a drill",
        "Does anyone know when the cordless drill is back?",
    ),
    ("Board game night", "Who's up for Carcassonne next Friday?"),
    ("Recommendation", "If you liked Dune, try Hyperion next."),
];

/// Writes the demo data, skipping every user and item that already exists, in one transaction;
/// then, when nothing was ever lent, the demo's circulation through the lending flows.
pub async fn seed(
    db: &DatabaseConnection,
    passwords: &Passwords,
    rules: &Lending,
) -> Result<Seeded, AppError> {
    // Hash before the transaction: argon2 is slow on purpose, and a write lock should not wait on it.
    let mut hashes = Vec::with_capacity(USERS.len());
    for (_, pass, _) in USERS {
        let pass = match pass {
            Some(p) => Password::new(*p),
            None => Password::new(random_hex(24)),
        };
        hashes.push(passwords.hash(pass).await?);
    }

    let txn = db.begin().await?;
    let mut seeded = Seeded::default();
    let start = super::now() - Duration::days(30);
    let at = |minutes: i64| std::cmp::min(super::now(), start + Duration::minutes(minutes));

    for (i, ((username, _, role), hash)) in USERS.iter().zip(hashes).enumerate() {
        if exists(
            &txn,
            users::Entity::find(),
            users::Column::UsernameKey,
            username,
        )
        .await?
        {
            continue;
        }
        let user = users::Entity::insert(
            users::ActiveModel {
                id: NotSet,
                username: Set((*username).to_owned()),
                email: Set(format!("{username}@example.org")),
                password_hash: Set(hash),
                role: Set(*role),
                image_file: Set("default.jpg".to_owned()),
                created_at: Set(at(i as i64 * 60)),
                ..Default::default()
            }
            .with_keys(),
        )
        .exec_with_returning(&txn)
        .await?;
        seeded.users += 1;

        for p in 0..3 {
            let (title, body) = POSTS[(i + p) % POSTS.len()];
            let written = at(i as i64 * 60 + 600 + p as i64 * 1_440 + i as i64 * 7);
            let post = posts::Entity::insert(posts::ActiveModel {
                id: NotSet,
                title: Set(title.to_owned()),
                body: Set(body.to_owned()),
                created_at: Set(written),
                updated_at: Set(written),
                author_id: Set(user.id),
            })
            .exec_with_returning(&txn)
            .await?;
            super::posts::index_for_search(&txn, &post).await?;
            seeded.posts += 1;
        }
    }

    for (i, (name, description)) in ITEMS.iter().enumerate() {
        if exists(&txn, items::Entity::find(), items::Column::NameKey, name).await? {
            continue;
        }
        items::Entity::insert(
            items::ActiveModel {
                id: NotSet,
                name: Set((*name).to_owned()),
                description: Set(Some((*description).to_owned())),
                created_at: Set(at(i as i64 * 97)),
                ..Default::default()
            }
            .with_keys(),
        )
        .exec_without_returning(&txn)
        .await?;
        seeded.items += 1;
    }

    txn.commit().await?;
    if crate::entity::loans::Entity::find().count(db).await? == 0 {
        lend(db, rules, &mut seeded).await?;
    }
    Ok(seeded)
}

/// The demo's circulation, through the lending flows at past times (each flow its own
/// transaction): "Dune" on loan to linus with
/// a queue of three (the demo borrower third), "Kindred" on loan to the demo borrower, and
/// "Neuromancer" overdue with ada.
async fn lend(
    db: &DatabaseConnection,
    rules: &Lending,
    seeded: &mut Seeded,
) -> Result<(), AppError> {
    let user = |name: &'static str| async move {
        let found = users::Entity::find()
            .filter(users::Column::UsernameKey.eq(super::validate::case_key(name)))
            .one(db)
            .await?;
        found
            .map(|u| u.id)
            .ok_or(AppError::NotFound { what: "demo user" })
    };
    let item = |name: &'static str| async move {
        let found = items::Entity::find()
            .filter(items::Column::NameKey.eq(super::validate::case_key(name)))
            .one(db)
            .await?;
        found
            .map(|i| i.id)
            .ok_or(AppError::NotFound { what: "demo item" })
    };
    let now = super::now();
    let ago = |days: i64| now - Duration::days(days);
    let (dune, kindred, neuromancer) = (
        item("Dune").await?,
        item("Kindred").await?,
        item("Neuromancer").await?,
    );
    let (borrower, ada, grace, linus) = (
        user("borrower").await?,
        user("ada").await?,
        user("grace").await?,
        user("linus").await?,
    );
    // Seeding happens before anyone can subscribe: nothing to announce.
    let bus = super::events::Bus::detached();
    lending::check_out(db, &bus, rules, dune, linus, &ago(5)).await?;
    for (member, days) in [(grace, 4), (ada, 3), (borrower, 2)] {
        lending::place_hold(db, &bus, rules, member, dune, &ago(days)).await?;
        seeded.holds += 1;
    }
    lending::check_out(db, &bus, rules, kindred, borrower, &ago(3)).await?;
    // Checked out a loan period and a day ago: overdue by a day.
    let overdue = chrono::TimeDelta::from_std(rules.loan_period)
        .ok()
        .and_then(|period| ago(1).checked_sub_signed(period))
        .unwrap_or_else(|| ago(20));
    lending::check_out(db, &bus, rules, neuromancer, ada, &overdue).await?;
    seeded.loans += 3;
    Ok(())
}

/// Whether any user exists: the server seeds a brand-new development database only.
pub async fn has_users(db: &impl ConnectionTrait) -> Result<bool, AppError> {
    Ok(users::Entity::find().count(db).await? > 0)
}

/// Whether `select` has a row whose case-key `column` equals `value`'s case key (in any case).
async fn exists<E>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    column: E::Column,
    value: &str,
) -> Result<bool, AppError>
where
    E: EntityTrait,
    E::Model: Sync,
{
    let found = select
        .filter(Expr::col((E::default(), column)).eq(super::validate::case_key(value)))
        .count(db)
        .await?;
    Ok(found > 0)
}
