//! The string enums of stream and consumer configurations. Each keeps a value this version
//! does not know (`Other`), as a newer server may add one: reading a configuration never
//! fails on it, and an update sends it back as it was.

use super::wire::wire_enum;

wire_enum! {
    /// How a stream retains messages.
    pub enum RetentionPolicy {
        /// Up to the limits (messages, bytes, age).
        Limits = "limits",
        /// While some consumer is interested.
        Interest = "interest",
        /// Until one consumer acknowledges (work queue).
        WorkQueue = "workqueue",
    }
    default = Limits;
}

wire_enum! {
    /// What happens when a stream is full.
    pub enum DiscardPolicy {
        /// Old messages are removed.
        Old = "old",
        /// New messages are refused.
        New = "new",
    }
    default = Old;
}

wire_enum! {
    /// Where a stream keeps its messages.
    pub enum StorageType {
        /// On disk.
        File = "file",
        /// In memory.
        Memory = "memory",
    }
    default = File;
}

wire_enum! {
    /// How a stream compresses what it stores on disk (servers since 2.10).
    pub enum Compression {
        /// Not compressed.
        None = "none",
        /// S2.
        S2 = "s2",
    }
    default = None;
}

wire_enum! {
    /// When a stream's writes reach the disk (servers since 2.12).
    pub enum PersistMode {
        /// Before the publish is acknowledged.
        Default = "default",
        /// Asynchronously: an acknowledged message can be lost if the server is killed
        /// before it flushes.
        Async = "async",
    }
    default = Default;
}

wire_enum! {
    /// How a consumer expects acknowledgements.
    pub enum AckPolicy {
        /// Each message is acknowledged.
        Explicit = "explicit",
        /// Nothing is acknowledged.
        None = "none",
        /// Acknowledging one acknowledges all before it.
        All = "all",
    }
    default = Explicit;
}

wire_enum! {
    /// How fast a consumer replays.
    pub enum ReplayPolicy {
        /// As fast as possible.
        Instant = "instant",
        /// At the pace the messages were stored.
        Original = "original",
    }
    default = Instant;
}

wire_enum! {
    /// How the pull requests of a consumer's priority groups share its messages (servers
    /// since 2.11; ADR-42).
    pub enum PriorityPolicy {
        /// No priority groups.
        None = "none",
        /// A request is served only while the consumer has at least `min_pending` messages
        /// or `min_ack_pending` unacknowledged ones: others take the overflow.
        Overflow = "overflow",
        /// One client at a time is pinned (its requests carry the pin id); others take
        /// over when it stops pulling for the priority timeout.
        PinnedClient = "pinned_client",
        /// Requests with a lower `priority` number are served first (servers since 2.12).
        Prioritized = "prioritized",
    }
    default = None;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_read_as_variants_and_unknown_ones_are_kept() {
        let policy: RetentionPolicy = serde_json::from_str(r#""workqueue""#).unwrap();
        assert_eq!(policy, RetentionPolicy::WorkQueue);
        assert_eq!(serde_json::to_string(&policy).unwrap(), r#""workqueue""#);

        let newer: RetentionPolicy = serde_json::from_str(r#""tiered""#).unwrap();
        assert_eq!(newer, RetentionPolicy::Other("tiered".into()));
        assert_eq!(serde_json::to_string(&newer).unwrap(), r#""tiered""#, "sent back as received");
        assert_eq!(newer.to_string(), "tiered");

        assert_eq!(PriorityPolicy::from_wire("pinned_client"), PriorityPolicy::PinnedClient);
        assert_eq!(Compression::default().as_str(), "none");
        assert_eq!(PersistMode::from_wire("async"), PersistMode::Async);
        assert!(serde_json::from_str::<StorageType>("3").is_err(), "not a string: a decode error");
    }
}
