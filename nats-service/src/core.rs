//! The sans-IO state of one service: identity, endpoints, statistics, and the discovery
//! responses built from them. Time is passed in; nothing here reads a clock or does IO.

use std::time::Duration;

use nats_client::SystemTime;

use crate::config::{
    join_subject, validate_group, validate_name, validate_subject, QueueGroup, ServiceConfig,
};
use crate::error::ConfigError;
use crate::messages::{
    control_subject_with_prefix, EndpointInfo, EndpointStats, InfoResponse, PingResponse, StatsResponse,
    Verb, INFO_RESPONSE_TYPE, PING_RESPONSE_TYPE, STATS_RESPONSE_TYPE,
};
use nats_client::rfc3339::format_micros as format_rfc3339;

/// An endpoint of a [`ServiceCore`], by position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EndpointId(usize);

/// What an endpoint is to be added with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndpointSpec {
    /// The endpoint's name: `A-Z a-z 0-9 - _`.
    pub name: String,
    /// The subject, relative to the group; the name when `None` or empty.
    pub subject: Option<String>,
    /// The group prefix (`""` outside groups).
    pub group: String,
    /// The endpoint's queue group setting, already combined with its group's.
    pub queue_group: QueueGroup,
    /// Metadata.
    pub metadata: std::collections::BTreeMap<String, String>,
}

impl EndpointSpec {
    /// An endpoint named `name`, on subject `name`, outside any group.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            subject: None,
            group: String::new(),
            queue_group: QueueGroup::Inherit,
            metadata: Default::default(),
        }
    }
}

/// Where an added endpoint listens: what to subscribe to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Subscription {
    /// The endpoint.
    pub endpoint: EndpointId,
    /// The subject to subscribe to.
    pub subject: String,
    /// The queue group, `None` for a plain subscription.
    pub queue_group: Option<String>,
}

#[derive(Debug, Clone, Default)]
struct Counters {
    num_requests: u64,
    num_errors: u64,
    last_error: String,
    processing_time: Duration,
}

#[derive(Debug, Clone)]
struct Endpoint {
    info: EndpointInfo,
    counters: Counters,
    /// Stopped on its own: no longer in INFO or STATS.
    stopped: bool,
}

/// One service instance's protocol state.
#[derive(Debug, Clone)]
pub struct ServiceCore {
    config: ServiceConfig,
    id: String,
    started: String,
    endpoints: Vec<Endpoint>,
}

impl ServiceCore {
    /// A service with a validated `config`, an instance `id` (see
    /// [`IdGenerator`](crate::IdGenerator)) and its start time.
    ///
    /// # Errors
    /// A [`ConfigError`] for an invalid name, version or queue group, or an id that is not
    /// a single subject token.
    pub fn new(config: ServiceConfig, id: String, started: SystemTime) -> Result<Self, ConfigError> {
        config.validate()?;
        validate_name(&id)?;
        Ok(Self { config, id, started: format_rfc3339(started), endpoints: Vec::new() })
    }

    /// The configuration.
    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// The instance id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The nine control subjects to subscribe to (plain subscriptions, no queue group):
    /// each verb for all services, for this name, and for this name and id.
    pub fn control_subjects(&self) -> Vec<String> {
        let name = self.config.name.as_str();
        let prefix = self.config.api_prefix.as_str();
        Verb::ALL
            .iter()
            .flat_map(|&verb| {
                [
                    control_subject_with_prefix(prefix, verb, None, None),
                    control_subject_with_prefix(prefix, verb, Some(name), None),
                    control_subject_with_prefix(prefix, verb, Some(name), Some(&self.id)),
                ]
            })
            .collect()
    }

    /// Adds an endpoint; returns what to subscribe to. Its statistics start at zero.
    ///
    /// # Errors
    /// A [`ConfigError`] for an invalid name, group, subject or queue group.
    pub fn add_endpoint(&mut self, spec: EndpointSpec) -> Result<Subscription, ConfigError> {
        validate_name(&spec.name)?;
        validate_group(&spec.group)?;
        spec.queue_group.validate()?;
        // An empty subject means "the name", as in nats.go and nats-py.
        let relative = spec.subject.as_deref().filter(|s| !s.is_empty()).unwrap_or(&spec.name);
        let subject = join_subject(&spec.group, relative);
        validate_subject(&subject)?;
        let queue_group = spec.queue_group.or(&self.config.queue_group).resolve().map(str::to_owned);
        let endpoint = EndpointId(self.endpoints.len());
        self.endpoints.push(Endpoint {
            info: EndpointInfo {
                name: spec.name,
                subject: subject.clone(),
                queue_group: queue_group.clone().unwrap_or_default(),
                metadata: spec.metadata,
            },
            counters: Counters::default(),
            stopped: false,
        });
        Ok(Subscription { endpoint, subject, queue_group })
    }

    /// The endpoint's info, if it exists.
    pub fn endpoint(&self, endpoint: EndpointId) -> Option<&EndpointInfo> {
        self.endpoints.get(endpoint.0).map(|e| &e.info)
    }

    /// Accounts one handled request: `elapsed` is its processing time; `error` is
    /// `Some((code, description))` when it was answered with an error. Unknown endpoints
    /// are ignored.
    pub fn record(&mut self, endpoint: EndpointId, elapsed: Duration, error: Option<(u32, &str)>) {
        let Some(endpoint) = self.endpoints.get_mut(endpoint.0) else { return };
        let counters = &mut endpoint.counters;
        counters.num_requests = counters.num_requests.saturating_add(1);
        counters.processing_time = counters.processing_time.saturating_add(elapsed);
        if let Some((code, description)) = error {
            counters.num_errors = counters.num_errors.saturating_add(1);
            counters.last_error = format!("{code}:{description}");
        }
    }

    /// Zeroes every endpoint's statistics and sets the start time to `now`.
    pub fn reset(&mut self, now: SystemTime) {
        self.started = format_rfc3339(now);
        for endpoint in &mut self.endpoints {
            endpoint.counters = Counters::default();
        }
    }

    /// The PING response.
    pub fn ping(&self) -> PingResponse {
        PingResponse {
            kind: PING_RESPONSE_TYPE.to_owned(),
            name: self.config.name.clone(),
            id: self.id.clone(),
            version: self.config.version.clone(),
            metadata: self.config.metadata.clone(),
        }
    }

    /// The INFO response.
    pub fn info(&self) -> InfoResponse {
        InfoResponse {
            kind: INFO_RESPONSE_TYPE.to_owned(),
            name: self.config.name.clone(),
            id: self.id.clone(),
            version: self.config.version.clone(),
            metadata: self.config.metadata.clone(),
            description: self.config.description.clone(),
            endpoints: self.endpoints.iter().filter(|e| !e.stopped).map(|e| e.info.clone()).collect(),
        }
    }

    /// The STATS response; `data` is the stats handler, called once per endpoint with its
    /// statistics (whose `data` is `None`).
    pub fn stats(&self, data: &mut dyn FnMut(&EndpointStats) -> Option<serde_json::Value>) -> StatsResponse {
        let endpoints = self
            .endpoints
            .iter()
            .filter(|e| !e.stopped)
            .map(|e| {
                let c = &e.counters;
                let processing_time = nanos(c.processing_time);
                let mut stats = EndpointStats {
                    name: e.info.name.clone(),
                    subject: e.info.subject.clone(),
                    queue_group: e.info.queue_group.clone(),
                    num_requests: c.num_requests,
                    num_errors: c.num_errors,
                    last_error: c.last_error.clone(),
                    processing_time,
                    average_processing_time: processing_time.checked_div(c.num_requests).unwrap_or(0),
                    data: None,
                };
                stats.data = data(&stats);
                stats
            })
            .collect();
        StatsResponse {
            kind: STATS_RESPONSE_TYPE.to_owned(),
            name: self.config.name.clone(),
            id: self.id.clone(),
            version: self.config.version.clone(),
            metadata: self.config.metadata.clone(),
            started: self.started.clone(),
            endpoints,
        }
    }

    /// An endpoint stopped on its own: it leaves INFO and STATS (its id stays unused).
    pub fn remove_endpoint(&mut self, endpoint: EndpointId) {
        if let Some(endpoint) = self.endpoints.get_mut(endpoint.0) {
            endpoint.stopped = true;
        }
    }

    /// The JSON reply to a message on a control subject; `None` when `subject` is not one.
    /// The request's payload is ignored, as the other clients do.
    pub fn handle_control(
        &self,
        subject: &str,
        data: &mut dyn FnMut(&EndpointStats) -> Option<serde_json::Value>,
    ) -> Option<Vec<u8>> {
        let json = match Verb::from_subject_with_prefix(&self.config.api_prefix, subject)? {
            Verb::Ping => serde_json::to_vec(&self.ping()),
            Verb::Info => serde_json::to_vec(&self.info()),
            Verb::Stats => serde_json::to_vec(&self.stats(data)),
        };
        // These types always serialize (string keys, no non-finite floats from us; a
        // handler's `Value` is valid JSON by construction).
        json.ok()
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use serde_json::{json, Value};

    use super::*;

    fn core() -> ServiceCore {
        let mut config = ServiceConfig::new("calc", "1.2.3");
        config.description = "adds".into();
        config.metadata.insert("region".into(), "eu".into());
        ServiceCore::new(config, "ID1".into(), UNIX_EPOCH + Duration::from_secs(1_700_000_000)).unwrap()
    }

    fn no_data(_: &EndpointStats) -> Option<Value> {
        None
    }

    #[test]
    fn refuses_bad_configs() {
        let at = UNIX_EPOCH;
        assert!(ServiceCore::new(ServiceConfig::new("a b", "1.0.0"), "X".into(), at).is_err());
        assert!(ServiceCore::new(ServiceConfig::new("a", "1.0"), "X".into(), at).is_err());
        assert!(ServiceCore::new(ServiceConfig::new("a", "1.0.0"), "X.Y".into(), at).is_err());
    }

    #[test]
    fn control_subjects_for_every_verb_and_level() {
        assert_eq!(
            core().control_subjects(),
            [
                "$SRV.PING",
                "$SRV.PING.calc",
                "$SRV.PING.calc.ID1",
                "$SRV.INFO",
                "$SRV.INFO.calc",
                "$SRV.INFO.calc.ID1",
                "$SRV.STATS",
                "$SRV.STATS.calc",
                "$SRV.STATS.calc.ID1",
            ]
        );
    }

    #[test]
    fn endpoints_subjects_and_queue_groups() {
        let mut core = core();
        let sub = core.add_endpoint(EndpointSpec::new("add")).unwrap();
        assert_eq!((sub.subject.as_str(), sub.queue_group.as_deref()), ("add", Some("q")));

        let mut spec = EndpointSpec::new("sub");
        spec.group = "math.v1".into();
        spec.subject = Some("minus.*".into());
        spec.queue_group = QueueGroup::named("workers");
        let sub = core.add_endpoint(spec).unwrap();
        assert_eq!((sub.subject.as_str(), sub.queue_group.as_deref()), ("math.v1.minus.*", Some("workers")));

        let mut spec = EndpointSpec::new("all");
        spec.queue_group = QueueGroup::Disabled;
        let sub = core.add_endpoint(spec).unwrap();
        assert_eq!(sub.queue_group, None);
        assert_eq!(core.endpoint(sub.endpoint).unwrap().queue_group, "");

        for (name, group, subject) in
            [("bad name", "", None), ("ok", "a.>", None), ("ok", "", Some("a..b")), ("ok", "", Some(">.a"))]
        {
            let mut spec = EndpointSpec::new(name);
            spec.group = group.into();
            spec.subject = subject.map(str::to_owned);
            assert!(core.add_endpoint(spec).is_err(), "{name} {group} {subject:?}");
        }
        assert_eq!(core.info().endpoints.len(), 3, "refused endpoints are not added");
        let mut stopped = core.clone();
        stopped.remove_endpoint(EndpointId(0));
        assert_eq!(stopped.info().endpoints.len(), 2, "a stopped endpoint leaves INFO");
        assert_eq!(stopped.stats(&mut |_| None).endpoints.len(), 2, "and STATS");
        let mut spec = EndpointSpec::new("named");
        spec.group = "g".into();
        spec.subject = Some(String::new());
        assert_eq!(core.add_endpoint(spec).unwrap().subject, "g.named", "an empty subject means the name");

        // The service's queue group is the default for its endpoints.
        let mut config = ServiceConfig::new("x", "1.0.0");
        config.queue_group = QueueGroup::named("svc");
        let mut other = ServiceCore::new(config, "I".into(), UNIX_EPOCH).unwrap();
        assert_eq!(other.add_endpoint(EndpointSpec::new("e")).unwrap().queue_group.as_deref(), Some("svc"));
    }

    #[test]
    fn discovery_responses_are_exactly_shaped() {
        let mut core = core();
        let mut spec = EndpointSpec::new("add");
        spec.group = "calc".into();
        spec.metadata.insert("unit".into(), "none".into());
        core.add_endpoint(spec).unwrap();

        let ping: Value =
            serde_json::from_slice(&core.handle_control("$SRV.PING", &mut no_data).unwrap()).unwrap();
        assert_eq!(
            ping,
            json!({"type": "io.nats.micro.v1.ping_response", "name": "calc", "id": "ID1",
                   "version": "1.2.3", "metadata": {"region": "eu"}})
        );
        let info: Value =
            serde_json::from_slice(&core.handle_control("$SRV.INFO.calc", &mut no_data).unwrap()).unwrap();
        assert_eq!(
            info,
            json!({"type": "io.nats.micro.v1.info_response", "name": "calc", "id": "ID1",
                   "version": "1.2.3", "metadata": {"region": "eu"}, "description": "adds",
                   "endpoints": [{"name": "add", "subject": "calc.add", "queue_group": "q",
                                  "metadata": {"unit": "none"}}]})
        );
        let stats: Value =
            serde_json::from_slice(&core.handle_control("$SRV.STATS.calc.ID1", &mut no_data).unwrap())
                .unwrap();
        assert_eq!(
            stats,
            json!({"type": "io.nats.micro.v1.stats_response", "name": "calc", "id": "ID1",
                   "version": "1.2.3", "metadata": {"region": "eu"},
                   "started": "2023-11-14T22:13:20.000000Z",
                   "endpoints": [{"name": "add", "subject": "calc.add", "queue_group": "q",
                                  "num_requests": 0, "num_errors": 0, "last_error": "",
                                  "processing_time": 0, "average_processing_time": 0,
                                  "data": null}]})
        );
        assert_eq!(core.handle_control("calc.add", &mut no_data), None);

        // Another API prefix.
        let mut config = ServiceConfig::new("calc", "1.2.3");
        config.api_prefix = "acct.$SRV".into();
        let other = ServiceCore::new(config, "ID2".into(), UNIX_EPOCH).unwrap();
        assert_eq!(
            other.control_subjects()[..3],
            ["acct.$SRV.PING", "acct.$SRV.PING.calc", "acct.$SRV.PING.calc.ID2"]
        );
        assert!(other.handle_control("acct.$SRV.STATS.calc", &mut no_data).is_some());
        assert_eq!(other.handle_control("$SRV.STATS.calc", &mut no_data), None);
    }

    #[test]
    fn stats_accounting() {
        let mut core = core();
        let add = core.add_endpoint(EndpointSpec::new("add")).unwrap().endpoint;
        let div = core.add_endpoint(EndpointSpec::new("div")).unwrap().endpoint;
        core.record(add, Duration::from_nanos(100), None);
        core.record(add, Duration::from_nanos(201), None);
        core.record(add, Duration::from_nanos(300), Some((400, "bad input")));
        core.record(div, Duration::from_micros(1), Some((500, "division by zero")));
        core.record(EndpointId(99), Duration::from_secs(1), None);

        let stats = core.stats(&mut |e| Some(json!({"seen": e.num_requests})));
        let add = &stats.endpoints[0];
        assert_eq!((add.num_requests, add.num_errors), (3, 1));
        assert_eq!((add.processing_time, add.average_processing_time), (601, 200));
        assert_eq!(add.last_error, "400:bad input");
        assert_eq!(add.data, Some(json!({"seen": 3})));
        let div = &stats.endpoints[1];
        assert_eq!((div.num_requests, div.num_errors, div.processing_time), (1, 1, 1000));
        assert_eq!(div.last_error, "500:division by zero");

        // Overflow saturates instead of panicking.
        core.record(EndpointId(0), Duration::MAX, None);
        assert_eq!(core.stats(&mut no_data).endpoints[0].processing_time, u64::MAX);

        core.reset(UNIX_EPOCH + Duration::from_secs(1_800_000_000));
        let stats = core.stats(&mut no_data);
        assert_eq!(stats.started, "2027-01-15T08:00:00.000000Z");
        for e in &stats.endpoints {
            assert_eq!(
                (e.num_requests, e.num_errors, e.processing_time, e.last_error.as_str()),
                (0, 0, 0, "")
            );
        }
        // The responses parse back into the same types.
        let bytes = core.handle_control("$SRV.STATS", &mut no_data).unwrap();
        assert_eq!(serde_json::from_slice::<StatsResponse>(&bytes).unwrap(), stats);
    }
}
