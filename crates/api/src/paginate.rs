//! `Marker` / `MaxItems` pagination, as Lambda's list operations do it.
//!
//! The marker is opaque to clients: URL-safe base64 of the position and key
//! of the last item returned. The next page starts after the item with that
//! key, wherever it now is; if that item was deleted meanwhile, at its old
//! position. Items are never returned twice, and none is skipped unless the
//! list changed between pages.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::validate::Violations;
use crate::LambdaError;

/// Page size when the request gives no `MaxItems`.
pub const DEFAULT_MAX_ITEMS: usize = 50;
/// Largest `MaxItems` accepted.
pub const MAX_MAX_ITEMS: usize = 10_000;

/// Parses the `MaxItems` query parameter (1–10,000).
pub fn parse_max_items(raw: Option<&str>) -> Result<Option<usize>, LambdaError> {
    let Some(raw) = raw else { return Ok(None) };
    let n: i64 = raw.parse().map_err(|_| {
        LambdaError::InvalidParameterValue(format!("MaxItems must be a number, not '{raw}'."))
    })?;
    let mut v = Violations::new();
    let n = v.range(n, "maxItems", 1, MAX_MAX_ITEMS as u32);
    v.finish()?;
    Ok(n.map(|n| n as usize))
}

/// One page of `items` (in their given order) after `marker`, at most
/// `max_items` long (default 50), and the marker of the next page if more
/// items follow. `key` identifies an item (a function name, a version).
pub fn paginate<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> String,
    marker: Option<&str>,
    max_items: Option<usize>,
) -> Result<(Vec<T>, Option<String>), LambdaError> {
    let max = max_items.unwrap_or(DEFAULT_MAX_ITEMS);
    if !(1..=MAX_MAX_ITEMS).contains(&max) {
        let mut v = Violations::new();
        v.range(max as i64, "maxItems", 1, MAX_MAX_ITEMS as u32);
        v.finish()?;
    }
    let start = match marker.filter(|m| !m.is_empty()) {
        None => 0,
        Some(m) => {
            let (index, last_key) = decode_marker(m)?;
            match items.iter().position(|it| key(it) == last_key) {
                Some(pos) => pos + 1,
                None => index.min(items.len()),
            }
        }
    };
    let total = items.len();
    let end = start.saturating_add(max).min(total);
    let page: Vec<T> = items.into_iter().skip(start).take(end - start).collect();
    let next = if end < total {
        page.last().map(|last| encode_marker(end - 1, &key(last)))
    } else {
        None
    };
    Ok((page, next))
}

fn encode_marker(index: usize, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{index}:{key}"))
}

fn decode_marker(marker: &str) -> Result<(usize, String), LambdaError> {
    let invalid = || LambdaError::InvalidParameterValue(format!("Invalid marker: {marker}"));
    let bytes = URL_SAFE_NO_PAD.decode(marker).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (index, key) = text.split_once(':').ok_or_else(invalid)?;
    Ok((index.parse().map_err(|_| invalid())?, key.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(items: &[String], max: Option<usize>) -> Vec<Vec<String>> {
        let mut pages = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let (page, next) =
                paginate(items.to_vec(), |s| s.clone(), marker.as_deref(), max).unwrap();
            pages.push(page);
            match next {
                Some(m) => marker = Some(m),
                None => return pages,
            }
            assert!(pages.len() <= items.len() + 1, "pagination does not end");
        }
    }

    #[test]
    fn a_walk_returns_every_item_exactly_once() {
        let items: Vec<String> = (0..123).map(|i| format!("fn-{i:03}")).collect();
        for max in [Some(1), Some(7), Some(50), Some(123), Some(10_000), None] {
            let pages = walk(&items, max);
            let flat: Vec<String> = pages.concat();
            assert_eq!(flat, items, "max {max:?}");
            let size = max.unwrap_or(DEFAULT_MAX_ITEMS);
            assert!(pages.iter().all(|p| p.len() <= size));
            assert_eq!(pages.len(), items.len().div_ceil(size));
        }
        assert_eq!(walk(&[], None), vec![Vec::<String>::new()]);
    }

    #[test]
    fn a_deleted_marker_item_does_not_skip_the_next() {
        let items: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        let (page, next) = paginate(items.clone(), |s| s.clone(), None, Some(3)).unwrap();
        assert_eq!(page, ["0", "1", "2"]);
        let mut fewer = items.clone();
        fewer.retain(|s| s != "2");
        let (page, _) = paginate(fewer, |s| s.clone(), next.as_deref(), Some(3)).unwrap();
        assert_eq!(page, ["3", "4", "5"]);
    }

    #[test]
    fn bad_markers_and_sizes_are_client_errors() {
        let items = vec!["a".to_string()];
        let err = paginate(items.clone(), |s| s.clone(), Some("!!"), None).unwrap_err();
        assert_eq!(err.error_type(), "InvalidParameterValueException");
        let err = paginate(items, |s| s.clone(), None, Some(0)).unwrap_err();
        assert_eq!(err.error_type(), "ValidationException");
        assert_eq!(parse_max_items(Some("20")).unwrap(), Some(20));
        assert_eq!(parse_max_items(None).unwrap(), None);
        assert!(parse_max_items(Some("10001")).is_err());
        assert!(parse_max_items(Some("x")).is_err());
    }
}
