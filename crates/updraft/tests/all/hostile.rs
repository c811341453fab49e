//! Hostile clients: one that sends its request headers a byte at a time
//! (slowloris) is cut off at the header timeout, and connections beyond
//! `--max-connections` get 503 at once, while other clients are served.

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

    let big = http().request("POST", &url, &[], &vec![b'x'; 7 * 1024 * 1024]);
    assert_eq!(big.status, 413, "{}", big.text());

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
