//! Arbitrary valid ops in both directions, encoded then decoded (whole and split), come
//! back identical. See `nats_proto_fuzzing::roundtrip`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nats_proto_fuzzing::roundtrip(data));
