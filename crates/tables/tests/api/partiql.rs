//! PartiQL: ExecuteStatement, BatchExecuteStatement, ExecuteTransaction.

use serde_json::{json, Value};

use crate::Db;

fn run(db: &Db, statement: &str, params: Value) -> Value {
    let mut input = json!({"Statement": statement});
    if !params.as_array().unwrap().is_empty() {
        input["Parameters"] = params;
    }
    db.ok("ExecuteStatement", input)
}

#[test]
fn insert_select_update_delete() {
    let db = Db::new();
    db.table("songs", Some("N"));
    run(
        &db,
        r#"INSERT INTO "songs" VALUE {'pk': 'band', 'sk': 1, 'title': 'One', 'tags': <<'a', 'b'>>, 'meta': {'len': 3.5, 'live': false}}"#,
        json!([]),
    );
    run(
        &db,
        r#"INSERT INTO songs VALUE {'pk': ?, 'sk': ?, 'title': ?}"#,
        json!([{"S": "band"}, {"N": "2"}, {"S": "Two"}]),
    );
    run(
        &db,
        r#"INSERT INTO "songs" VALUE {'pk': 'other', 'sk': 1, 'title': 'Else'}"#,
        json!([]),
    );
    let (kind, message) = db.fails(
        "ExecuteStatement",
        json!({"Statement":
        r#"INSERT INTO "songs" VALUE {'pk': 'band', 'sk': 1}"#}),
    );
    assert_eq!(
        (kind.as_str(), message.as_str()),
        (
            "DuplicateItemException",
            "Duplicate primary key exists in table"
        )
    );

    let out = run(
        &db,
        r#"SELECT * FROM "songs" WHERE pk = ?"#,
        json!([{"S": "band"}]),
    );
    let items = out["Items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[0],
        json!({"pk": {"S": "band"}, "sk": {"N": "1"}, "title": {"S": "One"},
        "tags": {"SS": ["a", "b"]}, "meta": {"M": {"len": {"N": "3.5"}, "live": {"BOOL": false}}}})
    );
    let out = run(
        &db,
        r#"SELECT title, meta.len FROM "songs" WHERE pk = 'band' AND sk > 1"#,
        json!([]),
    );
    assert_eq!(out["Items"], json!([{"title": {"S": "Two"}}]));
    let out = run(
        &db,
        r#"SELECT title FROM songs WHERE title IN ['One', 'Else'] AND meta IS MISSING"#,
        json!([]),
    );
    assert_eq!(out["Items"], json!([{"title": {"S": "Else"}}]));
    let out = run(
        &db,
        r#"SELECT title FROM songs WHERE begins_with(title, 'T')"#,
        json!([]),
    );
    assert_eq!(out["Items"], json!([{"title": {"S": "Two"}}]));

    let out = run(
        &db,
        r#"UPDATE "songs" SET plays = 1 SET title = 'Uno' REMOVE meta WHERE pk = 'band' AND sk = 1 RETURNING ALL NEW *"#,
        json!([]),
    );
    assert_eq!(
        out["Items"],
        json!([{"pk": {"S": "band"}, "sk": {"N": "1"}, "title": {"S": "Uno"}, "plays": {"N": "1"}, "tags": {"SS": ["a", "b"]}}])
    );
    run(
        &db,
        r#"UPDATE songs SET plays = plays + 2, tags = set_add(tags, <<'c'>>) WHERE pk = 'band' AND sk = 1"#,
        json!([]),
    );
    let item = db
        .get("songs", json!({"pk": {"S": "band"}, "sk": {"N": "1"}}))
        .unwrap();
    assert_eq!(item["plays"], json!({"N": "3"}));
    assert_eq!(item["tags"], json!({"SS": ["a", "b", "c"]}));
    // The WHERE clause's other conditions guard the write.
    let (kind, _) = db.fails(
        "ExecuteStatement",
        json!({"Statement":
        "UPDATE songs SET plays = 0 WHERE pk = 'band' AND sk = 1 AND plays > 10"}),
    );
    assert_eq!(kind, "ConditionalCheckFailedException");
    let (kind, _) = db.fails(
        "ExecuteStatement",
        json!({"Statement":
        "UPDATE songs SET plays = 0 WHERE pk = 'nobody' AND sk = 1"}),
    );
    assert_eq!(kind, "ConditionalCheckFailedException");
    let (_, message) = db.fails(
        "ExecuteStatement",
        json!({"Statement": "UPDATE songs SET plays = 0 WHERE pk = 'band'"}),
    );
    assert_eq!(
        message,
        "Where clause does not contain a mandatory equality on all key attributes"
    );

    run(
        &db,
        r#"DELETE FROM "songs" WHERE pk = 'band' AND sk = 2"#,
        json!([]),
    );
    assert!(db
        .get("songs", json!({"pk": {"S": "band"}, "sk": {"N": "2"}}))
        .is_none());
}

#[test]
fn select_pages_with_next_token() {
    let db = Db::new();
    db.table("paged", Some("N"));
    for i in 0..5 {
        db.put(
            "paged",
            json!({"pk": {"S": "p"}, "sk": {"N": i.to_string()}}),
        );
    }
    let mut token: Option<Value> = None;
    let mut seen = Vec::new();
    loop {
        let mut input = json!({"Statement": "SELECT sk FROM paged WHERE pk = 'p'", "Limit": 2});
        if let Some(token) = &token {
            input["NextToken"] = token.clone();
        }
        let out = db.ok("ExecuteStatement", input);
        for item in out["Items"].as_array().unwrap() {
            seen.push(item["sk"]["N"].as_str().unwrap().to_string());
        }
        match out.get("NextToken") {
            Some(next) => token = Some(next.clone()),
            None => break,
        }
    }
    assert_eq!(seen, ["0", "1", "2", "3", "4"]);
}

#[test]
fn statement_errors() {
    let db = Db::new();
    db.table("errs", None);
    let (_, message) = db.fails(
        "ExecuteStatement",
        json!({"Statement": "SELECT * FROM errs WHERE pk = ?"}),
    );
    assert_eq!(
        message,
        "Number of parameters in request and statement don't match."
    );
    let (_, message) = db.fails(
        "ExecuteStatement",
        json!({"Statement": "SELEC * FROM errs"}),
    );
    assert!(
        message.starts_with("Statement wasn't well formed, can't be processed"),
        "{message}"
    );
    let (kind, _) = db.fails(
        "ExecuteStatement",
        json!({"Statement": "SELECT * FROM nothing"}),
    );
    assert_eq!(kind, "ResourceNotFoundException");
}

#[test]
fn batch_and_transaction() {
    let db = Db::new();
    db.table("btx", None);
    db.put("btx", json!({"pk": {"S": "taken"}}));
    let out = db.ok(
        "BatchExecuteStatement",
        json!({"Statements": [
            {"Statement": "INSERT INTO btx VALUE {'pk': 'a', 'n': 1}"},
            {"Statement": "INSERT INTO btx VALUE {'pk': ?}", "Parameters": [{"S": "taken"}]},
        ]}),
    );
    assert_eq!(out["Responses"][0], json!({"TableName": "btx"}));
    assert_eq!(out["Responses"][1]["Error"]["Code"], "DuplicateItem");
    let out = db.ok("BatchExecuteStatement", json!({"Statements": [
        {"Statement": "SELECT * FROM btx WHERE pk = 'a'"}, {"Statement": "SELECT * FROM btx WHERE pk = 'zzz'"}]}));
    assert_eq!(
        out["Responses"],
        json!([{"TableName": "btx", "Item": {"pk": {"S": "a"}, "n": {"N": "1"}}}, {"TableName": "btx"}])
    );

    let err = db.err(
        "ExecuteTransaction",
        json!({"TransactStatements": [
        {"Statement": "UPDATE btx SET n = n + 1 WHERE pk = 'a'"},
        {"Statement": "INSERT INTO btx VALUE {'pk': 'taken'}"}]}),
    );
    assert!(err.type_name().ends_with("TransactionCanceledException"));
    assert_eq!(
        err.body()["CancellationReasons"][1]["Code"],
        "DuplicateItem"
    );
    assert_eq!(
        db.get("btx", json!({"pk": {"S": "a"}})).unwrap()["n"],
        json!({"N": "1"})
    );
    db.ok(
        "ExecuteTransaction",
        json!({"TransactStatements": [
        {"Statement": "UPDATE btx SET n = n + 1 WHERE pk = 'a'"},
        {"Statement": "DELETE FROM btx WHERE pk = 'taken'"}]}),
    );
    assert_eq!(
        db.get("btx", json!({"pk": {"S": "a"}})).unwrap()["n"],
        json!({"N": "2"})
    );
    assert!(db.get("btx", json!({"pk": {"S": "taken"}})).is_none());
    let out = db.ok(
        "ExecuteTransaction",
        json!({"TransactStatements": [
        {"Statement": "SELECT n FROM btx WHERE pk = 'a'"}]}),
    );
    assert_eq!(out["Responses"], json!([{"Item": {"n": {"N": "2"}}}]));
}

#[test]
fn tables_named_for_authorization() {
    use updraft_tables::Tables;
    let names =
        |op: &str, input: Value| Tables::tables_named(op, input.to_string().as_bytes()).unwrap();
    assert_eq!(
        names("PutItem", json!({"TableName": "t1x", "Item": {}})),
        ["t1x"]
    );
    assert_eq!(
        names(
            "GetItem",
            json!({"TableName": "arn:aws:dynamodb:us-east-1:1:table/byarn"})
        ),
        ["byarn"]
    );
    assert_eq!(
        names(
            "BatchWriteItem",
            json!({"RequestItems": {"bbb": [], "aaa": []}})
        ),
        ["aaa", "bbb"]
    );
    assert_eq!(
        names(
            "TransactWriteItems",
            json!({"TransactItems": [{"Put": {"TableName": "one"}},
        {"ConditionCheck": {"TableName": "two"}}, {"Delete": {"TableName": "one"}}]})
        ),
        ["one", "two"]
    );
    assert_eq!(
        names(
            "ExecuteStatement",
            json!({"Statement": "SELECT * FROM \"quoted.name\" WHERE a = 1"})
        ),
        ["quoted.name"]
    );
    assert_eq!(
        names(
            "TagResource",
            json!({"ResourceArn": "arn:aws:dynamodb:us-east-1:1:table/tagged"})
        ),
        ["tagged"]
    );
    assert!(names("ListTables", json!({})).is_empty());
    assert!(Tables::tables_named("PutItem", b"{}").is_err());
    assert!(Tables::tables_named("PutItem", b"not json").is_err());
}

#[test]
fn deep_statements_are_refused_not_crashed() {
    let db = Db::new();
    db.table("deep", None);
    let nested = format!(
        "INSERT INTO deep VALUE {{'pk': 'a', 'l': {}1{}}}",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let (kind, _) = db.fails("ExecuteStatement", json!({"Statement": nested}));
    assert_eq!(kind, "ValidationException");
    let nots = format!("SELECT * FROM deep WHERE {} pk = 'a'", "NOT ".repeat(1000));
    let (kind, _) = db.fails("ExecuteStatement", json!({"Statement": nots}));
    assert_eq!(kind, "ValidationException");
}
