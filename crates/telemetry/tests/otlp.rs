//! The OTLP exporter against an in-process collector that records what it
//! is sent.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value::Value, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, status::StatusCode, Span, Status};
use prost::Message;
use updraft_telemetry::{InvocationSpan, OtlpExporter, SpanSink, TraceContext};

/// One request the collector received.
struct Received {
    method: String,
    path: String,
    content_type: String,
    body: Bytes,
}

/// An OTLP/HTTP collector on 127.0.0.1, on a thread of its own (so the
/// exporter's blocking drop cannot stall it), answering every request 200.
struct Collector {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Collector {
    fn start() -> Collector {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = received.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let (stream, _) = listener.accept().await.unwrap();
                    let store = store.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                            let store = store.clone();
                            async move {
                                let method = req.method().to_string();
                                let path = req.uri().path().to_string();
                                let content_type = req
                                    .headers()
                                    .get("content-type")
                                    .map(|v| v.to_str().unwrap().to_string())
                                    .unwrap_or_default();
                                let body = req.into_body().collect().await.unwrap().to_bytes();
                                store.lock().unwrap().push(Received {
                                    method,
                                    path,
                                    content_type,
                                    body,
                                });
                                let answer = ExportTraceServiceResponse::default();
                                Ok::<_, Infallible>(
                                    Response::builder()
                                        .header("content-type", "application/x-protobuf")
                                        .body(Full::new(Bytes::from(answer.encode_to_vec())))
                                        .unwrap(),
                                )
                            }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        Collector { addr, received }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far, decoded.
    fn requests(&self) -> Vec<ExportTraceServiceRequest> {
        let received = self.received.lock().unwrap();
        received
            .iter()
            .map(|r| {
                assert_eq!(r.method, "POST");
                assert_eq!(r.path, "/v1/traces");
                assert_eq!(r.content_type, "application/x-protobuf");
                ExportTraceServiceRequest::decode(r.body.clone()).unwrap()
            })
            .collect()
    }

    /// Every span received so far, in the order sent.
    fn spans(&self) -> Vec<Span> {
        self.requests()
            .into_iter()
            .flat_map(|r| r.resource_spans)
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans)
            .collect()
    }
}

fn at(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(1_770_000_000_000 + ms)
}

fn nanos(ms: u64) -> u64 {
    (1_770_000_000_000 + ms) * 1_000_000
}

fn span(function: &str, n: u8) -> InvocationSpan {
    InvocationSpan {
        context: TraceContext {
            trace_id: [n; 16],
            span_id: [n + 100; 8],
            sampled: true,
        },
        parent_span_id: None,
        function: function.into(),
        version: "$LATEST".into(),
        request_id: format!("request-{n}"),
        trigger: "invoke",
        start: at(u64::from(n) * 1000),
        end: at(u64::from(n) * 1000 + 250),
        cold_start: false,
        error_type: None,
    }
}

/// A span's attributes as `(key, value)`, in order.
fn attributes(attrs: &[KeyValue]) -> Vec<(String, Value)> {
    attrs
        .iter()
        .map(|kv| {
            let value = kv.value.clone().and_then(|v| v.value).unwrap();
            (kv.key.clone(), value)
        })
        .collect()
}

fn s(v: &str) -> Value {
    Value::StringValue(v.into())
}

/// Sampled, and whether the parent is remote is known (bit 8).
const FLAGS: u32 = 0x01 | 0x100;
/// ... and the parent is remote (bit 9).
const FLAGS_REMOTE_PARENT: u32 = FLAGS | 0x200;

#[test]
fn exports_one_server_span_per_invocation() {
    let collector = Collector::start();
    let exporter = OtlpExporter::new(&collector.endpoint(), "updraft-test").unwrap();
    assert_eq!(
        exporter.url(),
        format!("{}/v1/traces", collector.endpoint())
    );

    // A warm, successful invocation through the Invoke API, starting a trace.
    exporter.record(span("hello", 1));
    // A function URL request that carried the caller's traceparent.
    exporter.record(InvocationSpan {
        parent_span_id: Some([0xab; 8]),
        trigger: "url",
        version: "3".into(),
        ..span("web", 2)
    });
    // An asynchronous invocation that failed.
    exporter.record(InvocationSpan {
        trigger: "event",
        error_type: Some("Runtime.ExitError".into()),
        ..span("worker", 3)
    });
    // A cold start.
    exporter.record(InvocationSpan {
        cold_start: true,
        ..span("hello", 4)
    });
    // The caller's traceparent said not sampled: not exported.
    exporter.record(InvocationSpan {
        context: TraceContext {
            sampled: false,
            ..span("hello", 5).context
        },
        parent_span_id: Some([0xcd; 8]),
        ..span("hello", 5)
    });

    let dropping = Instant::now();
    drop(exporter);
    assert!(
        dropping.elapsed() < Duration::from_secs(2),
        "flushing on drop took {:?}",
        dropping.elapsed()
    );

    let requests = collector.requests();
    assert_eq!(requests.len(), 1, "one batch");
    let resource_spans = &requests[0].resource_spans;
    assert_eq!(resource_spans.len(), 1);
    let resource = resource_spans[0].resource.as_ref().unwrap();
    assert_eq!(
        attributes(&resource.attributes),
        vec![
            ("service.name".into(), s("updraft-test")),
            ("cloud.provider".into(), s("updraft")),
        ]
    );
    let scope_spans = &resource_spans[0].scope_spans;
    assert_eq!(scope_spans.len(), 1);
    let scope = scope_spans[0].scope.as_ref().unwrap();
    assert_eq!(scope.name, "updraft-telemetry");
    assert!(!scope.version.is_empty());

    let spans = &scope_spans[0].spans;
    assert_eq!(spans.len(), 4, "the unsampled span is not exported");
    for (span, n) in spans.iter().zip(1u8..) {
        assert_eq!(span.trace_id, vec![n; 16]);
        assert_eq!(span.span_id, vec![n + 100; 8]);
        assert_eq!(span.kind, SpanKind::Server as i32);
        assert_eq!(span.start_time_unix_nano, nanos(u64::from(n) * 1000));
        assert_eq!(span.end_time_unix_nano, nanos(u64::from(n) * 1000 + 250));
        assert!(span.events.is_empty() && span.links.is_empty());
        assert_eq!(span.trace_state, "");
    }

    let [hello, web, worker, cold] = &spans[..] else {
        unreachable!()
    };

    assert_eq!(hello.name, "hello");
    assert_eq!(hello.parent_span_id, Vec::<u8>::new());
    assert_eq!(hello.flags, FLAGS);
    assert_eq!(hello.status, None);
    assert_eq!(
        attributes(&hello.attributes),
        vec![
            ("faas.name".into(), s("hello")),
            ("faas.version".into(), s("$LATEST")),
            ("faas.invocation_id".into(), s("request-1")),
            ("faas.trigger".into(), s("other")),
            ("faas.coldstart".into(), Value::BoolValue(false)),
            ("updraft.invocation_type".into(), s("invoke")),
        ]
    );

    assert_eq!(web.name, "web");
    assert_eq!(web.parent_span_id, vec![0xab; 8]);
    assert_eq!(web.flags, FLAGS_REMOTE_PARENT);
    assert_eq!(web.status, None);
    assert_eq!(
        attributes(&web.attributes),
        vec![
            ("faas.name".into(), s("web")),
            ("faas.version".into(), s("3")),
            ("faas.invocation_id".into(), s("request-2")),
            ("faas.trigger".into(), s("http")),
            ("faas.coldstart".into(), Value::BoolValue(false)),
            ("updraft.invocation_type".into(), s("url")),
        ]
    );

    assert_eq!(worker.name, "worker");
    assert_eq!(worker.parent_span_id, Vec::<u8>::new());
    assert_eq!(worker.flags, FLAGS);
    assert_eq!(
        worker.status,
        Some(Status {
            code: StatusCode::Error as i32,
            message: "Runtime.ExitError".into(),
        })
    );
    assert_eq!(
        attributes(&worker.attributes),
        vec![
            ("faas.name".into(), s("worker")),
            ("faas.version".into(), s("$LATEST")),
            ("faas.invocation_id".into(), s("request-3")),
            ("faas.trigger".into(), s("pubsub")),
            ("faas.coldstart".into(), Value::BoolValue(false)),
            ("updraft.invocation_type".into(), s("event")),
            ("error.type".into(), s("Runtime.ExitError")),
        ]
    );

    assert_eq!(cold.name, "hello");
    assert_eq!(cold.flags, FLAGS);
    assert_eq!(cold.status, None);
    assert_eq!(
        attributes(&cold.attributes),
        vec![
            ("faas.name".into(), s("hello")),
            ("faas.version".into(), s("$LATEST")),
            ("faas.invocation_id".into(), s("request-4")),
            ("faas.trigger".into(), s("other")),
            ("faas.coldstart".into(), Value::BoolValue(true)),
            ("updraft.invocation_type".into(), s("invoke")),
        ]
    );
}

#[test]
fn batches_hold_at_most_512_spans_and_leave_within_a_second() {
    let collector = Collector::start();
    let exporter = OtlpExporter::new(&collector.endpoint(), "updraft-test").unwrap();
    let total = 1100;
    for i in 0..total {
        exporter.record(InvocationSpan {
            request_id: format!("request-{i}"),
            ..span("hello", 1)
        });
    }
    // Without dropping the exporter: full batches go at once, the rest
    // within the flush interval.
    let deadline = Instant::now() + Duration::from_secs(5);
    while collector.spans().len() < total && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let requests = collector.requests();
    let sizes: Vec<usize> = requests
        .iter()
        .map(|r| r.resource_spans[0].scope_spans[0].spans.len())
        .collect();
    assert_eq!(sizes.iter().sum::<usize>(), total, "{sizes:?}");
    assert!(sizes.iter().all(|&n| n <= 512), "{sizes:?}");
    let ids: Vec<String> = collector
        .spans()
        .into_iter()
        .map(|s| {
            let (_, id) = attributes(&s.attributes).remove(2);
            match id {
                Value::StringValue(id) => id,
                other => panic!("{other:?}"),
            }
        })
        .collect();
    let expected: Vec<String> = (0..total).map(|i| format!("request-{i}")).collect();
    assert_eq!(ids, expected, "every span once, in order");
    assert_eq!(exporter.dropped(), 0);
}

/// Spans built ahead, so that only `record` is timed.
fn many_spans(count: usize) -> Vec<InvocationSpan> {
    (0..count).map(|_| span("hello", 1)).collect()
}

#[test]
fn record_does_not_block_when_the_collector_is_unreachable() {
    // A port with nothing listening on it.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let exporter = OtlpExporter::new(&format!("http://{addr}"), "updraft-test").unwrap();
    let spans = many_spans(10_000);
    let recording = Instant::now();
    for span in spans {
        exporter.record(span);
    }
    assert!(
        recording.elapsed() < Duration::from_secs(1),
        "10,000 records took {:?}",
        recording.elapsed()
    );
    let dropping = Instant::now();
    drop(exporter);
    assert!(
        dropping.elapsed() < Duration::from_secs(4),
        "drop took {:?}",
        dropping.elapsed()
    );
}

#[test]
fn a_collector_that_never_answers_costs_spans_not_time() {
    // Connections are accepted by the kernel but no request is ever read.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let exporter = OtlpExporter::new(&format!("http://{addr}"), "updraft-test").unwrap();
    let total = 40_000;
    let spans = many_spans(total);
    let recording = Instant::now();
    for span in spans {
        exporter.record(span);
    }
    assert!(
        recording.elapsed() < Duration::from_secs(2),
        "{total} records took {:?}",
        recording.elapsed()
    );
    // The queue holds 16,384 and one batch of 512 is stuck in flight.
    let dropped = exporter.dropped();
    assert!(
        dropped >= (total - 16_384 - 512) as u64,
        "dropped {dropped} of {total}"
    );
    let dropping = Instant::now();
    drop(exporter);
    let took = dropping.elapsed();
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(4),
        "drop took {took:?}: it waits about two seconds for the collector, no longer"
    );
    drop(listener);
}

/// What the tests' exporters log (one subscriber for the whole process:
/// each test picks out its own lines by the collector's address).
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: std::sync::OnceLock<Arc<Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .with_writer(move || LogWriter(writer.clone()))
            .init();
        logs
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn export_failures_are_logged_at_most_once_per_30_seconds() {
    let logs = logs();
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let exporter = OtlpExporter::new(&format!("http://{addr}"), "updraft-test").unwrap();
    // Three failed exports: two on flush intervals, one on drop.
    for n in 1..=2 {
        exporter.record(span("hello", 1));
        let deadline = Instant::now() + Duration::from_secs(10);
        while exporter.dropped() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(exporter.dropped(), n);
    }
    exporter.record(span("hello", 1));
    drop(exporter);

    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let ours: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains(&format!("{addr}/v1/traces")))
        .collect();
    assert_eq!(ours.len(), 1, "{ours:#?}");
    assert!(ours[0].contains("WARN"), "{}", ours[0]);
    assert!(
        ours[0].contains("could not export invocation spans"),
        "{}",
        ours[0]
    );
    assert!(
        ours[0].contains("refused"),
        "the cause is named: {}",
        ours[0]
    );
}

#[test]
fn rejects_endpoints_it_cannot_use() {
    for bad in ["", "127.0.0.1:4318", "https://collector:4318", "http://"] {
        assert!(OtlpExporter::new(bad, "updraft").is_err(), "{bad:?}");
    }
}
