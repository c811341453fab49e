//! [`WasmRuntime`]: validates, compiles and caches WebAssembly code, and
//! turns it into templates.
//!
//! ```text
//!   prepare(zip) ─ one .wasm ─ compile ─ detect kind ─ link check ─ write cache
//!                                                                    │
//!   cache_dir/<code sha256>-<engine hash>.cwasm  <──────────────────┘
//!                                                                    │
//!   load(sha, kind) ─ deserialize (no compile) ─ link ─ InstancePre ─ Template
//!                      └─ missing/incompatible: recompile from the archive
//! ```
//! The engine hash covers the wasmtime version and every setting that
//! affects compiled code, so a new build of updraft never loads an artifact
//! it cannot run.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use updraft_pool::{CodeError, Runtime, Template};
use updraft_types::CodeArchive;
use wasmtime::component::{Component, Linker};
use wasmtime::{Module, Precompiled};
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use crate::command::{CommandCode, CommandTemplate};
use crate::engine::EngineHandle;
use crate::http::HttpTemplate;
use crate::quota;
use crate::sandbox::{ComponentState, Endpoint, P1State};
use crate::tmp::TmpDirs;

/// The `Runtime` value functions use to get this runtime.
pub const RUNTIME_NAME: &str = "wasm";

/// Code kind: a component exporting `wasi:http/incoming-handler`.
pub const KIND_HTTP: &str = "http";
/// Code kind: a WASI command (component with `wasi:cli/run`, or a preview1
/// core module with `_start`).
pub const KIND_COMMAND: &str = "command";

const HTTP_EXPORT: &str = "wasi:http/incoming-handler@0.2";
const RUN_EXPORT: &str = "wasi:cli/run@0.2";

/// Settings of the WebAssembly runtime.
#[derive(Debug, Clone)]
pub struct WasmConfig {
    /// Where compiled artifacts are kept between deploys and restarts.
    pub cache_dir: PathBuf,
    /// Instance slots of the pooling allocator: how many environments can
    /// be alive at once.
    pub max_instances: u32,
    /// Where environments' private `/tmp` directories are made (the
    /// server uses `<data-dir>/tmp`; by default a directory of this user
    /// in the system's temporary directory).
    pub tmp_dir: PathBuf,
    /// The platform's endpoint (`http://127.0.0.1:9000`: the server's
    /// real listen address). Guests get it as `AWS_ENDPOINT_URL`, and
    /// components' outgoing `wasi:http` requests may go there and nowhere
    /// else. `None` (the default): no outgoing request at all.
    pub endpoint_url: Option<String>,
}

impl WasmConfig {
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        WasmConfig {
            cache_dir: cache_dir.into(),
            max_instances: 1000,
            tmp_dir: std::env::temp_dir().join(format!(
                "updraft-tmp-{}",
                rustix::process::getuid().as_raw()
            )),
            endpoint_url: None,
        }
    }
}

/// Most `/tmp` directories made ahead at start (more are made as
/// environments start).
const PREPARED_TMP_DIRS: usize = 4096;

/// Runs WebAssembly functions in wasmtime.
pub struct WasmRuntime {
    engine: Arc<EngineHandle>,
    /// Environments' `/tmp` directories, reused.
    tmp: Arc<TmpDirs>,
    cache_dir: PathBuf,
    /// Hex digest of the engine's compatibility hash, part of cache names.
    engine_hash: String,
    components: Linker<ComponentState>,
    modules: wasmtime::Linker<P1State>,
    compilations: AtomicU64,
    endpoint: Option<Arc<Endpoint>>,
}

/// Compiled code of either shape.
enum Compiled {
    Component(Component),
    Module(Module),
}

impl WasmRuntime {
    pub fn new(config: WasmConfig) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.cache_dir).map_err(|e| {
            anyhow::anyhow!(
                "creating the wasm cache directory {}: {e}",
                config.cache_dir.display()
            )
        })?;
        let endpoint = match &config.endpoint_url {
            Some(url) => Some(Arc::new(Endpoint::parse(url)?)),
            None => None,
        };
        let engine = Arc::new(EngineHandle::new(config.max_instances)?);
        let slots = usize::try_from(config.max_instances).unwrap_or(usize::MAX);
        let tmp = TmpDirs::new(&config.tmp_dir, slots).map_err(|e| {
            anyhow::anyhow!(
                "creating the environments' /tmp directories in {}: {e}",
                config.tmp_dir.display()
            )
        })?;
        tmp.fill_in_background(slots.min(PREPARED_TMP_DIRS));

        let mut components = Linker::new(&engine.engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut components)
            .map_err(|e| anyhow::anyhow!("linking WASI: {e}"))?;
        quota::p2::add_to_linker(&mut components, ComponentState::tmp_fs)
            .map_err(|e| anyhow::anyhow!("linking the /tmp quota: {e}"))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut components)
            .map_err(|e| anyhow::anyhow!("linking wasi:http: {e}"))?;
        let mut modules = wasmtime::Linker::new(&engine.engine);
        wasmtime_wasi::p1::add_to_linker_async(&mut modules, |s: &mut P1State| &mut s.wasi)
            .map_err(|e| anyhow::anyhow!("linking WASI preview1: {e}"))?;
        quota::p1::add_to_linker(&mut modules)
            .map_err(|e| anyhow::anyhow!("linking the /tmp quota for preview1: {e}"))?;

        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine
            .engine
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        let engine_hash = format!("{:016x}", hasher.finish());

        Ok(WasmRuntime {
            engine,
            tmp,
            cache_dir: config.cache_dir,
            engine_hash,
            components,
            modules,
            compilations: AtomicU64::new(0),
            endpoint,
        })
    }

    /// `"pooling"` or `"on-demand"`: how instances get their memory.
    pub fn allocator(&self) -> &'static str {
        self.engine.allocator
    }

    /// How many times this runtime compiled WebAssembly (not counting
    /// artifacts loaded from the cache).
    pub fn compilations(&self) -> u64 {
        self.compilations.load(Ordering::Relaxed)
    }

    /// Where the compiled artifact of `code_sha256` is cached.
    pub fn artifact_path(&self, code_sha256: &str) -> PathBuf {
        let safe = !code_sha256.is_empty()
            && code_sha256.len() <= 128
            && code_sha256
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        let key = if safe {
            code_sha256.to_string()
        } else {
            hex::encode(Sha256::digest(code_sha256.as_bytes()))
        };
        self.cache_dir
            .join(format!("{key}-{}.cwasm", self.engine_hash))
    }

    /// The single `.wasm` file of a deployment package.
    fn wasm_file(archive: &CodeArchive) -> Result<&[u8], CodeError> {
        let wasm: Vec<_> = archive.files_with_suffix(".wasm").collect();
        match wasm.as_slice() {
            [one] => Ok(&one.data),
            other => Err(CodeError(format!(
                "deployment package must contain exactly one .wasm file, found {}",
                other.len()
            ))),
        }
    }

    fn compile(&self, bytes: &[u8]) -> Result<Compiled, CodeError> {
        self.compilations.fetch_add(1, Ordering::Relaxed);
        let engine = &self.engine.engine;
        let compiled = if wasmparser::Parser::is_component(bytes) {
            Component::new(engine, bytes).map(Compiled::Component)
        } else {
            Module::new(engine, bytes).map(Compiled::Module)
        };
        compiled.map_err(|e| CodeError(format!("invalid WebAssembly: {}", error_chain(&e))))
    }

    /// What the code is, from its exports.
    fn detect_kind(&self, compiled: &Compiled) -> Result<&'static str, CodeError> {
        let engine = &self.engine.engine;
        match compiled {
            Compiled::Component(component) => {
                let ty = component.component_type();
                let exports: Vec<&str> = ty.exports(engine).map(|(name, _)| name).collect();
                if exports.iter().any(|e| e.starts_with(HTTP_EXPORT)) {
                    Ok(KIND_HTTP)
                } else if exports.iter().any(|e| e.starts_with(RUN_EXPORT)) {
                    Ok(KIND_COMMAND)
                } else {
                    Err(CodeError(format!(
                        "the component exports neither wasi:http/incoming-handler@0.2.x \
                         (an HTTP handler) nor wasi:cli/run@0.2.x (a command); it exports: [{}]",
                        exports.join(", ")
                    )))
                }
            }
            Compiled::Module(module) => {
                let start = module.get_export("_start");
                if matches!(start, Some(wasmtime::ExternType::Func(_))) {
                    Ok(KIND_COMMAND)
                } else {
                    let exports: Vec<&str> = module.exports().map(|e| e.name()).collect();
                    Err(CodeError(format!(
                        "the core module is not a WASI command: it has no `_start` function \
                         (expected a wasm32-wasip1 command, or a component exporting \
                         wasi:http/incoming-handler or wasi:cli/run); it exports: [{}]",
                        exports.join(", ")
                    )))
                }
            }
        }
    }

    /// Links compiled code into a template of `kind`.
    fn template(&self, compiled: Compiled, kind: &str) -> Result<Arc<dyn Template>, CodeError> {
        let link_error = |e: wasmtime::Error| {
            CodeError(format!(
                "the code imports what updraft does not provide: {}",
                error_chain(&e)
            ))
        };
        let engine = self.engine.clone();
        let tmp = self.tmp.clone();
        let endpoint = self.endpoint.clone();
        match (compiled, kind) {
            (Compiled::Component(component), KIND_HTTP) => {
                let pre = self
                    .components
                    .instantiate_pre(&component)
                    .map_err(link_error)?;
                let pre = ProxyPre::new(pre).map_err(link_error)?;
                Ok(Arc::new(HttpTemplate {
                    engine,
                    tmp,
                    pre,
                    endpoint,
                }))
            }
            (Compiled::Component(component), KIND_COMMAND) => {
                let pre = self
                    .components
                    .instantiate_pre(&component)
                    .map_err(link_error)?;
                let pre = CommandPre::new(pre).map_err(link_error)?;
                Ok(Arc::new(CommandTemplate {
                    engine,
                    tmp,
                    code: Arc::new(CommandCode::Component(pre)),
                    endpoint,
                }))
            }
            (Compiled::Module(module), KIND_COMMAND) => {
                let pre = self.modules.instantiate_pre(&module).map_err(link_error)?;
                Ok(Arc::new(CommandTemplate {
                    engine,
                    tmp,
                    code: Arc::new(CommandCode::Preview1(pre)),
                    endpoint,
                }))
            }
            (_, kind) => Err(CodeError(format!(
                "the code does not match its recorded kind `{kind}`"
            ))),
        }
    }

    /// Writes the artifact next to its final name, then renames it, so a
    /// reader never sees a partial file.
    fn write_cache(&self, path: &Path, compiled: &Compiled) -> Result<(), CodeError> {
        let bytes = match compiled {
            Compiled::Component(c) => c.serialize(),
            Compiled::Module(m) => m.serialize(),
        }
        .map_err(|e| CodeError(format!("cannot serialize the compiled code: {e}")))?;
        let write = || -> std::io::Result<()> {
            let mut tmp = tempfile::NamedTempFile::new_in(&self.cache_dir)?;
            std::io::Write::write_all(&mut tmp, &bytes)?;
            tmp.as_file().sync_all()?;
            tmp.persist(path).map_err(|e| e.error)?;
            updraft_types::sync_dir(&self.cache_dir)
        };
        write().map_err(|e| {
            tracing::error!(path = %path.display(), error = %e, "cannot write the wasm cache");
            CodeError(format!("cannot store the compiled code: {e}"))
        })
    }

    /// Loads a cached artifact; `None` when missing or unusable.
    fn read_cache(&self, path: &Path) -> Option<Compiled> {
        if !path.is_file() {
            return None;
        }
        let loaded = match wasmtime::Engine::detect_precompiled_file(path) {
            Ok(Some(Precompiled::Component)) => {
                deserialize_component(&self.engine.engine, path).map(Compiled::Component)
            }
            Ok(Some(Precompiled::Module)) => {
                deserialize_module(&self.engine.engine, path).map(Compiled::Module)
            }
            Ok(None) => Err(wasmtime::format_err!("not a compiled artifact")),
            Err(e) => Err(e),
        };
        match loaded {
            Ok(compiled) => Some(compiled),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cached artifact unusable; recompiling");
                None
            }
        }
    }
}

/// Loads a component this runtime serialized itself.
#[allow(unsafe_code)]
fn deserialize_component(engine: &wasmtime::Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: the file is one this runtime wrote (with `Component::serialize`,
    // then an atomic rename) into its own cache directory; its name carries
    // the engine's compatibility hash, and wasmtime checks the header again.
    unsafe { Component::deserialize_file(engine, path) }
}

/// Loads a core module this runtime serialized itself.
#[allow(unsafe_code)]
fn deserialize_module(engine: &wasmtime::Engine, path: &Path) -> wasmtime::Result<Module> {
    // SAFETY: as for `deserialize_component`: our own artifact, in our own
    // cache directory, written atomically.
    unsafe { Module::deserialize_file(engine, path) }
}

/// `outer: inner: root` for a wasmtime error.
fn error_chain(err: &wasmtime::Error) -> String {
    let parts: Vec<String> = err.chain().map(|e| e.to_string()).collect();
    parts.join(": ")
}

impl Runtime for WasmRuntime {
    fn names(&self) -> &[&str] {
        &[RUNTIME_NAME]
    }

    fn prepare(
        &self,
        runtime: &str,
        code_sha256: &str,
        archive: &CodeArchive,
    ) -> Result<String, CodeError> {
        if runtime != RUNTIME_NAME {
            return Err(CodeError(format!(
                "runtime `{runtime}` is not served by the WebAssembly runtime"
            )));
        }
        let bytes = Self::wasm_file(archive)?;
        let path = self.artifact_path(code_sha256);
        // The cache is content-addressed: the same package deployed again
        // (a restart with --deploy, another function with the same code)
        // reuses its compiled artifact.
        let compiled = match self.read_cache(&path) {
            Some(compiled) => compiled,
            None => {
                let compiled = self.compile(bytes)?;
                self.write_cache(&path, &compiled)?;
                compiled
            }
        };
        let kind = self.detect_kind(&compiled)?;
        // Link now so missing imports are reported at deploy time.
        self.template(compiled, kind)?;
        tracing::info!(code_sha256, kind, path = %path.display(), "wasm code prepared");
        Ok(kind.to_string())
    }

    fn load(
        &self,
        runtime: &str,
        code_sha256: &str,
        code_kind: &str,
        archive: &dyn Fn() -> Result<CodeArchive, CodeError>,
    ) -> Result<Arc<dyn Template>, CodeError> {
        if runtime != RUNTIME_NAME {
            return Err(CodeError(format!(
                "runtime `{runtime}` is not served by the WebAssembly runtime"
            )));
        }
        let path = self.artifact_path(code_sha256);
        let compiled = match self.read_cache(&path) {
            Some(compiled) => compiled,
            None => {
                let archive = archive()?;
                let compiled = self.compile(Self::wasm_file(&archive)?)?;
                let kind = self.detect_kind(&compiled)?;
                if kind != code_kind {
                    return Err(CodeError(format!(
                        "the code is a `{kind}` but was recorded as `{code_kind}`"
                    )));
                }
                self.write_cache(&path, &compiled)?;
                compiled
            }
        };
        self.template(compiled, code_kind)
    }
}
