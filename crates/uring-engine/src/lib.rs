//! io_uring implemented in user space (under construction this session).
