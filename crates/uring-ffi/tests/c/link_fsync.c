/* Linked writes ending in an fsync, a failing link (the rest cancelled), a hard link
 * (the rest runs), and a drain. */
#include "common.h"

static void reap(struct io_uring *ring, int n)
{
	struct io_uring_cqe *cqe;

	for (int i = 0; i < n; i++) {
		CHECK(io_uring_wait_cqe(ring, &cqe) == 0);
		printf("  ud %llu res %d\n", (unsigned long long) cqe->user_data, cqe->res);
		io_uring_cqe_seen(ring, cqe);
	}
}

int main(void)
{
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	char blocks[4][512], back[512];
	int fd = temp_file();

	CHECK(io_uring_queue_init(16, &ring, 0) == 0);

	for (int i = 0; i < 4; i++) {
		memset(blocks[i], 'a' + i, sizeof(blocks[i]));
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_write(sqe, fd, blocks[i], sizeof(blocks[i]), i * 512);
		sqe->flags |= IOSQE_IO_LINK;
		sqe->user_data = i + 1;
	}
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
	sqe->user_data = 5;
	show("submit writes+fsync", io_uring_submit(&ring));
	reap(&ring, 5);
	for (int i = 0; i < 4; i++) {
		CHECK(pread(fd, back, sizeof(back), i * 512) == sizeof(back));
		CHECK(memcmp(back, blocks[i], sizeof(back)) == 0);
	}
	printf("file contents match\n");

	/* A link whose first member fails: the rest are cancelled. */
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_write(sqe, -1, blocks[0], 512, 0);
	sqe->flags |= IOSQE_IO_LINK;
	sqe->user_data = 10;
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_write(sqe, fd, blocks[1], 512, 0);
	sqe->flags |= IOSQE_IO_LINK;
	sqe->user_data = 11;
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_fsync(sqe, fd, 0);
	sqe->user_data = 12;
	show("submit failing link", io_uring_submit(&ring));
	reap(&ring, 3);

	/* A hard link survives the failure. */
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_write(sqe, -1, blocks[0], 512, 0);
	sqe->flags |= IOSQE_IO_HARDLINK;
	sqe->user_data = 20;
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_fsync(sqe, fd, 0);
	sqe->user_data = 21;
	show("submit hardlink", io_uring_submit(&ring));
	reap(&ring, 2);

	/* A drain runs after everything before it. */
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_write(sqe, fd, blocks[2], 512, 2048);
	sqe->user_data = 30;
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_fsync(sqe, fd, 0);
	sqe->flags |= IOSQE_IO_DRAIN;
	sqe->user_data = 31;
	show("submit drain", io_uring_submit_and_wait(&ring, 2));
	reap(&ring, 2);

	io_uring_queue_exit(&ring);
	close(fd);
	return 0;
}
