/* Provided-buffer rings: registered by hand (the 2.3 API), buffers picked by the
 * kernel for reads from a pipe, recycled, and unregistered. */
#include "common.h"
#include <sys/mman.h>

#define ENTRIES 4
#define BUF 32
#define BGID 7

int main(void)
{
	static char bufs[ENTRIES][BUF];
	struct io_uring ring;
	struct io_uring_buf_ring *br;
	struct io_uring_buf_reg reg = { 0 };
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	int pipes[2], mask = io_uring_buf_ring_mask(ENTRIES);

	CHECK(io_uring_queue_init(8, &ring, 0) == 0);
	CHECK(pipe(pipes) == 0);
	br = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	CHECK(br != MAP_FAILED);
	io_uring_buf_ring_init(br);
	reg.ring_addr = (unsigned long) br;
	reg.ring_entries = ENTRIES;
	reg.bgid = BGID;
	show("register_buf_ring", io_uring_register_buf_ring(&ring, &reg, 0));
	show("register_buf_ring again", io_uring_register_buf_ring(&ring, &reg, 0));
	for (int i = 0; i < ENTRIES; i++)
		io_uring_buf_ring_add(br, bufs[i], BUF, i, mask, i);
	io_uring_buf_ring_advance(br, ENTRIES);

	for (int i = 0; i < 6; i++) {
		char msg[BUF];
		int len = snprintf(msg, sizeof(msg), "message %d", i);
		unsigned bid;

		CHECK(write(pipes[1], msg, len) == len);
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_read(sqe, pipes[0], NULL, BUF, 0);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = BGID;
		sqe->user_data = i;
		CHECK(io_uring_submit_and_wait(&ring, 1) == 1);
		CHECK(io_uring_wait_cqe(&ring, &cqe) == 0);
		bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		printf("read %d: res %d has_buffer %d bid %u data '%.*s'\n", i, cqe->res,
		       !!(cqe->flags & IORING_CQE_F_BUFFER), bid, cqe->res, bufs[bid]);
		/* Give the buffer back and mark the CQE seen in one step. */
		io_uring_buf_ring_add(br, bufs[bid], BUF, bid, mask, 0);
		io_uring_buf_ring_cq_advance(&ring, br, 1);
	}

	/* A group that does not exist. */
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, pipes[0], NULL, BUF, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID + 1;
	CHECK(io_uring_submit_and_wait(&ring, 1) == 1);
	CHECK(io_uring_wait_cqe(&ring, &cqe) == 0);
	show("read from unknown group", cqe->res);
	io_uring_cqe_seen(&ring, cqe);

	show("unregister_buf_ring", io_uring_unregister_buf_ring(&ring, BGID));
	show("unregister_buf_ring again", io_uring_unregister_buf_ring(&ring, BGID));
	io_uring_queue_exit(&ring);
	return 0;
}
