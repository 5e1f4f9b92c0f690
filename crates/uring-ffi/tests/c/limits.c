/* Limits a C program may hit: a wait timeout of LONG_MAX seconds (the wait ends
 * with the completion, as the kernel's does) and, when the environment makes the
 * setup fail (a malformed URING_ENGINE_SEED on the engine), an errno from
 * io_uring_queue_init rather than an abort. */
#include <limits.h>

#include "common.h"

int main(void)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	struct __kernel_timespec soon = { .tv_sec = 0, .tv_nsec = 20 * 1000 * 1000 };
	struct __kernel_timespec never = { .tv_sec = LONG_MAX, .tv_nsec = 0 };
	int ret;

	ret = io_uring_queue_init(4, &ring, 0);
	printf("queue_init = %d\n", ret);
	if (ret < 0)
		return 0;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	CHECK(sqe);
	io_uring_prep_timeout(sqe, &soon, 0, 0);
	sqe->user_data = 7;
	CHECK(io_uring_submit(&ring) == 1);
	ret = io_uring_wait_cqe_timeout(&ring, &cqe, &never);
	printf("wait = %d\n", ret);
	CHECK(ret == 0);
	printf("cqe %llu res %d\n", (unsigned long long)cqe->user_data, cqe->res);
	io_uring_cqe_seen(&ring, cqe);
	io_uring_queue_exit(&ring);
	return 0;
}
