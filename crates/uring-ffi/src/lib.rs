//! A drop-in liburing (under construction this session).
