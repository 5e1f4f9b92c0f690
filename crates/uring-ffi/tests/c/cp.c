/* cp SRC DST: copies a file through linked read->write pairs, several in flight,
 * and an fsync at the end. Prints the bytes copied. */
#include "common.h"
#include <sys/stat.h>

#define QD 4
#define BS 4096

int main(int argc, char **argv)
{
	static char bufs[QD][BS];
	unsigned lens[QD];
	int busy[QD] = { 0 };
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct stat st;
	off_t size, offset = 0;
	int in, out, inflight = 0;
	long long copied = 0;

	CHECK(argc == 3);
	in = open(argv[1], O_RDONLY);
	out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(in >= 0 && out >= 0);
	CHECK(fstat(in, &st) == 0);
	size = st.st_size;
	CHECK(io_uring_queue_init(2 * QD, &ring, 0) == 0);

	while (offset < size || inflight) {
		/* Queue a read->write pair into every free buffer. */
		int queued = 0;
		for (int slot = 0; slot < QD && offset < size; slot++) {
			unsigned len = size - offset < BS ? size - offset : BS;

			if (busy[slot])
				continue;
			sqe = io_uring_get_sqe(&ring);
			io_uring_prep_read(sqe, in, bufs[slot], len, offset);
			sqe->flags |= IOSQE_IO_LINK;
			sqe->user_data = 0;
			sqe = io_uring_get_sqe(&ring);
			io_uring_prep_write(sqe, out, bufs[slot], len, offset);
			sqe->user_data = slot + 1;
			lens[slot] = len;
			busy[slot] = 1;
			offset += len;
			queued++;
		}
		if (queued)
			CHECK(io_uring_submit(&ring) == 2 * queued);
		inflight += queued;
		/* Reap until a write completes and frees its buffer. */
		for (;;) {
			unsigned long long ud;

			CHECK(io_uring_wait_cqe(&ring, &cqe) == 0);
			if (cqe->res < 0) {
				fprintf(stderr, "op failed: %s\n", strerror(-cqe->res));
				return 1;
			}
			ud = cqe->user_data;
			if (ud) {
				CHECK((unsigned) cqe->res == lens[ud - 1]);
				copied += cqe->res;
				busy[ud - 1] = 0;
			}
			io_uring_cqe_seen(&ring, cqe);
			if (ud)
				break;
		}
		inflight--;
	}
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_fsync(sqe, out, 0);
	CHECK(io_uring_submit_and_wait(&ring, 1) == 1);
	CHECK(io_uring_wait_cqe(&ring, &cqe) == 0 && cqe->res == 0);
	io_uring_cqe_seen(&ring, cqe);
	printf("copied %lld bytes\n", copied);
	io_uring_queue_exit(&ring);
	close(in);
	close(out);
	return 0;
}
