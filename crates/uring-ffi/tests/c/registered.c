/* Registrations: fixed buffers and files (plain, tagged, sparse, updated), the ring
 * fd, eventfd, personality, probe, io-wq limits, sync cancel, file alloc range. */
#include "common.h"
#include <sys/eventfd.h>
#include <sys/uio.h>

static int run(struct io_uring *ring, struct io_uring_sqe *sqe, unsigned long long ud)
{
	struct io_uring_cqe *cqe;
	int res;

	sqe->user_data = ud;
	CHECK(io_uring_submit_and_wait(ring, 1) == 1);
	for (;;) {
		CHECK(io_uring_wait_cqe(ring, &cqe) == 0);
		if (cqe->user_data == ud)
			break;
		/* The CQE of a released tagged resource (its tag is small): skip. */
		CHECK(cqe->user_data < 100);
		io_uring_cqe_seen(ring, cqe);
	}
	res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

int main(void)
{
	static char a[4096], b[4096];
	struct iovec iov[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	unsigned long long tags[2] = { 1, 2 };
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_probe *probe;
	unsigned workers[2] = { 0, 0 };
	int fd = temp_file(), files[2], ret, efd;
	uint64_t count;

	CHECK(io_uring_queue_init(8, &ring, 0) == 0);

	/* Fixed buffers: write from one, read back into the other. */
	show("register_buffers", io_uring_register_buffers(&ring, iov, 2));
	show("register_buffers again", io_uring_register_buffers(&ring, iov, 2));
	memset(a, 'x', sizeof(a));
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_write_fixed(sqe, fd, a, sizeof(a), 0, 0);
	show("write_fixed", run(&ring, sqe, 101));
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read_fixed(sqe, fd, b, sizeof(b), 0, 1);
	show("read_fixed", run(&ring, sqe, 102));
	show("buffers equal", memcmp(a, b, sizeof(a)) == 0);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read_fixed(sqe, fd, b, sizeof(b), 0, 5);
	show("read_fixed bad index", run(&ring, sqe, 103));
	show("unregister_buffers", io_uring_unregister_buffers(&ring));
	show("unregister_buffers again", io_uring_unregister_buffers(&ring));
	show("register_buffers_tags", io_uring_register_buffers_tags(&ring, iov, tags, 2));
	show("register_buffers_update_tag", io_uring_register_buffers_update_tag(&ring, 1, iov, tags, 1));
	show("unregister_buffers", io_uring_unregister_buffers(&ring));
	show("register_buffers_sparse", io_uring_register_buffers_sparse(&ring, 4));
	show("register_buffers_update_tag into sparse", io_uring_register_buffers_update_tag(&ring, 2, iov, NULL, 1));
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read_fixed(sqe, fd, a, 100, 0, 2);
	show("read_fixed updated slot", run(&ring, sqe, 104));
	show("unregister_buffers", io_uring_unregister_buffers(&ring));

	/* Fixed files. */
	files[0] = fd;
	files[1] = -1;
	show("register_files", io_uring_register_files(&ring, files, 2));
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, 0, b, 10, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	show("read fixed file", run(&ring, sqe, 105));
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, 1, b, 10, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	show("read empty slot", run(&ring, sqe, 106));
	files[0] = -1;
	show("register_files_update", io_uring_register_files_update(&ring, 0, files, 1));
	show("register_files_update_tag", io_uring_register_files_update_tag(&ring, 1, &fd, NULL, 1));
	show("unregister_files", io_uring_unregister_files(&ring));
	show("unregister_files again", io_uring_unregister_files(&ring));
	show("register_files_tags", io_uring_register_files_tags(&ring, &fd, tags, 1));
	show("unregister_files", io_uring_unregister_files(&ring));
	show("register_files_sparse", io_uring_register_files_sparse(&ring, 4));
	show("register_file_alloc_range", io_uring_register_file_alloc_range(&ring, 1, 2));
	show("unregister_files", io_uring_unregister_files(&ring));

	/* The ring fd. (Registering it twice is -EEXIST since liburing 2.4, where 2.3
	 * registered a second slot: newer.c tests that.) */
	show("register_ring_fd", io_uring_register_ring_fd(&ring));
	show("nop through registered ring", nop_roundtrip(&ring, 107));
	show("register through registered ring", io_uring_register_buffers(&ring, iov, 1));
	show("unregister_buffers", io_uring_unregister_buffers(&ring));
	show("unregister_ring_fd", io_uring_unregister_ring_fd(&ring));
	show("nop through plain fd", nop_roundtrip(&ring, 108));

	/* eventfd. */
	efd = eventfd(0, EFD_NONBLOCK);
	show("register_eventfd", io_uring_register_eventfd(&ring, efd));
	show("register_eventfd again", io_uring_register_eventfd(&ring, efd));
	show("nop", nop_roundtrip(&ring, 109));
	show("eventfd signalled", read(efd, &count, sizeof(count)) == sizeof(count) && count == 1);
	show("unregister_eventfd", io_uring_unregister_eventfd(&ring));
	show("unregister_eventfd again", io_uring_unregister_eventfd(&ring));
	show("register_eventfd_async", io_uring_register_eventfd_async(&ring, efd));
	show("unregister_eventfd", io_uring_unregister_eventfd(&ring));
	close(efd);

	/* Personality. */
	ret = io_uring_register_personality(&ring);
	show("register_personality positive", ret > 0);
	show("unregister_personality", io_uring_unregister_personality(&ring, ret));
	show("unregister_personality again", io_uring_unregister_personality(&ring, ret));

	/* Probe. */
	probe = io_uring_get_probe_ring(&ring);
	CHECK(probe);
	printf("probe ring: last_op %u nop %d read %d write %d op 255 %d\n", probe->last_op,
	       io_uring_opcode_supported(probe, IORING_OP_NOP),
	       io_uring_opcode_supported(probe, IORING_OP_READ),
	       io_uring_opcode_supported(probe, IORING_OP_WRITE),
	       io_uring_opcode_supported(probe, 255));
	io_uring_free_probe(probe);
	probe = io_uring_get_probe();
	CHECK(probe);
	printf("probe: last_op %u ops_len %u\n", probe->last_op, probe->ops_len);
	io_uring_free_probe(probe);

	/* io-wq workers, cancel, affinity. */
	show("iowq_max_workers", io_uring_register_iowq_max_workers(&ring, workers));
	printf("  workers read back nonzero %d %d\n", workers[0] > 0, workers[1] > 0);
	show("unregister_iowq_aff none", io_uring_unregister_iowq_aff(&ring));
	{
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(0, &set);
		show("register_iowq_aff", io_uring_register_iowq_aff(&ring, sizeof(set), &set));
		show("unregister_iowq_aff", io_uring_unregister_iowq_aff(&ring));
	}
	{
		struct io_uring_sync_cancel_reg reg = { .addr = 12345 };
		reg.timeout.tv_sec = -1;
		reg.timeout.tv_nsec = -1;
		show("register_sync_cancel nothing", io_uring_register_sync_cancel(&ring, &reg));
	}

	io_uring_queue_exit(&ring);
	close(fd);
	return 0;
}
