//! Lending: holds, loans, renewals and estimates through the public API; every refusal with its
//! reason and nothing written; who may see who borrows what; deletions. Races and the cost of a
//! page are in `lending_concurrency.rs`, which shares the helpers here.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use tkc_library::config::Config;
use tkc_library::domain::lending::sweep_expired_holds;

use crate::helpers::{Actor, TestApp, error_codes};

/// The fields of a hold the tests read.
pub const HOLD: &str = "id status position expectedAt pickupBy placedAt endedAt item { id status }";
/// The fields of a loan the tests read.
pub const LOAN: &str = "id checkedOutAt dueAt returnedAt renewalCount overdue item { id status } borrower { username }";

/// Hours instead of days, so that moving the clock past a pickup deadline or a due date stays
/// well within a session's idle lifetime; and no background sweep during the test.
pub fn short_periods(c: &mut Config) {
    c.lending.loan_period = Duration::from_secs(4 * 3600);
    c.lending.hold_pickup_window = Duration::from_secs(2 * 3600);
    c.lending.hold_sweep_interval = Duration::from_secs(24 * 3600);
}

pub fn loan_period(app: &TestApp) -> TimeDelta {
    TimeDelta::from_std(app.config.lending.loan_period).unwrap()
}

pub fn pickup_window(app: &TestApp) -> TimeDelta {
    TimeDelta::from_std(app.config.lending.hold_pickup_window).unwrap()
}

/// A DateTime field, parsed.
pub fn time(value: &Value) -> DateTime<Utc> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("a DateTime, not {value}"));
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .with_timezone(&Utc)
}

/// The clock just before and just after a request: when the server read its "now".
pub type Span = (DateTime<Utc>, DateTime<Utc>);

/// `call`'s answer, and the [`Span`] it ran in.
pub async fn timed<T>(app: &TestApp, call: impl Future<Output = T>) -> (T, Span) {
    let start = app.clock.now();
    let answer = call.await;
    (answer, (start, app.clock.now()))
}

/// Asserts that the DateTime `value` is the server's "now" during `span`, plus `plus` (with two
/// seconds of slack either side).
pub fn within(value: &Value, (start, end): Span, plus: TimeDelta, what: &str) {
    let (actual, slack) = (time(value), TimeDelta::seconds(2));
    let (low, high) = (start + plus - slack, end + plus + slack);
    assert!(
        low <= actual && actual <= high,
        "{what}: {actual} is not between {low} and {high}"
    );
}

/// The named fields of `value` (space-separated) as an object, to compare several at once.
pub fn pick(value: &Value, fields: &str) -> Value {
    let map: serde_json::Map<String, Value> = fields
        .split_whitespace()
        .map(|f| (f.to_owned(), value[f].clone()))
        .collect();
    Value::Object(map)
}

/// The nodes of a connection.
pub fn nodes(connection: &Value) -> Vec<Value> {
    let edges = connection["edges"].as_array();
    let edges = edges.unwrap_or_else(|| panic!("a connection, not {connection}"));
    edges.iter().map(|e| e["node"].clone()).collect()
}

/// A new item (by an admin); its id.
pub async fn item(admin: &Actor, name: &str) -> String {
    let query = "mutation($n: String!) { createItem(input: { name: $n }) { id } }";
    let data = admin.query(query, json!({ "n": name })).await;
    data["createItem"]["id"].as_str().unwrap().to_owned()
}

/// `data.field` of a response that must succeed.
pub fn data(body: Value, field: &str) -> Value {
    assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
    body["data"][field].clone()
}

/// The `extensions.reason` of a response that must be one `CONFLICT`.
pub fn reason(body: &Value) -> String {
    assert_eq!(error_codes(body), ["CONFLICT"], "{body:#}");
    let reason = body["errors"][0]["extensions"]["reason"].as_str();
    reason.unwrap_or("<no reason>").to_owned()
}

/// The reason of a `CONFLICT`, or else the error codes.
pub fn refusal(body: &Value) -> String {
    let codes = error_codes(body);
    if codes == ["CONFLICT"] {
        reason(body)
    } else {
        codes.join(", ")
    }
}

pub async fn try_hold(member: &Actor, item: &str) -> Value {
    let query = format!("mutation($id: ID!) {{ placeHold(itemId: $id) {{ {HOLD} }} }}");
    member.graphql(&query, json!({ "id": item })).await
}

pub async fn hold(member: &Actor, item: &str) -> Value {
    data(try_hold(member, item).await, "placeHold")
}

pub async fn try_cancel(actor: &Actor, hold: &str) -> Value {
    let query = format!("mutation($id: ID!) {{ cancelHold(id: $id) {{ {HOLD} }} }}");
    actor.graphql(&query, json!({ "id": hold })).await
}

/// Cancels `hold` (a hold as answered).
pub async fn cancel(actor: &Actor, hold: &Value) -> Value {
    let id = hold["id"].as_str().unwrap();
    data(try_cancel(actor, id).await, "cancelHold")
}

pub async fn try_check_out(admin: &Actor, item: &str, member: i64) -> Value {
    let query = format!(
        "mutation($item: ID!, $member: ID!) {{ checkOut(itemId: $item, memberId: $member) {{ {LOAN} }} }}"
    );
    let vars = json!({ "item": item, "member": member.to_string() });
    admin.graphql(&query, vars).await
}

pub async fn check_out(admin: &Actor, item: &str, member: i64) -> Value {
    data(try_check_out(admin, item, member).await, "checkOut")
}

pub async fn try_return(admin: &Actor, item: &str) -> Value {
    let query = format!("mutation($id: ID!) {{ returnItem(itemId: $id) {{ {LOAN} }} }}");
    admin.graphql(&query, json!({ "id": item })).await
}

pub async fn return_item(admin: &Actor, item: &str) -> Value {
    data(try_return(admin, item).await, "returnItem")
}

pub async fn try_renew(actor: &Actor, loan: &str) -> Value {
    let query = format!("mutation($id: ID!) {{ renewLoan(id: $id) {{ {LOAN} }} }}");
    actor.graphql(&query, json!({ "id": loan })).await
}

pub async fn renew(actor: &Actor, loan: &str) -> Value {
    data(try_renew(actor, loan).await, "renewLoan")
}

pub async fn set_available(admin: &Actor, item: &str, available: bool) -> Value {
    let query = "mutation($id: ID!, $a: Boolean!) { setItemAvailable(itemId: $id, available: $a) { status holdCount } }";
    let body = admin
        .graphql(query, json!({ "id": item, "a": available }))
        .await;
    data(body, "setItemAvailable")
}

/// The item as `actor` sees it, with `actor`'s own hold on it and its current loan.
pub async fn view(actor: &Actor, item: &str) -> Value {
    let query = format!(
        "query($id: ID!) {{ item(id: $id) {{ id status dueAt holdCount expectedAvailableAt \
         myHold {{ {HOLD} }} currentLoan {{ {LOAN} }} }} }}"
    );
    actor.query(&query, json!({ "id": item })).await["item"].clone()
}

/// Every hold of the signed-in member, open or ended.
pub async fn my_holds(member: &Actor) -> Vec<Value> {
    let query = format!("{{ me {{ holds(first: 50) {{ edges {{ node {{ {HOLD} }} }} }} }} }}");
    nodes(&member.query(&query, json!({})).await["me"]["holds"])
}

/// The member's hold `hold` (as answered earlier), as it is now.
pub async fn hold_now(member: &Actor, hold: &Value) -> Value {
    let holds = my_holds(member).await;
    let found = holds.iter().find(|h| h["id"] == hold["id"]);
    found
        .unwrap_or_else(|| panic!("{} is not in {holds:#?}", hold["id"]))
        .clone()
}

/// An item's loans, newest first (as an admin).
pub async fn history(admin: &Actor, item: &str) -> Value {
    let query = "query($id: ID!) { item(id: $id) { loans { totalCount edges { node { borrower { username } returnedAt } } } } }";
    admin.query(query, json!({ "id": item })).await["item"]["loans"].clone()
}

/// Runs the hold sweeper once, now (by the shared clock); how many holds it expired.
pub async fn sweep(app: &TestApp) -> u64 {
    sweep_expired_holds(&app.db, &app.bus, &app.config.lending, app.clock.now())
        .await
        .expect("a sweep")
}

/// Everything lending writes, as an admin sees it, and the row counts: to prove that a refusal
/// wrote nothing. (Sessions are left out: a request may touch its own.)
const STATE: &str = "{
    items(first: 20) { edges { node { id status dueAt holdCount
        currentLoan { id dueAt renewalCount }
        loans(first: 5) { totalCount edges { node { id dueAt returnedAt renewalCount borrower { id } } } } } } }
    users(first: 20) { edges { node { id role
        holds(first: 5) { totalCount edges { node { id status position pickupBy endedAt } } } } } }
}";

async fn state(app: &TestApp, admin: &Actor) -> String {
    let data = admin.query(STATE, json!({})).await;
    let mut counts = Vec::new();
    for table in ["users", "items", "loans", "holds"] {
        counts.push(app.count(table).await);
    }
    format!("{data}\n{counts:?}")
}

/// `call` is refused with `expected` (a CONFLICT's reason, or else the code) and writes nothing.
pub async fn refused(
    app: &TestApp,
    admin: &Actor,
    call: impl Future<Output = Value>,
    expected: &str,
) {
    let before = state(app, admin).await;
    let body = call.await;
    assert_eq!(refusal(&body), expected, "{body:#}");
    let after = state(app, admin).await;
    assert_eq!(after, before, "the refusal {expected} changed something");
}

/// With the default periods: a hold on an available item is READY at once (7 days on the hold
/// shelf), its member's check-out fulfils it (due in 14 days), a return hands the item to the
/// first in line within the same mutation, cancelling a READY hold hands it to the next, and a
/// return with nobody waiting puts it back AVAILABLE.
#[tokio::test]
async fn an_item_goes_from_hold_to_loan_to_the_next_in_line_and_back_to_the_shelf() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.admin("root").await;
    let (ann, ann_id) = app.borrower("ann").await;
    let (bob, _) = app.borrower("bob").await;
    let (cat, cat_id) = app.borrower("cat").await;
    let (window, period, zero) = (pickup_window(&app), loan_period(&app), TimeDelta::zero());
    assert_eq!((window, period), (TimeDelta::days(7), TimeDelta::days(14)));
    let drill = item(&admin, "Drill").await;
    let fields = "status holdCount dueAt expectedAvailableAt myHold currentLoan";
    let nothing = json!({ "status": "AVAILABLE", "holdCount": 0, "dueAt": null,
        "expectedAvailableAt": null, "myHold": null, "currentLoan": null });
    assert_eq!(pick(&view(&admin, &drill).await, fields), nothing);

    // A hold on an available item with nobody waiting: READY, the item on the hold shelf.
    let (anns, span) = timed(&app, hold(&ann, &drill)).await;
    let expected = json!({ "status": "READY", "position": null, "expectedAt": null,
        "endedAt": null, "item": { "id": drill, "status": "ON_HOLD_SHELF" } });
    assert_eq!(
        pick(&anns, "status position expectedAt endedAt item"),
        expected
    );
    within(&anns["placedAt"], span, zero, "placedAt");
    within(&anns["pickupBy"], span, window, "pickupBy");
    let bobs = hold(&bob, &drill).await;
    let expected = json!({ "status": "WAITING", "position": 1, "pickupBy": null });
    assert_eq!(pick(&bobs, "status position pickupBy"), expected);

    // Ann collects it: her hold is FULFILLED, the item ON_LOAN for a loan period.
    let (loan, span) = timed(&app, check_out(&admin, &drill, ann_id)).await;
    within(&loan["checkedOutAt"], span, zero, "checkedOutAt");
    assert_eq!(time(&loan["dueAt"]), time(&loan["checkedOutAt"]) + period);
    let expected = json!({ "renewalCount": 0, "overdue": false, "returnedAt": null,
        "borrower": { "username": "ann" }, "item": { "id": drill, "status": "ON_LOAN" } });
    assert_eq!(
        pick(&loan, "renewalCount overdue returnedAt borrower item"),
        expected
    );
    let fulfilled = hold_now(&ann, &anns).await;
    assert_eq!(fulfilled["status"], "FULFILLED");
    within(&fulfilled["endedAt"], span, zero, "endedAt");
    let seen = view(&ann, &drill).await;
    assert!(seen["myHold"].is_null(), "a fulfilled hold is not open");
    assert_eq!(seen["currentLoan"]["id"], loan["id"]);
    let expected = json!({ "status": "ON_LOAN", "holdCount": 1, "dueAt": loan["dueAt"] });
    assert_eq!(pick(&seen, "status holdCount dueAt"), expected);
    assert_eq!(hold(&cat, &drill).await["position"], 2);

    // The return hands the item to Bob, first in line, in the same mutation.
    let (returned, span) = timed(&app, return_item(&admin, &drill)).await;
    assert_eq!(returned["id"], loan["id"]);
    within(&returned["returnedAt"], span, zero, "returnedAt");
    assert_eq!(returned["item"]["status"], "ON_HOLD_SHELF");
    let bobs_now = view(&bob, &drill).await["myHold"].clone();
    let expected =
        json!({ "id": bobs["id"], "status": "READY", "position": null, "expectedAt": null });
    assert_eq!(pick(&bobs_now, "id status position expectedAt"), expected);
    within(&bobs_now["pickupBy"], span, window, "Bob's pickupBy");
    let cats = view(&cat, &drill).await;
    let expected =
        json!({ "status": "ON_HOLD_SHELF", "holdCount": 1, "dueAt": null, "currentLoan": null });
    assert_eq!(pick(&cats, "status holdCount dueAt currentLoan"), expected);
    assert_eq!(
        pick(&cats["myHold"], "status position"),
        json!({ "status": "WAITING", "position": 1 })
    );

    // Bob lets it go: cancelling his READY hold hands the item to Cat.
    let (cancelled, span) = timed(&app, cancel(&bob, &bobs)).await;
    assert_eq!(cancelled["status"], "CANCELLED");
    within(&cancelled["endedAt"], span, zero, "endedAt");
    let cats = view(&cat, &drill).await;
    assert_eq!(
        (
            cats["myHold"]["status"].as_str(),
            cats["holdCount"].as_i64()
        ),
        (Some("READY"), Some(0))
    );
    within(&cats["myHold"]["pickupBy"], span, window, "Cat's pickupBy");

    // Cat collects it and brings it back with nobody waiting: AVAILABLE again.
    check_out(&admin, &drill, cat_id).await;
    let returned = return_item(&admin, &drill).await;
    assert_eq!(returned["item"]["status"], "AVAILABLE");
    assert_eq!(pick(&view(&admin, &drill).await, fields), nothing);
    let history = history(&admin, &drill).await;
    assert_eq!(history["totalCount"], 2);
    let names: Vec<Value> = nodes(&history)
        .iter()
        .map(|n| n["borrower"]["username"].clone())
        .collect();
    assert_eq!(names, ["cat", "ann"], "newest first");
    assert!(nodes(&history).iter().all(|n| !n["returnedAt"].is_null()));
}

/// A READY hold not collected by its pickup deadline is EXPIRED by the sweeper, which hands the
/// item to the next in line with a fresh deadline, or puts it back when nobody waits.
#[tokio::test]
async fn an_uncollected_hold_expires_and_the_item_goes_to_the_next_in_line() {
    let app = TestApp::spawn_with(short_periods).await;
    let (admin, _) = app.admin("root").await;
    let (ann, ann_id) = app.borrower("ann").await;
    let (bob, _) = app.borrower("bob").await;
    let window = pickup_window(&app);
    let drill = item(&admin, "Drill").await;
    let anns = hold(&ann, &drill).await;
    let bobs = hold(&bob, &drill).await;
    assert_eq!(
        (anns["status"].as_str(), bobs["status"].as_str()),
        (Some("READY"), Some("WAITING"))
    );
    assert_eq!(sweep(&app).await, 0, "nothing is due yet");

    app.clock.advance(window + TimeDelta::minutes(1));
    let (expired, span) = timed(&app, sweep(&app)).await;
    assert_eq!(expired, 1);
    let anns_now = hold_now(&ann, &anns).await;
    assert_eq!(anns_now["status"], "EXPIRED");
    assert!(!anns_now["endedAt"].is_null());
    assert!(view(&ann, &drill).await["myHold"].is_null());
    let seen = view(&bob, &drill).await;
    let expected = json!({ "status": "ON_HOLD_SHELF", "holdCount": 0 });
    assert_eq!(pick(&seen, "status holdCount"), expected);
    assert_eq!(seen["myHold"]["status"], "READY");
    within(&seen["myHold"]["pickupBy"], span, window, "fresh pickupBy");
    let body = try_check_out(&admin, &drill, ann_id).await;
    assert_eq!(reason(&body), "ITEM_NOT_AVAILABLE", "Ann's turn has passed");
    assert_eq!(sweep(&app).await, 0, "a hold expires once");

    app.clock.advance(window + TimeDelta::minutes(1));
    assert_eq!(sweep(&app).await, 1);
    assert_eq!(hold_now(&bob, &bobs).await["status"], "EXPIRED");
    let seen = view(&admin, &drill).await;
    let expected = json!({ "status": "AVAILABLE", "holdCount": 0 });
    assert_eq!(pick(&seen, "status holdCount"), expected);
}

/// placeHold refuses a member who borrows the item (ALREADY_BORROWING), already holds it WAITING
/// or READY (ALREADY_HOLDING), or has MAX_HOLDS_PER_MEMBER open holds (HOLD_LIMIT); another
/// member's hold is NOT_FOUND; the anonymous may not hold; none of it writes anything.
#[tokio::test]
async fn holds_are_refused_with_their_reasons_and_nothing_written() {
    let app = TestApp::spawn_with(|c| c.lending.max_holds_per_member = 3).await;
    let (admin, _) = app.admin("root").await;
    let (ann, ann_id) = app.borrower("ann").await;
    let (bob, _) = app.borrower("bob").await;
    let anonymous = app.anonymous();
    let drill = item(&admin, "Drill").await;
    let saw = item(&admin, "Saw").await;
    let axe = item(&admin, "Axe").await;
    let ladder = item(&admin, "Ladder").await;

    check_out(&admin, &drill, ann_id).await;
    refused(&app, &admin, try_hold(&ann, &drill), "ALREADY_BORROWING").await;
    let waiting = hold(&bob, &drill).await;
    assert_eq!(waiting["status"], "WAITING");
    refused(&app, &admin, try_hold(&bob, &drill), "ALREADY_HOLDING").await;
    let ready = hold(&bob, &saw).await;
    assert_eq!(ready["status"], "READY");
    refused(&app, &admin, try_hold(&bob, &saw), "ALREADY_HOLDING").await;
    hold(&bob, &axe).await;
    refused(&app, &admin, try_hold(&bob, &ladder), "HOLD_LIMIT").await;
    // Only open holds count.
    cancel(&bob, &waiting).await;
    hold(&bob, &ladder).await;

    let ready_id = ready["id"].as_str().unwrap();
    refused(&app, &admin, try_cancel(&ann, ready_id), "NOT_FOUND").await;
    refused(&app, &admin, try_cancel(&bob, "999999"), "NOT_FOUND").await;
    refused(&app, &admin, try_hold(&ann, "999999"), "NOT_FOUND").await;
    refused(&app, &admin, try_hold(&anonymous, &axe), "UNAUTHENTICATED").await;

    // An admin may cancel anyone's hold.
    assert_eq!(cancel(&admin, &ready).await["status"], "CANCELLED");
    assert_eq!(view(&admin, &saw).await["status"], "AVAILABLE");
}

/// checkOut refuses an item ON_LOAN, UNAVAILABLE or on the hold shelf for someone else
/// (ITEM_NOT_AVAILABLE) and a member with MAX_LOANS_PER_MEMBER loans (LOAN_LIMIT); returnItem of
/// an item not on loan and renewLoan of a returned loan are NOT_ON_LOAN; another member's loan is
/// NOT_FOUND; only admins lend; none of it writes anything.
#[tokio::test]
async fn check_outs_returns_and_renewals_are_refused_with_their_reasons_and_nothing_written() {
    let app = TestApp::spawn_with(|c| c.lending.max_loans_per_member = 2).await;
    let (admin, _) = app.admin("root").await;
    let (ann, ann_id) = app.borrower("ann").await;
    let (bob, bob_id) = app.borrower("bob").await;
    let anonymous = app.anonymous();
    let drill = item(&admin, "Drill").await;
    let saw = item(&admin, "Saw").await;
    let axe = item(&admin, "Axe").await;
    let ladder = item(&admin, "Ladder").await;
    let rake = item(&admin, "Rake").await;

    let first = check_out(&admin, &drill, ann_id).await;
    for member in [bob_id, ann_id] {
        let call = try_check_out(&admin, &drill, member);
        refused(&app, &admin, call, "ITEM_NOT_AVAILABLE").await;
    }
    assert_eq!(hold(&bob, &saw).await["status"], "READY");
    let call = try_check_out(&admin, &saw, ann_id);
    refused(&app, &admin, call, "ITEM_NOT_AVAILABLE").await;
    assert_eq!(
        set_available(&admin, &axe, false).await["status"],
        "UNAVAILABLE"
    );
    let call = try_check_out(&admin, &axe, ann_id);
    refused(&app, &admin, call, "ITEM_NOT_AVAILABLE").await;

    let second = check_out(&admin, &ladder, ann_id).await;
    let call = try_check_out(&admin, &rake, ann_id);
    refused(&app, &admin, call, "LOAN_LIMIT").await;

    for not_on_loan in [&rake, &saw, &axe] {
        refused(&app, &admin, try_return(&admin, not_on_loan), "NOT_ON_LOAN").await;
    }
    return_item(&admin, &ladder).await;
    let second = second["id"].as_str().unwrap();
    refused(&app, &admin, try_renew(&ann, second), "NOT_ON_LOAN").await;
    refused(&app, &admin, try_renew(&admin, second), "NOT_ON_LOAN").await;
    // Only active loans count towards the limit.
    check_out(&admin, &rake, ann_id).await;

    let first = first["id"].as_str().unwrap();
    refused(&app, &admin, try_renew(&bob, first), "NOT_FOUND").await;
    refused(&app, &admin, try_renew(&admin, "999999"), "NOT_FOUND").await;
    let call = try_check_out(&admin, "999999", bob_id);
    refused(&app, &admin, call, "NOT_FOUND").await;
    let call = try_check_out(&bob, &ladder, bob_id);
    refused(&app, &admin, call, "FORBIDDEN").await;
    refused(&app, &admin, try_return(&bob, &drill), "FORBIDDEN").await;
    let call = try_check_out(&anonymous, &ladder, bob_id);
    refused(&app, &admin, call, "UNAUTHENTICATED").await;
}

/// renewLoan adds one to the count and makes the due date a loan period from now, never earlier
/// than it was; it is refused after MAX_RENEWALS (RENEWAL_LIMIT) and while anyone waits
/// (HOLDS_WAITING), to the borrower and admins alike.
#[tokio::test]
async fn renewals_push_the_due_date_out_within_their_limits() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.admin("root").await;
    let (ann, ann_id) = app.borrower("ann").await;
    let (bob, _) = app.borrower("bob").await;
    let period = loan_period(&app);
    let drill = item(&admin, "Drill").await;
    let saw = item(&admin, "Saw").await;

    let loan = check_out(&admin, &drill, ann_id).await;
    let id = loan["id"].as_str().unwrap();
    let (first, span) = timed(&app, renew(&ann, id)).await;
    assert_eq!(first["renewalCount"], 1);
    assert!(time(&first["dueAt"]) >= time(&loan["dueAt"]));
    within(&first["dueAt"], span, period, "renewed dueAt");

    // With the clock set back (as after LOAN_PERIOD was shortened), a loan period from now is
    // earlier than the due date, which stays.
    app.clock.advance(TimeDelta::hours(-3));
    let second = renew(&admin, id).await;
    app.clock.advance(TimeDelta::hours(3));
    assert_eq!(second["renewalCount"], 2);
    assert_eq!(
        time(&second["dueAt"]),
        time(&first["dueAt"]),
        "never earlier"
    );
    refused(&app, &admin, try_renew(&ann, id), "RENEWAL_LIMIT").await;
    refused(&app, &admin, try_renew(&admin, id), "RENEWAL_LIMIT").await;

    // Nobody renews while someone waits.
    let loan = check_out(&admin, &saw, ann_id).await;
    let id = loan["id"].as_str().unwrap();
    let waiting = hold(&bob, &saw).await;
    refused(&app, &admin, try_renew(&ann, id), "HOLDS_WAITING").await;
    refused(&app, &admin, try_renew(&admin, id), "HOLDS_WAITING").await;
    cancel(&bob, &waiting).await;
    app.clock.advance(TimeDelta::hours(1));
    let (renewed, span) = timed(&app, renew(&ann, id)).await;
    assert_eq!(renewed["renewalCount"], 1);
    within(&renewed["dueAt"], span, period, "renewed dueAt");
    assert!(time(&renewed["dueAt"]) > time(&loan["dueAt"]));
    let seen = view(&ann, &saw).await;
    assert_eq!(seen["dueAt"], renewed["dueAt"]);
    assert_eq!(seen["currentLoan"]["renewalCount"], 1);
}

/// MAX_RENEWALS is a setting: with 1, the second renewal is refused.
#[tokio::test]
async fn max_renewals_is_a_setting() {
    let app = TestApp::spawn_with(|c| c.lending.max_renewals = 1).await;
    let (admin, _) = app.admin("root").await;
    let (ann, ann_id) = app.borrower("ann").await;
    let drill = item(&admin, "Drill").await;
    let loan = check_out(&admin, &drill, ann_id).await;
    let id = loan["id"].as_str().unwrap();
    assert_eq!(renew(&ann, id).await["renewalCount"], 1);
    refused(&app, &admin, try_renew(&ann, id), "RENEWAL_LIMIT").await;
}

/// A loan past its due date is overdue; its borrower can neither borrow nor hold (OVERDUE_LOANS)
/// until it is back; Query.loans filters by overdue and active.
#[tokio::test]
async fn a_member_with_an_overdue_loan_can_neither_borrow_nor_hold() {
    let app = TestApp::spawn_with(short_periods).await;
    let (admin, _) = app.admin("root").await;
    let (ann, ann_id) = app.borrower("ann").await;
    let (_, bob_id) = app.borrower("bob").await;
    let drill = item(&admin, "Drill").await;
    let saw = item(&admin, "Saw").await;
    let axe = item(&admin, "Axe").await;
    let rake = item(&admin, "Rake").await;
    let late = check_out(&admin, &drill, ann_id).await;
    check_out(&admin, &axe, bob_id).await;
    let past = return_item(&admin, &axe).await;

    app.clock.advance(loan_period(&app) + TimeDelta::minutes(1));
    let on_time = check_out(&admin, &saw, bob_id).await;
    assert_eq!(on_time["overdue"], false);
    assert_eq!(view(&ann, &drill).await["currentLoan"]["overdue"], true);
    refused(&app, &admin, try_hold(&ann, &saw), "OVERDUE_LOANS").await;
    refused(&app, &admin, try_hold(&ann, &rake), "OVERDUE_LOANS").await;
    let call = try_check_out(&admin, &rake, ann_id);
    refused(&app, &admin, call, "OVERDUE_LOANS").await;

    const LOANS: &str = "query($overdue: Boolean, $active: Boolean) { loans(first: 50, overdue: $overdue, active: $active) { totalCount edges { node { id } } } }";
    let mut listed = Vec::new();
    for (overdue, active) in [
        (json!(true), json!(null)),
        (json!(null), json!(true)),
        (json!(null), json!(false)),
    ] {
        let data = admin
            .query(LOANS, json!({ "overdue": overdue, "active": active }))
            .await;
        let mut ids: Vec<Value> = nodes(&data["loans"])
            .iter()
            .map(|n| n["id"].clone())
            .collect();
        ids.sort_by_key(|id| id.as_str().unwrap().parse::<i64>().unwrap());
        listed.push(ids);
    }
    let (late, on_time, past) = (
        late["id"].clone(),
        on_time["id"].clone(),
        past["id"].clone(),
    );
    assert_eq!(
        listed,
        [vec![late.clone()], vec![late, on_time], vec![past]]
    );
    let all = admin
        .query(LOANS, json!({ "overdue": null, "active": null }))
        .await;
    assert_eq!(all["loans"]["totalCount"], 3);

    // Once the late loan is back, Ann may hold again.
    return_item(&admin, &drill).await;
    assert_eq!(hold(&ann, &saw).await["status"], "WAITING");
}

/// setItemAvailable(false) takes an available item out of circulation, where holds wait in order;
/// setItemAvailable(true) hands it to the first of them, or puts it back AVAILABLE.
#[tokio::test]
async fn an_item_out_of_circulation_keeps_its_queue_and_goes_to_its_head_when_back() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.admin("root").await;
    let (ann, ann_id) = app.borrower("ann").await;
    let (bob, _) = app.borrower("bob").await;
    let drill = item(&admin, "Drill").await;
    let saw = item(&admin, "Saw").await;

    assert_eq!(
        set_available(&admin, &drill, false).await["status"],
        "UNAVAILABLE"
    );
    assert_eq!(
        view(&app.anonymous(), &drill).await["status"],
        "UNAVAILABLE"
    );
    let anns = hold(&ann, &drill).await;
    assert_eq!(
        pick(&anns, "status position"),
        json!({ "status": "WAITING", "position": 1 })
    );
    assert_eq!(hold(&bob, &drill).await["position"], 2);
    let call = try_check_out(&admin, &drill, ann_id);
    refused(&app, &admin, call, "ITEM_NOT_AVAILABLE").await;

    let (back, span) = timed(&app, set_available(&admin, &drill, true)).await;
    assert_eq!(back, json!({ "status": "ON_HOLD_SHELF", "holdCount": 1 }));
    let anns_now = view(&ann, &drill).await["myHold"].clone();
    assert_eq!(
        pick(&anns_now, "id status"),
        json!({ "id": anns["id"], "status": "READY" })
    );
    within(&anns_now["pickupBy"], span, pickup_window(&app), "pickupBy");
    assert_eq!(view(&bob, &drill).await["myHold"]["position"], 1);
    check_out(&admin, &drill, ann_id).await;

    set_available(&admin, &saw, false).await;
    let back = set_available(&admin, &saw, true).await;
    assert_eq!(back, json!({ "status": "AVAILABLE", "holdCount": 0 }));
}

/// A WAITING hold at position k expects the item at the current loan's due date (or now, when it
/// is not on loan) plus k − 1 loan periods; Item.expectedAvailableAt is that for a hold placed now
/// (position holdCount + 1), and null for an available item.
#[tokio::test]
async fn estimates_count_loan_periods_from_the_due_date_or_from_now() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.admin("root").await;
    let (ann, ann_id) = app.borrower("ann").await;
    let (bob, _) = app.borrower("bob").await;
    let (cat, _) = app.borrower("cat").await;
    let (dan, _) = app.borrower("dan").await;
    let period = loan_period(&app);
    let drill = item(&admin, "Drill").await;
    let saw = item(&admin, "Saw").await;
    assert!(view(&bob, &saw).await["expectedAvailableAt"].is_null());

    let loan = check_out(&admin, &drill, ann_id).await;
    let due = time(&loan["dueAt"]);
    assert_eq!(time(&view(&bob, &drill).await["expectedAvailableAt"]), due);
    let mut holds = Vec::new();
    for (k, member) in (1i32..).zip([&bob, &cat, &dan]) {
        let placed = hold(member, &drill).await;
        assert_eq!(placed["position"], k);
        assert_eq!(
            time(&placed["expectedAt"]),
            due + period * (k - 1),
            "position {k}"
        );
        holds.push(placed);
    }
    let seen = view(&ann, &drill).await;
    assert_eq!(seen["holdCount"], 3);
    assert_eq!(time(&seen["expectedAvailableAt"]), due + period * 3);

    // Bob leaves: everyone behind him moves up a place and a loan period.
    cancel(&bob, &holds[0]).await;
    let cats = view(&cat, &drill).await["myHold"].clone();
    assert_eq!(cats["position"], 1);
    assert_eq!(time(&cats["expectedAt"]), due);
    let dans = view(&dan, &drill).await;
    assert_eq!(dans["myHold"]["position"], 2);
    assert_eq!(time(&dans["myHold"]["expectedAt"]), due + period);
    assert_eq!(time(&dans["expectedAvailableAt"]), due + period * 2);

    // Returned, the item waits for Cat; estimates count from now, by the server's clock.
    return_item(&admin, &drill).await;
    let cats = view(&cat, &drill).await["myHold"].clone();
    let expected = json!({ "status": "READY", "position": null, "expectedAt": null });
    assert_eq!(pick(&cats, "status position expectedAt"), expected);
    for _ in 0..2 {
        let (dans, span) = timed(&app, view(&dan, &drill)).await;
        assert_eq!(dans["myHold"]["position"], 1);
        within(
            &dans["myHold"]["expectedAt"],
            span,
            TimeDelta::zero(),
            "expectedAt",
        );
        within(
            &dans["expectedAvailableAt"],
            span,
            period,
            "expectedAvailableAt",
        );
        app.clock.advance(TimeDelta::hours(1));
    }
}

/// Who has or had an item is shown only to that member and to admins, by every path: the item's
/// current loan (alone, in the catalogue, through a hold), its history, a user's loans and holds
/// (by id, by username, in the list, as a post's author), and the list of all loans.
#[tokio::test]
async fn who_borrows_what_is_private_to_the_borrower_and_admins() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.admin("root").await;
    let (ann, ann_id) = app.borrower("ann").await;
    let (bob, bob_id) = app.borrower("bob").await;
    let anonymous = app.anonymous();
    let drill = item(&admin, "Drill").await;
    let saw = item(&admin, "Saw").await;
    check_out(&admin, &drill, bob_id).await;
    return_item(&admin, &drill).await;
    check_out(&admin, &drill, ann_id).await;
    hold(&bob, &drill).await;
    hold(&ann, &saw).await;
    let post = r#"mutation { createPost(input: { title: "Mine", body: "b" }) { id } }"#;
    ann.query(post, json!({})).await;
    let hidden = [("the anonymous", &anonymous), ("bob", &bob)];
    let shown = [("ann", &ann), ("an admin", &admin)];

    // The current loan, by itself, in the catalogue, and through a hold on the item.
    const CURRENT: &str =
        "query($id: ID!) { item(id: $id) { status dueAt currentLoan { borrower { username } } } }";
    const CATALOGUE: &str =
        "{ items { edges { node { name currentLoan { borrower { username } } } } } }";
    for (who, actor) in hidden.iter().chain(&shown) {
        let seen = actor.query(CURRENT, json!({ "id": drill })).await["item"].clone();
        assert_eq!(seen["status"], "ON_LOAN", "{who}");
        assert!(!seen["dueAt"].is_null(), "the due date is public ({who})");
        let catalogue = nodes(&actor.query(CATALOGUE, json!({})).await["items"]);
        let lent: Vec<&Value> = catalogue
            .iter()
            .filter(|n| !n["currentLoan"].is_null())
            .collect();
        if shown.iter().any(|(name, _)| name == who) {
            assert_eq!(seen["currentLoan"]["borrower"]["username"], "ann", "{who}");
            assert_eq!(lent.len(), 1, "{who}");
            assert_eq!(
                lent[0]["currentLoan"]["borrower"]["username"], "ann",
                "{who}"
            );
        } else {
            assert!(seen["currentLoan"].is_null(), "{who}: {seen}");
            assert!(lent.is_empty(), "{who}: {lent:?}");
        }
    }
    let query = "query($id: ID!) { item(id: $id) { myHold { status item { currentLoan { borrower { username } } } } } }";
    let data = bob.query(query, json!({ "id": drill })).await;
    assert_eq!(data["item"]["myHold"]["status"], "WAITING");
    assert!(data["item"]["myHold"]["item"]["currentLoan"].is_null());

    // The item's history and every loan: admins only, even nested under one's own loan.
    let query = "query($id: ID!) { item(id: $id) { loans { totalCount } } }";
    for (actor, code) in [
        (&anonymous, "UNAUTHENTICATED"),
        (&bob, "FORBIDDEN"),
        (&ann, "FORBIDDEN"),
    ] {
        assert_eq!(actor.error_code(query, json!({ "id": drill })).await, code);
        assert_eq!(
            actor
                .error_code("{ loans { totalCount } }", json!({}))
                .await,
            code
        );
    }
    let nested = "{ me { loans { edges { node { item { loans { totalCount } } } } } } }";
    assert_eq!(ann.error_code(nested, json!({})).await, "FORBIDDEN");
    let history = history(&admin, &drill).await;
    let history: Vec<Value> = nodes(&history)
        .iter()
        .map(|n| pick(n, "borrower returnedAt"))
        .collect();
    assert_eq!(history.len(), 2);
    assert_eq!(
        history[0],
        json!({ "borrower": { "username": "ann" }, "returnedAt": null })
    );
    assert_eq!(history[1]["borrower"]["username"], "bob");
    let all = admin.query("{ loans { totalCount } }", json!({})).await;
    assert_eq!(all["loans"]["totalCount"], 2);

    // A user's loans and holds, however the user is reached.
    const FIELDS: &str = "username loans { totalCount } holds { totalCount }";
    let by_id = format!("query($id: ID!) {{ user(id: $id) {{ {FIELDS} }} }}");
    let by_name = format!(r#"{{ userByUsername(username: "ann") {{ {FIELDS} }} }}"#);
    let authors = format!("{{ posts {{ edges {{ node {{ author {{ {FIELDS} }} }} }} }} }}");
    let list = format!("{{ users(first: 10) {{ edges {{ node {{ {FIELDS} }} }} }} }}");
    for (who, actor) in hidden.iter().chain(&shown) {
        let vars = json!({ "id": ann_id.to_string() });
        let mut anns = vec![actor.query(&by_id, vars).await["user"].clone()];
        anns.push(actor.query(&by_name, json!({})).await["userByUsername"].clone());
        anns.push(nodes(&actor.query(&authors, json!({})).await["posts"])[0]["author"].clone());
        let visible = shown.iter().any(|(name, _)| name == who);
        for user in anns {
            assert_eq!(user["username"], "ann");
            let counts = pick(&user, "loans holds");
            let expected = if visible {
                json!({ "loans": { "totalCount": 1 }, "holds": { "totalCount": 1 } })
            } else {
                json!({ "loans": null, "holds": null })
            };
            assert_eq!(counts, expected, "{who}");
        }
        for user in nodes(&actor.query(&list, json!({})).await["users"]) {
            let visible = *who == "an admin" || user["username"] == *who;
            assert_eq!(!user["loans"].is_null(), visible, "{who}: {user}");
            assert_eq!(!user["holds"].is_null(), visible, "{who}: {user}");
        }
    }

    // One's own, filtered.
    const MINE: &str = "{ me { active: loans(active: true) { totalCount } past: loans(active: false) { totalCount } holds(active: true) { totalCount } } }";
    for (actor, counts) in [(&ann, [1i64, 0, 1]), (&bob, [0, 1, 1])] {
        let data = actor.query(MINE, json!({})).await;
        let me = &data["me"];
        let got = ["active", "past", "holds"].map(|f| me[f]["totalCount"].as_i64().unwrap());
        assert_eq!(got, counts);
    }
}

/// deleteItem is refused while the item is on loan (ITEM_ON_LOAN) and otherwise takes its holds
/// with it; deleteUser is refused while the user borrows (HAS_ACTIVE_LOANS) and otherwise cancels
/// their holds (a READY one hands the item on, queues move up) and keeps their past loans, with
/// no borrower.
#[tokio::test]
async fn deleting_items_and_users_follows_the_lending_rules() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.admin("root").await;
    let (ann, ann_id) = app.borrower("ann").await;
    let (bob, _) = app.borrower("bob").await;
    let (cat, cat_id) = app.borrower("cat").await;
    let drill = item(&admin, "Drill").await;
    let saw = item(&admin, "Saw").await;
    let rake = item(&admin, "Rake").await;
    let ladder = item(&admin, "Ladder").await;
    const DELETE_ITEM: &str = "mutation($id: ID!) { deleteItem(id: $id) }";
    const DELETE_USER: &str = "mutation($id: ID!) { deleteUser(id: $id) }";
    let ann_vars = json!({ "id": ann_id.to_string() });

    check_out(&admin, &drill, ann_id).await;
    hold(&bob, &drill).await;
    let delete = admin.graphql(DELETE_ITEM, json!({ "id": drill }));
    refused(&app, &admin, delete, "ITEM_ON_LOAN").await;
    let delete = admin.graphql(DELETE_USER, ann_vars.clone());
    refused(&app, &admin, delete, "HAS_ACTIVE_LOANS").await;

    // An item with a past loan and holds goes, and its holds with it.
    check_out(&admin, &saw, cat_id).await;
    return_item(&admin, &saw).await;
    assert_eq!(hold(&bob, &saw).await["status"], "READY");
    assert_eq!(hold(&cat, &saw).await["status"], "WAITING");
    let deleted = admin.query(DELETE_ITEM, json!({ "id": saw })).await;
    assert_eq!(deleted["deleteItem"], saw.as_str());
    let gone = app
        .query(
            "query($id: ID!) { item(id: $id) { id } }",
            json!({ "id": saw }),
        )
        .await;
    assert!(gone["item"].is_null());
    // Nothing dangles: every hold and loan left still has its item.
    const OPEN: &str = "{ me { open: holds(active: true) { totalCount } holds { edges { node { item { name } } } } loans { edges { node { item { name } } } } } }";
    assert_eq!(
        bob.query(OPEN, json!({})).await["me"]["open"]["totalCount"],
        1
    );
    assert_eq!(
        cat.query(OPEN, json!({})).await["me"]["open"]["totalCount"],
        0
    );

    // Ann returns the drill (to Bob), holds the rake (READY, Cat behind her) and waits for the
    // ladder (Bob behind her).
    return_item(&admin, &drill).await;
    assert_eq!(hold(&ann, &rake).await["status"], "READY");
    hold(&cat, &rake).await;
    check_out(&admin, &ladder, cat_id).await;
    assert_eq!(hold(&ann, &ladder).await["position"], 1);
    assert_eq!(hold(&bob, &ladder).await["position"], 2);
    let loans = app.count("loans").await;

    let deleted = admin.query(DELETE_USER, ann_vars).await;
    assert_eq!(deleted["deleteUser"], ann_id.to_string());
    assert_eq!(ann.me().await, None);
    let rake_now = view(&cat, &rake).await;
    assert_eq!(rake_now["status"], "ON_HOLD_SHELF");
    assert_eq!(rake_now["myHold"]["status"], "READY");
    let ladder_now = view(&bob, &ladder).await;
    assert_eq!(
        (
            ladder_now["holdCount"].as_i64(),
            ladder_now["myHold"]["position"].as_i64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(app.count("loans").await, loans, "past loans stay");
    let history = nodes(&history(&admin, &drill).await);
    assert_eq!(history.len(), 1);
    assert!(history[0]["borrower"].is_null() && !history[0]["returnedAt"].is_null());
}

/// A document of several lending mutations answers each from the state its mutation left: a
/// later field is not served what an earlier one loaded.
#[tokio::test]
async fn each_mutation_of_a_document_answers_with_the_state_it_left() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.admin("root").await;
    let (_, ann_id) = app.borrower("ann").await;
    let drill = item(&admin, "Drill").await;

    let data = admin
        .query(
            "mutation($i: ID!, $m: ID!) {
               lent: checkOut(itemId: $i, memberId: $m) { item { status dueAt } }
               back: returnItem(itemId: $i) { item { status dueAt } }
               away: setItemAvailable(itemId: $i, available: false) { status }
             }",
            json!({ "i": drill, "m": ann_id.to_string() }),
        )
        .await;
    assert_eq!(data["lent"]["item"]["status"], "ON_LOAN", "{data}");
    assert!(!data["lent"]["item"]["dueAt"].is_null(), "{data}");
    assert_eq!(data["back"]["item"]["status"], "AVAILABLE", "{data}");
    assert!(data["back"]["item"]["dueAt"].is_null(), "{data}");
    assert_eq!(data["away"]["status"], "UNAVAILABLE", "{data}");
}
