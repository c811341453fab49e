//! Function URL requests for event-speaking environments.
//!
//! An HTTP request becomes the Lambda function URL event (payload format
//! 2.0); the function's result is mapped back the way Lambda function URLs
//! do: a JSON object with `statusCode` is a response description
//! (`headers`, `body`, `isBase64Encoded`, `cookies`); anything else is a 200
//! whose body is the result itself.

use std::collections::BTreeMap;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use serde_json::{json, Map, Value};

pub struct UrlRequest<'a> {
    pub method: &'a str,
    /// The path under the function's URL prefix, starting with `/`.
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
    pub request_id: &'a str,
    pub account_id: &'a str,
    pub url_id: &'a str,
    pub domain: &'a str,
    pub source_ip: &'a str,
    pub authorized_key: Option<&'a str>,
}

fn is_text(headers: &http::HeaderMap) -> bool {
    let Some(ct) = headers.get(http::header::CONTENT_TYPE) else {
        return true;
    };
    let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
    ct.starts_with("text/")
        || ct.contains("json")
        || ct.contains("xml")
        || ct.contains("javascript")
        || ct.contains("x-www-form-urlencoded")
}

/// The payload format 2.0 event for a function URL request.
pub fn request_event(r: &UrlRequest<'_>) -> Value {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies = Vec::new();
    for (name, value) in r.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == http::header::COOKIE {
            cookies.extend(
                value
                    .split(';')
                    .map(|c| c.trim().to_string())
                    .filter(|c| !c.is_empty()),
            );
            continue;
        }
        headers
            .entry(name.as_str().to_string())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let mut query: BTreeMap<String, String> = BTreeMap::new();
    for pair in r.query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_decode(k);
        let v = percent_decode(v);
        query
            .entry(k)
            .and_modify(|e| {
                e.push(',');
                e.push_str(&v);
            })
            .or_insert(v);
    }
    let text = is_text(r.headers) && std::str::from_utf8(r.body).is_ok();
    let body = if text {
        String::from_utf8_lossy(r.body).into_owned()
    } else {
        base64::engine::general_purpose::STANDARD.encode(r.body)
    };
    let now = chrono::Utc::now();
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": r.path,
        "rawQueryString": r.query,
        "headers": headers,
        "requestContext": {
            "accountId": if r.authorized_key.is_some() { r.account_id } else { "anonymous" },
            "apiId": r.url_id,
            "domainName": r.domain,
            "domainPrefix": r.url_id,
            "http": {
                "method": r.method,
                "path": r.path,
                "protocol": "HTTP/1.1",
                "sourceIp": r.source_ip,
                "userAgent": r.headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or(""),
            },
            "requestId": r.request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "isBase64Encoded": !text,
    });
    let obj = event.as_object_mut().expect("event is an object");
    if !cookies.is_empty() {
        obj.insert("cookies".into(), json!(cookies));
    }
    if !query.is_empty() {
        obj.insert("queryStringParameters".into(), json!(query));
    }
    if !r.body.is_empty() {
        obj.insert("body".into(), Value::String(body));
    }
    if let Some(key) = r.authorized_key {
        obj["requestContext"]["authorizer"] =
            json!({"iam": {"accessKey": key, "accountId": r.account_id}});
    }
    event
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// Maps a function's result to the HTTP response, as Lambda function URLs do.
pub fn response_from_result(result: &[u8]) -> Response<Bytes> {
    let parsed: Option<Map<String, Value>> = serde_json::from_slice::<Value>(result)
        .ok()
        .and_then(|v| v.as_object().cloned());
    let Some(obj) = parsed.filter(|o| o.contains_key("statusCode")) else {
        let mut resp = Response::new(Bytes::copy_from_slice(result));
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return resp;
    };
    let status = obj
        .get("statusCode")
        .and_then(Value::as_u64)
        .and_then(|s| StatusCode::from_u16(s as u16).ok())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = match obj.get("body") {
        Some(Value::String(s)) => {
            if obj.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
                base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map(Bytes::from)
                    .unwrap_or_else(|_| Bytes::copy_from_slice(s.as_bytes()))
            } else {
                Bytes::copy_from_slice(s.as_bytes())
            }
        }
        Some(Value::Null) | None => Bytes::new(),
        Some(other) => Bytes::from(other.to_string()),
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    if let Some(Value::Object(headers)) = obj.get("headers") {
        for (k, v) in headers {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(&v),
            ) {
                resp.headers_mut().append(name, value);
            }
        }
    }
    if let Some(Value::Array(cookies)) = obj.get("cookies") {
        for c in cookies.iter().filter_map(Value::as_str) {
            if let Ok(v) = HeaderValue::from_str(c) {
                resp.headers_mut().append(http::header::SET_COOKIE, v);
            }
        }
    }
    if !resp.headers().contains_key(http::header::CONTENT_TYPE) {
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_2_0_event() {
        let mut headers = http::HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.append("x-multi", HeaderValue::from_static("a"));
        headers.append("x-multi", HeaderValue::from_static("b"));
        headers.insert("cookie", HeaderValue::from_static("c1=v1; c2=v2"));
        let event = request_event(&UrlRequest {
            method: "POST",
            path: "/items/7",
            query: "a=1&b=x%20y&a=2",
            headers: &headers,
            body: br#"{"k":1}"#,
            request_id: "rid",
            account_id: "000000000000",
            url_id: "hello",
            domain: "127.0.0.1:9000",
            source_ip: "127.0.0.1",
            authorized_key: None,
        });
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["rawPath"], "/items/7");
        assert_eq!(event["rawQueryString"], "a=1&b=x%20y&a=2");
        assert_eq!(event["queryStringParameters"]["a"], "1,2");
        assert_eq!(event["queryStringParameters"]["b"], "x y");
        assert_eq!(event["headers"]["x-multi"], "a,b");
        assert_eq!(event["cookies"], json!(["c1=v1", "c2=v2"]));
        assert_eq!(event["body"], r#"{"k":1}"#);
        assert_eq!(event["isBase64Encoded"], false);
        assert_eq!(event["requestContext"]["http"]["method"], "POST");
        assert_eq!(event["requestContext"]["accountId"], "anonymous");
    }

    #[test]
    fn binary_bodies_are_base64() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "content-type",
            HeaderValue::from_static("application/octet-stream"),
        );
        let event = request_event(&UrlRequest {
            method: "PUT",
            path: "/",
            query: "",
            headers: &headers,
            body: &[0, 159, 146, 150],
            request_id: "rid",
            account_id: "0",
            url_id: "f",
            domain: "d",
            source_ip: "127.0.0.1",
            authorized_key: None,
        });
        assert_eq!(event["isBase64Encoded"], true);
        assert_eq!(event["body"], "AJ+Slg==");
    }

    #[test]
    fn maps_results_like_function_urls() {
        let r = response_from_result(
            br#"{"statusCode":201,"headers":{"x-a":"b"},"body":"aGk=","isBase64Encoded":true,"cookies":["s=1"]}"#,
        );
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers()["x-a"], "b");
        assert_eq!(r.headers()["set-cookie"], "s=1");
        assert_eq!(r.body().as_ref(), b"hi");

        let r = response_from_result(br#"{"message":"hello"}"#);
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(r.body().as_ref(), br#"{"message":"hello"}"#);

        let r = response_from_result(b"plain text");
        assert_eq!(r.status(), 200);
        assert_eq!(r.body().as_ref(), b"plain text");
    }
}
