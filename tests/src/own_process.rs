//! Running one test in a process of its own: for verdicts about the process itself (its
//! peak memory), which the other tests of the binary, running in parallel threads of the
//! same process, would otherwise take part in.

use std::process::Command;

/// The environment variable that tells a re-executed test binary which test it runs alone.
const CHILD_ENV: &str = "NATS_ITEST_OWN_PROCESS";

/// Runs `body` in a process of its own: the test binary runs again with only the test
/// `test` (its path as the test harness lists it, `module::test`), and `body` runs there.
/// The child's output is printed here (the harness captures it like any test output).
///
/// Called from the test `test` itself: in the child, where the environment names this
/// test, it runs `body`; in the parent, it starts the child and checks its verdict.
///
/// # Panics
/// When the child fails (the test failed there), or cannot be started.
pub fn in_own_process(test: &str, body: impl FnOnce()) {
    if std::env::var(CHILD_ENV).as_deref() == Ok(test) {
        body();
        return;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let output = Command::new(&exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, test)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{test} failed in its own process ({})", output.status);
    // The filter matched exactly this test (a typo in `test` would run nothing and pass).
    assert!(stdout.contains("test result: ok. 1 passed"), "{test} did not run in its own process");
}

/// Like [`runtime_tests!`](crate::runtime_tests): for each named scenario, a module with the
/// tests `tokio`, `smol` and `async_std`, each run in a process of its own
/// ([`in_own_process`]).
#[macro_export]
macro_rules! own_process_runtime_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            /// This test's path as the harness lists it: the module path without the crate.
            fn path(runtime: &str) -> String {
                let module = module_path!();
                let module = module.split_once("::").map_or(module, |(_, rest)| rest);
                format!("{module}::{runtime}")
            }

            #[test]
            fn tokio() {
                $crate::in_own_process(&path("tokio"), || $crate::run_tokio(super::$name));
            }

            #[test]
            fn smol() {
                $crate::in_own_process(&path("smol"), || $crate::run_smol(super::$name));
            }

            #[test]
            fn async_std() {
                $crate::in_own_process(&path("async_std"), || $crate::run_async_std(super::$name));
            }
        }
    )*};
}
