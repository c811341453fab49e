use crate::*;
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_component() {
    let (rt, _dir) = runtime();
    eprintln!("allocator: {}", rt.allocator());
    let bytes = std::fs::read("/tmp/pyhttp/app.wasm").unwrap();
    let archive = archive_of(&[("app.wasm", &bytes)]);
    let t0 = std::time::Instant::now();
    let kind = rt.prepare("wasm", "py", &archive).unwrap();
    eprintln!("prepare {:?} kind {kind}", t0.elapsed());
    let t0 = std::time::Instant::now();
    let template = rt
        .load("wasm", "py", &kind, &|| Ok(archive.clone()))
        .unwrap();
    eprintln!("load {:?}", t0.elapsed());
    for _ in 0..2 {
        let t0 = std::time::Instant::now();
        let mut env = start(&template).await;
        eprintln!("start {:?}", t0.elapsed());
        for _ in 0..2 {
            let t0 = std::time::Instant::now();
            let r = call(&mut env, get("/"), SECS_3).await;
            eprintln!(
                "call {:?} {:?} {:?} peak {} log {}",
                t0.elapsed(),
                r.outcome.result,
                r.response.map(|r| r.1),
                r.outcome.max_memory_bytes,
                r.log
            );
        }
    }
}
