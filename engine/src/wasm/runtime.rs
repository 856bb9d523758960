//! The wasmtime engine of a run and the components it has loaded.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::component::{Component as WasmComponent, Linker, types::ComponentItem};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::bindings::ScenarioPre;
use super::cache;
use crate::Error;
use crate::host::VuState;

/// How often the epoch ticks: the granularity of iteration deadlines and of
/// a busy guest yielding its thread.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Sizing of the engine for one run.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Most VUs alive at once (sizes the instance pool).
    pub max_vus: u32,
    /// Linear memory limit per VU, bytes.
    pub memory_limit: u64,
    /// Use the pooling allocator (copy-on-write images, no mmap per instance).
    pub pooling: bool,
    /// Cache precompiled components on disk.
    pub cache: bool,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            max_vus: 100,
            memory_limit: 64 << 20,
            pooling: true,
            cache: true,
        }
    }
}

/// The run's wasmtime engine, linker and epoch ticker.
pub struct Runtime {
    engine: Engine,
    linker: Linker<VuState>,
    config: RuntimeConfig,
    ticker_stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.config)
            .finish()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// A 32-bit linear memory reserved whole (4 GiB of address space, plus its
/// guard) needs no bounds check in the guest's code: an access past its end
/// lands in unmapped pages and traps. Reserving only `memory_limit` makes
/// the compiler check every load and store; measured by cachegrind, the
/// JavaScript GET + check ran 219k guest instructions per iteration with
/// checks and 157k without.
const WHOLE_MEMORY: u64 = 4 << 30;
const MEMORY_GUARD: u64 = 64 << 10;
/// Address space the memories may take when each is reserved whole: half of
/// x86-64's 128 TiB user space, so about 4,000 VUs (each VU's instance slots
/// hold four memories). Above it, memories are reserved at `memory_limit`
/// and bounds-checked, so 10,000 VUs still fit.
const WHOLE_MEMORY_BUDGET: u64 = 64 << 40;

/// Whether every memory of a run of `cfg`'s size can be reserved whole.
fn whole_memories_fit(cfg: &RuntimeConfig) -> bool {
    let memories = u64::from(memory_slots(cfg));
    memories.saturating_mul(WHOLE_MEMORY + 2 * MEMORY_GUARD) <= WHOLE_MEMORY_BUDGET
}

fn wasm_config(cfg: &RuntimeConfig, whole_memories: bool) -> Config {
    let reservation = if whole_memories {
        WHOLE_MEMORY
    } else {
        // Reserve only what a VU may use, so 10,000 pooled memories fit in
        // the address space; bounds checks are the price.
        cfg.memory_limit.next_power_of_two().max(1 << 20)
    };
    let mut c = Config::new();
    c.wasm_component_model(true)
        .epoch_interruption(true)
        // Guests keep their data on their own shadow stack; the native stack
        // only holds frames, so keep fibers small: 10,000 VUs may sleep at once.
        .max_wasm_stack(256 << 10)
        .async_stack_size(512 << 10)
        .memory_init_cow(true)
        .memory_reservation(reservation)
        .memory_guard_size(MEMORY_GUARD)
        .memory_reservation_for_growth(0)
        // A memory never outgrows its reservation (the limit is at most
        // it), so it never moves: the guest's code loads its base once per
        // function instead of after every call. Bounds-checked code ran
        // 4.6% fewer guest instructions (cachegrind, JavaScript GET + check).
        .memory_may_move(false);
    // `perf record` can name JIT-compiled guest functions with a perf map.
    if std::env::var_os("VOLLEY_PERFMAP").is_some() {
        c.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    c
}

/// Instance slots of the pool: re-instantiation after a trap and
/// setup/teardown instances need slack beyond one per VU.
fn instance_slots(cfg: &RuntimeConfig) -> u32 {
    cfg.max_vus.max(1).saturating_mul(2).saturating_add(16)
}

fn memory_slots(cfg: &RuntimeConfig) -> u32 {
    instance_slots(cfg).saturating_mul(2)
}

fn pooling(cfg: &RuntimeConfig) -> PoolingAllocationConfig {
    let slots = instance_slots(cfg);
    let mut p = PoolingAllocationConfig::default();
    p.total_component_instances(slots)
        .total_core_instances(slots.saturating_mul(8))
        .total_memories(memory_slots(cfg))
        .total_tables(slots.saturating_mul(4))
        .total_stacks(slots)
        .max_memory_size(cfg.memory_limit as usize)
        .max_core_instances_per_component(64)
        .max_memories_per_component(8)
        .max_tables_per_component(16)
        .table_elements(20_000)
        .max_component_instance_size(1 << 20)
        .max_core_instance_size(1 << 20);
    // A hot swap frees a slot per VU and instantiates another component:
    // reusing those warm slots (reset to the new image) keeps resident
    // memory flat across swaps, where untouched cold slots would grow it.
    p.max_unused_warm_slots(0);
    p
}

/// The run's engine: pooled when asked, memories reserved whole when they
/// fit. A machine that refuses the pool's reservation (a `ulimit -v`, a
/// small address space) gets the tighter one, then on-demand allocation.
fn engine(cfg: &RuntimeConfig) -> Result<Engine, Error> {
    let mut whole = whole_memories_fit(cfg);
    if cfg.pooling {
        let pooled = |whole| {
            let mut wc = wasm_config(cfg, whole);
            wc.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling(cfg)));
            Engine::new(&wc)
        };
        if whole {
            match pooled(true) {
                Ok(e) => return Ok(e),
                Err(e) => crate::output::log(
                    "INFO",
                    format_args!(
                        "INFO  linear memories reserved at the memory limit, so the scenario's code checks bounds (slower): the address space to reserve them whole was refused ({e})"
                    ),
                ),
            }
        }
        match pooled(false) {
            Ok(e) => return Ok(e),
            Err(e) => crate::output::log(
                "WARN",
                format_args!(
                    "WARN  pooling allocator unavailable ({e}); using on-demand allocation"
                ),
            ),
        }
        whole = false;
    }
    Engine::new(&wasm_config(cfg, whole)).map_err(|e| Error::Other(format!("wasmtime engine: {e}")))
}

impl Runtime {
    pub fn new(cfg: RuntimeConfig) -> Result<Self, Error> {
        // Each live instance maps its memory, image, tables and fiber stack
        // (with guards): about a dozen regions.
        crate::sys::ensure_map_count(cfg.max_vus as u64 * 24 + 65_536);
        let engine = engine(&cfg)?;
        let mut linker = Linker::new(&engine);
        crate::host::add_to_linker(&mut linker)
            .map_err(|e| Error::Other(format!("linking host imports: {e}")))?;

        let ticker_stop = Arc::new(AtomicBool::new(false));
        let stop = ticker_stop.clone();
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("volley-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(e) => e.increment_epoch(),
                        None => break,
                    }
                }
            })
            .map_err(|e| Error::io("starting the epoch ticker", e))?;
        Ok(Runtime {
            engine,
            linker,
            config: cfg,
            ticker_stop,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// Loads a component file: precompiled from the cache when possible,
    /// checked against the `volley:scenario` world, pre-instantiated.
    pub fn load(&self, path: &Path) -> Result<Component, Error> {
        let bytes = std::fs::read(path)
            .map_err(|e| Error::io(format!("reading component {}", path.display()), e))?;
        self.load_bytes(path, &bytes)
    }

    pub fn load_bytes(&self, path: &Path, bytes: &[u8]) -> Result<Component, Error> {
        let fail = |message: String| Error::Component {
            path: path.to_path_buf(),
            message,
        };
        check_is_component(bytes).map_err(fail)?;
        let cached = if self.config.cache {
            cache::cache_dir().map(|d| cache::entry(&d, &self.engine, bytes))
        } else {
            None
        };
        let component = match cached.as_deref().filter(|p| p.exists()) {
            Some(p) => match deserialize(&self.engine, p) {
                Ok(c) => {
                    cache::touch(p);
                    c
                }
                Err(_) => self.compile(bytes, cached.as_deref()).map_err(fail)?,
            },
            None => self.compile(bytes, cached.as_deref()).map_err(fail)?,
        };
        make_memory_images(&component).map_err(fail)?;
        let info = ComponentInfo::of(&self.engine, &component, bytes.len());
        info.check_exports().map_err(fail)?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| fail(explain_link_error(&e.to_string())))?;
        let pre = ScenarioPre::new(pre).map_err(|e| {
            fail(format!(
                "exports do not match the volley:scenario world ({e}); rebuild it against this volley's wit/"
            ))
        })?;
        Ok(Component(Arc::new(Loaded {
            id: ComponentId::of(bytes),
            path: path.to_path_buf(),
            pre,
            info,
        })))
    }

    fn compile(&self, bytes: &[u8], cache_to: Option<&Path>) -> Result<WasmComponent, String> {
        let compiled = self
            .engine
            .precompile_component(bytes)
            .map_err(|e| format!("does not compile: {e:#}"))?;
        if let Some(p) = cache_to {
            // A cache that cannot be written only costs time next run.
            if cache::store(p, &compiled).is_ok() {
                if let Some(dir) = p.parent() {
                    cache::prune(dir, cache::budget(), p);
                }
                // Mapped from the file, the memory images are the file's
                // pages (shared with other runs) rather than a memfd.
                if let Ok(component) = deserialize(&self.engine, p) {
                    return Ok(component);
                }
            }
        }
        deserialize_bytes(&self.engine, &compiled).map_err(|e| format!("{e:#}"))
    }
}

/// Makes the component's initial memory images now, so that no VU's
/// instantiation is the first to. A component not mapped from a file gets its
/// images in a sealed memfd, and sealing can fail for a moment with EBUSY while
/// the kernel holds the new pages (compaction, migration): it is tried again
/// before the load fails.
fn make_memory_images(component: &WasmComponent) -> Result<(), String> {
    const RETRY_AFTER_MS: [u64; 3] = [20, 100, 500];
    let mut made = component.initialize_copy_on_write_image();
    for wait_ms in RETRY_AFTER_MS {
        if made.is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(wait_ms));
        made = component.initialize_copy_on_write_image();
    }
    made.map_err(|e| {
        format!(
            "its initial memory image could not be made ({e:#}); the system may be short of memory or file descriptors"
        )
    })
}

#[allow(
    unsafe_code,
    reason = "wasmtime requires it to trust precompiled code; we only load what this engine wrote into the user's own cache"
)]
fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<WasmComponent> {
    // SAFETY: the file was produced by `Engine::precompile_component` of a
    // compatible engine (the cache key includes its compatibility hash).
    unsafe { WasmComponent::deserialize_file(engine, path) }
}

#[allow(
    unsafe_code,
    reason = "the bytes were produced by precompile_component just above"
)]
fn deserialize_bytes(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<WasmComponent> {
    // SAFETY: `bytes` come straight from `Engine::precompile_component`.
    unsafe { WasmComponent::deserialize(engine, bytes) }
}

/// Rejects what is not a component with a message that says what it is.
fn check_is_component(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err("not a WebAssembly file (no `\\0asm` header)".into());
    }
    if wasmparser::Parser::is_core_wasm(bytes) {
        return Err(
            "is a core wasm module, not a component: build it with `volley build`, or wrap it with `wasm-tools component new`".into(),
        );
    }
    Ok(())
}

/// The version of `wit/scenario.wit` this engine implements.
pub const WIT_VERSION: &str = "0.2.0";

fn explain_link_error(msg: &str) -> String {
    // Our own interface with other types: built by an older or newer volley.
    if let Some(rest) = msg.split("`volley:scenario/").nth(1) {
        let name = rest.split('`').next().unwrap_or(rest);
        let built = match name.split_once('@') {
            Some((_, v)) if v != WIT_VERSION => format!("volley:scenario@{v}"),
            _ => "another version of the volley:scenario WIT".to_string(),
        };
        return format!(
            "imports `volley:scenario/{name}`, which this volley does not have: it was built against {built}, this volley implements volley:scenario@{WIT_VERSION}; rebuild it with this volley (`volley build --force <its folder>`): {msg}"
        );
    }
    if let Some(rest) = msg.split("import `").nth(1) {
        let name = rest.split('`').next().unwrap_or(rest);
        return format!(
            "imports `{name}`, which volley does not provide (volley offers volley:scenario/* and a closed-down wasi:*): {msg}"
        );
    }
    format!("cannot be linked: {msg}")
}

/// What a component is: its size, imports and exports.
#[derive(Debug, Clone)]
pub struct ComponentInfo {
    pub size: usize,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

impl ComponentInfo {
    fn of(engine: &Engine, c: &WasmComponent, size: usize) -> Self {
        let ty = c.component_type();
        ComponentInfo {
            size,
            imports: ty
                .imports(engine)
                .map(|(n, i)| describe(n, &i.ty))
                .collect(),
            exports: ty
                .exports(engine)
                .map(|(n, i)| describe(n, &i.ty))
                .collect(),
        }
    }

    fn check_exports(&self) -> Result<(), String> {
        for want in ["setup", "init-vu", "run", "teardown"] {
            if !self
                .exports
                .iter()
                .any(|e| e.split(' ').next() == Some(want))
            {
                return Err(format!(
                    "does not export `{want}`: is it built against the volley:scenario world? (exports: {})",
                    if self.exports.is_empty() {
                        "none".to_string()
                    } else {
                        self.exports.join(", ")
                    }
                ));
            }
        }
        Ok(())
    }
}

fn describe(name: &str, item: &ComponentItem) -> String {
    match item {
        ComponentItem::ComponentFunc(_) => format!("{name} (func)"),
        ComponentItem::ComponentInstance(_) => format!("{name} (instance)"),
        _ => name.to_string(),
    }
}

/// What a component is, whatever file it came from: the SHA-256 of its
/// bytes. Setup data and loaded components are keyed by it, so the same
/// bytes under two paths are one component, and a file rewritten in place
/// (a rebuild) is another one.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ComponentId([u8; 32]);

impl ComponentId {
    pub fn of(bytes: &[u8]) -> Self {
        use sha2::Digest;
        ComponentId(sha2::Sha256::digest(bytes).into())
    }

    /// The first 12 hex digits: the `version` tag of a run's samples.
    pub fn short(&self) -> String {
        self.0[..6].iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Display for ComponentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("sha256:")?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl std::fmt::Debug for ComponentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ComponentId({})", self.short())
    }
}

struct Loaded {
    id: ComponentId,
    /// Where it was loaded from, for messages only (not its identity).
    path: PathBuf,
    pre: ScenarioPre<VuState>,
    info: ComponentInfo,
}

/// A loaded, linked component, ready to instantiate VUs from. Cheap to clone.
#[derive(Clone)]
pub struct Component(Arc<Loaded>);

impl std::fmt::Debug for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Component")
            .field("id", &self.0.id)
            .field("path", &self.0.path)
            .finish()
    }
}

impl Component {
    pub fn id(&self) -> ComponentId {
        self.0.id
    }

    /// The file it was loaded from (for messages).
    pub fn path(&self) -> &Path {
        &self.0.path
    }

    pub fn info(&self) -> &ComponentInfo {
        &self.0.info
    }

    pub(super) fn pre(&self) -> &ScenarioPre<VuState> {
        &self.0.pre
    }
}

#[cfg(test)]
mod tests {
    use super::{RuntimeConfig, WIT_VERSION, engine, explain_link_error, whole_memories_fit};

    /// A core module whose `f` loads the byte at 3.75 GiB of its one-page
    /// memory: `(memory 1) (func (export "f") (result i32)
    /// (i32.load8_u (i32.const 0xF0000000)))`.
    const LOAD_PAST_THE_END: &[u8] = &[
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
        0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // type: () -> i32
        0x03, 0x02, 0x01, 0x00, // function 0 of type 0
        0x05, 0x03, 0x01, 0x00, 0x01, // memory, one page
        0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00, // export "f"
        0x0a, 0x0d, 0x01, 0x0b, 0x00, // code: one body, no locals
        0x41, 0x80, 0x80, 0x80, 0x80, 0x7f, // i32.const 0xF0000000
        0x2d, 0x00, 0x00, 0x0b, // i32.load8_u, end
    ];

    /// Reserved whole, the guest's code has no bounds check and the load
    /// lands in unmapped pages; reserved at the memory limit (too many VUs
    /// for whole reservations), the code checks. Both must trap.
    #[tokio::test]
    async fn a_load_past_the_memory_traps_whether_reserved_whole_or_not() {
        for (vus, whole) in [(1, true), (1_000, true), (10_000, false)] {
            let cfg = RuntimeConfig {
                max_vus: vus,
                ..RuntimeConfig::default()
            };
            assert_eq!(whole_memories_fit(&cfg), whole, "{vus} VUs");
            let engine = engine(&cfg).expect("engine");
            let module = wasmtime::Module::new(&engine, LOAD_PAST_THE_END).expect("module");
            let mut store = wasmtime::Store::new(&engine, ());
            store.set_epoch_deadline(1_000);
            let instance = wasmtime::Instance::new_async(&mut store, &module, &[])
                .await
                .expect("instance");
            let f = instance
                .get_typed_func::<(), i32>(&mut store, "f")
                .expect("f");
            let err = f.call_async(&mut store, ()).await.expect_err("a trap");
            assert_eq!(
                err.downcast_ref::<wasmtime::Trap>(),
                Some(&wasmtime::Trap::MemoryOutOfBounds),
                "{vus} VUs: {err:?}"
            );
        }
    }

    #[test]
    fn the_wit_version_is_the_wit_file_s() {
        let line = format!("package volley:scenario@{WIT_VERSION};");
        assert!(crate::build::WIT.contains(&line), "{line}");
    }

    #[test]
    fn a_component_of_another_wit_version_is_told_to_rebuild() {
        let e = explain_link_error(
            "component imports instance `volley:scenario/http@0.1.0`, but a matching implementation was not found in the linker",
        );
        assert!(
            e.contains("`volley:scenario/http@0.1.0`")
                && e.contains("built against volley:scenario@0.1.0")
                && e.contains("volley build --force"),
            "{e}"
        );
        let e = explain_link_error("component imports import `wasi:http/types@0.2.0`, not found");
        assert!(e.contains("which volley does not provide"), "{e}");
    }
}
