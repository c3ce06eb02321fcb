//! The async-nats program of `nats-migration-check` (compiled there against both clients),
//! run on nats-tokio against a real server: code written for async-nats, with its imports
//! changed, does what it did there. It spawns tokio tasks, so it runs on tokio only.

use std::time::Duration;

use nats_integration_tests::NatsServer;

#[test]
fn the_async_nats_program_runs_with_its_imports_changed() {
    let server = NatsServer::jetstream();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let url = server.url();
    let run = nats_migration_check::on_nats_tokio::run(&url, "migration");
    let result = rt.block_on(async { tokio::time::timeout(Duration::from_secs(120), run).await });
    result.expect("the program finished within two minutes").expect("the program succeeded");
}
