//! Reports what the sandbox lets the guest see: its environment variables,
//! its arguments, the entries of `/tmp`, and whether `/etc/passwd` (outside
//! the one preopened directory) can be read.
//!
//! `?write=NAME` first creates `/tmp/NAME`.

#[path = "../../common/http.rs"]
mod common;

use common::*;
use wasi::http::types::{IncomingRequest, ResponseOutparam};

struct Env;

wasi::http::proxy::export!(Env);

fn json_list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| json_str(s)).collect();
    format!("[{}]", items.join(","))
}

impl wasi::exports::http::incoming_handler::Guest for Env {
    fn handle(req: IncomingRequest, out: ResponseOutparam) {
        let (_, query) = path_and_query(&req);
        let write_error = match query_param(&query, "write") {
            Some(name) => match std::fs::write(format!("/tmp/{name}"), b"written") {
                Ok(()) => "null".to_string(),
                Err(e) => json_str(&e.to_string()),
            },
            None => "null".to_string(),
        };
        let env: Vec<String> = std::env::vars()
            .map(|(k, v)| format!("{}:{}", json_str(&k), json_str(&v)))
            .collect();
        let args: Vec<String> = std::env::args().collect();
        let tmp = match std::fs::read_dir("/tmp") {
            Ok(entries) => {
                let mut names: Vec<String> = entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                json_list(&names)
            }
            Err(e) => json_str(&format!("error: {e}")),
        };
        let passwd = match std::fs::read_to_string("/etc/passwd") {
            Ok(_) => "\"readable\"".to_string(),
            Err(e) => json_str(&format!("error: {e}")),
        };
        let doc = format!(
            "{{\"env\":{{{}}},\"args\":{},\"tmp\":{},\"passwd\":{},\"write_error\":{}}}",
            env.join(","),
            json_list(&args),
            tmp,
            passwd,
            write_error
        );
        respond(out, 200, &[("content-type", "application/json")], doc.as_bytes());
    }
}
