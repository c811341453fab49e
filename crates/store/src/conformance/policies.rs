//! Checks of function resource policies.

use super::*;

/// Policies are keyed by function and qualifier (`None`, a version, an
/// alias); put creates or replaces, delete of a missing one is NotFound.
pub fn policies_per_qualifier(store: &dyn Store) {
    let f = fname("f");
    let plain = function_policy("f", None, "r1");
    assert!(
        is_not_found(store.put_policy(&plain)),
        "a policy of an unknown function is NotFound"
    );
    assert!(
        is_not_found(store.list_policies(&f)),
        "policies of an unknown function is NotFound"
    );
    assert_eq!(
        store.get_policy(&f, None).unwrap(),
        None,
        "an unknown function has no policy"
    );

    store.create_function(&function_config("f", "r0")).unwrap();
    store.create_function(&function_config("g", "r0")).unwrap();
    publish(store, "f", "r1");
    store
        .put_alias(&alias_config("f", "live", "1"), false)
        .unwrap();
    assert!(
        store.list_policies(&f).unwrap().is_empty(),
        "a new function has no policies"
    );
    assert!(
        is_not_found(store.delete_policy(&f, None)),
        "deleting a missing policy is NotFound"
    );

    store
        .put_policy(&plain)
        .expect("put the unqualified policy");
    assert_eq!(
        store.get_policy(&f, None).unwrap(),
        Some(plain.clone()),
        "the unqualified policy reads back"
    );
    let live = function_policy("f", Some("live"), "r2");
    let one = function_policy("f", Some("1"), "r3");
    store.put_policy(&live).unwrap();
    store.put_policy(&one).unwrap();
    assert_eq!(
        store.get_policy(&f, None).unwrap(),
        Some(plain.clone()),
        "qualified policies leave the unqualified one alone"
    );
    assert_eq!(
        store.get_policy(&f, Some("live")).unwrap(),
        Some(live.clone()),
        "an alias's policy reads back"
    );
    assert_eq!(
        store.get_policy(&fname("g"), None).unwrap(),
        None,
        "policies are per function"
    );

    let replaced = function_policy("f", None, "r4");
    store.put_policy(&replaced).expect("replace a policy");
    assert_eq!(
        store.get_policy(&f, None).unwrap(),
        Some(replaced.clone()),
        "put replaces"
    );
    assert_eq!(
        store.list_policies(&f).unwrap(),
        [replaced, one, live.clone()],
        "the unqualified policy first, then by qualifier"
    );

    store.delete_policy(&f, None).expect("delete a policy");
    assert_eq!(store.get_policy(&f, None).unwrap(), None, "deleted");
    assert_eq!(
        store.get_policy(&f, Some("live")).unwrap(),
        Some(live),
        "delete touches one qualifier"
    );
}

/// A policy goes with what it is attached to: the function, a version,
/// an alias; a function created again has none.
pub fn policies_go_with_their_owner(store: &dyn Store) {
    let f = fname("f");
    store.create_function(&function_config("f", "r0")).unwrap();
    publish(store, "f", "r1");
    publish(store, "f", "r2");
    store
        .put_alias(&alias_config("f", "live", "1"), false)
        .unwrap();
    for q in [None, Some("1"), Some("2"), Some("live")] {
        store.put_policy(&function_policy("f", q, "r")).unwrap();
    }

    store.delete_version(&f, "2").unwrap();
    assert_eq!(
        store.get_policy(&f, Some("2")).unwrap(),
        None,
        "deleting a version deletes its policy"
    );
    store.delete_alias(&f, "live").unwrap();
    assert_eq!(
        store.get_policy(&f, Some("live")).unwrap(),
        None,
        "deleting an alias deletes its policy"
    );
    let left: Vec<Option<String>> = store
        .list_policies(&f)
        .unwrap()
        .into_iter()
        .map(|p| p.qualifier)
        .collect();
    assert_eq!(left, [None, Some("1".to_string())], "the others stay");

    store.delete_function(&f).unwrap();
    assert_eq!(
        store.get_policy(&f, None).unwrap(),
        None,
        "deleting the function deletes its policies"
    );
    store.create_function(&function_config("f", "r0")).unwrap();
    assert!(
        store.list_policies(&f).unwrap().is_empty(),
        "a function created again starts without policies"
    );
    assert_eq!(store.get_policy(&f, Some("1")).unwrap(), None);
}
