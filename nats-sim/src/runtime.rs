//! The client's [`Runtime`] on the simulation: connects through the simulated network,
//! sleeps and reads time on the virtual clock, spawns onto the deterministic executor.

use std::future::Future;
use std::io;
use std::time::Duration;

use nats_client::{Instant, Runtime, SystemTime, UNIX_EPOCH};

use crate::executor::Sleep;
use crate::net::{Net, SimStream};

/// The wall-clock time at virtual time zero: 2026-01-01T00:00:00Z.
const EPOCH_OFFSET: Duration = Duration::from_secs(1_767_225_600);

/// One simulated host: its client's [`Runtime`].
#[derive(Clone)]
pub struct Host {
    net: Net,
    id: u32,
}

impl Host {
    /// Host `id` on `net`.
    pub fn new(net: &Net, id: u32) -> Self {
        Self { net: net.clone(), id }
    }

    /// The host's id (for partitions).
    pub fn id(&self) -> u32 {
        self.id
    }
}

impl Runtime for Host {
    type Transport = SimStream;
    type Sleep = Sleep;

    fn connect(
        &self,
        host: String,
        port: u16,
    ) -> impl Future<Output = io::Result<SimStream>> + Send + 'static {
        self.net.connect(self.id, format!("{host}:{port}"))
    }

    fn now(&self) -> Instant {
        self.net.sim().now()
    }

    fn system_time(&self) -> SystemTime {
        UNIX_EPOCH + EPOCH_OFFSET + self.net.sim().elapsed()
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        let sim = self.net.sim();
        sim.sleep_until(sim.to_virtual(deadline))
    }

    fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.net.sim().spawn(future);
    }
}
