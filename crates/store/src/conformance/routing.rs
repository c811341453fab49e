//! Checks of aliases and function URL configs.

use super::*;

/// Create, conflict, replace, not found and delete of aliases.
pub fn aliases(store: &dyn Store) {
    let f = fname("f");
    let live1 = alias_config("f", "live", "1");
    assert!(
        is_not_found(store.put_alias(&live1, false)),
        "alias of an unknown function is NotFound"
    );
    assert!(
        is_not_found(store.put_alias(&live1, true)),
        "replacing an alias of an unknown function is NotFound"
    );
    assert_eq!(
        store.get_alias(&f, "live").unwrap(),
        None,
        "unknown function has no alias"
    );

    store.create_function(&function_config("f", "r0")).unwrap();
    publish(store, "f", "r1");
    publish(store, "f", "r2");
    assert!(
        is_not_found(store.put_alias(&live1, true)),
        "replacing a missing alias is NotFound"
    );
    assert_eq!(
        store.get_alias(&f, "live").unwrap(),
        None,
        "a failed replace creates nothing"
    );

    store.put_alias(&live1, false).expect("create alias");
    assert_eq!(
        store.get_alias(&f, "live").unwrap(),
        Some(live1.clone()),
        "the alias reads back"
    );

    let live2 = alias_config("f", "live", "2");
    assert!(
        is_conflict(store.put_alias(&live2, false)),
        "creating an existing alias is a Conflict"
    );
    assert_eq!(
        store.get_alias(&f, "live").unwrap(),
        Some(live1),
        "a conflicting create changes nothing"
    );

    store.put_alias(&live2, true).expect("replace alias");
    assert_eq!(
        store.get_alias(&f, "live").unwrap(),
        Some(live2),
        "replace stores the new alias"
    );

    assert_eq!(
        store.get_alias(&f, "other").unwrap(),
        None,
        "unknown alias reads as None"
    );
    store.create_function(&function_config("g", "r0")).unwrap();
    assert_eq!(
        store.get_alias(&fname("g"), "live").unwrap(),
        None,
        "aliases are per function"
    );

    store.delete_alias(&f, "live").expect("delete_alias");
    assert_eq!(
        store.get_alias(&f, "live").unwrap(),
        None,
        "the alias is deleted"
    );
    assert!(
        is_not_found(store.delete_alias(&f, "live")),
        "deleting a missing alias is NotFound"
    );
    assert!(
        is_not_found(store.delete_alias(&fname("nope"), "live")),
        "alias of unknown function is NotFound"
    );
    assert_eq!(
        versions_of(store, "f"),
        [LATEST, "1", "2"],
        "deleting an alias keeps the versions"
    );
}

/// `list_aliases` is ordered by alias name and scoped to the function.
pub fn list_aliases_by_name(store: &dyn Store) {
    let f = fname("f");
    assert!(
        is_not_found(store.list_aliases(&f)),
        "aliases of an unknown function is NotFound"
    );
    store.create_function(&function_config("f", "r0")).unwrap();
    store.create_function(&function_config("g", "r0")).unwrap();
    assert!(
        store.list_aliases(&f).unwrap().is_empty(),
        "a new function has no aliases"
    );
    for a in ["prod", "Beta", "live", "a-b", "a_b"] {
        store
            .put_alias(&alias_config("f", a, LATEST), false)
            .unwrap();
    }
    store
        .put_alias(&alias_config("g", "zzz", LATEST), false)
        .unwrap();
    let listed = store.list_aliases(&f).unwrap();
    let names: Vec<&str> = listed.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        ["Beta", "a-b", "a_b", "live", "prod"],
        "aliases are ordered by name"
    );
    assert_eq!(
        listed[3],
        alias_config("f", "live", LATEST),
        "listed aliases are complete records"
    );
}

/// URL configs are keyed by function and qualifier: `None` (unqualified)
/// and `Some(alias)` are separate.
pub fn url_configs_per_qualifier(store: &dyn Store) {
    let f = fname("f");
    let plain = url_config("f", None, UrlAuthType::None);
    assert!(
        is_not_found(store.put_url_config(&plain, false)),
        "URL config of an unknown function is NotFound"
    );
    assert!(
        is_not_found(store.list_url_configs(&f)),
        "URL configs of an unknown function is NotFound"
    );
    assert_eq!(
        store.get_url_config(&f, None).unwrap(),
        None,
        "unknown function has no URL config"
    );

    store.create_function(&function_config("f", "r0")).unwrap();
    store
        .put_alias(&alias_config("f", "live", LATEST), false)
        .unwrap();
    store
        .put_alias(&alias_config("f", "beta", LATEST), false)
        .unwrap();
    assert!(
        store.list_url_configs(&f).unwrap().is_empty(),
        "a new function has no URL configs"
    );
    assert!(
        is_not_found(store.put_url_config(&plain, true)),
        "replacing a missing URL config is NotFound"
    );

    store
        .put_url_config(&plain, false)
        .expect("create unqualified URL config");
    assert_eq!(
        store.get_url_config(&f, None).unwrap(),
        Some(plain.clone()),
        "unqualified config reads back"
    );
    assert_eq!(
        store.get_url_config(&f, Some("live")).unwrap(),
        None,
        "None and Some(alias) are separate"
    );

    let live = url_config("f", Some("live"), UrlAuthType::AwsIam);
    store
        .put_url_config(&live, false)
        .expect("create alias URL config");
    assert_eq!(
        store.get_url_config(&f, Some("live")).unwrap(),
        Some(live.clone()),
        "alias config reads back"
    );
    assert_eq!(
        store.get_url_config(&f, None).unwrap(),
        Some(plain.clone()),
        "the unqualified config is untouched"
    );
    assert_eq!(
        store.get_url_config(&f, Some("beta")).unwrap(),
        None,
        "configs are per alias"
    );

    let mut plain2 = url_config("f", None, UrlAuthType::AwsIam);
    plain2.cors = None;
    assert!(
        is_conflict(store.put_url_config(&plain2, false)),
        "creating an existing config is a Conflict"
    );
    assert!(
        is_conflict(store.put_url_config(&url_config("f", Some("live"), UrlAuthType::None), false)),
        "creating an existing alias config is a Conflict"
    );
    assert_eq!(
        store.get_url_config(&f, None).unwrap(),
        Some(plain),
        "a conflicting create changes nothing"
    );
    store
        .put_url_config(&plain2, true)
        .expect("replace URL config");
    assert_eq!(
        store.get_url_config(&f, None).unwrap(),
        Some(plain2.clone()),
        "replace stores the new config"
    );
    assert_eq!(
        store.get_url_config(&f, Some("live")).unwrap(),
        Some(live.clone()),
        "replace touches one qualifier"
    );

    let beta = url_config("f", Some("beta"), UrlAuthType::None);
    store.put_url_config(&beta, false).unwrap();
    assert_eq!(
        store.list_url_configs(&f).unwrap(),
        [plain2, beta, live.clone()],
        "the unqualified config first, then by alias name"
    );

    store
        .delete_url_config(&f, None)
        .expect("delete unqualified URL config");
    assert_eq!(
        store.get_url_config(&f, None).unwrap(),
        None,
        "the unqualified config is deleted"
    );
    assert_eq!(
        store.get_url_config(&f, Some("live")).unwrap(),
        Some(live),
        "alias configs stay"
    );
    assert!(
        is_not_found(store.delete_url_config(&f, None)),
        "deleting a missing config is NotFound"
    );
    store.delete_url_config(&f, Some("live")).unwrap();
    assert!(
        is_not_found(store.delete_url_config(&f, Some("live"))),
        "deleting twice is NotFound"
    );
    assert!(
        is_not_found(store.delete_url_config(&fname("nope"), None)),
        "unknown function is NotFound"
    );
    assert_eq!(
        store.list_url_configs(&f).unwrap().len(),
        1,
        "only beta's config is left"
    );
}
