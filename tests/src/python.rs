//! Running the official Python client (`nats-py`) for interop scenarios.
//!
//! `scripts/ensure-nats-server.sh` installs `nats-py` into `.tools/venv` beside the pinned
//! server; `$NATS_PYTHON` overrides the interpreter. A missing interpreter or module is a test
//! failure, never a skip.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The Python interpreter that has `nats-py`: `$NATS_PYTHON`, else `.tools/venv/bin/python`.
pub fn python_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("NATS_PYTHON") {
        return PathBuf::from(path);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/venv/bin/python");
    assert!(
        venv.is_file(),
        "no Python with nats-py at {}: run scripts/ensure-nats-server.sh or set NATS_PYTHON",
        venv.display()
    );
    venv
}

/// The result of a Python script run to completion.
#[derive(Debug)]
pub struct PythonOutput {
    /// What the script printed on standard output.
    pub stdout: String,
    /// What it printed on standard error.
    pub stderr: String,
}

/// Runs `script` (Python source, given on standard input) with `args` as `sys.argv[1:]`,
/// blocking until it exits, and panics with its output when it fails. Scripts should bound
/// their own waits (`asyncio.wait_for`), so that a hang ends as a failure.
pub fn run_python(script: &str, args: &[&str]) -> PythonOutput {
    spawn_python(script, args).wait()
}

/// Starts `script` (Python source) with `args` without waiting: for a Python peer that runs
/// while the Rust side acts. The child is killed when the returned guard drops.
pub fn spawn_python(script: &str, args: &[&str]) -> PythonChild {
    let mut child = Command::new(python_binary())
        .arg("-")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python_binary().display()));
    child.stdin.take().expect("stdin").write_all(script.as_bytes()).expect("write the script");
    PythonChild { child: Some(child) }
}

/// A running Python script, killed on drop unless [`PythonChild::wait`] collected it.
#[derive(Debug)]
pub struct PythonChild {
    child: Option<std::process::Child>,
}

impl PythonChild {
    /// Waits for the script to exit and returns its output; panics when it failed.
    pub fn wait(mut self) -> PythonOutput {
        let out = self.child.take().expect("child").wait_with_output().expect("wait for python");
        let output = PythonOutput {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(
            out.status.success(),
            "python failed ({}):\n{}\n{}",
            out.status,
            output.stdout,
            output.stderr
        );
        output
    }
}

impl Drop for PythonChild {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
