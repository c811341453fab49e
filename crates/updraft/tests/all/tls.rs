//! The endpoint over TLS (`serve --tls-cert FILE --tls-key FILE`): the aws
//! CLIs, boto3 and curl (HTTP/2) trusting a self-signed certificate made
//! with `openssl` at test time; plain HTTP refused on the TLS port;
//! `aws:SecureTransport` true in policy conditions; half a configuration
//! refused at start.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::*;

/// A self-signed certificate for 127.0.0.1 and localhost, and its key
/// (PKCS#8), in `dir`: (cert.pem, key.pem).
fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl is missing; install it with `apt-get install -y openssl`");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let (c, k) = (cert.to_str().unwrap(), key.to_str().unwrap());
    run(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        k,
    ]);
    run(&[
        "req",
        "-x509",
        "-key",
        k,
        "-out",
        c,
        "-days",
        "2",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "-addext",
        "basicConstraints=critical,CA:FALSE",
        "-addext",
        "extendedKeyUsage=serverAuth",
    ]);
    (cert, key)
}

/// A server with TLS; the certificate lives as long as the returned dir.
fn tls_server() -> (Server, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let server = Server::start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    (server, cert, dir)
}

/// `127.0.0.1:PORT` of the server's URL.
fn host_port(server: &Server) -> String {
    server
        .url
        .split("://")
        .nth(1)
        .expect("a URL")
        .trim_end_matches('/')
        .to_string()
}

#[test]
fn the_aws_clis_and_boto3_work_over_https_with_the_ca_bundle() {
    let (server, cert, _dir) = tls_server();
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    let name = unique("tls-fn");
    let ca = cert.to_str().unwrap();

    for aws in [Server::aws_v1, Server::aws_v2] {
        let me = ok_json(
            &aws(&server, &["--ca-bundle", ca, "sts", "get-caller-identity"]),
            "sts get-caller-identity over TLS",
        );
        assert_eq!(me["Account"], "000000000000");
        let listed = ok_json(
            &aws(&server, &["--ca-bundle", ca, "lambda", "list-functions"]),
            "lambda list-functions over TLS",
        );
        assert!(listed["Functions"].is_array(), "{listed}");
        // Without the certificate the clients refuse the server.
        let refused = failed(
            &aws(&server, &["lambda", "list-functions"]),
            "list-functions without --ca-bundle",
        );
        assert!(
            refused.contains("CERTIFICATE_VERIFY_FAILED") || refused.contains("SSL"),
            "{refused}"
        );
    }

    let zip = server.write_file("fn.zip", &guest_zip(guests::EXAMPLE_HELLO_HTTP));
    let out = server.boto3_inline(
        r#"
import boto3, sys
endpoint, ca, name, zip_path = sys.argv[1:5]
lam = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1", verify=ca)
lam.create_function(FunctionName=name, Runtime="wasm", Role="arn:aws:iam::000000000000:role/updraft",
                    Handler="h", Code={"ZipFile": open(zip_path, "rb").read()})
r = lam.invoke(FunctionName=name, Payload=b"{}")
assert r["StatusCode"] == 200, r
assert "FunctionError" not in r, r["Payload"].read()
sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1", verify=ca)
assert sts.get_caller_identity()["Account"] == "000000000000"
print("OK")
"#,
        &[ca, &name, zip.to_str().unwrap()],
    );
    assert_eq!(ok(&out, "boto3 over TLS").trim(), "OK");
}

#[test]
fn plain_http_on_the_tls_port_gets_no_answer_and_curl_speaks_http2() {
    let (mut server, cert, _dir) = tls_server();
    let mut tcp = std::net::TcpStream::connect(host_port(&server)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    tcp.write_all(b"GET /2015-03-31/functions HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    // The server closes the connection (a TLS alert at most); a read
    // timeout would be an error here.
    tcp.read_to_end(&mut answer)
        .expect("the server closes a plain-HTTP connection");
    assert!(
        !answer.starts_with(b"HTTP/"),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    let out = Command::new("curl")
        .args([
            "--silent",
            "--http2",
            "--cacert",
            cert.to_str().unwrap(),
            "--output",
            "/dev/null",
            "--write-out",
            "%{http_version} %{http_code}",
            &format!("{}/2015-03-31/functions", server.url),
        ])
        .output()
        .expect("curl is missing; install it with `apt-get install -y curl`");
    // An unsigned request: refused, but over HTTP/2.
    let answer = ok(&out, "curl --http2");
    let (version, status) = answer.split_once(' ').expect("version and status");
    assert_eq!(version, "2", "{answer}");
    assert!(status.starts_with('4'), "{answer}");
    // SIGTERM stops the TLS listener as gracefully as the plain one.
    let status = server.terminate();
    assert!(status.success(), "updraft serve exited with {status}");
}

/// A policy that denies everything off TLS lets the user work over TLS:
/// the gateway sees the connection as secure.
#[test]
fn policies_see_aws_secure_transport_true() {
    let (server, cert, _dir) = tls_server();
    let out = server.boto3_inline(
        r#"
import boto3, json, sys
endpoint, ca = sys.argv[1:3]
iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", verify=ca)
iam.create_user(UserName="tls-only")
iam.put_user_policy(UserName="tls-only", PolicyName="tls-only", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "lambda:ListFunctions", "Resource": "*"},
        {"Effect": "Deny", "Action": "*", "Resource": "*",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    ]}))
key = iam.create_access_key(UserName="tls-only")["AccessKey"]
lam = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1", verify=ca,
                   aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
lam.list_functions()
print("OK")
"#,
        &[cert.to_str().unwrap()],
    );
    assert_eq!(ok(&out, "a TLS-only policy over TLS").trim(), "OK");
}

/// Runs `updraft serve` with `args` until it exits (it should refuse).
fn serve_refusing(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_updraft"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starting updraft serve");
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("updraft serve {args:?} kept running");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    failed(&out, &format!("updraft serve {args:?}"))
}

#[test]
fn half_a_tls_configuration_or_a_bad_file_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let e = serve_refusing(&["--tls-cert", cert]);
    assert!(e.contains("--tls-key"), "{e}");
    let e = serve_refusing(&["--tls-key", key]);
    assert!(e.contains("--tls-cert"), "{e}");
    // Certificate and key the wrong way round: the error names the file.
    let e = serve_refusing(&["--tls-cert", key, "--tls-key", cert]);
    assert!(e.contains(&format!("{key} holds no certificate")), "{e}");
}
