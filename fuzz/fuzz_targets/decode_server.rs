//! Arbitrary bytes fed to the server-op decoder never panic, stay within the limits, and
//! an error is final. See `nats_proto_fuzzing::decode_server`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nats_proto_fuzzing::decode_server(data));
