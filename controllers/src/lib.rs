//! Controllers (being written).
