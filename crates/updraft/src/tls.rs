//! The endpoint's listener, plain or TLS: one accept loop with the limits
//! every connection gets, and the TLS configuration read from PEM files.
//!
//! ```text
//!  accept ──> over --max-connections? ──> 503 (plain) / closed (TLS)
//!         ──> spawn ──> TLS handshake (≤ handshake timeout), when TLS
//!                   ──> a first byte within the header timeout (plain)
//!                   ──> hyper (h2 or HTTP/1.1; an HTTP/1.1 request head must
//!                       arrive within the header timeout of its first byte
//!                       and fit in MAX_HEAD_BYTES; the next request on a
//!                       kept-alive connection too, timed from the end of the
//!                       previous answer: the keep-alive idle timeout)
//!            either protocol: no request in flight and no bytes moving
//!            for the header timeout closes the connection gracefully
//!         ──> closed by the server: lingering close (crate::linger)
//!            each request gets ConnectInfo<SocketAddr> and
//!            SecureTransport(tls) in its extensions, then the router
//! ```
//!
//! Every connection runs in its own task from the moment it is accepted,
//! so a client that stalls (a handshake, a slowly sent header) never holds
//! up the accept loop or another connection, and is cut off at its
//! deadline. On shutdown the listener stops accepting, pending handshakes
//! are dropped, and open connections finish their requests (HTTP/1.1
//! keep-alive connections close after the current response, HTTP/2 ones
//! receive GOAWAY) before [`serve`] returns.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use crate::linger::{Activity, Lingering};

/// How long a client has to complete the TLS handshake after connecting.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The most bytes an HTTP/1.1 request line and headers may take (hyper
/// answers 431 beyond it).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// What every connection is held to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// For the TLS handshake, from the accept.
    pub handshake_timeout: Duration,
    /// For a new connection's first byte, and for an HTTP/1.1 request's
    /// line and headers to arrive once they start.
    pub header_timeout: Duration,
    /// Open connections at once; one more gets 503 and is closed.
    pub max_connections: usize,
}

/// Whether the connection a request came on is TLS; [`serve`] puts
/// `SecureTransport` in every request's extensions, for the
/// `aws:SecureTransport` condition key.
pub use updraft_gateway::SecureTransport;

/// The server configuration for `cert` (a PEM certificate chain, leaf
/// first) and `key` (a PEM private key: PKCS#8, PKCS#1 RSA or SEC1 EC),
/// offering HTTP/2 and HTTP/1.1 through ALPN.
pub fn load_tls_config(cert: &Path, key: &Path) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let chain = read_certificates(cert)?;
    let private_key = read_private_key(key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("setting up TLS")?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .with_context(|| {
            format!(
                "the private key in {} cannot be used with the certificate in {}",
                key.display(),
                cert.display()
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read_pem_file(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading the TLS {what} {}", path.display()))
}

fn read_certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let bytes = read_pem_file(path, "certificate")?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            anyhow!(
                "{} is not a valid PEM file: {}",
                path.display(),
                pem_error(&e)
            )
        })?;
    if chain.is_empty() {
        bail!(
            "{} holds no certificate (a PEM \"-----BEGIN CERTIFICATE-----\" block)",
            path.display()
        );
    }
    Ok(chain)
}

fn read_private_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    let bytes = read_pem_file(path, "private key")?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => anyhow!(
            "{} holds no unencrypted private key (a PEM \"PRIVATE KEY\", \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\" block)",
            path.display()
        ),
        e => anyhow!("{} is not a valid PEM file: {}", path.display(), pem_error(&e)),
    })
}

fn pem_error(e: &pem::Error) -> String {
    match e {
        pem::Error::MissingSectionEnd { end_marker } => format!(
            "a section has no end line ({})",
            String::from_utf8_lossy(end_marker)
        ),
        pem::Error::IllegalSectionStart { line } => format!(
            "a section starts with a malformed line ({})",
            String::from_utf8_lossy(line)
        ),
        pem::Error::Base64Decode(m) => format!("a section is not valid base64 ({m})"),
        pem::Error::SectionTooLarge => "a section is larger than 256 MB".to_string(),
        e => e.to_string(),
    }
}

/// Serves `app` on `listener`, over TLS when `tls` is given, until
/// `shutdown` completes and the open connections have finished (see the
/// module header). Requests carry `ConnectInfo<SocketAddr>` (the peer)
/// and [`SecureTransport`] (whether the connection is TLS).
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    app: axum::Router,
    shutdown: impl Future<Output = ()>,
    limits: Limits,
) {
    let acceptor = tls.map(TlsAcceptor::from);
    let secure = SecureTransport(acceptor.is_some());
    let connections = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    // One permit per connection being served (not lingering): all of them
    // back means every connection has finished.
    let served = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let (stopping_tx, stopping_rx) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            tracing::debug!(%peer, max = limits.max_connections, "too many connections: refused");
            if acceptor.is_none() {
                tokio::spawn(refuse(tcp));
            }
            continue;
        };
        let Ok(serving) = served.clone().try_acquire_owned() else {
            continue;
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        let mut stopping = stopping_rx.clone();
        tokio::spawn(async move {
            let _serving = serving;
            let activity = Activity::new();
            let service = {
                let activity = activity.clone();
                hyper::service::service_fn(move |mut req: http::Request<_>| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    req.extensions_mut().insert(secure);
                    let in_flight = activity.request();
                    let answer = app.clone().oneshot(req);
                    async move {
                        let answer = answer.await;
                        drop(in_flight);
                        answer
                    }
                })
            };
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .max_buf_size(MAX_HEAD_BYTES);
            let Some(acceptor) = acceptor else {
                // Telling HTTP/2 from HTTP/1.1 waits for the first bytes
                // with no deadline: a client that connects and sends
                // nothing is timed here.
                let mut first = [0u8; 1];
                let first_byte = tokio::time::timeout(limits.header_timeout, tcp.peek(&mut first));
                tokio::select! {
                    r = first_byte => if !matches!(r, Ok(Ok(n)) if n > 0) {
                        tracing::debug!(%peer, "nothing sent within the header timeout: closed");
                        return;
                    },
                    _ = stopping.wait_for(|s| *s) => return,
                }
                let tcp = Lingering::new(tcp, permit, activity.clone());
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service);
                run_connection(conn, &activity, limits.header_timeout, &mut stopping, peer).await;
                return;
            };
            let tcp = Lingering::new(tcp, permit, activity.clone());
            let handshake = tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp));
            let stream = tokio::select! {
                r = handshake => match r {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, timeout = ?limits.handshake_timeout, "TLS handshake timed out");
                        return;
                    }
                },
                _ = stopping.wait_for(|s| *s) => return,
            };
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            run_connection(conn, &activity, limits.header_timeout, &mut stopping, peer).await;
        });
    }
    drop(listener);
    let _ = stopping_tx.send(true);
    // Every connection has finished once all its permits are back.
    let _ = served.acquire_many(limits.max_connections as u32).await;
}

/// Drives one connection to its end. It is closed gracefully (requests in
/// flight are answered, HTTP/2 gets GOAWAY, HTTP/1.1 closes after the
/// current answer) when the server stops, or when it has been idle — no
/// request in flight and no bytes either way — for `idle`: HTTP/1.1's
/// header timeout already closes idle kept-alive connections, this closes
/// HTTP/2 ones too.
async fn run_connection<C, E>(
    conn: C,
    activity: &Activity,
    idle: Duration,
    stopping: &mut tokio::sync::watch::Receiver<bool>,
    peer: std::net::SocketAddr,
) where
    C: Future<Output = Result<(), E>> + GracefulConnection,
    E: std::fmt::Display,
{
    let mut conn = std::pin::pin!(conn);
    let mut check = tokio::time::interval((idle / 4).max(Duration::from_millis(100)));
    let mut closing = false;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = stopping.wait_for(|s| *s), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            _ = check.tick(), if !closing => {
                if activity.idle_for() >= idle {
                    tracing::debug!(%peer, ?idle, "idle connection: closed");
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}

/// Connections [`run_connection`] can close gracefully.
trait GracefulConnection {
    fn graceful_shutdown(self: std::pin::Pin<&mut Self>);
}

impl<I, S, E, B> GracefulConnection for auto::UpgradeableConnection<'_, I, S, E>
where
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::Future: 'static,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, B>,
{
    fn graceful_shutdown(self: std::pin::Pin<&mut Self>) {
        auto::UpgradeableConnection::graceful_shutdown(self);
    }
}

/// Answers a connection over the limit with 503 and closes it.
async fn refuse(mut tcp: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt as _;
    let body =
        r#"{"Message":"Too many connections: the server is at its --max-connections limit."}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let write = async {
        tcp.write_all(answer.as_bytes()).await?;
        tcp.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
}

/// After a failed accept: errors of one connection are skipped; others
/// (out of file descriptors) are logged and wait a moment, as axum does.
async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::warn!(error = %e, "accepting a connection failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::path::PathBuf;
    use std::process::Command;

    use axum::routing::get;
    use axum::Extension;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    /// Runs `openssl` with `args` in `dir`.
    fn openssl(dir: &Path, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl is needed to make test certificates (apt-get install openssl)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A self-signed certificate for 127.0.0.1 and localhost with its key
    /// in `key_args`' format: (cert.pem, key.pem).
    fn self_signed(dir: &Path, name: &str, key_args: &[&str]) -> (PathBuf, PathBuf) {
        let key = format!("{name}.key");
        let cert = format!("{name}.pem");
        let mut args = key_args.to_vec();
        args.extend(["-out", &key]);
        openssl(dir, &args);
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-key",
                &key,
                "-out",
                &cert,
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
            ],
        );
        (dir.join(cert), dir.join(key))
    }

    const EC_PKCS8: &[&str] = &[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
    ];

    #[test]
    fn keys_in_pkcs8_rsa_and_ec_formats_load() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed(dir.path(), "pkcs8", EC_PKCS8);
        assert!(std::fs::read_to_string(&key)
            .unwrap()
            .contains("BEGIN PRIVATE KEY"));
        load_tls_config(&cert, &key).unwrap();
        let (cert, key) = self_signed(dir.path(), "rsa", &["genrsa", "-traditional"]);
        assert!(std::fs::read_to_string(&key)
            .unwrap()
            .contains("BEGIN RSA PRIVATE KEY"));
        load_tls_config(&cert, &key).unwrap();
        let (cert, key) = self_signed(
            dir.path(),
            "ec",
            &["ecparam", "-genkey", "-name", "prime256v1", "-noout"],
        );
        assert!(std::fs::read_to_string(&key)
            .unwrap()
            .contains("BEGIN EC PRIVATE KEY"));
        let config = load_tls_config(&cert, &key).unwrap();
        assert_eq!(
            config.alpn_protocols,
            [b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }

    #[test]
    fn bad_files_are_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed(dir.path(), "a", EC_PKCS8);
        let (_, other_key) = self_signed(dir.path(), "b", EC_PKCS8);
        let missing = dir.path().join("missing.pem");
        let err = |c: &Path, k: &Path| format!("{:#}", load_tls_config(c, k).unwrap_err());

        let e = err(&missing, &key);
        assert!(
            e.contains("reading the TLS certificate") && e.contains("missing.pem"),
            "{e}"
        );
        let e = err(&cert, &missing);
        assert!(
            e.contains("reading the TLS private key") && e.contains("missing.pem"),
            "{e}"
        );
        // Certificate and key given the wrong way round.
        let e = err(&key, &cert);
        assert!(
            e.contains(&format!("{} holds no certificate", key.display())),
            "{e}"
        );
        let e = err(&cert, &cert);
        assert!(
            e.contains(&format!(
                "{} holds no unencrypted private key",
                cert.display()
            )),
            "{e}"
        );
        let e = err(&cert, &other_key);
        assert!(e.contains("cannot be used with the certificate"), "{e}");
        let broken = dir.path().join("broken.pem");
        std::fs::write(&broken, "-----BEGIN CERTIFICATE-----\nnot base64!\n").unwrap();
        let e = err(&broken, &key);
        assert!(e.contains("broken.pem is not a valid PEM file"), "{e}");
    }

    /// A TLS client trusting only `cert`, offering `alpn`.
    fn connector(cert: &Path, alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(cert).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        tokio_rustls::TlsConnector::from(Arc::new(config))
    }

    struct Running {
        addr: SocketAddr,
        cert: PathBuf,
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        done: tokio::task::JoinHandle<()>,
        _dir: tempfile::TempDir,
    }

    /// `serve_tls_with` on a router answering `/probe` with the peer and
    /// the transport marker it saw.
    async fn start(handshake_timeout: Duration) -> Running {
        start_with(Limits {
            handshake_timeout,
            header_timeout: Duration::from_secs(10),
            max_connections: 1000,
        })
        .await
    }

    /// As [`start`], with `limits`.
    async fn start_with(limits: Limits) -> Running {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed(dir.path(), "server", EC_PKCS8);
        let config = load_tls_config(&cert, &key).unwrap();
        let app = axum::Router::new().route(
            "/probe",
            get(
                |ConnectInfo(peer): ConnectInfo<SocketAddr>,
                 secure: Option<Extension<SecureTransport>>| async move {
                    format!("peer={peer} secure={:?}", secure.map(|s| s.0 .0))
                },
            ),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let done = tokio::spawn(serve(
            listener,
            Some(config),
            app,
            async move {
                let _ = stopped.await;
            },
            limits,
        ));
        Running {
            addr,
            cert,
            stop: Some(stop),
            done,
            _dir: dir,
        }
    }

    /// `GET /probe` over TLS with HTTP/1.1; (client address, response).
    async fn probe(r: &Running) -> (SocketAddr, String) {
        let tcp = TcpStream::connect(r.addr).await.unwrap();
        let local = tcp.local_addr().unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = connector(&r.cert, &[b"http/1.1"])
            .connect(name, tcp)
            .await
            .unwrap();
        tls.write_all(b"GET /probe HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = Vec::new();
        tls.read_to_end(&mut out).await.unwrap();
        (local, String::from_utf8_lossy(&out).into_owned())
    }

    /// An HTTP/2 connection with nothing in flight and nothing sent for
    /// the header timeout gets GOAWAY and is closed; one answering a
    /// request is not.
    #[tokio::test]
    async fn an_idle_http2_connection_is_closed() {
        let r = start_with(Limits {
            handshake_timeout: HANDSHAKE_TIMEOUT,
            header_timeout: Duration::from_secs(1),
            max_connections: 1000,
        })
        .await;
        let tcp = TcpStream::connect(r.addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = connector(&r.cert, &[b"h2"])
            .connect(name, tcp)
            .await
            .unwrap();
        let (mut send, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                .await
                .unwrap();
        let conn = tokio::spawn(conn);
        let get = || {
            http::Request::get("https://localhost/probe")
                .body(String::new())
                .unwrap()
        };
        // Busy for longer than the idle timeout: kept open.
        for _ in 0..6 {
            let resp = send.send_request(get()).await.unwrap();
            assert_eq!(resp.status(), 200);
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let idle_from = std::time::Instant::now();
        let ended = tokio::time::timeout(Duration::from_secs(5), conn).await;
        assert!(ended.is_ok(), "the idle HTTP/2 connection stayed open");
        assert!(
            idle_from.elapsed() >= Duration::from_millis(700),
            "closed after {:?}",
            idle_from.elapsed()
        );
    }

    #[tokio::test]
    async fn requests_see_the_peer_and_the_secure_transport() {
        let r = start(HANDSHAKE_TIMEOUT).await;
        let (local, answer) = probe(&r).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(
            answer.ends_with(&format!("peer={local} secure=Some(true)")),
            "{answer}"
        );
    }

    #[tokio::test]
    async fn alpn_offers_h2_then_http1() {
        let r = start(HANDSHAKE_TIMEOUT).await;
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        for (offer, chosen) in [
            (&[b"h2" as &[u8], b"http/1.1"][..], b"h2" as &[u8]),
            (&[b"http/1.1" as &[u8]][..], b"http/1.1"),
        ] {
            let tcp = TcpStream::connect(r.addr).await.unwrap();
            let tls = connector(&r.cert, offer)
                .connect(name.clone(), tcp)
                .await
                .unwrap();
            assert_eq!(tls.get_ref().1.alpn_protocol(), Some(chosen));
        }
    }

    /// Reads until the server closes the connection (or 5 s pass).
    async fn read_until_closed(tcp: &mut TcpStream) -> Vec<u8> {
        let mut out = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), async {
            let mut buf = [0u8; 4096];
            loop {
                match tcp.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => out.extend_from_slice(&buf[..n]),
                }
            }
        })
        .await;
        assert!(read.is_ok(), "the server kept the connection open");
        out
    }

    #[tokio::test]
    async fn a_stalled_handshake_blocks_nobody_and_times_out() {
        let r = start(Duration::from_secs(1)).await;
        let mut stalled = TcpStream::connect(r.addr).await.unwrap();
        // Half a ClientHello: the record header promises more than comes.
        stalled
            .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
            .await
            .unwrap();
        let (_, answer) = probe(&r).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let started = std::time::Instant::now();
        read_until_closed(&mut stalled).await;
        assert!(started.elapsed() < Duration::from_secs(4));
    }

    #[tokio::test]
    async fn plain_http_gets_no_http_answer() {
        let r = start(HANDSHAKE_TIMEOUT).await;
        let mut tcp = TcpStream::connect(r.addr).await.unwrap();
        tcp.write_all(b"GET /probe HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let answer = read_until_closed(&mut tcp).await;
        assert!(!answer.starts_with(b"HTTP/"), "{answer:?}");
        // And the listener still serves TLS.
        let (_, answer) = probe(&r).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }

    #[tokio::test]
    async fn shutdown_stops_accepting_and_drops_pending_handshakes() {
        let mut r = start(HANDSHAKE_TIMEOUT).await;
        let mut stalled = TcpStream::connect(r.addr).await.unwrap();
        // Let the server accept it before asking it to stop.
        tokio::time::sleep(Duration::from_millis(100)).await;
        r.stop.take().unwrap().send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), &mut r.done)
            .await
            .expect("serve_tls returns once stopped")
            .unwrap();
        read_until_closed(&mut stalled).await;
        assert!(TcpStream::connect(r.addr).await.is_err());
    }
}
