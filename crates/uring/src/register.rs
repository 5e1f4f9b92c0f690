//! `io_uring_register(2)`: one function per `IORING_REGISTER_*` opcode, as methods of
//! the [`Submitter`](crate::Submitter). Like liburing's `register.c`.
