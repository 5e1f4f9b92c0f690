/* Submitting and waiting: submit variants, peek, wait with and without timeouts,
 * batches, CQ overflow, and the raw system call wrappers. */
#include "common.h"

static void queue_nops(struct io_uring *ring, int n, unsigned long long first)
{
	for (int i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
		CHECK(sqe);
		io_uring_prep_nop(sqe);
		sqe->user_data = first + i;
	}
}

static int reap_all(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(ring, head, cqe) {
		CHECK(cqe->res == 0);
		n++;
	}
	io_uring_cq_advance(ring, n);
	return n;
}

int main(void)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe, *cqes[16];
	struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 20 * 1000 * 1000 };
	struct io_uring_sqe *sqe;
	int ret, fd;
	unsigned n;

	CHECK(io_uring_queue_init(8, &ring, 0) == 0);

	/* Empty ring. */
	show("peek empty", io_uring_peek_cqe(&ring, &cqe));
	show("peek empty cqe null", cqe == NULL);
	show("wait_cqe_timeout empty", io_uring_wait_cqe_timeout(&ring, &cqe, &ts));
	show("wait_cqes 2 timeout empty", io_uring_wait_cqes(&ring, &cqe, 2, &ts, NULL));
	show("submit nothing", io_uring_submit(&ring));
	show("get_events", io_uring_get_events(&ring));

	/* Ready counts. */
	queue_nops(&ring, 3, 100);
	show("sq_ready", io_uring_sq_ready(&ring));
	show("sq_space_left", io_uring_sq_space_left(&ring));
	show("submit 3", io_uring_submit(&ring));
	show("wait_cqe_nr 3", io_uring_wait_cqe_nr(&ring, &cqe, 3));
	show("cq_ready", io_uring_cq_ready(&ring));
	n = io_uring_peek_batch_cqe(&ring, cqes, 16);
	show("peek_batch", n);
	for (unsigned i = 0; i < n; i++)
		printf("  ud %llu res %d\n", (unsigned long long) cqes[i]->user_data, cqes[i]->res);
	io_uring_cq_advance(&ring, n);
	show("cq_ready after advance", io_uring_cq_ready(&ring));

	/* submit_and_wait / submit_and_get_events / submit_and_wait_timeout. */
	queue_nops(&ring, 2, 200);
	show("submit_and_wait 2", io_uring_submit_and_wait(&ring, 2));
	show("reaped", reap_all(&ring));
	queue_nops(&ring, 2, 300);
	show("submit_and_get_events", io_uring_submit_and_get_events(&ring));
	show("reaped", reap_all(&ring));
	queue_nops(&ring, 1, 400);
	ret = io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ts, NULL);
	show("submit_and_wait_timeout", ret);
	CHECK(cqe && cqe->user_data == 400);
	io_uring_cqe_seen(&ring, cqe);
	show("submit_and_wait_timeout nothing", io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ts, NULL));
	queue_nops(&ring, 2, 500);
	show("submit_and_wait_timeout no ts", io_uring_submit_and_wait_timeout(&ring, &cqe, 2, NULL, NULL));
	show("reaped", reap_all(&ring));

	/* A TIMEOUT op: expiring, and satisfied by a count. */
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_timeout(sqe, &ts, 0, 0);
	sqe->user_data = 600;
	io_uring_submit(&ring);
	show("wait timeout op", io_uring_wait_cqe(&ring, &cqe));
	printf("  ud %llu res %d\n", (unsigned long long) cqe->user_data, cqe->res);
	io_uring_cqe_seen(&ring, cqe);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_timeout(sqe, &ts, 1, 0);
	sqe->user_data = 601;
	queue_nops(&ring, 1, 602);
	show("submit timeout+nop", io_uring_submit_and_wait(&ring, 2));
	for (int i = 0; i < 2; i++) {
		CHECK(io_uring_wait_cqe(&ring, &cqe) == 0);
		printf("  ud %llu res %d\n", (unsigned long long) cqe->user_data, cqe->res);
		io_uring_cqe_seen(&ring, cqe);
	}

	/* The SQ full: get_sqe returns NULL. */
	queue_nops(&ring, 8, 700);
	show("get_sqe when full is null", io_uring_get_sqe(&ring) == NULL);
	show("submit 8", io_uring_submit_and_wait(&ring, 8));
	show("reaped", reap_all(&ring));

	/* CQ overflow (NODROP): 24 NOPs through a 16-entry CQ, reaped 8 at a time. */
	for (int round = 0; round < 3; round++) {
		queue_nops(&ring, 8, 800 + 8 * round);
		CHECK(io_uring_submit(&ring) == 8);
	}
	show("cq_has_overflow", io_uring_cq_has_overflow(&ring));
	n = 0;
	while (n < 24) {
		ret = io_uring_wait_cqe(&ring, &cqe);
		if (ret < 0) {
			show("wait during overflow", ret);
			break;
		}
		CHECK(cqe->user_data == 800 + n);
		io_uring_cqe_seen(&ring, cqe);
		n++;
	}
	show("overflowed reaped in order", n);
	show("cq_has_overflow after", io_uring_cq_has_overflow(&ring));

	/* Raw wrappers: -errno, errno untouched. */
	errno = 0;
	show("enter bad fd", io_uring_enter(12345, 0, 0, 0, NULL));
	show("enter2 bad flags", io_uring_enter2(ring.ring_fd, 0, 0, 1U << 30, NULL, 0));
	show("enter ok", io_uring_enter(ring.ring_fd, 0, 0, IORING_ENTER_GETEVENTS, NULL));
	show("register bad opcode", io_uring_register(ring.ring_fd, 9999, NULL, 0));
	show("register bad fd", io_uring_register(12345, IORING_REGISTER_PROBE, NULL, 0));
	fd = io_uring_setup(0, &(struct io_uring_params){ 0 });
	show("setup 0", fd);
	show("errno", errno);
	io_uring_queue_exit(&ring);
	return 0;
}
