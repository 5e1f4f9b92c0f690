/* A ring fd the program dup()s, closing the original (liburing's sq-poll-dup): the
 * duplicate names the same ring, the original's number may be reused by another file,
 * and io_uring_queue_exit closes the duplicate. And a ring fd the program closes
 * itself, without io_uring_queue_exit, whose number the next ring gets
 * (liburing's recv-msgall-stream closes a socket twice): the number names the new
 * ring. */
#include "common.h"

static void nop_round(struct io_uring *ring, const char *what, int n)
{
	struct io_uring_cqe *cqe;

	for (int i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
		CHECK(sqe);
		io_uring_prep_nop(sqe);
		sqe->user_data = 100 + i;
	}
	printf("%s: submit_and_wait = %d\n", what, io_uring_submit_and_wait(ring, n));
	for (int i = 0; i < n; i++) {
		CHECK(io_uring_wait_cqe(ring, &cqe) == 0);
		printf("  ud %llu res %d\n", (unsigned long long) cqe->user_data, cqe->res);
		io_uring_cqe_seen(ring, cqe);
	}
}

int main(void)
{
	unsigned flags[] = { 0, IORING_SETUP_SQPOLL };

	for (int f = 0; f < 2; f++) {
		struct io_uring_params p = { .flags = flags[f], .sq_thread_idle = 10 };
		struct io_uring ring;
		int orig, dup_fd, other;

		printf("flags %u\n", flags[f]);
		show("init", io_uring_queue_init_params(8, &ring, &p));
		nop_round(&ring, "before dup", 2);
		orig = ring.ring_fd;
		dup_fd = dup(orig);
		CHECK(dup_fd >= 0);
		show("close original", close(orig));
		/* The lowest free number: the original's, now another file. */
		other = open("/dev/null", O_WRONLY);
		show("number reused", other == orig);
		ring.ring_fd = ring.enter_ring_fd = dup_fd;
		nop_round(&ring, "through the duplicate", 3);
		/* Let an SQ poll thread go idle, so the next submit has to wake it. */
		usleep(50 * 1000);
		nop_round(&ring, "after idle", 1);
		show("other file still writable", (int) write(other, "x", 1));
		io_uring_queue_exit(&ring);
		show("duplicate closed by exit", fcntl(dup_fd, F_GETFD) == -1 && errno == EBADF);
		show("other file still open", fcntl(other, F_GETFD) >= 0);
		close(other);
	}
	{
		struct io_uring old, ring;
		int fd;

		show("init 4", io_uring_queue_init(4, &old, 0));
		nop_round(&old, "old ring", 1);
		fd = old.ring_fd;
		show("close by hand", close(fd));
		show("init 16", io_uring_queue_init(16, &ring, 0));
		show("same number", ring.ring_fd == fd);
		show("sq entries", (int) ring.sq.ring_entries);
		show("cq entries", (int) ring.cq.ring_entries);
		nop_round(&ring, "new ring", 8);
		io_uring_queue_exit(&ring);
	}
	return 0;
}
