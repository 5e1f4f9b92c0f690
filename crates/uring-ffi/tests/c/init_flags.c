/* io_uring_queue_init / _params / exit with each setup flag. */
#include "common.h"

static const struct {
	const char *name;
	unsigned flags;
	int nop; /* whether a NOP can run on it right away */
} cases[] = {
	{ "none", 0, 1 },
	{ "sqpoll", IORING_SETUP_SQPOLL, 1 },
	{ "iopoll", IORING_SETUP_IOPOLL, 0 },
	{ "clamp", IORING_SETUP_CLAMP, 1 },
	{ "submit_all", IORING_SETUP_SUBMIT_ALL, 1 },
	{ "coop_taskrun", IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG, 1 },
	{ "sqe128", IORING_SETUP_SQE128, 1 },
	{ "cqe32", IORING_SETUP_CQE32, 1 },
	{ "single_issuer", IORING_SETUP_SINGLE_ISSUER, 1 },
	{ "defer_taskrun", IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SINGLE_ISSUER, 1 },
	{ "r_disabled", IORING_SETUP_R_DISABLED, 0 },
	{ "sqe128_cqe32_sqpoll", IORING_SETUP_SQE128 | IORING_SETUP_CQE32 | IORING_SETUP_SQPOLL, 1 },
};

int main(void)
{
	struct io_uring ring, other;
	struct io_uring_params p;
	char name[64];
	unsigned i;
	int ret;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ret = io_uring_queue_init(8, &ring, cases[i].flags);
		snprintf(name, sizeof(name), "init %s", cases[i].name);
		if (show(name, ret) < 0)
			continue;
		printf("  sq %u cq %u flags_kept %d fd_ok %d\n", ring.sq.ring_entries,
		       ring.cq.ring_entries, ring.flags == cases[i].flags, ring.ring_fd >= 0);
		CHECK(*ring.sq.kring_entries == ring.sq.ring_entries);
		CHECK(*ring.cq.kring_mask == ring.cq.ring_mask);
		if (cases[i].nop)
			show("  nop", nop_roundtrip(&ring, 42 + i));
		if (cases[i].flags & IORING_SETUP_R_DISABLED) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			io_uring_prep_nop(sqe);
			show("  submit while disabled", io_uring_submit(&ring));
		}
		io_uring_queue_exit(&ring);
	}

	/* Sizes and their errors. */
	show("init 0 entries", io_uring_queue_init(0, &ring, 0));
	show("init 100000 entries", io_uring_queue_init(100000, &ring, 0));
	ret = show("init 100000 clamped", io_uring_queue_init(100000, &ring, IORING_SETUP_CLAMP));
	if (ret == 0) {
		printf("  sq %u cq %u\n", ring.sq.ring_entries, ring.cq.ring_entries);
		io_uring_queue_exit(&ring);
	}
	show("init 5 entries", io_uring_queue_init(5, &ring, 0));
	printf("  sq %u cq %u\n", ring.sq.ring_entries, ring.cq.ring_entries);
	io_uring_queue_exit(&ring);

	/* CQSIZE through the params, and the params written back. */
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_CQSIZE;
	p.cq_entries = 100;
	show("init_params cqsize", io_uring_queue_init_params(4, &ring, &p));
	printf("  p.sq_entries %u p.cq_entries %u cq %u ext_arg %d\n", p.sq_entries, p.cq_entries,
	       ring.cq.ring_entries, !!(p.features & IORING_FEAT_EXT_ARG));
	CHECK(ring.features == p.features);
	show("  nop", nop_roundtrip(&ring, 7));

	/* ATTACH_WQ to the ring above. */
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_ATTACH_WQ;
	p.wq_fd = ring.ring_fd;
	if (show("init_params attach_wq", io_uring_queue_init_params(4, &other, &p)) == 0) {
		show("  nop", nop_roundtrip(&other, 8));
		io_uring_queue_exit(&other);
	}
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_CQSIZE;
	p.cq_entries = 2;
	show("init_params cq smaller than sq", io_uring_queue_init_params(4, &other, &p));
	io_uring_queue_exit(&ring);

	/* io_uring_setup + io_uring_queue_mmap by hand, then dontfork. */
	memset(&p, 0, sizeof(p));
	ret = io_uring_setup(4, &p);
	CHECK(ret >= 0);
	show("queue_mmap", io_uring_queue_mmap(ret, &p, &ring));
	show("ring_dontfork", io_uring_ring_dontfork(&ring));
	/* queue_mmap leaves the SQ array to the caller. */
	for (i = 0; i < ring.sq.ring_entries; i++)
		ring.sq.array[i] = i;
	show("  nop", nop_roundtrip(&ring, 9));
	io_uring_queue_exit(&ring);

	show("mlock_size", (int) io_uring_mlock_size(64, 0));
	return 0;
}
