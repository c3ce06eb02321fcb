//! A throwaway `nats-server` for a benchmark run: a free port, killed on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The `nats-server` binary: `$NATS_SERVER`; else the pinned release that
/// `scripts/ensure-nats-server.sh` installs into `.tools/venv`; else `nats-server` on `PATH`.
pub fn server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("NATS_SERVER") {
        return PathBuf::from(path);
    }
    let pinned = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/venv/bin/nats-server");
    if pinned.is_file() {
        pinned
    } else {
        PathBuf::from("nats-server")
    }
}

/// A running `nats-server` on 127.0.0.1 and a port it chose itself.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// The client port.
    pub port: u16,
    /// JetStream's store directory, removed on drop.
    store: Option<PathBuf>,
}

impl Server {
    /// Starts a server with `args` added to `-a 127.0.0.1 -p -1`, and waits until it listens.
    ///
    /// # Panics
    /// When the server cannot be started: a benchmark without its server has nothing to say.
    pub fn start(args: &[&str]) -> Self {
        let binary = server_binary();
        let mut child = Command::new(&binary)
            .args(["-a", "127.0.0.1", "-p", "-1"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run {} ({e}): run scripts/ensure-nats-server.sh", binary.display())
            });
        let stderr = child.stderr.take().expect("piped stderr");
        let mut lines = BufReader::new(stderr).lines();
        let port = loop {
            let line = lines.next().expect("nats-server exited").expect("log line");
            if let Some(rest) = line.split("client connections on ").nth(1) {
                break rest.trim().rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port");
            }
        };
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, port, store: None }
    }

    /// Starts a server with JetStream (`-js`) storing in a fresh directory under the
    /// system's temporary directory, removed when the server is dropped.
    pub fn start_jetstream() -> Self {
        let dir = std::env::temp_dir().join(format!("nats-bench-js-{}", std::process::id()));
        let dir_arg = dir.to_str().expect("a UTF-8 temporary directory").to_owned();
        let mut server = Self::start(&["-js", "-sd", &dir_arg]);
        server.store = Some(dir);
        server
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.store {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
