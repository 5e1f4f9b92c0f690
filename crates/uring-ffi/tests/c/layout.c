/* Prints the size of liburing's structs and the offset of each field, as the
 * system's liburing.h lays them out: "name value" lines, read by the layout test. */
#include <liburing.h>
#include <stddef.h>
#include <stdio.h>

#define SIZE(t) printf("sizeof(%s) %zu\n", #t, sizeof(struct t))
#define OFF(t, f) printf("%s.%s %zu\n", #t, #f, offsetof(struct t, f))

int main(void)
{
	SIZE(io_uring_sq);
	OFF(io_uring_sq, khead); OFF(io_uring_sq, ktail); OFF(io_uring_sq, kring_mask);
	OFF(io_uring_sq, kring_entries); OFF(io_uring_sq, kflags); OFF(io_uring_sq, kdropped);
	OFF(io_uring_sq, array); OFF(io_uring_sq, sqes); OFF(io_uring_sq, sqe_head);
	OFF(io_uring_sq, sqe_tail); OFF(io_uring_sq, ring_sz); OFF(io_uring_sq, ring_ptr);
	OFF(io_uring_sq, ring_mask); OFF(io_uring_sq, ring_entries); OFF(io_uring_sq, pad);
	SIZE(io_uring_cq);
	OFF(io_uring_cq, khead); OFF(io_uring_cq, ktail); OFF(io_uring_cq, kring_mask);
	OFF(io_uring_cq, kring_entries); OFF(io_uring_cq, kflags); OFF(io_uring_cq, koverflow);
	OFF(io_uring_cq, cqes); OFF(io_uring_cq, ring_sz); OFF(io_uring_cq, ring_ptr);
	OFF(io_uring_cq, ring_mask); OFF(io_uring_cq, ring_entries); OFF(io_uring_cq, pad);
	SIZE(io_uring);
	OFF(io_uring, sq); OFF(io_uring, cq); OFF(io_uring, flags); OFF(io_uring, ring_fd);
	OFF(io_uring, features); OFF(io_uring, enter_ring_fd); OFF(io_uring, int_flags);
	OFF(io_uring, pad); OFF(io_uring, pad2);
	return 0;
}
