//! Feeding the server-op decoder in pieces (sizes drawn from the first two input bytes)
//! gives the same ops and error as feeding it whole. See `nats_proto_fuzzing::decode_split`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nats_proto_fuzzing::decode_split(data));
