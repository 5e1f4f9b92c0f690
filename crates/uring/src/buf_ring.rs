//! Provided-buffer rings (`IORING_REGISTER_PBUF_RING`): a ring of buffers the kernel
//! picks from for reads and receives with `IOSQE_BUFFER_SELECT`.
