//! The PipeWire camera in `backdrop devices` and `backdrop doctor`: is the library there, does
//! a daemon answer, is a session manager linking apps, is Backdrop's node published and who reads
//! it.

use super::{DoctorReport, Level};
use crate::config::Config;
use crate::sink::pipewire::{self, Graph, PipeWireError, NODE_NAME};
use crate::sink::yuv::OutputFormat;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

/// How long a look at the graph may take (a hung daemon must not hang the report).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Where xdg-desktop-portal is installed on Debian/Ubuntu and Fedora/Arch.
const PORTALS: &[&str] = &[
    "/usr/libexec/xdg-desktop-portal",
    "/usr/lib/xdg-desktop-portal",
];

const START_DAEMON: &str = "systemctl --user start pipewire wireplumber (install them: sudo apt install pipewire wireplumber)";

/// `backdrop devices`' PipeWire section: probes the daemon and renders what it has.
pub fn report() -> String {
    render(&pipewire::probe(PROBE_TIMEOUT))
}

/// `backdrop devices`' PipeWire section for a probe's result.
pub fn render(probe: &Result<Graph, PipeWireError>) -> String {
    let mut s = String::new();
    let g = match probe {
        Ok(g) => g,
        Err(PipeWireError::NoLibrary { library, .. }) => {
            let _ = writeln!(s, "PipeWire: not installed ({library} not found); the PipeWire camera (virtual_video_device: pipewire) needs it");
            return s;
        }
        Err(PipeWireError::NotRunning { socket, reason }) => {
            let _ = writeln!(
                s,
                "PipeWire: no daemon at {socket} ({reason}); start it: {START_DAEMON}"
            );
            return s;
        }
        Err(e) => {
            let _ = writeln!(s, "PipeWire: {e}");
            return s;
        }
    };
    let _ = writeln!(
        s,
        "PipeWire {} (daemon at {}){}:",
        g.daemon_version,
        g.socket,
        if g.session_manager().is_none() {
            ", no session manager (WirePlumber): apps get no camera linked"
        } else {
            ""
        }
    );
    let cams = g.cameras();
    if cams.is_empty() {
        let _ = writeln!(s, "    no video sources");
    }
    for n in cams {
        let role = if n.role.is_empty() {
            String::new()
        } else {
            format!(", role {}", n.role)
        };
        let readers: Vec<String> = g
            .consumers_of(n.id)
            .iter()
            .map(|c| Graph::label(c))
            .collect();
        let _ = writeln!(
            s,
            "    camera {}{role}{}: {}",
            Graph::label(n),
            if n.name == NODE_NAME {
                ", Backdrop's output"
            } else {
                ""
            },
            if readers.is_empty() {
                "no app reads it".to_owned()
            } else {
                format!("read by {}", readers.join(", "))
            }
        );
    }
    if g.backdrop_nodes().is_empty() {
        let _ = writeln!(
            s,
            "    no \"{NODE_NAME}\" camera: `backdrop run` publishes it with virtual_video_device: pipewire"
        );
    }
    s
}

/// `backdrop doctor`'s checks of the PipeWire output (instead of the v4l2loopback ones).
pub fn check(r: &mut DoctorReport, cfg: &Config) {
    match cfg.output_format {
        OutputFormat::I420 => r.add(
            Level::Ok,
            "output: PipeWire camera offering I420 (preferred) and YUY2",
            None,
        ),
        OutputFormat::Yuyv => r.add(
            Level::Ok,
            "output: PipeWire camera offering YUY2 (preferred) and I420",
            None,
        ),
        OutputFormat::Mjpeg => r.add(
            Level::Ok,
            "output: PipeWire camera offering YUY2 and I420 (output_format: mjpeg applies to v4l2loopback only: PipeWire hands frames over in shared memory, uncompressed)",
            None,
        ),
    }
    let g = match pipewire::probe(PROBE_TIMEOUT) {
        Ok(g) => g,
        Err(PipeWireError::NoLibrary { library, reason }) => {
            r.add(
                Level::Fail,
                format!("PipeWire is not installed ({library}: {reason})"),
                Some("sudo apt install pipewire wireplumber (or set virtual_video_device to a v4l2loopback device, see README)".into()),
            );
            return;
        }
        Err(PipeWireError::NotRunning { socket, reason }) => {
            r.add(
                Level::Fail,
                format!("no PipeWire daemon answers at {socket} ({reason})"),
                Some(START_DAEMON.into()),
            );
            return;
        }
        Err(e) => {
            r.add(Level::Fail, e.to_string(), Some(START_DAEMON.into()));
            return;
        }
    };
    r.add(
        Level::Ok,
        format!(
            "PipeWire {} daemon reachable at {} (library {})",
            g.daemon_version, g.socket, g.library_version
        ),
        None,
    );
    match g.session_manager() {
        Some(c) => r.add(
            Level::Ok,
            format!(
                "session manager {} is running (it links apps to the camera)",
                c.app
            ),
            None,
        ),
        None => r.add(
            Level::Fail,
            "no PipeWire session manager (WirePlumber) is running: apps would see the camera but never receive a frame",
            Some("systemctl --user start wireplumber (install it: sudo apt install wireplumber)".into()),
        ),
    }
    let nodes = g.backdrop_nodes();
    if nodes.is_empty() {
        r.add(
            Level::Ok,
            format!("no \"{NODE_NAME}\" camera is published now; `backdrop run` publishes it"),
            None,
        );
    }
    for n in &nodes {
        let readers: Vec<String> = g
            .consumers_of(n.id)
            .iter()
            .map(|c| Graph::label(c))
            .collect();
        r.add(
            Level::Ok,
            format!(
                "camera {} is published; {}",
                Graph::label(n),
                match readers.len() {
                    0 => "no app reads it now (on_demand keeps the camera off until one does)"
                        .to_owned(),
                    k => format!(
                        "{k} consumer{} linked: {}",
                        if k == 1 { "" } else { "s" },
                        readers.join(", ")
                    ),
                }
            ),
            (nodes.len() > 1).then(|| {
                "several Backdrop cameras are published (more than one `backdrop run`): apps list each; stop the extra ones".to_owned()
            }),
        );
    }
    if !PORTALS.iter().any(|p| Path::new(p).exists()) {
        r.add(
            Level::Warn,
            "xdg-desktop-portal is not installed: Flatpak apps and browsers' PipeWire camera support find cameras through its camera portal",
            Some("sudo apt install xdg-desktop-portal (and a backend such as xdg-desktop-portal-gtk)".into()),
        );
    }
}

/// A hint for the v4l2loopback checks when the module cannot be used: the PipeWire camera
/// needs none (offered only where a daemon answers).
pub fn alternative() -> Option<String> {
    let g = pipewire::probe(PROBE_TIMEOUT).ok()?;
    Some(format!(
        "or, without a kernel module: set virtual_video_device: pipewire (PipeWire {} is running here; apps reach it through PipeWire and the camera portal, see README)",
        g.daemon_version
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::pipewire::{Client, Node};

    fn node(id: u32, name: &str, class: &str, app: &str) -> Node {
        Node {
            id,
            name: name.into(),
            description: name.into(),
            class: class.into(),
            role: if class == "Video/Source" {
                "Camera".into()
            } else {
                String::new()
            },
            app: app.into(),
            pid: Some(id * 10),
            ..Default::default()
        }
    }

    #[test]
    fn devices_show_the_node_its_readers_and_a_missing_session_manager() {
        let mut g = Graph {
            socket: "/run/user/1000/pipewire-0".into(),
            daemon_version: "0.3.65".into(),
            library_version: "0.3.65".into(),
            nodes: vec![
                node(36, NODE_NAME, "Video/Source", NODE_NAME),
                node(40, "gst-launch-1.0", "Stream/Input/Video", "gst-launch-1.0"),
            ],
            links: vec![(36, 40), (36, 40)],
            clients: vec![Client {
                id: 30,
                app: "WirePlumber".into(),
                pid: Some(5),
            }],
        };
        let s = render(&Ok(g.clone()));
        assert!(
            s.starts_with("PipeWire 0.3.65 (daemon at /run/user/1000/pipewire-0):\n"),
            "{s}"
        );
        assert!(
            s.contains("camera \"Backdrop\" (node 36, pid 360), role Camera, Backdrop's output: read by \"gst-launch-1.0\" (node 40, pid 400)\n"),
            "{s}"
        );
        assert!(!s.contains("no \"Backdrop\" camera"), "{s}");
        g.links.clear();
        g.clients.clear();
        g.nodes.remove(0);
        let s = render(&Ok(g));
        assert!(s.contains("no session manager"), "{s}");
        assert!(s.contains("no video sources"), "{s}");
        assert!(
            s.contains("no \"Backdrop\" camera: `backdrop run` publishes it"),
            "{s}"
        );
        let s = render(&Err(PipeWireError::NotRunning {
            socket: "/tmp/x/pipewire-0".into(),
            reason: "No such file or directory (os error 2)".into(),
        }));
        assert!(s.contains("no daemon at /tmp/x/pipewire-0"), "{s}");
        assert!(
            s.contains("systemctl --user start pipewire wireplumber"),
            "{s}"
        );
    }
}
