//! `@requiresRole`: every field the schema marks is refused to the wrong role, with nothing changed.

use async_graphql::parser::types::{
    BaseType, FieldDefinition, Type, TypeKind, TypeSystemDefinition,
};
use serde_json::json;

use crate::helpers::{TestApp, at, error_codes};

/// `(operation, path of the field)` for every field of `schema.graphql` carrying
/// `@requiresRole(role: ADMIN)`, at the root or on another type, each a complete operation with
/// valid placeholder arguments.
fn guarded_operations() -> Vec<(String, Vec<String>)> {
    let sdl =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    let doc = async_graphql::parser::parse_schema(&sdl).unwrap();
    let types: std::collections::HashMap<String, TypeKind> = doc
        .definitions
        .iter()
        .filter_map(|d| match d {
            TypeSystemDefinition::Type(t) => {
                Some((t.node.name.node.to_string(), t.node.kind.clone()))
            }
            _ => None,
        })
        .collect();

    fn value(ty: &Type, types: &std::collections::HashMap<String, TypeKind>) -> String {
        match &ty.base {
            BaseType::List(inner) => format!("[{}]", value(inner, types)),
            BaseType::Named(name) => match name.as_str() {
                "ID" => "\"1\"".into(),
                "String" => "\"placeholder\"".into(),
                "Int" => "1".into(),
                "Boolean" => "true".into(),
                other => match &types[other] {
                    TypeKind::Enum(e) => e.values[0].node.value.node.to_string(),
                    TypeKind::InputObject(input) => {
                        let fields: Vec<String> = input
                            .fields
                            .iter()
                            .map(|f| {
                                format!("{}: {}", f.node.name.node, value(&f.node.ty.node, types))
                            })
                            .collect();
                        format!("{{ {} }}", fields.join(", "))
                    }
                    _ => panic!("no placeholder for {other}"),
                },
            },
        }
    }

    let guarded = |field: &FieldDefinition| {
        field.directives.iter().any(|d| {
            d.node.name.node == "requiresRole"
                && d.node.get_argument("role").map(|v| v.node.to_string()) == Some("ADMIN".into())
        })
    };
    // `name(args) { __typename }` (no selection for a scalar), with placeholder arguments.
    let call = |field: &FieldDefinition| {
        let args: Vec<String> = field
            .arguments
            .iter()
            .map(|a| format!("{}: {}", a.node.name.node, value(&a.node.ty.node, &types)))
            .collect();
        let mut base = &field.ty.node.base;
        while let BaseType::List(inner) = base {
            base = &inner.base;
        }
        let selection = match base {
            BaseType::Named(n) if matches!(types.get(n.as_str()), Some(TypeKind::Object(_))) => {
                " { __typename }"
            }
            _ => "",
        };
        let args = if args.is_empty() {
            String::new()
        } else {
            format!("({})", args.join(", "))
        };
        format!("{}{args}{selection}", field.name.node)
    };

    let mut operations = Vec::new();
    for (root, keyword) in [("Query", "query"), ("Mutation", "mutation")] {
        let Some(TypeKind::Object(object)) = types.get(root) else {
            continue;
        };
        for field in object.fields.iter().filter(|f| guarded(&f.node)) {
            let name = field.node.name.node.to_string();
            operations.push((format!("{keyword} {{ {} }}", call(&field.node)), vec![name]));
        }
    }
    // A guarded field of another type is reached through the root query field that returns one
    // object of that type (`item(id:)` for `Item`).
    let Some(TypeKind::Object(query)) = types.get("Query") else {
        panic!("no Query type");
    };
    for (type_name, kind) in &types {
        let TypeKind::Object(object) = kind else {
            continue;
        };
        if matches!(type_name.as_str(), "Query" | "Mutation" | "Subscription") {
            continue;
        }
        for field in object.fields.iter().filter(|f| guarded(&f.node)) {
            let root = query
                .fields
                .iter()
                .find(|q| matches!(&q.node.ty.node.base, BaseType::Named(n) if n == type_name))
                .unwrap_or_else(|| panic!("no root field returns {type_name}"));
            let args: Vec<String> = root
                .node
                .arguments
                .iter()
                .map(|a| format!("{}: {}", a.node.name.node, value(&a.node.ty.node, &types)))
                .collect();
            operations.push((
                format!(
                    "query {{ {}({}) {{ {} }} }}",
                    root.node.name.node,
                    args.join(", "),
                    call(&field.node)
                ),
                vec![
                    root.node.name.node.to_string(),
                    field.node.name.node.to_string(),
                ],
            ));
        }
    }
    operations
}

#[tokio::test]
async fn every_requires_role_field_refuses_the_anonymous_and_borrowers_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (_, admin_id) = app.admin("root").await;
    let (borrower, _) = app.borrower("bob").await;
    app.insert_items([("Dune".to_owned(), at(0))]).await;
    app.insert_posts([(admin_id, "hello".to_owned(), at(1))])
        .await;
    let operations = guarded_operations();
    let names: Vec<String> = operations.iter().map(|(_, path)| path.join(".")).collect();
    for expected in [
        "createItem",
        "updateItem",
        "deleteItem",
        "setUserRole",
        "deleteUser",
        "loans",
        "checkOut",
        "returnItem",
        "setItemAvailable",
        "item.loans",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} is not marked: {names:?}"
        );
    }

    let before = app.snapshot().await;
    for (operation, name) in &operations {
        let body = app.anonymous().graphql(operation, json!({})).await;
        assert_eq!(
            error_codes(&body),
            ["UNAUTHENTICATED"],
            "{operation}: {body}"
        );
        assert_eq!(body["errors"][0]["path"], json!(name));

        let body = borrower.graphql(operation, json!({})).await;
        assert_eq!(error_codes(&body), ["FORBIDDEN"], "{operation}: {body}");
    }
    assert_eq!(
        app.snapshot().await,
        before,
        "a refused call changed the database"
    );
}

#[tokio::test]
async fn admins_pass_the_guard_of_every_requires_role_field() {
    let app = TestApp::spawn().await;
    // User 1 is who the placeholder ids name: a borrower the admin may change and delete.
    let (_, target) = app.borrower("target").await;
    assert_eq!(target, 1);
    let (admin, _) = app.admin("root").await;
    app.admin("second").await;
    app.insert_items([("Dune".to_owned(), at(0))]).await;

    for (operation, _) in guarded_operations() {
        let body = admin.graphql(&operation, json!({})).await;
        let codes = error_codes(&body);
        assert!(
            !codes
                .iter()
                .any(|c| c == "UNAUTHENTICATED" || c == "FORBIDDEN"),
            "{operation}: {body}"
        );
    }
}

#[tokio::test]
async fn a_role_change_applies_on_the_next_request_with_the_same_cookie() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.admin("root").await;
    let (bob, bob_id) = app.borrower("bob").await;
    const CREATE: &str = r#"mutation { createItem(input: { name: "Telescope" }) { name } }"#;
    const SET_ROLE: &str =
        "mutation($id: ID!, $role: Role!) { setUserRole(userId: $id, role: $role) { role } }";

    assert_eq!(bob.error_code(CREATE, json!({})).await, "FORBIDDEN");
    let data = admin
        .query(
            SET_ROLE,
            json!({ "id": bob_id.to_string(), "role": "ADMIN" }),
        )
        .await;
    assert_eq!(data["setUserRole"]["role"], "ADMIN");
    assert_eq!(
        bob.query(CREATE, json!({})).await["createItem"]["name"],
        "Telescope"
    );

    admin
        .query(
            SET_ROLE,
            json!({ "id": bob_id.to_string(), "role": "BORROWER" }),
        )
        .await;
    assert_eq!(bob.error_code(CREATE, json!({})).await, "FORBIDDEN");
    assert_eq!(app.count("items").await, 1);
}

#[tokio::test]
async fn the_last_admin_can_be_neither_demoted_nor_deleted() {
    let app = TestApp::spawn().await;
    let (root, root_id) = app.admin("root").await;
    const SET_ROLE: &str =
        "mutation($id: ID!) { setUserRole(userId: $id, role: BORROWER) { role } }";
    const DELETE: &str = "mutation($id: ID!) { deleteUser(id: $id) }";
    let root_vars = json!({ "id": root_id.to_string() });

    assert_eq!(
        root.error_code(SET_ROLE, root_vars.clone()).await,
        "CONFLICT"
    );
    assert_eq!(root.error_code(DELETE, root_vars.clone()).await, "CONFLICT");
    assert_eq!(root.me().await.as_deref(), Some("root"));
    let role = root.query("{ me { role } }", json!({})).await;
    assert_eq!(
        role["me"]["role"], "ADMIN",
        "the failed demotion was rolled back"
    );

    // With a second admin, the first may go.
    let (second, second_id) = app.admin("second").await;
    second.query(SET_ROLE, root_vars.clone()).await;
    assert_eq!(
        second
            .error_code(SET_ROLE, json!({ "id": second_id.to_string() }))
            .await,
        "CONFLICT"
    );
}

#[tokio::test]
async fn two_admins_demoting_each_other_at_once_leave_one_admin() {
    let app = TestApp::spawn().await;
    let (a, a_id) = app.admin("alpha").await;
    let (b, b_id) = app.admin("beta").await;
    const SET_ROLE: &str =
        "mutation($id: ID!) { setUserRole(userId: $id, role: BORROWER) { role } }";

    let (ra, rb) = tokio::join!(
        a.graphql(SET_ROLE, json!({ "id": b_id.to_string() })),
        b.graphql(SET_ROLE, json!({ "id": a_id.to_string() })),
    );

    let admins = app.count("users WHERE role = 'admin'").await;
    assert_eq!(admins, 1, "{ra} {rb}");
}

#[tokio::test]
async fn delete_user_removes_their_posts_and_sessions() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.admin("root").await;
    let (bob, bob_id) = app.borrower("bob").await;
    bob.query(
        r#"mutation { createPost(input: { title: "t", body: "b" }) { id } }"#,
        json!({}),
    )
    .await;
    let _second_session = app.login("bob", crate::helpers::PASSWORD).await;
    assert_eq!(
        app.count(&format!("sessions WHERE user_id = {bob_id}"))
            .await,
        2
    );

    let data = admin
        .query(
            "mutation($id: ID!) { deleteUser(id: $id) }",
            json!({ "id": bob_id.to_string() }),
        )
        .await;
    assert_eq!(data["deleteUser"], bob_id.to_string());

    assert_eq!(
        app.count(&format!("posts WHERE author_id = {bob_id}"))
            .await,
        0
    );
    assert_eq!(
        app.count(&format!("sessions WHERE user_id = {bob_id}"))
            .await,
        0
    );
    assert_eq!(bob.me().await, None);
    let body = admin
        .graphql(
            "mutation($id: ID!) { deleteUser(id: $id) }",
            json!({ "id": bob_id.to_string() }),
        )
        .await;
    assert_eq!(error_codes(&body), ["NOT_FOUND"]);
}
