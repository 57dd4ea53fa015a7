//! SSH message decoding (in progress).
