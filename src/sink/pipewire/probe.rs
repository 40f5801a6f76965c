//! A look at the PipeWire graph for `backdrop devices` and `backdrop doctor`: is a daemon
//! reachable, which video sources does it have (Backdrop's among them), and who is linked to
//! them.

use super::ffi::{self, CoreEvents, CoreInfo, Locked, RegistryEvents, SpaDict, SpaHook};
use super::{connect_error, library, socket, PipeWireError, NODE_NAME};
use std::ffi::{c_char, c_int, c_void};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A node of the graph.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Node {
    /// Global id.
    pub id: u32,
    /// `node.name`.
    pub name: String,
    /// `node.description` (what apps show).
    pub description: String,
    /// `media.class`, e.g. `Video/Source`.
    pub class: String,
    /// `media.role`, e.g. `Camera`.
    pub role: String,
    /// `application.name` of the node, or of its client.
    pub app: String,
    /// The process that made it (from its client), when known.
    pub pid: Option<u32>,
    /// The client that made it.
    pub client: Option<u32>,
}

/// A client of the daemon (an app connected to it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Client {
    /// Global id.
    pub id: u32,
    /// `application.name`.
    pub app: String,
    /// The process id (`pipewire.sec.pid`, the daemon's record of the socket's peer).
    pub pid: Option<u32>,
}

/// What the daemon has.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Graph {
    /// The socket connected to.
    pub socket: String,
    /// The daemon's version.
    pub daemon_version: String,
    /// The loaded library's version.
    pub library_version: String,
    /// Every node.
    pub nodes: Vec<Node>,
    /// Links as (output node, input node).
    pub links: Vec<(u32, u32)>,
    /// Connected clients.
    pub clients: Vec<Client>,
}

impl Graph {
    /// Backdrop's camera nodes (one per running `backdrop run` with the PipeWire output).
    pub fn backdrop_nodes(&self) -> Vec<&Node> {
        self.nodes
            .iter()
            .filter(|n| n.name == NODE_NAME && n.class == "Video/Source")
            .collect()
    }

    /// Video sources apps can use as cameras (`Video/Source`), Backdrop's included.
    pub fn cameras(&self) -> Vec<&Node> {
        self.nodes
            .iter()
            .filter(|n| n.class == "Video/Source")
            .collect()
    }

    /// The nodes reading from node `id`.
    pub fn consumers_of(&self, id: u32) -> Vec<&Node> {
        let mut v: Vec<&Node> = self
            .links
            .iter()
            .filter(|l| l.0 == id)
            .filter_map(|l| self.nodes.iter().find(|n| n.id == l.1))
            .collect();
        v.dedup_by_key(|n| n.id);
        v
    }

    /// The session manager (WirePlumber, pipewire-media-session), which links apps to
    /// cameras; without one no app receives frames.
    pub fn session_manager(&self) -> Option<&Client> {
        self.clients.iter().find(|c| {
            let a = c.app.to_ascii_lowercase();
            a.contains("wireplumber") || a.contains("media-session")
        })
    }

    /// A short label of a node: "name (app, pid N)".
    pub fn label(n: &Node) -> String {
        let mut s = format!(
            "\"{}\"",
            if n.description.is_empty() {
                &n.name
            } else {
                &n.description
            }
        );
        let mut extra = vec![format!("node {}", n.id)];
        if !n.app.is_empty() && n.app != n.name && n.app != n.description {
            extra.push(n.app.clone());
        }
        if let Some(p) = n.pid {
            extra.push(format!("pid {p}"));
        }
        s.push_str(&format!(" ({})", extra.join(", ")));
        s
    }
}

#[derive(Default)]
struct Collected {
    graph: Graph,
    sync_seq: Option<c_int>,
    done: bool,
    error: Option<String>,
}

struct ProbeState {
    lib: &'static ffi::Lib,
    tl: *mut c_void,
    data: Mutex<Collected>,
}

unsafe extern "C" fn on_info(data: *mut c_void, info: *const CoreInfo) {
    let s = &*(data as *const ProbeState);
    if let (Some(i), Ok(mut d)) = (info.as_ref(), s.data.lock()) {
        d.graph.daemon_version = ffi::cstr(i.version).unwrap_or_default();
    }
}

unsafe extern "C" fn on_done(data: *mut c_void, id: u32, seq: c_int) {
    let s = &*(data as *const ProbeState);
    if let Ok(mut d) = s.data.lock() {
        if id == ffi::ID_CORE && d.sync_seq == Some(seq) {
            d.done = true;
        }
    }
    (s.lib.thread_loop_signal)(s.tl, false);
}

unsafe extern "C" fn on_error(
    data: *mut c_void,
    id: u32,
    _seq: c_int,
    res: c_int,
    msg: *const c_char,
) {
    let s = &*(data as *const ProbeState);
    if id == ffi::ID_CORE {
        if let Ok(mut d) = s.data.lock() {
            d.error = Some(format!(
                "{} ({})",
                ffi::cstr(msg).unwrap_or_default(),
                std::io::Error::from_raw_os_error(-res)
            ));
        }
        (s.lib.thread_loop_signal)(s.tl, false);
    }
}

unsafe extern "C" fn on_global(
    data: *mut c_void,
    id: u32,
    _permissions: u32,
    type_: *const c_char,
    _version: u32,
    props: *const SpaDict,
) {
    let s = &*(data as *const ProbeState);
    let Some(t) = ffi::cstr(type_) else { return };
    let get = |k| SpaDict::lookup(props, k).map(str::to_owned);
    let Ok(mut d) = s.data.lock() else { return };
    match t.as_str() {
        "PipeWire:Interface:Node" => d.graph.nodes.push(Node {
            id,
            name: get("node.name").unwrap_or_default(),
            description: get("node.description").unwrap_or_default(),
            class: get("media.class").unwrap_or_default(),
            role: get("media.role").unwrap_or_default(),
            app: get("application.name").unwrap_or_default(),
            pid: None,
            client: get("client.id").and_then(|c| c.parse().ok()),
        }),
        "PipeWire:Interface:Link" => {
            let node = |k| get(k).and_then(|v| v.parse::<u32>().ok());
            if let (Some(o), Some(i)) = (node("link.output.node"), node("link.input.node")) {
                d.graph.links.push((o, i));
            }
        }
        "PipeWire:Interface:Client" => {
            let app = get("application.name").unwrap_or_default();
            // The daemon's own record of the socket's peer, else what the app says.
            let pid = get("pipewire.sec.pid")
                .or_else(|| get("application.process.id"))
                .and_then(|p| p.parse().ok());
            d.graph.clients.push(Client { id, app, pid });
        }
        _ => {}
    }
}

static CORE_EVENTS: CoreEvents = CoreEvents {
    version: 0,
    info: Some(on_info),
    done: Some(on_done),
    ping: None,
    error: Some(on_error),
    remove_id: None,
    bound_id: None,
    add_mem: None,
    remove_mem: None,
};

static REGISTRY_EVENTS: RegistryEvents = RegistryEvents {
    version: 0,
    global: Some(on_global),
    global_remove: None,
};

/// Connects to the daemon, lists its nodes, links and clients, and disconnects (at most
/// `timeout`).
pub fn probe(timeout: Duration) -> Result<Graph, PipeWireError> {
    let lib = library()?;
    let name = ffi::cstring("backdrop-probe");
    // SAFETY: every object is created, used under the loop's lock and destroyed here, children
    // before parents, after the loop thread stopped; hooks and state outlive them.
    unsafe {
        let tl = (lib.thread_loop_new)(name.as_ptr(), std::ptr::null());
        if tl.is_null() {
            return Err(PipeWireError::Failed {
                op: "pw_thread_loop_new",
                reason: std::io::Error::last_os_error().to_string(),
            });
        }
        let state = Box::new(ProbeState {
            lib,
            tl,
            data: Mutex::new(Collected::default()),
        });
        let mut core_hook = SpaHook::boxed();
        let mut reg_hook = SpaHook::boxed();
        let (mut context, mut core, mut registry) = (
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
        let started = (lib.thread_loop_start)(tl) >= 0;
        let result = (|| {
            if !started {
                return Err(PipeWireError::Failed {
                    op: "pw_thread_loop_start",
                    reason: std::io::Error::last_os_error().to_string(),
                });
            }
            let _lock = Locked::new(lib, tl);
            context = (lib.context_new)((lib.thread_loop_get_loop)(tl), std::ptr::null_mut(), 0);
            if context.is_null() {
                return Err(PipeWireError::Failed {
                    op: "pw_context_new",
                    reason: std::io::Error::last_os_error().to_string(),
                });
            }
            core = (lib.context_connect)(context, std::ptr::null_mut(), 0);
            if core.is_null() {
                return Err(PipeWireError::NotRunning {
                    socket: socket(),
                    reason: connect_error(),
                });
            }
            let data = &*state as *const ProbeState as *mut c_void;
            let (m, obj) = ffi::methods::<ffi::CoreMethods>(core);
            let unsupported = || PipeWireError::Failed {
                op: "pw_core methods",
                reason: "missing in this libpipewire".into(),
            };
            (m.add_listener.ok_or_else(unsupported)?)(obj, &mut *core_hook, &CORE_EVENTS, data);
            // PW_VERSION_REGISTRY
            registry = (m.get_registry.ok_or_else(unsupported)?)(obj, 3, 0);
            if registry.is_null() {
                return Err(PipeWireError::Failed {
                    op: "pw_core_get_registry",
                    reason: std::io::Error::last_os_error().to_string(),
                });
            }
            let (rm, robj) = ffi::methods::<ffi::RegistryMethods>(registry);
            (rm.add_listener.ok_or_else(unsupported)?)(
                robj,
                &mut *reg_hook,
                &REGISTRY_EVENTS,
                data,
            );
            // Every global arrives before the answer to this sync.
            let seq = (m.sync.ok_or_else(unsupported)?)(obj, ffi::ID_CORE, 0);
            if let Ok(mut d) = state.data.lock() {
                d.sync_seq = Some(seq);
            }
            let deadline = Instant::now() + timeout;
            loop {
                {
                    let d = state.data.lock().map_err(|_| unsupported())?;
                    if d.done {
                        break;
                    }
                    if let Some(e) = &d.error {
                        return Err(PipeWireError::NotRunning {
                            socket: socket(),
                            reason: e.clone(),
                        });
                    }
                }
                if Instant::now() >= deadline {
                    return Err(PipeWireError::NotRunning {
                        socket: socket(),
                        reason: format!("no answer within {:.1} s", timeout.as_secs_f64()),
                    });
                }
                (lib.thread_loop_timed_wait)(tl, 1);
            }
            Ok(())
        })();
        if started {
            (lib.thread_loop_stop)(tl);
        }
        if !registry.is_null() {
            (lib.proxy_destroy)(registry);
        }
        if !core.is_null() {
            (lib.core_disconnect)(core);
        }
        if !context.is_null() {
            (lib.context_destroy)(context);
        }
        (lib.thread_loop_destroy)(tl);
        drop((core_hook, reg_hook));
        result?;
        let ProbeState { data, .. } = *state;
        let mut d = data.into_inner().unwrap_or_else(|e| e.into_inner());
        let g = &mut d.graph;
        for n in &mut g.nodes {
            if let Some(c) = g.clients.iter().find(|c| Some(c.id) == n.client) {
                n.pid = c.pid;
                if n.app.is_empty() {
                    n.app = c.app.clone();
                }
            }
        }
        d.graph.socket = socket();
        d.graph.library_version = lib.version();
        Ok(d.graph)
    }
}
