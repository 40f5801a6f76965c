//! The part of libpipewire-0.3 Backdrop uses, loaded at run time with `libloading`.
//!
//! Why not the `pipewire` crate: it links libpipewire, so a binary built with it does not even
//! start where PipeWire is missing (and it needs bindgen, libclang and the PipeWire headers to
//! build: measured 45 s and 72 crates for an empty program on the 2-core test machine). Loading
//! the library when the PipeWire output is asked for keeps PipeWire optional at build and run
//! time, and `libloading` is already in the build (ONNX Runtime is loaded the same way); the price
//! is this hand-declared surface. Everything here is PipeWire's stable C ABI (checked against the
//! headers of 0.3.65 and 1.6, run against 0.3.65): exported functions, public structs that only
//! grow at their end (only leading fields are read), and event/method tables with a version
//! field (the library calls only the events of the version declared).

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;

/// The library's file name (the runtime package: libpipewire-0.3-0 on Debian and Ubuntu,
/// pipewire-libs on Fedora).
pub const LIBRARY: &str = "libpipewire-0.3.so.0";

/// `struct spa_list`.
#[repr(C)]
pub struct SpaList {
    next: *mut SpaList,
    prev: *mut SpaList,
}

/// `struct spa_callbacks`.
#[repr(C)]
pub struct SpaCallbacks {
    pub funcs: *const c_void,
    pub data: *mut c_void,
}

/// `struct spa_hook`: a listener; PipeWire links it into its list, so it must not move until the
/// object it listens to is destroyed.
#[repr(C)]
pub struct SpaHook {
    link: SpaList,
    cb: SpaCallbacks,
    removed: *const c_void,
    private: *mut c_void,
}

impl SpaHook {
    /// A zeroed hook, boxed so its address stays put.
    pub fn boxed() -> Box<SpaHook> {
        Box::new(SpaHook {
            link: SpaList {
                next: std::ptr::null_mut(),
                prev: std::ptr::null_mut(),
            },
            cb: SpaCallbacks {
                funcs: std::ptr::null(),
                data: std::ptr::null_mut(),
            },
            removed: std::ptr::null(),
            private: std::ptr::null_mut(),
        })
    }
}

/// `struct spa_interface`: what a proxy (core, registry) starts with.
#[repr(C)]
pub struct SpaInterface {
    pub type_: *const c_char,
    pub version: u32,
    pub cb: SpaCallbacks,
}

/// `struct spa_dict_item`.
#[repr(C)]
pub struct SpaDictItem {
    pub key: *const c_char,
    pub value: *const c_char,
}

/// `struct spa_dict`.
#[repr(C)]
pub struct SpaDict {
    pub flags: u32,
    pub n_items: u32,
    pub items: *const SpaDictItem,
}

impl SpaDict {
    /// The value of `key`, if present and UTF-8.
    ///
    /// # Safety
    /// `dict` must be null or point to a valid dictionary for the duration of the call.
    pub unsafe fn lookup<'a>(dict: *const SpaDict, key: &str) -> Option<&'a str> {
        let d = dict.as_ref()?;
        if d.items.is_null() {
            return None;
        }
        let items = std::slice::from_raw_parts(d.items, d.n_items as usize);
        items.iter().find_map(|i| {
            if i.key.is_null() || i.value.is_null() {
                return None;
            }
            (CStr::from_ptr(i.key).to_bytes() == key.as_bytes())
                .then(|| CStr::from_ptr(i.value).to_str().ok())
                .flatten()
        })
    }
}

/// `struct spa_chunk`.
#[repr(C)]
pub struct SpaChunk {
    pub offset: u32,
    pub size: u32,
    pub stride: i32,
    pub flags: i32,
}

/// `struct spa_data`.
#[repr(C)]
pub struct SpaData {
    pub type_: u32,
    pub flags: u32,
    pub fd: i64,
    pub mapoffset: u32,
    pub maxsize: u32,
    pub data: *mut c_void,
    pub chunk: *mut SpaChunk,
}

/// `struct spa_meta`.
#[repr(C)]
pub struct SpaMeta {
    pub type_: u32,
    pub size: u32,
    pub data: *mut c_void,
}

/// `struct spa_meta_header`.
#[repr(C)]
pub struct SpaMetaHeader {
    pub flags: u32,
    pub offset: u32,
    pub pts: i64,
    pub dts_offset: i64,
    pub seq: u64,
}

/// `struct spa_buffer`.
#[repr(C)]
pub struct SpaBuffer {
    pub n_metas: u32,
    pub n_datas: u32,
    pub metas: *mut SpaMeta,
    pub datas: *mut SpaData,
}

/// `struct pw_buffer` (leading fields; it grows at its end).
#[repr(C)]
pub struct PwBuffer {
    pub buffer: *mut SpaBuffer,
    pub user_data: *mut c_void,
    pub size: u64,
}

/// `struct pw_stream_events`, version 2 (0.3.40+).
#[repr(C)]
pub struct StreamEvents {
    pub version: u32,
    pub destroy: Option<unsafe extern "C" fn(*mut c_void)>,
    pub state_changed: Option<unsafe extern "C" fn(*mut c_void, c_int, c_int, *const c_char)>,
    pub control_info: Option<unsafe extern "C" fn(*mut c_void, u32, *const c_void)>,
    pub io_changed: Option<unsafe extern "C" fn(*mut c_void, u32, *mut c_void, u32)>,
    pub param_changed: Option<unsafe extern "C" fn(*mut c_void, u32, *const u8)>,
    pub add_buffer: Option<unsafe extern "C" fn(*mut c_void, *mut PwBuffer)>,
    pub remove_buffer: Option<unsafe extern "C" fn(*mut c_void, *mut PwBuffer)>,
    pub process: Option<unsafe extern "C" fn(*mut c_void)>,
    pub drained: Option<unsafe extern "C" fn(*mut c_void)>,
    pub command: Option<unsafe extern "C" fn(*mut c_void, *const c_void)>,
    pub trigger_done: Option<unsafe extern "C" fn(*mut c_void)>,
}

/// `struct pw_core_events`, version 0 (every later version only appends).
#[repr(C)]
pub struct CoreEvents {
    pub version: u32,
    pub info: Option<unsafe extern "C" fn(*mut c_void, *const CoreInfo)>,
    pub done: Option<unsafe extern "C" fn(*mut c_void, u32, c_int)>,
    pub ping: Option<unsafe extern "C" fn(*mut c_void, u32, c_int)>,
    pub error: Option<unsafe extern "C" fn(*mut c_void, u32, c_int, c_int, *const c_char)>,
    pub remove_id: Option<unsafe extern "C" fn(*mut c_void, u32)>,
    pub bound_id: Option<unsafe extern "C" fn(*mut c_void, u32, u32)>,
    pub add_mem: Option<unsafe extern "C" fn(*mut c_void, u32, u32, c_int, u32)>,
    pub remove_mem: Option<unsafe extern "C" fn(*mut c_void, u32)>,
}

/// `struct pw_core_info` (leading fields).
#[repr(C)]
pub struct CoreInfo {
    pub id: u32,
    pub cookie: u32,
    pub user_name: *const c_char,
    pub host_name: *const c_char,
    pub version: *const c_char,
    pub name: *const c_char,
}

/// `struct pw_core_methods`, version 0.
#[repr(C)]
pub struct CoreMethods {
    pub version: u32,
    pub add_listener: Option<
        unsafe extern "C" fn(*mut c_void, *mut SpaHook, *const CoreEvents, *mut c_void) -> c_int,
    >,
    pub hello: Option<unsafe extern "C" fn(*mut c_void, u32) -> c_int>,
    pub sync: Option<unsafe extern "C" fn(*mut c_void, u32, c_int) -> c_int>,
    pub pong: Option<unsafe extern "C" fn(*mut c_void, u32, c_int) -> c_int>,
    pub error: Option<unsafe extern "C" fn(*mut c_void, u32, c_int, c_int, *const c_char) -> c_int>,
    pub get_registry: Option<unsafe extern "C" fn(*mut c_void, u32, usize) -> *mut c_void>,
}

/// `struct pw_registry_events`, version 0.
#[repr(C)]
pub struct RegistryEvents {
    pub version: u32,
    pub global:
        Option<unsafe extern "C" fn(*mut c_void, u32, u32, *const c_char, u32, *const SpaDict)>,
    pub global_remove: Option<unsafe extern "C" fn(*mut c_void, u32)>,
}

/// `struct pw_registry_methods`, version 0 (leading field used).
#[repr(C)]
pub struct RegistryMethods {
    pub version: u32,
    pub add_listener: Option<
        unsafe extern "C" fn(
            *mut c_void,
            *mut SpaHook,
            *const RegistryEvents,
            *mut c_void,
        ) -> c_int,
    >,
}

/// `PW_DIRECTION_OUTPUT`.
pub const DIRECTION_OUTPUT: u32 = 1;
/// `PW_ID_ANY`.
pub const ID_ANY: u32 = 0xffff_ffff;
/// `PW_ID_CORE`.
pub const ID_CORE: u32 = 0;
/// `PW_STREAM_FLAG_MAP_BUFFERS`.
pub const STREAM_FLAG_MAP_BUFFERS: u32 = 1 << 2;
/// `PW_STREAM_FLAG_DRIVER`.
pub const STREAM_FLAG_DRIVER: u32 = 1 << 3;
/// `enum pw_stream_state`.
pub const STATE_ERROR: i32 = -1;
/// Unconnected (also after the daemon went away).
pub const STATE_UNCONNECTED: i32 = 0;
/// Connecting.
pub const STATE_CONNECTING: i32 = 1;
/// Paused: published, no consumer runs it.
pub const STATE_PAUSED: i32 = 2;
/// Streaming: a consumer is linked and the graph runs.
pub const STATE_STREAMING: i32 = 3;
/// `SPA_META_Header`.
pub const META_HEADER: u32 = 1;

type Ptr = *mut c_void;

/// The functions used, resolved from the library.
pub struct Lib {
    _lib: libloading::Library,
    pub get_library_version: unsafe extern "C" fn() -> *const c_char,
    pub thread_loop_new: unsafe extern "C" fn(*const c_char, *const SpaDict) -> Ptr,
    pub thread_loop_destroy: unsafe extern "C" fn(Ptr),
    pub thread_loop_start: unsafe extern "C" fn(Ptr) -> c_int,
    pub thread_loop_stop: unsafe extern "C" fn(Ptr),
    pub thread_loop_lock: unsafe extern "C" fn(Ptr),
    pub thread_loop_unlock: unsafe extern "C" fn(Ptr),
    pub thread_loop_signal: unsafe extern "C" fn(Ptr, bool),
    pub thread_loop_timed_wait: unsafe extern "C" fn(Ptr, c_int) -> c_int,
    pub thread_loop_get_loop: unsafe extern "C" fn(Ptr) -> Ptr,
    pub context_new: unsafe extern "C" fn(Ptr, Ptr, usize) -> Ptr,
    pub context_destroy: unsafe extern "C" fn(Ptr),
    pub context_connect: unsafe extern "C" fn(Ptr, Ptr, usize) -> Ptr,
    pub core_disconnect: unsafe extern "C" fn(Ptr) -> c_int,
    pub proxy_destroy: unsafe extern "C" fn(Ptr),
    pub properties_new: unsafe extern "C" fn(*const c_char, ...) -> Ptr,
    pub properties_set: unsafe extern "C" fn(Ptr, *const c_char, *const c_char) -> c_int,
    pub stream_new: unsafe extern "C" fn(Ptr, *const c_char, Ptr) -> Ptr,
    pub stream_destroy: unsafe extern "C" fn(Ptr),
    pub stream_add_listener: unsafe extern "C" fn(Ptr, *mut SpaHook, *const StreamEvents, Ptr),
    pub stream_connect: unsafe extern "C" fn(Ptr, u32, u32, u32, *mut *const u8, u32) -> c_int,
    pub stream_get_node_id: unsafe extern "C" fn(Ptr) -> u32,
    pub stream_update_params: unsafe extern "C" fn(Ptr, *mut *const u8, u32) -> c_int,
    pub stream_dequeue_buffer: unsafe extern "C" fn(Ptr) -> *mut PwBuffer,
    pub stream_queue_buffer: unsafe extern "C" fn(Ptr, *mut PwBuffer) -> c_int,
    pub stream_trigger_process: unsafe extern "C" fn(Ptr) -> c_int,
    pub stream_is_driving: unsafe extern "C" fn(Ptr) -> bool,
}

// SAFETY: only function pointers into a library that is never unloaded.
unsafe impl Send for Lib {}
unsafe impl Sync for Lib {}

static LIB: OnceLock<Result<Lib, LoadError>> = OnceLock::new();

/// Why libpipewire could not be loaded (kept for the whole process, so the reasons are the
/// loader's messages).
#[derive(Debug, Clone, thiserror::Error)]
pub enum LoadError {
    /// The library file could not be loaded.
    #[error("{reason}")]
    Open {
        /// What the loader said.
        reason: String,
    },
    /// The library lacks a function (too old a PipeWire).
    #[error("{symbol}: {reason}")]
    Symbol {
        /// The missing function.
        symbol: &'static str,
        /// What the loader said.
        reason: String,
    },
}

/// The library, loaded and initialised (`pw_init`) on first use; the error says why it could
/// not be loaded.
pub fn lib() -> Result<&'static Lib, LoadError> {
    LIB.get_or_init(load).as_ref().map_err(Clone::clone)
}

fn load() -> Result<Lib, LoadError> {
    // SAFETY: loading libpipewire runs its constructors, which only set up logging defaults.
    let lib = unsafe { libloading::Library::new(LIBRARY) }.map_err(|e| LoadError::Open {
        reason: e.to_string(),
    })?;
    macro_rules! sym {
        ($name:literal) => {
            // SAFETY: the declared type is the C prototype of this PipeWire function.
            *unsafe { lib.get(concat!($name, "\0").as_bytes()) }.map_err(|e| LoadError::Symbol {
                symbol: $name,
                reason: e.to_string(),
            })?
        };
    }
    let init: unsafe extern "C" fn(*mut c_int, *mut *mut *mut c_char) = sym!("pw_init");
    let l = Lib {
        get_library_version: sym!("pw_get_library_version"),
        thread_loop_new: sym!("pw_thread_loop_new"),
        thread_loop_destroy: sym!("pw_thread_loop_destroy"),
        thread_loop_start: sym!("pw_thread_loop_start"),
        thread_loop_stop: sym!("pw_thread_loop_stop"),
        thread_loop_lock: sym!("pw_thread_loop_lock"),
        thread_loop_unlock: sym!("pw_thread_loop_unlock"),
        thread_loop_signal: sym!("pw_thread_loop_signal"),
        thread_loop_timed_wait: sym!("pw_thread_loop_timed_wait"),
        thread_loop_get_loop: sym!("pw_thread_loop_get_loop"),
        context_new: sym!("pw_context_new"),
        context_destroy: sym!("pw_context_destroy"),
        context_connect: sym!("pw_context_connect"),
        core_disconnect: sym!("pw_core_disconnect"),
        proxy_destroy: sym!("pw_proxy_destroy"),
        properties_new: sym!("pw_properties_new"),
        properties_set: sym!("pw_properties_set"),
        stream_new: sym!("pw_stream_new"),
        stream_destroy: sym!("pw_stream_destroy"),
        stream_add_listener: sym!("pw_stream_add_listener"),
        stream_connect: sym!("pw_stream_connect"),
        stream_get_node_id: sym!("pw_stream_get_node_id"),
        stream_update_params: sym!("pw_stream_update_params"),
        stream_dequeue_buffer: sym!("pw_stream_dequeue_buffer"),
        stream_queue_buffer: sym!("pw_stream_queue_buffer"),
        stream_trigger_process: sym!("pw_stream_trigger_process"),
        stream_is_driving: sym!("pw_stream_is_driving"),
        _lib: lib,
    };
    // SAFETY: pw_init accepts null argc/argv; it is idempotent and this runs once.
    unsafe { init(std::ptr::null_mut(), std::ptr::null_mut()) };
    Ok(l)
}

impl Lib {
    /// The library's version, e.g. "0.3.65".
    pub fn version(&self) -> String {
        // SAFETY: returns a static string.
        unsafe { cstr((self.get_library_version)()) }.unwrap_or_default()
    }

    /// New properties from key/value pairs (ownership passes to whatever takes them).
    pub fn properties(&self, pairs: &[(&str, &str)]) -> Ptr {
        // SAFETY: a null first key ends the (empty) variadic list.
        let p = unsafe { (self.properties_new)(std::ptr::null::<c_char>()) };
        for (k, v) in pairs {
            let (k, v) = (cstring(k), cstring(v));
            // SAFETY: p is a valid properties object; the strings are copied.
            unsafe { (self.properties_set)(p, k.as_ptr(), v.as_ptr()) };
        }
        p
    }
}

/// An owned C string (interior NULs dropped: keys and values are ours).
pub fn cstring(s: &str) -> std::ffi::CString {
    std::ffi::CString::new(s.replace('\0', "")).expect("NULs removed")
}

/// A C string as an owned Rust string (`None` for null).
///
/// # Safety
/// `p` must be null or a valid NUL-terminated string.
pub unsafe fn cstr(p: *const c_char) -> Option<String> {
    (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
}

/// Calls a method of a proxy's interface (`pw_core_*`, `pw_registry_*`, which are inline
/// functions in the headers: they look the method up in the proxy's table).
///
/// # Safety
/// `object` must be a live proxy whose interface's method table is a `T`.
pub unsafe fn methods<'a, T>(object: Ptr) -> (&'a T, Ptr) {
    let iface = &*(object as *const SpaInterface);
    (&*(iface.cb.funcs as *const T), iface.cb.data)
}

/// Holds the thread loop's lock while alive.
pub struct Locked<'a> {
    lib: &'a Lib,
    tl: Ptr,
}

impl<'a> Locked<'a> {
    /// Locks `tl`.
    pub fn new(lib: &'a Lib, tl: Ptr) -> Self {
        // SAFETY: tl is a live thread loop.
        unsafe { (lib.thread_loop_lock)(tl) };
        Locked { lib, tl }
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        // SAFETY: locked in new().
        unsafe { (self.lib.thread_loop_unlock)(self.tl) };
    }
}
