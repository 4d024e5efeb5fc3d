//! Fuzz property: kubectl's Tables as the hub caches them (`hub::cache::table`). Any body
//! decodes or is refused with a message; a decoded Table is its columns item first, then one
//! item per row, and what the hub serves offline from those items (`encode`) decodes to the
//! same items, resourceVersion and apiVersion; filtered offline, each row is judged by the
//! metadata it was stored under and the columns item always stays; a one-object Table (a GET)
//! is there exactly when a row is, with that row's resourceVersion.

use crate::hub::cache::table::{decode, encode, is_columns, offline_body, row_matches};

/// Checks the property on `data`; panics on a violation.
pub fn check(data: &[u8]) {
    let d = match decode(data) {
        Ok(d) => d,
        Err(e) => return assert!(!e.to_string().is_empty()),
    };
    assert_eq!(d.kind, "Table");
    let Some(columns) = d.items.first() else {
        panic!("no columns item")
    };
    assert!(is_columns(columns) && columns.namespace.is_empty());
    assert!(
        !d.items[1..].iter().any(is_columns),
        "a row taken for the columns"
    );
    let stored: Vec<Vec<u8>> = d.items.iter().map(|i| i.bytes.clone()).collect();
    let served = encode(&d.api_version, d.resource_version, &stored);
    let again = match decode(&served) {
        Ok(again) => again,
        Err(e) => panic!(
            "served Table does not decode: {e}: {}",
            String::from_utf8_lossy(&served)
        ),
    };
    assert_eq!(again.items, d.items);
    // A GET of one object as a Table: its row with its resourceVersion; none, no answer.
    match offline_body(&d.api_version, d.resource_version, &stored, true) {
        Some(b) => {
            let one = decode(&b).expect("a one-object Table decodes");
            assert_eq!(
                Some(one.resource_version),
                d.items.get(1).map(|r| r.resource_version)
            );
        }
        None => assert_eq!(d.items.len(), 1, "rows but no one-object Table"),
    }
    // Filtered offline (a narrower Table never asked online), every row is judged by the
    // object it was keyed by, and the columns item always stays.
    for item in &d.items {
        let seen = std::cell::RefCell::new(None);
        let kept = row_matches(&item.bytes, |m| {
            *seen.borrow_mut() = Some((m.namespace.clone(), m.name.clone()));
            m.name.len() % 2 == 0
        });
        match seen.into_inner() {
            None => assert!(
                kept && std::ptr::eq(item, columns),
                "row {item:?} not judged"
            ),
            Some(id) => {
                assert_eq!(id, (item.namespace.clone(), item.name.clone()));
                assert_eq!(kept, item.name.len() % 2 == 0);
            }
        }
    }
    assert_eq!(
        (
            &*again.api_version,
            again.resource_version,
            &*again.continue_token
        ),
        (&*d.api_version, d.resource_version, "")
    );
}
