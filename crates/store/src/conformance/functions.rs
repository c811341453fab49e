//! Checks of functions and their published versions.

use super::*;

/// `create_function` stores `$LATEST`; a second create is a `Conflict`
/// that changes nothing; unknown functions read as `None`.
pub fn create_and_get_latest(store: &dyn Store) {
    let f = fname("f");
    assert_eq!(
        store.get_version(&f, LATEST).unwrap(),
        None,
        "nothing exists in a new store"
    );

    let v1 = function_config("f", "r1");
    store.create_function(&v1).expect("create_function");
    assert_eq!(
        store.get_version(&f, LATEST).unwrap(),
        Some(v1.clone()),
        "$LATEST reads back as created"
    );

    let again = function_config("f", "r2");
    assert!(
        is_conflict(store.create_function(&again)),
        "creating an existing function is a Conflict"
    );
    assert_eq!(
        store.get_version(&f, LATEST).unwrap(),
        Some(v1),
        "a conflicting create leaves $LATEST unchanged"
    );
    assert_eq!(
        store.get_version(&fname("other"), LATEST).unwrap(),
        None,
        "unknown function reads as None"
    );
    assert_eq!(
        store.get_version(&f, "1").unwrap(),
        None,
        "no version is published on create"
    );
}

/// `update_latest` replaces `$LATEST` and is `NotFound` (creating nothing)
/// for an unknown function.
pub fn update_latest(store: &dyn Store) {
    let f = fname("f");
    store.create_function(&function_config("f", "r1")).unwrap();
    let r2 = function_config("f", "r2");
    store.update_latest(&r2).expect("update_latest");
    assert_eq!(
        store.get_version(&f, LATEST).unwrap(),
        Some(r2),
        "$LATEST is replaced"
    );

    assert!(
        is_not_found(store.update_latest(&function_config("missing", "r1"))),
        "updating an unknown function is NotFound"
    );
    assert_eq!(
        store.get_version(&fname("missing"), LATEST).unwrap(),
        None,
        "a failed update creates nothing"
    );
    assert_eq!(
        store.list_functions().unwrap().len(),
        1,
        "a failed update creates nothing"
    );
}

/// Whatever `version` the caller passes, `$LATEST` is stored as `$LATEST`.
pub fn latest_version_field_is_latest(store: &dyn Store) {
    let f = fname("f");
    let mut c = function_config("f", "r1");
    c.version = "7".into();
    store.create_function(&c).unwrap();
    let got = store
        .get_version(&f, LATEST)
        .unwrap()
        .expect("$LATEST exists");
    assert_eq!(
        got.version, LATEST,
        "create_function stores version $LATEST"
    );
    assert_eq!(
        store.get_version(&f, "7").unwrap(),
        None,
        "create_function publishes nothing"
    );

    let mut u = function_config("f", "r2");
    u.version = "3".into();
    store.update_latest(&u).unwrap();
    let got = store
        .get_version(&f, LATEST)
        .unwrap()
        .expect("$LATEST exists");
    assert_eq!(got.version, LATEST, "update_latest stores version $LATEST");
    assert_eq!(
        got.revision_id, "r2",
        "update_latest still replaces $LATEST"
    );
}

/// `list_functions` returns every `$LATEST`, ordered by name (byte order).
pub fn list_functions_by_name(store: &dyn Store) {
    assert!(
        store.list_functions().unwrap().is_empty(),
        "a new store has no functions"
    );
    for name in ["b", "a-1", "C", "a", "_z"] {
        store.create_function(&function_config(name, "r1")).unwrap();
    }
    publish(store, "a", "r1");
    let listed = store.list_functions().unwrap();
    let names: Vec<&str> = listed.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["C", "_z", "a", "a-1", "b"],
        "functions are ordered by name"
    );
    assert!(
        listed.iter().all(|c| c.version == LATEST),
        "list_functions returns $LATEST only, not published versions"
    );
}

/// Versions are numbered 1, 2, 3... per function; `publish_version` returns
/// the config with its number; `list_versions` is `$LATEST` then ascending.
pub fn publish_numbers_versions(store: &dyn Store) {
    let f = fname("f");
    assert!(
        is_not_found(store.publish_version(&function_config("f", "r1"))),
        "publishing an unknown function is NotFound"
    );
    assert!(
        is_not_found(store.list_versions(&f)),
        "listing versions of an unknown function is NotFound"
    );

    store.create_function(&function_config("f", "r0")).unwrap();
    assert_eq!(
        versions_of(store, "f"),
        [LATEST],
        "a new function lists $LATEST only"
    );

    for n in 1..=12 {
        let revision = format!("r{n}");
        let published = publish(store, "f", &revision);
        let mut expected = function_config("f", &revision);
        expected.version = n.to_string();
        assert_eq!(
            published, expected,
            "publish_version returns the config numbered {n}"
        );
        assert_eq!(
            store.get_version(&f, &n.to_string()).unwrap(),
            Some(expected),
            "version {n} reads back"
        );
    }
    let expected: Vec<String> = std::iter::once(LATEST.to_string())
        .chain((1..=12).map(|n: u32| n.to_string()))
        .collect();
    assert_eq!(
        versions_of(store, "f"),
        expected,
        "versions ascend numerically (10 after 9)"
    );
    assert_eq!(
        store.get_version(&f, LATEST).unwrap().unwrap().revision_id,
        "r0",
        "publishing does not touch $LATEST"
    );

    store.create_function(&function_config("g", "r0")).unwrap();
    assert_eq!(
        publish(store, "g", "r1").version,
        "1",
        "numbering is per function"
    );
    assert_eq!(
        publish(store, "f", "r13").version,
        "13",
        "other functions do not affect numbering"
    );
}

/// Updating `$LATEST` does not change published versions.
pub fn published_versions_are_immutable(store: &dyn Store) {
    let f = fname("f");
    store.create_function(&function_config("f", "r1")).unwrap();
    let v1 = publish(store, "f", "r1");
    store.update_latest(&function_config("f", "r2")).unwrap();
    assert_eq!(
        store.get_version(&f, "1").unwrap(),
        Some(v1),
        "version 1 is unchanged by update_latest"
    );
}

/// `get_version` answers `None` for anything that is not `$LATEST` or the
/// number of an existing version.
pub fn get_version_lookups(store: &dyn Store) {
    let f = fname("f");
    store.create_function(&function_config("f", "r1")).unwrap();
    publish(store, "f", "r1");
    assert!(
        store.get_version(&f, "1").unwrap().is_some(),
        "version 1 exists"
    );
    for bad in [
        "0",
        "2",
        "01",
        "+1",
        "-1",
        "1.0",
        "",
        "latest",
        "$latest",
        "live",
        "99999999999999999999999",
    ] {
        assert_eq!(
            store.get_version(&f, bad).unwrap(),
            None,
            "get_version({bad:?}) is None"
        );
    }
    assert_eq!(
        store.get_version(&fname("g"), "1").unwrap(),
        None,
        "versions are per function"
    );
}

/// Deleted version numbers are never handed out again.
pub fn version_numbers_never_reused(store: &dyn Store) {
    let f = fname("f");
    store.create_function(&function_config("f", "r0")).unwrap();
    for n in 1..=3 {
        assert_eq!(
            publish(store, "f", "r").version,
            n.to_string(),
            "versions are numbered 1, 2, 3"
        );
    }
    store.delete_version(&f, "3").expect("delete_version 3");
    assert_eq!(
        store.get_version(&f, "3").unwrap(),
        None,
        "version 3 is gone"
    );
    assert_eq!(
        publish(store, "f", "r").version,
        "4",
        "the highest number is not reused"
    );

    store.delete_version(&f, "2").unwrap();
    assert_eq!(
        versions_of(store, "f"),
        [LATEST, "1", "4"],
        "list_versions skips deleted versions"
    );

    for v in ["1", "4"] {
        store.delete_version(&f, v).unwrap();
    }
    assert_eq!(versions_of(store, "f"), [LATEST], "every version deleted");
    assert_eq!(
        publish(store, "f", "r").version,
        "5",
        "numbers are not reused after deleting them all"
    );
}

/// `delete_version` deletes exactly one published version; `NotFound`
/// otherwise, and `$LATEST` cannot be deleted this way.
pub fn delete_version_contract(store: &dyn Store) {
    let f = fname("f");
    assert!(
        is_not_found(store.delete_version(&f, "1")),
        "unknown function is NotFound"
    );
    store.create_function(&function_config("f", "r0")).unwrap();
    publish(store, "f", "r1");
    publish(store, "f", "r2");
    for bad in ["3", "0", "01", "live", "", LATEST] {
        assert!(
            is_not_found(store.delete_version(&f, bad)),
            "delete_version({bad:?}) is NotFound"
        );
    }
    assert_eq!(
        versions_of(store, "f"),
        [LATEST, "1", "2"],
        "failed deletes change nothing"
    );
    store.delete_version(&f, "1").unwrap();
    assert!(
        is_not_found(store.delete_version(&f, "1")),
        "deleting twice is NotFound"
    );
    assert_eq!(
        versions_of(store, "f"),
        [LATEST, "2"],
        "only version 1 was deleted"
    );
}

/// `delete_function` takes versions, aliases and URL configs with it, and
/// nothing of any other function; a new function of the same name starts
/// afresh. Logs stay.
pub fn delete_function_cascades(store: &dyn Store) {
    let (f, g) = (fname("f"), fname("g"));
    assert!(
        is_not_found(store.delete_function(&f)),
        "deleting an unknown function is NotFound"
    );

    for name in ["f", "g"] {
        store.create_function(&function_config(name, "r0")).unwrap();
        publish(store, name, "r1");
        publish(store, name, "r2");
        store
            .put_alias(&alias_config(name, "live", "1"), false)
            .unwrap();
        store
            .put_alias(&alias_config(name, "beta", "2"), false)
            .unwrap();
        store
            .put_url_config(&url_config(name, None, UrlAuthType::None), false)
            .unwrap();
        store
            .put_url_config(&url_config(name, Some("live"), UrlAuthType::AwsIam), false)
            .unwrap();
    }
    store
        .append_logs(&[log_record("f", "req-1", 10, 20, false)])
        .unwrap();

    store.delete_function(&f).expect("delete_function");

    for v in [LATEST, "1", "2"] {
        assert_eq!(
            store.get_version(&f, v).unwrap(),
            None,
            "version {v} is deleted with the function"
        );
    }
    assert!(
        is_not_found(store.list_versions(&f)),
        "list_versions of a deleted function is NotFound"
    );
    for a in ["live", "beta"] {
        assert_eq!(
            store.get_alias(&f, a).unwrap(),
            None,
            "alias {a} is deleted with the function"
        );
    }
    assert_eq!(
        store.get_url_config(&f, None).unwrap(),
        None,
        "the URL config is deleted with the function"
    );
    assert_eq!(
        store.get_url_config(&f, Some("live")).unwrap(),
        None,
        "the alias URL config is deleted with the function"
    );
    let names: Vec<String> = store
        .list_functions()
        .unwrap()
        .into_iter()
        .map(|c| c.name.into())
        .collect();
    assert_eq!(names, ["g"], "list_functions no longer shows the function");
    assert!(
        is_not_found(store.delete_function(&f)),
        "deleting twice is NotFound"
    );

    assert_eq!(
        versions_of(store, "g"),
        [LATEST, "1", "2"],
        "other functions keep their versions"
    );
    assert_eq!(
        store.list_aliases(&g).unwrap().len(),
        2,
        "other functions keep their aliases"
    );
    assert_eq!(
        store.list_url_configs(&g).unwrap().len(),
        2,
        "other functions keep their URL configs"
    );

    let logs = store
        .query_logs(&LogQuery {
            function: "f".into(),
            ..LogQuery::default()
        })
        .unwrap();
    assert_eq!(logs.len(), 1, "log records outlive the function");

    store
        .create_function(&function_config("f", "again"))
        .unwrap();
    assert_eq!(
        versions_of(store, "f"),
        [LATEST],
        "a re-created function has no old versions"
    );
    assert!(
        store.list_aliases(&f).unwrap().is_empty(),
        "a re-created function has no old aliases"
    );
    assert!(
        store.list_url_configs(&f).unwrap().is_empty(),
        "a re-created function has no old URL configs"
    );
    assert_eq!(
        publish(store, "f", "again").version,
        "1",
        "a re-created function numbers from 1"
    );
}
