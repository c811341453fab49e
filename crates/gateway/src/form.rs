//! `application/x-www-form-urlencoded` bodies, as the query protocols
//! (SQS, IAM, STS) send them.

/// The pairs of a form body, in order (`+` is a space; invalid UTF-8 is
/// replaced).
pub(crate) fn pairs(body: &[u8]) -> Vec<(String, String)> {
    let decode = |s: &[u8]| {
        let plus: Vec<u8> = s
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        percent_encoding::percent_decode(&plus)
            .decode_utf8_lossy()
            .into_owned()
    };
    body.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.iter().position(|&b| b == b'=') {
            Some(i) => (decode(&pair[..i]), decode(&pair[i + 1..])),
            None => (decode(pair), String::new()),
        })
        .collect()
}

/// The pairs as a map, a repeated name keeping its last value (as the SQS
/// query protocol and axum's `Query` read them).
pub(crate) fn map(body: &[u8]) -> std::collections::BTreeMap<String, String> {
    pairs(body).into_iter().collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn decodes_pairs_plus_and_percent() {
        assert_eq!(
            super::pairs(b"Action=CreateUser&UserName=a+b%2Fc&Empty=&Flag"),
            vec![
                ("Action".to_string(), "CreateUser".to_string()),
                ("UserName".to_string(), "a b/c".to_string()),
                ("Empty".to_string(), String::new()),
                ("Flag".to_string(), String::new()),
            ]
        );
    }

    #[test]
    fn a_repeated_name_keeps_its_last_value_in_the_map() {
        let m = super::map(b"a=1&b=2&a=3");
        assert_eq!(m.get("a").map(String::as_str), Some("3"));
        assert_eq!(m.len(), 2);
    }
}
