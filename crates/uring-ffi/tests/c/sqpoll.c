/* SQPOLL: submission without io_uring_enter, the poller going idle and being woken,
 * and io_uring_sqring_wait. */
#include "common.h"

int main(void)
{
	struct io_uring ring;
	struct io_uring_params p = { .flags = IORING_SETUP_SQPOLL, .sq_thread_idle = 10 };
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	char buf[64], back[64];
	int fd = temp_file();

	show("init sqpoll", io_uring_queue_init_params(8, &ring, &p));
	show("sqring_wait with room", io_uring_sqring_wait(&ring));

	for (int round = 0; round < 3; round++) {
		snprintf(buf, sizeof(buf), "round %d of the sqpoll test", round);
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_write(sqe, fd, buf, strlen(buf), 64 * round);
		sqe->user_data = round;
		show("submit", io_uring_submit(&ring));
		show("wait", io_uring_wait_cqe(&ring, &cqe));
		printf("  ud %llu res %d\n", (unsigned long long) cqe->user_data, cqe->res);
		io_uring_cqe_seen(&ring, cqe);
		/* Let the poller go idle (10 ms without work), so the next submit has to
		 * wake it. On a loaded machine the poller may not run for a while: poll the
		 * flag for up to 10 s rather than trust one fixed sleep. */
		for (int ms = 0; ms < 10000; ms += 5) {
			if (IO_URING_READ_ONCE(*ring.sq.kflags) & IORING_SQ_NEED_WAKEUP)
				break;
			usleep(5 * 1000);
		}
		show("need_wakeup set after idle",
		     !!(IO_URING_READ_ONCE(*ring.sq.kflags) & IORING_SQ_NEED_WAKEUP));
	}
	for (int round = 0; round < 3; round++) {
		snprintf(buf, sizeof(buf), "round %d of the sqpoll test", round);
		CHECK(pread(fd, back, strlen(buf), 64 * round) == (ssize_t) strlen(buf));
		CHECK(memcmp(buf, back, strlen(buf)) == 0);
	}
	printf("file contents match\n");

	/* Fill the SQ with NOPs and submit them all. */
	for (int i = 0; i < 8; i++) {
		sqe = io_uring_get_sqe(&ring);
		CHECK(sqe);
		io_uring_prep_nop(sqe);
	}
	show("submit 8", io_uring_submit(&ring));
	show("wait_cqe_nr 8", io_uring_wait_cqe_nr(&ring, &cqe, 8));
	io_uring_cq_advance(&ring, 8);
	io_uring_queue_exit(&ring);
	close(fd);
	return 0;
}
