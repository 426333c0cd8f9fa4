//! Lists both ways, in every order and through every filter: walking backwards from the end
//! (`last`/`before`) returns each row once, in the list's order, and agrees with walking forwards;
//! orders and filters page by the keyset; cursors belong to their list and order.

use std::collections::HashSet;

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::helpers::{Actor, TestApp, at};

const CONNECTION: &str = "{ edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } }";
const VARIABLES: &str = "$first: Int, $after: String, $last: Int, $before: String";
const ARGS: &str = "first: $first, after: $after, last: $last, before: $before";

/// The ids of a list walked `size` at a time, forwards and then backwards, each in the list's
/// order. `field` is the root selection down to the list, with `ARGS` where the page arguments go
/// and `CONN` where the connection's selection goes; `pointer` finds the connection in `data`.
async fn walk_both(actor: &Actor, field: &str, pointer: &str, size: i64) -> Vec<String> {
    let query = format!(
        "query({VARIABLES}) {{ {} }}",
        field.replace("ARGS", ARGS).replace("CONN", CONNECTION)
    );
    let page = |vars: Value| {
        let query = query.clone();
        async move {
            let data = actor.query(&query, vars).await;
            data.pointer(pointer)
                .unwrap_or_else(|| panic!("no {pointer} in {data}"))
                .clone()
        }
    };
    let ids = |conn: &Value| -> Vec<String> {
        let edges = conn["edges"].as_array().unwrap();
        if let (Some(first), Some(last)) = (edges.first(), edges.last()) {
            assert_eq!(conn["pageInfo"]["startCursor"], first["cursor"]);
            assert_eq!(conn["pageInfo"]["endCursor"], last["cursor"]);
        }
        assert!(edges.len() as i64 <= size);
        edges
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect()
    };

    let mut forwards = Vec::new();
    let mut after = Value::Null;
    for _ in 0..500 {
        let conn = page(json!({ "first": size, "after": after })).await;
        let info = &conn["pageInfo"];
        assert_eq!(info["hasPreviousPage"], !after.is_null(), "{field}: {conn}");
        let rows = ids(&conn);
        let more = info["hasNextPage"] == true;
        assert!(
            !more || rows.len() as i64 == size,
            "a page before the end is full"
        );
        forwards.extend(rows);
        if !more {
            break;
        }
        after = info["endCursor"].clone();
    }

    let mut backwards: Vec<Vec<String>> = Vec::new();
    let mut before = Value::Null;
    for _ in 0..500 {
        let conn = page(json!({ "last": size, "before": before })).await;
        let info = &conn["pageInfo"];
        assert_eq!(info["hasNextPage"], !before.is_null(), "{field}: {conn}");
        let rows = ids(&conn);
        let more = info["hasPreviousPage"] == true;
        assert!(
            !more || rows.len() as i64 == size,
            "a page before the start is full"
        );
        backwards.push(rows);
        if !more {
            break;
        }
        before = info["startCursor"].clone();
    }
    let backwards: Vec<String> = backwards.into_iter().rev().flatten().collect();

    let unique: HashSet<&String> = forwards.iter().collect();
    assert_eq!(unique.len(), forwards.len(), "{field}: a row came twice");
    assert_eq!(
        backwards, forwards,
        "{field}: backwards and forwards disagree"
    );
    forwards
}

fn numbers(ids: &[String]) -> Vec<i64> {
    ids.iter().map(|id| id.parse().unwrap()).collect()
}

#[tokio::test]
async fn every_list_walked_backwards_returns_each_row_once_and_agrees_with_forwards() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.admin("chief").await;
    let names = [
        "pear", "Apple", "fig", "apple", "Banana", "kiwi", "Cherry", "date", "Elder",
    ];
    // Timestamps shared by three items each: the id breaks the ties.
    app.insert_items(
        names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.to_string(), at(i as i64 / 3))),
    )
    .await;
    let ids = |s: &[i64]| -> Vec<i64> { s.to_vec() };

    let newest = walk_both(&admin, "items(ARGS) CONN", "/items", 2).await;
    assert_eq!(numbers(&newest), ids(&[9, 8, 7, 6, 5, 4, 3, 2, 1]));
    let oldest = walk_both(&admin, "items(ARGS, orderBy: OLDEST) CONN", "/items", 4).await;
    assert_eq!(numbers(&oldest), ids(&[1, 2, 3, 4, 5, 6, 7, 8, 9]));
    // By name in any case; "Apple" and "apple" share their key, and the id orders them.
    let by_name = walk_both(&admin, "items(ARGS, orderBy: NAME) CONN", "/items", 2).await;
    assert_eq!(numbers(&by_name), ids(&[2, 4, 5, 7, 8, 9, 3, 6, 1]));

    let mut authors = Vec::new();
    for (i, name) in ["zoe", "Adam", "mia", "Bob", "carl"].iter().enumerate() {
        authors.push(app.insert_user(name, at(10 + i as i64 / 2)).await);
    }
    app.insert_posts((0..17).map(|i| (authors[i % 3], format!("post {i}"), at(i as i64 / 2))))
        .await;
    let users = walk_both(&admin, "users(ARGS) CONN", "/users", 2).await;
    assert_eq!(users.len(), 6, "five members and the admin");
    let by_username = walk_both(&admin, "users(ARGS, orderBy: USERNAME) CONN", "/users", 2).await;
    let usernames = [
        ("adam", authors[1]),
        ("bob", authors[3]),
        ("carl", authors[4]),
        ("mia", authors[2]),
        ("zoe", authors[0]),
    ];
    let expected: Vec<String> = usernames.iter().map(|(_, id)| id.to_string()).collect();
    let without_admin: Vec<String> = by_username
        .iter()
        .filter(|id| expected.contains(id))
        .cloned()
        .collect();
    assert_eq!(without_admin, expected);
    let newest_users = walk_both(&admin, "users(ARGS, orderBy: NEWEST) CONN", "/users", 4).await;
    let mut reversed = users.clone();
    reversed.reverse();
    assert_eq!(newest_users, reversed);

    let posts = walk_both(&admin, "posts(ARGS) CONN", "/posts", 5).await;
    assert_eq!(posts.len(), 17);
    let mut oldest_posts =
        walk_both(&admin, "posts(ARGS, orderBy: OLDEST) CONN", "/posts", 3).await;
    oldest_posts.reverse();
    assert_eq!(oldest_posts, posts);
    let of_one = format!("user(id: \"{}\") {{ posts(ARGS) CONN }}", authors[0]);
    let nested = walk_both(&admin, &of_one, "/user/posts", 2).await;
    let filtered = walk_both(
        &admin,
        &format!(
            "posts(ARGS, filter: {{ authorId: \"{}\" }}) CONN",
            authors[0]
        ),
        "/posts",
        4,
    )
    .await;
    assert_eq!(nested.len(), 6);
    assert_eq!(
        nested, filtered,
        "a user's posts and the filtered feed agree"
    );

    // The lending lists: loans (all, and an item's) and a member's holds.
    let (member, member_id) = app.borrower("reader").await;
    let (other, other_id) = app.borrower("other").await;
    for (item, who) in [
        (1, member_id),
        (2, member_id),
        (3, other_id),
        (4, member_id),
        (5, other_id),
    ] {
        admin
            .query(
                "mutation($i: ID!, $m: ID!) { checkOut(itemId: $i, memberId: $m) { id } }",
                json!({ "i": item.to_string(), "m": who.to_string() }),
            )
            .await;
        app.clock.advance(chrono::Duration::seconds(1));
    }
    for item in [6, 7, 8, 9] {
        member
            .query(
                "mutation($i: ID!) { placeHold(itemId: $i) { id } }",
                json!({ "i": item.to_string() }),
            )
            .await;
        app.clock.advance(chrono::Duration::seconds(1));
    }
    let loans = walk_both(&admin, "loans(ARGS) CONN", "/loans", 2).await;
    assert_eq!(loans.len(), 5);
    let mine = walk_both(&member, "me { loans(ARGS) CONN }", "/me/loans", 2).await;
    assert_eq!(mine.len(), 3);
    let holds = walk_both(&member, "me { holds(ARGS) CONN }", "/me/holds", 3).await;
    assert_eq!(holds.len(), 4);
    let item_loans = walk_both(
        &admin,
        "item(id: \"3\") { loans(ARGS) CONN }",
        "/item/loans",
        1,
    )
    .await;
    assert_eq!(item_loans.len(), 1);
    drop(other);
}

#[tokio::test]
async fn orders_and_filters_combine_and_page_through_the_keyset() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.admin("chief").await;
    app.insert_items(
        ["Zither", "axe", "Bow", "anvil", "Drum", "banjo"]
            .iter()
            .enumerate()
            .map(|(i, n)| (n.to_string(), at(i as i64))),
    )
    .await;
    let (_, member) = app.borrower("reader").await;
    for item in [2, 5] {
        admin
            .query(
                "mutation($i: ID!, $m: ID!) { checkOut(itemId: $i, memberId: $m) { id } }",
                json!({ "i": item.to_string(), "m": member.to_string() }),
            )
            .await;
    }
    let names = |data: &Value, field: &str| -> Vec<String> {
        data[field]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let data = app
        .query(
            r#"{ lent: items(orderBy: NAME, filter: { status: ON_LOAN }) { totalCount edges { node { name } } }
                 shelf: items(orderBy: NAME, filter: { status: AVAILABLE, search: "A" }) { totalCount edges { node { name } } }
                 b: items(orderBy: OLDEST, search: "b") { edges { node { name } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(names(&data, "lent"), ["axe", "Drum"]);
    assert_eq!(data["lent"]["totalCount"], 2);
    assert_eq!(names(&data, "shelf"), ["anvil", "banjo"]);
    assert_eq!(names(&data, "b"), ["Bow", "banjo"]);
    let lent = walk_both(
        &admin,
        "items(ARGS, orderBy: NAME, filter: { status: ON_LOAN }) CONN",
        "/items",
        1,
    )
    .await;
    assert_eq!(numbers(&lent), [2, 5]);

    // Posts: search in title or body, in any case and any script, literally; time bounds.
    let author = app.insert_user("writer", at(0)).await;
    // Written through the API, which stores each post's search key (rows inserted behind its
    // back get the ASCII-only fallback).
    let (writer, _) = app.borrower("poet").await;
    for (title, body) in [
        ("Über Rust", "a book"),
        ("plain", "text"),
        ("50% off", "sale"),
        ("a_c", "underscore"),
        ("abc", "letters"),
        (r"C:\path", "backslash"),
        ("Screens", "Un ÉCRAN plat, STRASSE"),
    ] {
        writer
            .query(
                "mutation($t: String!, $b: String!) { createPost(input: { title: $t, body: $b }) { id } }",
                json!({ "t": title, "b": body }),
            )
            .await;
        app.clock.advance(chrono::Duration::seconds(1));
    }
    app.insert_posts(
        ["one", "two", "three", "four", "five"]
            .iter()
            .enumerate()
            .map(|(i, t)| (author, t.to_string(), at(100 + i as i64))),
    )
    .await;
    let titles = |search: &str| {
        let app = &app;
        let search = search.to_owned();
        async move {
            let data = app
                .query(
                    "query($s: String) { posts(orderBy: OLDEST, filter: { search: $s }) { totalCount edges { node { title } } } }",
                    json!({ "s": search }),
                )
                .await;
            data["posts"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["title"].as_str().unwrap().to_owned())
                .collect::<Vec<String>>()
        }
    };
    assert_eq!(titles("üBER").await, ["Über Rust"]);
    assert_eq!(titles("écran").await, ["Screens"], "the body, in any case");
    assert_eq!(titles("straße").await, ["Screens"], "full case folding");
    assert_eq!(titles("0%").await, ["50% off"], "% is literal");
    assert_eq!(titles("a_c").await, ["a_c"], "_ is literal");
    assert_eq!(titles(r"\p").await, [r"C:\path"], r"\ is literal");
    let data = app
        .query(
            "query($a: DateTime, $b: DateTime) { posts(orderBy: OLDEST, filter: { createdAfter: $a, createdBefore: $b }) { totalCount edges { node { title } } } }",
            json!({ "a": at(101), "b": at(104) }),
        )
        .await;
    assert_eq!(data["posts"]["totalCount"], 2);
    assert_eq!(data["posts"]["edges"][0]["node"]["title"], "three");

    // Users: search in any case, ordered by username.
    let data = app
        .query(
            r#"{ users(orderBy: USERNAME, filter: { search: "E" }) { totalCount edges { node { username } } } }"#,
            json!({}),
        )
        .await;
    let found: Vec<&str> = data["users"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["username"].as_str().unwrap())
        .collect();
    assert_eq!(found, ["chief", "poet", "reader", "writer"]);
    assert_eq!(data["users"]["totalCount"], 4);

    // Searches page by the keyset like the rest, both ways.
    let searched = walk_both(
        &admin,
        r#"users(ARGS, orderBy: USERNAME, filter: { search: "E" }) CONN"#,
        "/users",
        3,
    )
    .await;
    assert_eq!(searched.len(), 4);
    let data = app
        .query(
            r#"{ posts(filter: { search: "A" }) { totalCount } }"#,
            json!({}),
        )
        .await;
    let searched = walk_both(
        &admin,
        r#"posts(ARGS, orderBy: OLDEST, filter: { search: "A" }) CONN"#,
        "/posts",
        2,
    )
    .await;
    assert_eq!(json!(searched.len()), data["posts"]["totalCount"]);
    assert!(
        searched.len() >= 7,
        "every post written through the API has an a"
    );
}

#[tokio::test]
async fn mixed_directions_and_foreign_cursors_are_refused() {
    let app = TestApp::spawn().await;
    app.insert_items((0..3).map(|i| (format!("item {i}"), at(i))))
        .await;
    let user = app.insert_user("writer", at(0)).await;
    app.insert_posts([(user, "p".to_owned(), at(1))]).await;
    let actor = app.anonymous();
    let cursor = |query: &'static str, pointer: &'static str| {
        let actor = &actor;
        async move {
            let data = actor.query(query, json!({})).await;
            data.pointer(pointer).unwrap().as_str().unwrap().to_owned()
        }
    };
    let newest = cursor(
        "{ items(first: 1) { pageInfo { endCursor } } }",
        "/items/pageInfo/endCursor",
    )
    .await;
    let post = cursor(
        "{ posts(first: 1) { pageInfo { endCursor } } }",
        "/posts/pageInfo/endCursor",
    )
    .await;

    let refused = |query: &'static str, vars: Value, field: &'static str| {
        let actor = &actor;
        async move {
            let body = actor.graphql(query, vars.clone()).await;
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
                "{query} {vars}: {body}"
            );
            assert_eq!(
                body["errors"][0]["extensions"]["field"], field,
                "{query}: {body}"
            );
        }
    };
    refused(
        "{ items(first: 2, last: 2) { totalCount } }",
        json!({}),
        "last",
    )
    .await;
    refused("{ items(last: 101) { totalCount } }", json!({}), "last").await;
    refused("{ items(last: -1) { totalCount } }", json!({}), "last").await;
    let by_name = "query($c: String) { items(orderBy: NAME, after: $c) { totalCount } }";
    refused(by_name, json!({ "c": newest }), "after").await;
    let backwards =
        "query($c: String) { items(last: 1, before: $c, orderBy: OLDEST) { edges { cursor } } }";
    refused(backwards, json!({ "c": newest }), "before").await;
    let users = "query($c: String) { users(before: $c) { edges { cursor } } }";
    refused(users, json!({ "c": post }), "before").await;
    let nested =
        "query($c: String, $id: ID!) { user(id: $id) { posts(after: $c) { edges { cursor } } } }";
    refused(
        nested,
        json!({ "c": newest, "id": user.to_string() }),
        "after",
    )
    .await;
    // Shaped like this server's cursors, but holding what no row of the order can: refused
    // before any SQL (PostgreSQL would fail on a text compared with a time, a NUL, year 300000).
    use base64::Engine;
    for forged in [
        "v2:items.NAME:1:t0",
        "v2:items.NEWEST:1:sabc",
        "v2:items.NAME:1:sa\0b",
        "v2:items.NEWEST:1:t9000000000000000000",
        "v2:items.OLDEST:1:t-62135596800000001",
    ] {
        let cursor = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged);
        let order = forged
            .split(':')
            .nth(1)
            .unwrap()
            .trim_start_matches("items.");
        let query = format!(
            "query($c: String) {{ items(orderBy: {order}, after: $c) {{ edges {{ cursor }} }} }}"
        );
        let body = actor.graphql(&query, json!({ "c": cursor })).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{forged}: {body}"
        );
        assert_eq!(
            body["errors"][0]["extensions"]["field"], "after",
            "{forged}"
        );
    }
    refused(
        r#"{ items(search: "a", filter: { search: "b" }) { totalCount } }"#,
        json!({}),
        "search",
    )
    .await;
    // The same cursor with its own order is fine, and the shorthands agree with the filter.
    let data = actor
        .query(
            r#"query($c: String, $id: ID) { items(after: $c) { totalCount edges { node { id } } }
                 posts(authorId: $id, filter: { authorId: $id }) { totalCount } }"#,
            json!({ "c": newest, "id": user.to_string() }),
        )
        .await;
    assert_eq!(data["items"]["edges"].as_array().unwrap().len(), 2);
    assert_eq!(data["posts"]["totalCount"], 1);
}

#[tokio::test]
async fn page_info_is_exact_at_both_ends() {
    let app = TestApp::spawn().await;
    app.insert_items((0..5).map(|i| (format!("item {i}"), at(i))))
        .await;
    let actor = app.anonymous();
    let data = actor
        .query("{ items(first: 5) { edges { cursor } } }", json!({}))
        .await;
    let cursors: Vec<Value> = data["items"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["cursor"].clone())
        .collect();
    let query = "query($first: Int, $after: String, $last: Int, $before: String) {
        items(first: $first, after: $after, last: $last, before: $before) {
            edges { node { id } } pageInfo { hasNextPage hasPreviousPage } } }";
    let info = |vars: Value| {
        let actor = &actor;
        async move {
            let data = actor.query(query, vars).await;
            let i = &data["items"]["pageInfo"];
            (
                data["items"]["edges"].as_array().unwrap().len(),
                i["hasPreviousPage"] == true,
                i["hasNextPage"] == true,
            )
        }
    };
    // Past either end: an empty page that knows what lies behind it.
    assert_eq!(
        info(json!({ "first": 2, "after": cursors[4] })).await,
        (0, true, false)
    );
    assert_eq!(
        info(json!({ "last": 2, "before": cursors[0] })).await,
        (0, false, true)
    );
    // Between two cursors, from either end.
    assert_eq!(
        info(json!({ "first": 2, "after": cursors[0], "before": cursors[4] })).await,
        (2, true, true)
    );
    assert_eq!(
        info(json!({ "last": 5, "after": cursors[0], "before": cursors[4] })).await,
        (3, false, true),
        "nothing between the bounds is left out, so no previous page within them"
    );
    // The newest item is deleted: nothing comes before its cursor any more.
    app.db
        .execute_unprepared("DELETE FROM items WHERE id = 5")
        .await
        .unwrap();
    assert_eq!(
        info(json!({ "first": 2, "after": cursors[0] })).await,
        (2, false, true)
    );
}

#[tokio::test]
async fn nested_pages_go_backwards_in_the_same_statements() {
    let app = TestApp::spawn().await;
    let mut authors = Vec::new();
    for i in 0..4 {
        authors.push(app.insert_user(&format!("user{i}"), at(i)).await);
    }
    app.insert_posts((0..20).map(|i| (authors[i % 4], format!("post {i}"), at(i as i64))))
        .await;
    let (data, statements) = app
        .query_counting(
            "{ users(first: 4) { edges { node { id posts(last: 2) {
                edges { node { title } } pageInfo { hasPreviousPage hasNextPage startCursor } } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(statements, 2, "the users, then every user's last two posts");
    let first = &data["users"]["edges"][0]["node"]["posts"];
    let titles: Vec<&str> = first["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["title"].as_str().unwrap())
        .collect();
    // user0 wrote posts 0, 4, 8, 12, 16; newest first, the last two are the oldest.
    assert_eq!(titles, ["post 4", "post 0"]);
    assert_eq!(first["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(first["pageInfo"]["hasNextPage"], false);

    // Before a cursor, with `hasNextPage` asked: one more statement for all the users at once.
    let (data, statements) = app
        .query_counting(
            "query($c: String) { users(first: 4) { edges { node { posts(last: 2, before: $c) {
                edges { node { title } } pageInfo { hasNextPage } } } } } }",
            json!({ "c": first["pageInfo"]["startCursor"] }),
        )
        .await;
    assert_eq!(statements, 3);
    let first = &data["users"]["edges"][0]["node"]["posts"];
    assert_eq!(first["edges"][0]["node"]["title"], "post 12");
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
}

#[tokio::test]
async fn a_deep_page_in_any_order_and_direction_uses_the_keyset_not_an_offset() {
    let app = TestApp::spawn().await;
    app.insert_items((0..150).map(|i| (format!("item {i:03}"), at(i))))
        .await;
    let data = app
        .query(
            "{ items(orderBy: NAME, last: 50) { pageInfo { startCursor } } }",
            json!({}),
        )
        .await;
    let before = data["items"]["pageInfo"]["startCursor"].clone();
    let (data, statements) = app
        .query_counting(
            "query($c: String) { items(orderBy: NAME, last: 50, before: $c) { edges { node { name } } } }",
            json!({ "c": before }),
        )
        .await;
    assert_eq!(statements, 1, "one statement for the page");
    assert_eq!(data["items"]["edges"][0]["node"]["name"], "item 050");
    assert_eq!(data["items"]["edges"][49]["node"]["name"], "item 099");
    let sql = app.statements.recent().last().unwrap().to_uppercase();
    assert!(!sql.contains("OFFSET"), "{sql}");
    // `("items"."name_key" COLLATE "C", "items"."id") < (…)` on PostgreSQL.
    assert!(
        sql.contains(r#"("ITEMS"."NAME_KEY""#) && sql.contains(r#", "ITEMS"."ID") < "#),
        "the cursor must become a seek on (name_key, id): {sql}"
    );
}
