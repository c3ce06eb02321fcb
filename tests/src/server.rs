//! Running a real `nats-server`: single servers with auth, TLS and limits, 3-node clusters,
//! restart on the same port, lame duck mode.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::jwt::OperatorSetup;
use crate::ports::free_port;
use crate::tls::TlsFiles;

/// How long a server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The log line that says the server accepts clients (and on which port).
const CLIENT_LISTEN_LINE: &str = "client connections on";
/// The log line that gives the cluster (route) port.
const ROUTE_LISTEN_LINE: &str = "route connections on";
/// The log line that gives the WebSocket port.
const WEBSOCKET_LISTEN_LINE: &str = "websocket clients on";

/// How clients authenticate to the server.
#[derive(Debug, Clone, Default)]
pub enum ServerAuth {
    /// No authentication.
    #[default]
    None,
    /// One user with a password.
    UserPassword {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
    /// A shared token.
    Token(String),
    /// Users identified by their nkey public keys (`U...`).
    NKeys(Vec<String>),
    /// Operator mode: JWTs with a memory resolver preloaded with the account.
    Operator(OperatorSetup),
}

/// TLS on the client port.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// The certificates (server certificate, key and the CA clients are verified with).
    pub files: Arc<TlsFiles>,
    /// Require and verify client certificates.
    pub verify: bool,
}

/// A WebSocket listener (the config's `websocket` block), on 127.0.0.1.
#[derive(Debug, Clone, Default)]
pub struct WebSocketConfig {
    /// TLS on the listener (`wss://`) with the server certificate; `None` is `no_tls`
    /// (`ws://`).
    pub tls: Option<Arc<TlsFiles>>,
    /// A fixed port; `None` picks a free one.
    pub port: Option<u16>,
}

/// Clustering: the cluster name and the seed routes.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// The cluster name (the same on every node).
    pub name: String,
    /// The cluster port, or `None` for a random one.
    pub port: Option<u16>,
    /// Route URLs (`nats-route://127.0.0.1:<port>`) of the nodes to join.
    pub routes: Vec<String>,
}

/// The configuration of one server. `Default` is a plain server on a random port.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// The server name (`server_name`).
    pub name: Option<String>,
    /// Authentication.
    pub auth: ServerAuth,
    /// TLS on the client port.
    pub tls: Option<ServerTls>,
    /// `max_payload` in bytes.
    pub max_payload: Option<u32>,
    /// `max_connections`.
    pub max_connections: Option<u32>,
    /// `ping_interval` (rounded down to whole milliseconds).
    pub ping_interval: Option<Duration>,
    /// `ping_max`.
    pub ping_max: Option<u32>,
    /// Clustering.
    pub cluster: Option<ClusterConfig>,
    /// A fixed client port; `None` takes a free one (see [`free_port`]).
    pub port: Option<u16>,
    /// More configuration text, appended as is.
    pub extra: String,
    /// JetStream enabled (`-js -sd <dir>`), storing in a directory the [`NatsServer`] guard
    /// owns: kept across [`NatsServer::restart`], removed on drop.
    pub jetstream: bool,
    /// A WebSocket listener besides the client port.
    pub websocket: Option<WebSocketConfig>,
    /// The server binary; `None` takes [`server_binary`].
    pub binary: Option<PathBuf>,
}

impl ServerConfig {
    /// A plain server on a random port.
    pub fn new() -> Self {
        Self::default()
    }

    /// With authentication.
    #[must_use]
    pub fn auth(mut self, auth: ServerAuth) -> Self {
        self.auth = auth;
        self
    }

    /// With TLS on the client port (`verify`: client certificates required).
    #[must_use]
    pub fn tls(mut self, files: &Arc<TlsFiles>, verify: bool) -> Self {
        self.tls = Some(ServerTls { files: Arc::clone(files), verify });
        self
    }

    /// With JetStream enabled (file store in the server's temp dir, kept across restarts).
    #[must_use]
    pub fn jetstream(mut self) -> Self {
        self.jetstream = true;
        self
    }

    /// Run by the older server the compatibility runs pin ([`compat_server_binary`]).
    #[must_use]
    pub fn compat(mut self) -> Self {
        self.binary = Some(compat_server_binary());
        self
    }

    /// With a plain WebSocket listener (`no_tls: true`, `ws://`) on a free port.
    #[must_use]
    pub fn websocket(mut self) -> Self {
        self.websocket = Some(WebSocketConfig::default());
        self
    }

    /// With a TLS WebSocket listener (`wss://`, the server certificate of `files`) on a
    /// free port.
    #[must_use]
    pub fn websocket_tls(mut self, files: &Arc<TlsFiles>) -> Self {
        self.websocket = Some(WebSocketConfig { tls: Some(Arc::clone(files)), port: None });
        self
    }

    /// With `max_payload`.
    #[must_use]
    pub fn max_payload(mut self, bytes: u32) -> Self {
        self.max_payload = Some(bytes);
        self
    }

    /// With `max_connections`.
    #[must_use]
    pub fn max_connections(mut self, max: u32) -> Self {
        self.max_connections = Some(max);
        self
    }

    /// With `ping_interval` and `ping_max`.
    #[must_use]
    pub fn ping_interval(mut self, interval: Duration, max: u32) -> Self {
        self.ping_interval = Some(interval);
        self.ping_max = Some(max);
        self
    }

    /// The configuration file's text; files it refers to are written to `dir`.
    fn render(&self, dir: &Path) -> String {
        let mut out = String::new();
        let quote = |s: &str| serde_json::to_string(s).expect("strings serialise");
        if let Some(name) = &self.name {
            writeln!(out, "server_name: {}", quote(name)).unwrap();
        }
        if let Some(bytes) = self.max_payload {
            writeln!(out, "max_payload: {bytes}").unwrap();
        }
        if let Some(max) = self.max_connections {
            writeln!(out, "max_connections: {max}").unwrap();
        }
        if let Some(interval) = self.ping_interval {
            writeln!(out, "ping_interval: \"{}ms\"", interval.as_millis()).unwrap();
        }
        if let Some(max) = self.ping_max {
            writeln!(out, "ping_max: {max}").unwrap();
        }
        match &self.auth {
            ServerAuth::None => {}
            ServerAuth::UserPassword { user, password } => {
                writeln!(out, "authorization {{ user: {}, password: {} }}", quote(user), quote(password))
                    .unwrap();
            }
            ServerAuth::Token(token) => {
                writeln!(out, "authorization {{ token: {} }}", quote(token)).unwrap();
            }
            ServerAuth::NKeys(keys) => {
                let users: Vec<String> = keys.iter().map(|k| format!("{{ nkey: {} }}", quote(k))).collect();
                writeln!(out, "authorization {{ users = [ {} ] }}", users.join(", ")).unwrap();
            }
            ServerAuth::Operator(setup) => {
                let operator = dir.join("operator.jwt");
                std::fs::write(&operator, &setup.operator_jwt).expect("write the operator JWT");
                writeln!(out, "operator: {}", quote(&operator.display().to_string())).unwrap();
                writeln!(out, "resolver: MEMORY").unwrap();
                writeln!(
                    out,
                    "resolver_preload: {{ {}: {} }}",
                    quote(&setup.account_public),
                    quote(&setup.account_jwt)
                )
                .unwrap();
            }
        }
        if let Some(tls) = &self.tls {
            let path = |p: &PathBuf| quote(&p.display().to_string());
            writeln!(out, "tls {{").unwrap();
            writeln!(out, "  cert_file: {}", path(&tls.files.server_cert)).unwrap();
            writeln!(out, "  key_file: {}", path(&tls.files.server_key)).unwrap();
            writeln!(out, "  ca_file: {}", path(&tls.files.ca)).unwrap();
            writeln!(out, "  verify: {}", tls.verify).unwrap();
            writeln!(out, "  timeout: 5").unwrap();
            writeln!(out, "}}").unwrap();
        }
        if let Some(cluster) = &self.cluster {
            let port = cluster.port.map_or_else(|| "-1".to_owned(), |p| p.to_string());
            writeln!(out, "cluster {{").unwrap();
            writeln!(out, "  name: {}", quote(&cluster.name)).unwrap();
            writeln!(out, "  listen: \"127.0.0.1:{port}\"").unwrap();
            let routes: Vec<String> = cluster.routes.iter().map(|r| quote(r)).collect();
            writeln!(out, "  routes: [ {} ]", routes.join(", ")).unwrap();
            writeln!(out, "}}").unwrap();
        }
        if let Some(websocket) = &self.websocket {
            // `-1`: a free port, found in the log.
            let port = websocket.port.map_or_else(|| "-1".to_owned(), |p| p.to_string());
            writeln!(out, "websocket {{").unwrap();
            writeln!(out, "  host: \"127.0.0.1\"").unwrap();
            writeln!(out, "  port: {port}").unwrap();
            match &websocket.tls {
                Some(files) => {
                    let path = |p: &PathBuf| quote(&p.display().to_string());
                    writeln!(out, "  tls {{").unwrap();
                    writeln!(out, "    cert_file: {}", path(&files.server_cert)).unwrap();
                    writeln!(out, "    key_file: {}", path(&files.server_key)).unwrap();
                    writeln!(out, "  }}").unwrap();
                }
                None => writeln!(out, "  no_tls: true").unwrap(),
            }
            writeln!(out, "}}").unwrap();
        }
        out.push_str(&self.extra);
        out.push('\n');
        out
    }
}

/// The lines a server process wrote to stderr, shared with the thread reading them.
#[derive(Default)]
struct Log {
    state: Mutex<LogState>,
    changed: Condvar,
}

#[derive(Default)]
struct LogState {
    lines: Vec<String>,
    /// The process closed its stderr (it exited).
    closed: bool,
}

impl Log {
    /// Reads `reader` line by line until EOF, on a thread of its own.
    fn spawn_reader(reader: impl std::io::Read + Send + 'static) -> Arc<Self> {
        let log = Arc::new(Self::default());
        let shared = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut reader = BufReader::new(reader);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let text = String::from_utf8_lossy(&line).trim_end().to_owned();
                        shared.state.lock().unwrap().lines.push(text);
                        shared.changed.notify_all();
                    }
                }
            }
            shared.state.lock().unwrap().closed = true;
            shared.changed.notify_all();
        });
        log
    }

    /// Waits for a line containing `needle`, returning it; `Err` with the whole log when the
    /// process exits or `timeout` passes first.
    fn wait_for(&self, needle: &str, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        let mut state = self.state.lock().unwrap();
        loop {
            if let Some(line) = state.lines.iter().find(|l| l.contains(needle)) {
                return Ok(line.clone());
            }
            let now = Instant::now();
            if state.closed || now >= deadline {
                let why = if state.closed { "the server exited" } else { "timed out" };
                return Err(format!("{why} waiting for {needle:?}; log:\n{}", state.lines.join("\n")));
            }
            state = self.changed.wait_timeout(state, deadline - now).unwrap().0;
        }
    }

    fn text(&self) -> String {
        self.state.lock().unwrap().lines.join("\n")
    }
}

/// The `nats-server` binary: `$NATS_SERVER`; else the pinned current release that
/// `scripts/ensure-nats-server.sh` installs into `.tools/venv`; else the first on `PATH`; else
/// the Debian path. Panics when none exists: a missing server is a failure, never a skip.
pub fn server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("NATS_SERVER") {
        return PathBuf::from(path);
    }
    let pinned = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/venv/bin/nats-server");
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).map(|dir| dir.join("nats-server")).collect::<Vec<_>>())
        .unwrap_or_default();
    std::iter::once(pinned)
        .chain(on_path)
        .chain(["/usr/sbin/nats-server".into(), "/usr/local/bin/nats-server".into()])
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("no nats-server found: run scripts/ensure-nats-server.sh or set NATS_SERVER")
        })
}

/// The older `nats-server` the compatibility runs use (2.9.10 from Debian):
/// `$NATS_SERVER_COMPAT`, else `/usr/sbin/nats-server`. Panics when missing: a missing
/// server is a failure, never a skip.
pub fn compat_server_binary() -> PathBuf {
    let path = std::env::var_os("NATS_SERVER_COMPAT")
        .map_or_else(|| PathBuf::from("/usr/sbin/nats-server"), PathBuf::from);
    assert!(
        path.is_file(),
        "no compatibility nats-server at {}: run scripts/ensure-nats-server.sh or set NATS_SERVER_COMPAT",
        path.display()
    );
    path
}

/// The port at the end of a "Listening for ... on host:port" log line.
fn port_of(line: &str) -> u16 {
    line.rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no port in the log line {line:?}"))
}

/// A running `nats-server`, killed (and reaped) on drop.
pub struct NatsServer {
    config: ServerConfig,
    dir: TempDir,
    child: Option<Child>,
    log: Arc<Log>,
    port: u16,
    cluster_port: Option<u16>,
    websocket_port: Option<u16>,
}

impl std::fmt::Debug for NatsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsServer")
            .field("port", &self.port)
            .field("cluster_port", &self.cluster_port)
            .field("websocket_port", &self.websocket_port)
            .field("pid", &self.child.as_ref().map(Child::id))
            .finish_non_exhaustive()
    }
}

impl NatsServer {
    /// Starts a server and waits until it listens for clients.
    ///
    /// # Panics
    /// When the server does not start (the panic message holds its log).
    pub fn start(config: ServerConfig) -> Self {
        /// How many sets of ports a first start tries when one is taken meanwhile.
        const ATTEMPTS: usize = 5;
        let dir = tempfile::Builder::new().prefix("nats-itest-").tempdir().expect("a temp dir");
        let mut server = Self {
            config: config.clone(),
            dir,
            child: None,
            log: Arc::default(),
            port: 0,
            cluster_port: None,
            websocket_port: None,
        };
        for attempt in 1..=ATTEMPTS {
            // Every port not given is one of ours (see `ports`), kept across restarts.
            server.config = config.clone();
            server.config.port.get_or_insert_with(free_port);
            if let Some(cluster) = &mut server.config.cluster {
                cluster.port.get_or_insert_with(free_port);
            }
            if let Some(websocket) = &mut server.config.websocket {
                websocket.port.get_or_insert_with(free_port);
            }
            match server.spawn() {
                Ok(()) => return server,
                // Another process took a port between our check and the server's bind.
                Err(log) if attempt < ATTEMPTS && log.contains("address already in use") => {}
                Err(log) => panic!("{log}"),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// A plain server on a random port.
    pub fn plain() -> Self {
        Self::start(ServerConfig::new())
    }

    /// A plain server with a plain WebSocket listener (`no_tls`), both on random ports;
    /// [`websocket_url`](Self::websocket_url) is its `ws://` URL.
    pub fn websocket() -> Self {
        Self::start(ServerConfig::new().websocket())
    }

    /// A server with JetStream on a random port.
    pub fn jetstream() -> Self {
        Self::start(ServerConfig::new().jetstream())
    }

    /// The JetStream store directory (inside the guard's temp dir).
    pub fn store_dir(&self) -> PathBuf {
        self.dir.path().join("jetstream")
    }

    /// Starts the process with the configuration's ports; `Err` with what went wrong and
    /// the server's log when it does not start.
    fn spawn(&mut self) -> Result<(), String> {
        let config_path = self.dir.path().join("server.conf");
        std::fs::write(&config_path, self.config.render(self.dir.path())).expect("write the config");
        let port = self.config.port.map_or_else(|| "-1".to_owned(), |p| p.to_string());
        let binary = self.config.binary.clone().unwrap_or_else(server_binary);
        let mut command = Command::new(&binary);
        command.args(["-a", "127.0.0.1", "-p", &port, "-c"]).arg(&config_path);
        if self.config.jetstream {
            command.args(["-js", "-sd"]).arg(self.store_dir());
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
        self.log = Log::spawn_reader(child.stderr.take().expect("piped stderr"));
        self.child = Some(child);
        let wait_for = |line: &str, what: &str| match self.log.wait_for(line, START_TIMEOUT) {
            Ok(line) => Ok(port_of(&line)),
            Err(log) => Err(format!("nats-server did not {what}: {log}")),
        };
        let listening = (|| {
            let port = wait_for(CLIENT_LISTEN_LINE, "start")?;
            let cluster_port = self
                .config
                .cluster
                .as_ref()
                .map(|_| wait_for(ROUTE_LISTEN_LINE, "listen for routes"))
                .transpose()?;
            let websocket_port = self
                .config
                .websocket
                .as_ref()
                .map(|_| wait_for(WEBSOCKET_LISTEN_LINE, "listen for WebSocket clients"))
                .transpose()?;
            Ok((port, cluster_port, websocket_port))
        })();
        match listening {
            Ok((port, cluster_port, websocket_port)) => {
                (self.port, self.cluster_port, self.websocket_port) = (port, cluster_port, websocket_port);
                Ok(())
            }
            Err(log) => {
                self.stop();
                Err(log)
            }
        }
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster (route) port, for clustered servers.
    pub fn cluster_port(&self) -> Option<u16> {
        self.cluster_port
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// `tls://127.0.0.1:<port>`.
    pub fn tls_url(&self) -> String {
        format!("tls://127.0.0.1:{}", self.port)
    }

    /// The WebSocket port, for servers with a WebSocket listener.
    pub fn websocket_port(&self) -> Option<u16> {
        self.websocket_port
    }

    /// `ws://127.0.0.1:<port>` (`wss://` with TLS) of the WebSocket listener.
    ///
    /// # Panics
    /// When the server has no WebSocket listener.
    pub fn websocket_url(&self) -> String {
        let websocket = self.config.websocket.as_ref().expect("a server with a WebSocket listener");
        let scheme = if websocket.tls.is_some() { "wss" } else { "ws" };
        format!("{scheme}://127.0.0.1:{}", self.websocket_port.expect("the WebSocket port"))
    }

    /// `nats://<credentials>@127.0.0.1:<port>`.
    pub fn url_with_credentials(&self, credentials: &str) -> String {
        format!("nats://{credentials}@127.0.0.1:{}", self.port)
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process runs.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The server's log so far (of the current process).
    pub fn log(&self) -> String {
        self.log.text()
    }

    /// Waits for a log line containing `needle` (of the current process).
    ///
    /// # Panics
    /// On timeout or if the server exits first.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> String {
        self.log.wait_for(needle, timeout).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Kills the server (SIGKILL) and reaps it. A no-op when stopped.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Restarts the server on the same port(s) with other credentials (rotated passwords,
    /// revoked users).
    pub fn restart_with_auth(&mut self, auth: ServerAuth) {
        self.config.auth = auth;
        self.restart();
    }

    /// Starts the server again on the same port(s), stopping it first if needed.
    ///
    /// # Panics
    /// When the server does not start (the panic message holds its log).
    pub fn restart(&mut self) {
        self.stop();
        if let Err(log) = self.spawn() {
            panic!("{log}");
        }
    }

    /// Freezes the process (SIGSTOP): it keeps its sockets but answers nothing. Returns once
    /// the process is stopped (the parent's `waitpid` reports it), not merely signalled.
    ///
    /// # Panics
    /// When the server is not running or cannot be stopped.
    pub fn pause(&self) {
        let pid = self.raw_pid();
        // SAFETY: plain syscalls on our own child's pid; `status` is a valid out-pointer.
        unsafe {
            assert_eq!(libc::kill(pid, libc::SIGSTOP), 0, "kill -STOP {pid}");
            let mut status = 0;
            let waited = libc::waitpid(pid, &raw mut status, libc::WUNTRACED);
            assert!(waited == pid && libc::WIFSTOPPED(status), "{pid} did not stop: {status:#x}");
        }
    }

    /// Resumes a paused process (SIGCONT).
    ///
    /// # Panics
    /// When the server is not running or cannot be signalled.
    pub fn resume(&self) {
        let pid = self.raw_pid();
        // SAFETY: a plain syscall on our own child's pid.
        let sent = unsafe { libc::kill(pid, libc::SIGCONT) };
        assert_eq!(sent, 0, "kill -CONT {pid}");
    }

    fn raw_pid(&self) -> libc::pid_t {
        libc::pid_t::try_from(self.pid().expect("a running server")).expect("pids fit")
    }

    /// Puts the server in lame duck mode (`nats-server --signal ldm=<pid>`).
    ///
    /// # Panics
    /// When the server is stopped or the signal cannot be sent.
    pub fn enter_lame_duck_mode(&self) {
        let pid = self.pid().expect("a running server");
        let status = Command::new(server_binary())
            .args(["--signal", &format!("ldm={pid}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run nats-server --signal");
        assert!(status.success(), "nats-server --signal ldm={pid} failed: {status}");
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A cluster: the first node is the seed the others route to; they find each other by
/// gossip.
#[derive(Debug)]
pub struct NatsCluster {
    /// The nodes.
    pub nodes: Vec<NatsServer>,
}

impl NatsCluster {
    /// Starts `size` nodes, each with `base` plus clustering.
    pub fn start(size: usize, base: &ServerConfig) -> Self {
        let name = "itest".to_owned();
        let mut nodes: Vec<NatsServer> = Vec::with_capacity(size);
        for i in 0..size {
            let routes = nodes
                .first()
                .and_then(NatsServer::cluster_port)
                .map(|port| vec![format!("nats-route://127.0.0.1:{port}")])
                .unwrap_or_default();
            let config = ServerConfig {
                name: Some(format!("node-{i}")),
                cluster: Some(ClusterConfig { name: name.clone(), port: None, routes }),
                ..base.clone()
            };
            nodes.push(NatsServer::start(config));
        }
        Self { nodes }
    }

    /// Every node's client URL, comma-separated.
    pub fn urls(&self) -> String {
        self.nodes.iter().map(NatsServer::url).collect::<Vec<_>>().join(",")
    }

    /// The node whose client port is `port`.
    pub fn node_by_port(&self, port: u16) -> Option<usize> {
        self.nodes.iter().position(|n| n.port() == port)
    }
}
