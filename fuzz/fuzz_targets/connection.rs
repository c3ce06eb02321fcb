//! Drives the connection state machine with arbitrary sequences of transport events,
//! server ops, raw bytes, time and user commands; see `nats_proto_fuzzing::connection`
//! for the invariants checked after every step.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nats_proto_fuzzing::connection(data));
