//! Hostile clients: one that sends its request headers a byte at a time
//! (slowloris) is cut off at the header timeout, an idle kept-alive
//! connection is closed, connections beyond `--max-connections` get 503 at
//! once, and bodies that are too large or never end are cut off, while
//! other clients are served and the server's memory stays bounded.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::*;

fn connect(s: &Server) -> TcpStream {
    let addr = s.url.trim_start_matches("http://");
    let tcp = TcpStream::connect(addr).expect("connecting");
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp
}

/// Reads until the server closes the connection (or an error).
fn read_to_close(tcp: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tcp.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn a_slowloris_client_is_cut_off_at_the_header_timeout_while_others_are_served() {
    let s = Server::start(&["--header-timeout", "2s"]);
    let mut slow = connect(&s);
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let started = Instant::now();
    let trickle = std::thread::spawn(move || {
        // One header byte every 200 ms, never finishing the head.
        for b in b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            .iter()
            .cycle()
        {
            if slow.write_all(&[*b]).is_err() || started.elapsed() > Duration::from_secs(15) {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        started.elapsed()
    });
    // Others are served meanwhile, without waiting for the slow one.
    for _ in 0..5 {
        let t = Instant::now();
        assert_eq!(s.get("/metrics").status, 200);
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        std::thread::sleep(Duration::from_millis(200));
    }
    let cut_after = trickle.join().unwrap();
    assert!(
        cut_after < Duration::from_secs(6),
        "the slow client was not cut off: {cut_after:?}"
    );
    s.assert_alive();
}

#[test]
fn connections_beyond_the_limit_get_503_and_idle_ones_are_closed() {
    let s = Server::start(&["--max-connections", "8", "--header-timeout", "2s"]);
    let idle: Vec<TcpStream> = (0..8).map(|_| connect(&s)).collect();
    // Let the server accept them all.
    std::thread::sleep(Duration::from_millis(300));
    let mut over = connect(&s);
    let answer = read_to_close(&mut over);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");
    assert!(answer.contains("max-connections"), "{answer}");
    // Idle connections are cut at the header timeout, which frees room.
    let t = Instant::now();
    for mut tcp in idle {
        let rest = read_to_close(&mut tcp);
        assert!(!rest.starts_with("HTTP/1.1 2"), "{rest}");
    }
    assert!(t.elapsed() < Duration::from_secs(6), "{:?}", t.elapsed());
    eventually(
        Duration::from_secs(5),
        "a connection below the limit",
        || (s.get("/metrics").status == 200).then_some(()),
    );
}

/// An event-speaking function behind a URL gets its whole body or is not
/// invoked: an upload broken off midway invokes nothing, one over 6 MB is
/// 413, and neither holds a concurrency slot while it arrives.
#[test]
fn a_broken_or_oversized_url_body_invokes_nothing() {
    let s = Server::start(&["--max-concurrency", "1"]);
    let name = unique("url-body");
    s.deploy(&name, guests::CMD_RECORD, serde_json::json!({}));
    let url = s.create_url(&name, "NONE", None);
    let path = url.trim_start_matches(&s.url).to_string();

    // Declares 1000 bytes, sends 10, then goes away.
    let mut broken = connect(&s);
    broken
        .write_all(
            format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nABORTED-xx")
                .as_bytes(),
        )
        .unwrap();
    // A slow upload in progress holds no slot: the one slot still serves.
    let mut slow = connect(&s);
    slow.write_all(
        format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nSLOW").as_bytes(),
    )
    .unwrap();
    let ok = http().request("POST", &url, &[], b"first");
    assert_eq!(ok.status, 200, "{}", ok.text());
    drop(broken);
    drop(slow);

    // The client is still sending when the answer comes: it reads it.
    for _ in 0..3 {
        let big = http().request("POST", &url, &[], &vec![b'x'; 7 * 1024 * 1024]);
        assert_eq!(big.status, 413, "{}", big.text());
    }

    let barrier = http().request("POST", &url, &[], b"barrier");
    assert_eq!(barrier.status, 200, "{}", barrier.text());
    let events = eventually(Duration::from_secs(20), "the barrier's event", || {
        let events = s.recorded_events(&name);
        events
            .iter()
            .any(|e| e.contains("barrier"))
            .then_some(events)
    });
    assert_eq!(
        events.len(),
        2,
        "only the complete requests ran: {events:?}"
    );
    assert!(
        !events
            .iter()
            .any(|e| e.contains("ABORTED") || e.contains("SLOW")),
        "{events:?}"
    );
}

/// The server's resident memory, in KiB.
fn rss_kib(s: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", s.pid())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// A 2 GB body and a chunked body that never ends, sent to a public
/// function URL: the first is refused on its declared length before a
/// byte of it is read, the second cut off at 6 MB; both get 413 while
/// another client keeps getting answers, the function never runs, and the
/// server's memory does not grow with what was sent.
#[test]
fn a_2gb_body_and_an_endless_chunked_body_are_cut_off_while_others_are_served() {
    let s = Server::start(&[]);
    let name = unique("huge-body");
    s.deploy(&name, guests::CMD_RECORD, serde_json::json!({}));
    let url = s.create_url(&name, "NONE", None);
    let path = url.trim_start_matches(&s.url).to_string();
    assert_eq!(http().request("POST", &url, &[], b"warm").status, 200);
    let rss_before = rss_kib(&s);

    let mut declared = connect(&s);
    declared
        .write_all(
            format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2147483648\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    let answer = read_to_close(&mut declared);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");

    // 2 GB actually sent, in chunks, from another thread, until the server
    // stops reading.
    let mut endless = connect(&s);
    endless
        .write_all(
            format!("POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    let mut writer = endless.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let mut chunk = format!("{:x}\r\n", 64 * 1024).into_bytes();
        chunk.extend(std::iter::repeat_n(b'y', 64 * 1024));
        chunk.extend_from_slice(b"\r\n");
        let mut sent = 0u64;
        while sent < 2 << 30 {
            if writer.write_all(&chunk).is_err() {
                break;
            }
            sent += chunk.len() as u64;
        }
        sent
    });
    // Others are answered meanwhile.
    for _ in 0..5 {
        let t = Instant::now();
        assert_eq!(s.get("/metrics").status, 200);
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    }
    let answer = read_to_close(&mut endless);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");
    let sent = sender.join().unwrap();
    assert!(sent < 2 << 30, "the server read all {sent} bytes");

    let ok = http().request("POST", &url, &[], b"after");
    assert_eq!(ok.status, 200, "{}", ok.text());
    let events = eventually(Duration::from_secs(20), "the last event", || {
        let events = s.recorded_events(&name);
        events.iter().any(|e| e.contains("after")).then_some(events)
    });
    assert_eq!(events.len(), 2, "only the small requests ran: {events:?}");
    let grown = rss_kib(&s).saturating_sub(rss_before);
    assert!(
        grown < 64 * 1024,
        "the server grew by {grown} KiB while refusing the bodies"
    );
    s.assert_alive();
}

/// A kept-alive connection that sends nothing after its answer is closed
/// at the header timeout.
#[test]
fn an_idle_kept_alive_connection_is_closed() {
    let s = Server::start(&["--header-timeout", "2s"]);
    let mut tcp = connect(&s);
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let t = Instant::now();
    let answer = read_to_close(&mut tcp);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    let idle = t.elapsed();
    assert!(
        (Duration::from_millis(1500)..Duration::from_secs(8)).contains(&idle),
        "closed after {idle:?}"
    );
}

/// A request head, sent without its body; the answer read until the
/// server closes or 10 s pass.
fn head_only(s: &Server, head: &str) -> String {
    let mut tcp = connect(s);
    tcp.write_all(format!("{head}\r\n\r\n").as_bytes()).unwrap();
    read_to_close(&mut tcp)
}

/// API requests are judged on their head before their body is read: a
/// declared length over the route's limit is 413, a head that cannot be
/// authenticated 403, both answered without waiting for a byte of body.
#[test]
fn api_requests_over_their_limit_or_unauthenticated_are_refused_on_their_head() {
    let s = Server::start(&[]);
    let t = Instant::now();
    let create = head_only(
        &s,
        "POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nContent-Length: 73400321",
    );
    assert!(create.starts_with("HTTP/1.1 413"), "{create}");
    assert!(
        create.contains("RequestTooLargeException") && create.contains("CreateFunction"),
        "{create}"
    );
    let invoke = head_only(
        &s,
        "POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 6291457",
    );
    assert!(invoke.starts_with("HTTP/1.1 413"), "{invoke}");
    assert!(invoke.contains("InvokeFunction"), "{invoke}");
    // Queue and event APIs take far less than a code upload.
    let sqs = head_only(
        &s,
        "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AmazonSQS.SendMessage\r\nContent-Length: 3000000",
    );
    assert!(sqs.starts_with("HTTP/1.1 413"), "{sqs}");

    // Within the limit but unsigned, or signed with a key nobody issued.
    let unsigned = head_only(
        &s,
        "POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000",
    );
    assert!(unsigned.starts_with("HTTP/1.1 403"), "{unsigned}");
    let date = chrono::Utc::now();
    let forged = head_only(
        &s,
        &format!(
            "POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\
             X-Amz-Date: {}\r\nAuthorization: AWS4-HMAC-SHA256 \
             Credential=AKIANOBODYISSUEDTHIS/{}/us-east-1/lambda/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature={}",
            date.format("%Y%m%dT%H%M%SZ"),
            date.format("%Y%m%d"),
            "0".repeat(64)
        ),
    );
    assert!(forged.starts_with("HTTP/1.1 403"), "{forged}");
    assert!(forged.contains("UnrecognizedClient"), "{forged}");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "answers waited for bodies: {:?}",
        t.elapsed()
    );
    s.assert_alive();
}

/// A wasi-http function gets its URL body as a stream, but no more than
/// 6 MB of it: a declared length over that is 413 at once, and a chunked
/// body that goes on fails the function's read past 6 MB instead of
/// streaming on.
#[test]
fn a_wasi_http_function_reads_at_most_6_mb_of_a_url_body() {
    let s = Server::start(&[]);
    let name = unique("http-body");
    s.deploy(&name, guests::HTTP_ECHO, serde_json::json!({}));
    let url = s.create_url(&name, "NONE", None);
    let path = url.trim_start_matches(&s.url).to_string();

    let declared = head_only(
        &s,
        &format!("POST {path}echo-body HTTP/1.1\r\nHost: x\r\nContent-Length: 2147483648"),
    );
    assert!(declared.starts_with("HTTP/1.1 413"), "{declared}");

    let mut tcp = connect(&s);
    tcp.write_all(
        format!("POST {path}echo-body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            .as_bytes(),
    )
    .unwrap();
    let mut writer = tcp.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let mut chunk = format!("{:x}\r\n", 64 * 1024).into_bytes();
        chunk.extend(std::iter::repeat_n(b'z', 64 * 1024));
        chunk.extend_from_slice(b"\r\n");
        // 64 MB, far past the limit, unless the server stops reading.
        for _ in 0..1024 {
            if writer.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    let mut echoed = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tcp.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => echoed += buf[..n].iter().filter(|b| **b == b'z').count(),
        }
    }
    sender.join().unwrap();
    assert!(echoed > 0, "the function streamed nothing back");
    assert!(
        echoed <= 6 * 1024 * 1024,
        "the function read {echoed} bytes of the body"
    );
    // The server is fine and the function still answers.
    let ok = http().get(&format!("{url}after"));
    assert_eq!(ok.status, 200, "{}", ok.text());
    s.assert_alive();
}

/// Clients that hang up mid-request by the hundred, on function URLs and
/// on signed Invokes, leave no slot taken: the concurrency gauge returns to
/// zero and the one-slot function serves the next caller.
#[test]
fn clients_hanging_up_mid_request_leave_no_slot_taken() {
    let s = Server::start(&["--max-concurrency", "4"]);
    let name = unique("hang-up");
    s.deploy(&name, guests::HTTP_SLEEP, serde_json::json!({}));
    let url = s.create_url(&name, "NONE", None);
    let path = url.trim_start_matches(&s.url).to_string();
    // Function URLs: the request is sent, the connection dropped at once.
    for _ in 0..300 {
        let mut tcp = connect(&s);
        let _ = tcp.write_all(format!("GET {path}?ms=200 HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    }
    // Signed Invokes of a spinning function, given up after 50 ms.
    let spinner = unique("hang-up-spin");
    s.deploy(
        &spinner,
        guests::CMD_LOOP,
        serde_json::json!({"Timeout": 1}),
    );
    let invoke = format!("{}/2015-03-31/functions/{spinner}/invocations", s.url);
    for _ in 0..100 {
        let headers = sign_headers(
            "POST",
            &invoke,
            &[],
            b"{}",
            &s.credentials(),
            "lambda",
            std::time::SystemTime::now(),
        );
        let answered = http().give_up_after(
            "POST",
            &invoke,
            &headers,
            b"{}".to_vec(),
            Duration::from_millis(50),
        );
        assert_ne!(answered, Some(200));
    }
    for function in [&name, &spinner] {
        let key = format!(r#"updraft_concurrent_executions{{function="{function}"}}"#);
        eventually(Duration::from_secs(60), "every slot given back", || {
            (metric(&s.metrics(), &key).unwrap_or(0.0) == 0.0).then_some(())
        });
    }
    let ok = http().get(&format!("{url}?ms=1"));
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.text(), "slept 1");
    s.assert_alive();
}

/// A signed API request whose body stops arriving is answered 408
/// `RequestTimeoutException` after a minute, not held forever.
#[test]
fn an_api_body_that_stops_arriving_times_out() {
    let s = Server::start(&[]);
    let url = format!("{}/2015-03-31/functions/f/invocations", s.url);
    let headers = sign_headers(
        "POST",
        &url,
        &[],
        b"{}",
        &s.credentials(),
        "lambda",
        std::time::SystemTime::now(),
    );
    let mut head = "POST /2015-03-31/functions/f/invocations HTTP/1.1\r\n".to_string();
    for (name, value) in &headers {
        head.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap()));
    }
    if !headers.contains_key("host") {
        head.push_str(&format!(
            "host: {}\r\n",
            s.url.trim_start_matches("http://")
        ));
    }
    head.push_str("content-length: 1000\r\n\r\n{");
    let mut tcp = connect(&s);
    tcp.set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    tcp.write_all(head.as_bytes()).unwrap();
    let started = Instant::now();
    let answer = read_to_close(&mut tcp);
    let waited = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("RequestTimeoutException"), "{answer}");
    assert!(
        (Duration::from_secs(55)..Duration::from_secs(100)).contains(&waited),
        "answered after {waited:?}"
    );
    s.assert_alive();
}

/// Raises this process's open-file limit to `n` (its children, the server
/// included, inherit it).
fn raise_open_files(n: u64) {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let current = getrlimit(Resource::Nofile);
    if current.current.is_some_and(|c| c >= n) {
        return;
    }
    // Within the hard limit when it allows, else raising it (root).
    let wanted = Rlimit {
        current: Some(n),
        maximum: current.maximum.map(|m| m.max(n)),
    };
    setrlimit(Resource::Nofile, wanted).unwrap_or_else(|e| {
        panic!(
            "raising the open-file limit to {n} (needs root or a hard limit of at least {n}): {e}"
        )
    });
}

/// 10,000 connections that never send a byte fill `--max-connections`:
/// each is closed at the header timeout (or refused with 503 while the
/// server is full), while a kept-alive client keeps getting answers.
#[test]
fn ten_thousand_idle_connections_are_cut_off_while_a_client_is_served() {
    raise_open_files(12_000);
    let s = Server::start(&["--header-timeout", "3s"]);
    let addr: std::net::SocketAddr = s.url.trim_start_matches("http://").parse().unwrap();
    // The normal client: one kept-alive connection, a request every 300 ms.
    let mut client = connect(&s);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let served = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut answers = Vec::new();
            let mut buf = vec![0u8; 256 * 1024];
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let t = Instant::now();
                client
                    .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                    .expect("the kept-alive client's connection is open");
                let n = client.read(&mut buf).expect("an answer");
                assert!(
                    buf[..n].starts_with(b"HTTP/1.1 200"),
                    "{:?}",
                    &buf[..n.min(80)]
                );
                // The rest of the answer (metrics are a few KB).
                std::thread::sleep(Duration::from_millis(50));
                let _ = client.set_nonblocking(true);
                while client.read(&mut buf).is_ok_and(|n| n > 0) {}
                let _ = client.set_nonblocking(false);
                answers.push(t.elapsed());
                std::thread::sleep(Duration::from_millis(250));
            }
            answers
        })
    };
    let openers: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                (0..2_500)
                    .filter_map(|_| {
                        let tcp =
                            TcpStream::connect_timeout(&addr, Duration::from_secs(10)).ok()?;
                        tcp.set_nonblocking(true).ok()?;
                        Some(tcp)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut idle: Vec<TcpStream> = openers
        .into_iter()
        .flat_map(|o| o.join().unwrap())
        .collect();
    let connected = idle.len();
    assert!(connected >= 9_500, "only {connected} of 10,000 connected");
    // Every one is closed by the server: at the header timeout, or at once
    // with a 503 while the server was full.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut buf = [0u8; 512];
    while !idle.is_empty() && Instant::now() < deadline {
        idle.retain_mut(|tcp| match tcp.read(&mut buf) {
            Ok(0) => false,
            Ok(_) => true,
            Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
        });
        std::thread::sleep(Duration::from_millis(200));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let answers = served.join().unwrap();
    assert!(
        idle.is_empty(),
        "{} idle connections still open 30 s after the flood",
        idle.len()
    );
    assert!(
        answers.len() >= 5,
        "the client was answered {} times",
        answers.len()
    );
    let slowest = answers.iter().max().unwrap();
    assert!(
        *slowest < Duration::from_secs(3),
        "the kept-alive client waited {slowest:?} for an answer"
    );
    s.assert_alive();
}
