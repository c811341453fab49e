//! boto3 through a function's whole life (tests/py/lifecycle.py).

use crate::support::*;

#[test]
fn full_lifecycle_and_paginator() {
    let server = Server::start(&[]);
    let hello = server.write_file("hello.zip", &guest_zip(guests::EXAMPLE_HELLO_HTTP));
    let echo = server.write_file("echo.zip", &guest_zip(guests::HTTP_ECHO));
    let env = server.write_file("env.zip", &guest_zip(guests::HTTP_ENV));
    let out = server.boto3(
        "lifecycle.py",
        &[
            hello.to_str().unwrap(),
            echo.to_str().unwrap(),
            env.to_str().unwrap(),
        ],
    );
    let stdout = ok(&out, "tests/py/lifecycle.py");
    assert_eq!(stdout.trim(), "OK");
}
