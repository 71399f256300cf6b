//! Placeholder being replaced by the protobuf decoding work.
