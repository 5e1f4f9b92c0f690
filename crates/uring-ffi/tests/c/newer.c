/* The API of liburing 2.4 and later, which the system's liburing 2.3 lacks: built
 * against its header with the newer prototypes declared here, linked against ours
 * only, and checked in place. */
#include "common.h"
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

struct napi_arg { uint32_t busy_poll_to; uint8_t prefer_busy_poll; uint8_t opcode; uint8_t pad[2]; uint32_t op_param; uint32_t resv; };
struct clock_arg { uint32_t clockid; uint32_t pad[3]; };
struct region_desc { uint64_t user_addr, size; uint32_t flags, id; uint64_t mmap_offset; uint64_t resv[4]; };
struct region_reg { uint64_t region_uring, flags; uint64_t resv[2]; };
struct reg_wait { struct __kernel_timespec ts; uint32_t min_wait_usec, flags; uint64_t sigmask; uint32_t sigmask_sz, pad[3]; uint64_t pad2[2]; };

int io_uring_major_version(void);
int io_uring_minor_version(void);
bool io_uring_check_version(int major, int minor);
int io_uring_close_ring_fd(struct io_uring *ring);
struct io_uring_buf_ring *io_uring_setup_buf_ring(struct io_uring *ring, unsigned int nentries, int bgid, unsigned int flags, int *err);
int io_uring_free_buf_ring(struct io_uring *ring, struct io_uring_buf_ring *br, unsigned int nentries, int bgid);
int io_uring_buf_ring_head(struct io_uring *ring, int buf_group, uint16_t *head);
int io_uring_queue_init_mem(unsigned entries, struct io_uring *ring, struct io_uring_params *p, void *buf, size_t buf_size);
ssize_t io_uring_memory_size(unsigned entries, unsigned flags);
int io_uring_register_napi(struct io_uring *ring, struct napi_arg *napi);
int io_uring_unregister_napi(struct io_uring *ring, struct napi_arg *napi);
int io_uring_register_clock(struct io_uring *ring, struct clock_arg *arg);
int io_uring_submit_and_wait_min_timeout(struct io_uring *ring, struct io_uring_cqe **cqe_ptr, unsigned wait_nr, struct __kernel_timespec *ts, unsigned min_wait, sigset_t *sigmask);
int io_uring_wait_cqes_min_timeout(struct io_uring *ring, struct io_uring_cqe **cqe_ptr, unsigned wait_nr, struct __kernel_timespec *ts, unsigned min_wait_usec, sigset_t *sigmask);
int io_uring_clone_buffers(struct io_uring *dst, struct io_uring *src);
int io_uring_resize_rings(struct io_uring *ring, struct io_uring_params *p);
int io_uring_register_wait_reg(struct io_uring *ring, struct reg_wait *reg, int nr);
int io_uring_submit_and_wait_reg(struct io_uring *ring, struct io_uring_cqe **cqe_ptr, unsigned wait_nr, int reg_index);
int io_uring_register_region(struct io_uring *ring, struct region_reg *reg);
int io_uring_set_iowait(struct io_uring *ring, bool enable_iowait);
int io_uring_register_sync_msg(struct io_uring_sqe *sqe);
/* LIBURING_2.15: the arguments are opaque to the library, which passes them on. */
struct query_hdr { uint64_t next_entry, query_data; uint32_t query_op, size; int32_t result; uint32_t resv[3]; };
struct query_opcode { uint32_t nr_request_opcodes, nr_register_opcodes; uint64_t flags[4]; uint32_t nr_query_opcodes, pad; };
int io_uring_register_query(struct query_hdr *query);
int io_uring_register_bpf_filter(struct io_uring *ring, void *bpf);
int io_uring_register_bpf_filter_task(void *bpf);
int io_uring_register_zcrx_ctrl(struct io_uring *ring, void *ctrl);

/* io_uring_register(2) itself: what liburing 2.15's registrations return. */
static int raw_register(int fd, unsigned opcode, void *arg, unsigned nr)
{
	int ret = syscall(__NR_io_uring_register, fd, opcode, arg, nr);
	return ret < 0 ? -errno : ret;
}

static void many_nops(struct io_uring *ring, int n)
{
	for (int i = 0; i < n; i++)
		CHECK(nop_roundtrip(ring, 1000 + i) == 0);
}

int main(void)
{
	static char data[4096];
	struct iovec iov = { data, sizeof(data) };
	struct io_uring ring, other;
	struct io_uring_params p;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 10 * 1000 * 1000 };
	ssize_t size;
	void *buf;
	int ret, err;

	/* Versions. */
	CHECK(io_uring_major_version() == 2 && io_uring_minor_version() == 15);
	CHECK(!io_uring_check_version(2, 0) && !io_uring_check_version(2, io_uring_minor_version()));
	CHECK(io_uring_check_version(2, io_uring_minor_version() + 1) && io_uring_check_version(3, 0));
	printf("version ok\n");

	/* Ring memory from the library (NO_MMAP), from the caller (queue_init_mem), no SQ
	 * array, and a ring with only a registered fd. */
	CHECK(io_uring_queue_init(8, &ring, IORING_SETUP_NO_MMAP) == 0);
	many_nops(&ring, 20);
	io_uring_queue_exit(&ring);
	size = io_uring_memory_size(8, 0);
	CHECK(size > 0 && size % 4096 == 0);
	CHECK(io_uring_memory_size(0, 0) == -EINVAL);
	buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	memset(&p, 0, sizeof(p));
	CHECK(io_uring_queue_init_mem(8, &ring, &p, buf, size / 2) == -ENOMEM);
	memset(&p, 0, sizeof(p));
	ret = io_uring_queue_init_mem(8, &ring, &p, buf, size);
	CHECK(ret > 0 && ret <= size);
	many_nops(&ring, 20);
	io_uring_queue_exit(&ring);
	munmap(buf, size);
	CHECK(io_uring_queue_init(8, &ring, IORING_SETUP_NO_SQARRAY) == 0);
	CHECK(ring.sq.array == NULL);
	many_nops(&ring, 20);
	io_uring_queue_exit(&ring);
	CHECK(io_uring_queue_init(8, &ring, IORING_SETUP_REGISTERED_FD_ONLY | IORING_SETUP_NO_MMAP) == 0);
	CHECK(ring.ring_fd == -1);
	many_nops(&ring, 20);
	io_uring_queue_exit(&ring);
	printf("ring memory flavours ok\n");

	/* Registered ring fd, then closing the plain fd. */
	CHECK(io_uring_queue_init(8, &ring, 0) == 0);
	CHECK(io_uring_register_ring_fd(&ring) == 1);
	CHECK(io_uring_register_ring_fd(&ring) == -EEXIST);
	CHECK(io_uring_close_ring_fd(&ring) == 1);
	CHECK(ring.ring_fd == -1);
	CHECK(io_uring_close_ring_fd(&ring) == -EBADF);
	many_nops(&ring, 3);
	CHECK(io_uring_register_buffers(&ring, &iov, 1) == 0);
	io_uring_queue_exit(&ring);
	printf("close_ring_fd ok\n");

	/* Restrictions on a disabled ring, then enabling it. */
	CHECK(io_uring_queue_init(8, &ring, IORING_SETUP_R_DISABLED) == 0);
	{
		struct io_uring_restriction res = { .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_NOP };
		CHECK(io_uring_register_restrictions(&ring, &res, 1) == 0);
	}
	CHECK(io_uring_enable_rings(&ring) == 0);
	many_nops(&ring, 2);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, 0, data, 1, 0);
	CHECK(io_uring_submit_and_wait(&ring, 1) == 1 && io_uring_wait_cqe(&ring, &cqe) == 0);
	CHECK(cqe->res == -EACCES);
	io_uring_cqe_seen(&ring, cqe);
	io_uring_queue_exit(&ring);
	printf("restrictions ok\n");

	/* Buffer rings set up by the library, its kernel-mapped variant, and the head. */
	CHECK(io_uring_queue_init(8, &ring, 0) == 0);
	for (unsigned flags = 0; flags <= 1; flags++) {
		struct io_uring_buf_ring *br = io_uring_setup_buf_ring(&ring, 4, 3, flags, &err);
		int pipes[2];
		uint16_t head = 99;

		CHECK(br && err == 0);
		CHECK(io_uring_setup_buf_ring(&ring, 4, 3, flags, &err) == NULL && err == -EEXIST);
		for (int i = 0; i < 4; i++)
			io_uring_buf_ring_add(br, data + 64 * i, 64, i, io_uring_buf_ring_mask(4), i);
		io_uring_buf_ring_advance(br, 4);
		CHECK(io_uring_buf_ring_head(&ring, 3, &head) == 0 && head == 0);
		CHECK(pipe(pipes) == 0 && write(pipes[1], "hello", 5) == 5);
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_read(sqe, pipes[0], NULL, 64, 0);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = 3;
		CHECK(io_uring_submit_and_wait(&ring, 1) == 1 && io_uring_wait_cqe(&ring, &cqe) == 0);
		CHECK(cqe->res == 5 && (cqe->flags & IORING_CQE_F_BUFFER));
		CHECK(memcmp(data + 64 * (cqe->flags >> IORING_CQE_BUFFER_SHIFT), "hello", 5) == 0);
		io_uring_cqe_seen(&ring, cqe);
		CHECK(io_uring_buf_ring_head(&ring, 3, &head) == 0 && head == 1);
		CHECK(io_uring_free_buf_ring(&ring, br, 4, 3) == 0);
		CHECK(io_uring_buf_ring_head(&ring, 3, &head) == -ENOENT);
		close(pipes[0]);
		close(pipes[1]);
	}
	printf("setup_buf_ring ok\n");

	/* Minimum-wait timeouts, the clock, iowait, napi. */
	CHECK(io_uring_wait_cqes_min_timeout(&ring, &cqe, 1, &ts, 1000, NULL) == -ETIME);
	io_uring_prep_nop(io_uring_get_sqe(&ring));
	ret = io_uring_submit_and_wait_min_timeout(&ring, &cqe, 1, &ts, 1000, NULL);
	CHECK(ret >= 0 && cqe && cqe->res == 0);
	io_uring_cqe_seen(&ring, cqe);
	{
		struct clock_arg clk = { .clockid = CLOCK_BOOTTIME };
		CHECK(io_uring_register_clock(&ring, &clk) == 0);
		clk.clockid = CLOCK_REALTIME;
		CHECK(io_uring_register_clock(&ring, &clk) == -EINVAL);
	}
	CHECK(io_uring_set_iowait(&ring, false) == 0);
	CHECK(io_uring_wait_cqe_timeout(&ring, &cqe, &ts) == -ETIME);
	many_nops(&ring, 2);
	CHECK(io_uring_set_iowait(&ring, true) == 0);
	{
		struct napi_arg napi = { .busy_poll_to = 10 };
		ret = io_uring_register_napi(&ring, &napi);
		printf("register_napi = %d\n", ret);
		if (ret == 0)
			CHECK(io_uring_unregister_napi(&ring, &napi) == 0 && napi.busy_poll_to == 10);
	}
	printf("timeouts, clock, iowait ok\n");

	/* Cloning registered buffers into another ring. */
	CHECK(io_uring_register_buffers(&ring, &iov, 1) == 0);
	CHECK(io_uring_queue_init(8, &other, 0) == 0);
	CHECK(io_uring_clone_buffers(&other, &ring) == 0);
	{
		int fd = temp_file();
		CHECK(pwrite(fd, "cloned", 6, 0) == 6);
		sqe = io_uring_get_sqe(&other);
		io_uring_prep_read_fixed(sqe, fd, data, 6, 0, 0);
		CHECK(io_uring_submit_and_wait(&other, 1) == 1 && io_uring_wait_cqe(&other, &cqe) == 0);
		CHECK(cqe->res == 6 && memcmp(data, "cloned", 6) == 0);
		io_uring_cqe_seen(&other, cqe);
		close(fd);
	}
	printf("clone_buffers ok\n");

	/* A message posted to a ring with no source ring. */
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_nop(sqe);
	ring.sq.sqe_tail--; /* only borrowed as scratch memory, not submitted */
	sqe->opcode = IORING_OP_MSG_RING;
	sqe->fd = other.ring_fd;
	sqe->len = 5;
	sqe->off = 0x1234;
	CHECK(io_uring_register_sync_msg(sqe) == 0);
	CHECK(io_uring_wait_cqe(&other, &cqe) == 0 && cqe->user_data == 0x1234 && cqe->res == 5);
	io_uring_cqe_seen(&other, cqe);
	io_uring_queue_exit(&other);
	io_uring_queue_exit(&ring);
	printf("sync_msg ok\n");

	/* Resizing a ring. */
	CHECK(io_uring_queue_init(8, &ring, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN) == 0);
	many_nops(&ring, 10);
	memset(&p, 0, sizeof(p));
	p.sq_entries = 32;
	p.cq_entries = 128;
	p.flags = IORING_SETUP_CQSIZE;
	CHECK(io_uring_resize_rings(&ring, &p) == 0);
	CHECK(ring.sq.ring_entries == 32 && ring.cq.ring_entries == 128);
	many_nops(&ring, 100);
	io_uring_queue_exit(&ring);
	printf("resize ok\n");

	/* A registered wait region. */
	CHECK(io_uring_queue_init(8, &ring, IORING_SETUP_R_DISABLED) == 0);
	CHECK(io_uring_register_wait_reg(&ring, NULL, 0) == -EINVAL);
	{
		struct reg_wait *waits = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
		struct region_desc rd = { .user_addr = (uint64_t) (uintptr_t) waits, .size = 4096, .flags = 1 /* TYPE_USER */ };
		struct region_reg mr = { .region_uring = (uint64_t) (uintptr_t) &rd, .flags = 1 /* REG_WAIT_ARG */ };

		CHECK(io_uring_register_region(&ring, &mr) == 0);
		CHECK(io_uring_enable_rings(&ring) == 0);
		waits[1].ts = ts;
		waits[1].flags = 1; /* IORING_REG_WAIT_TS */
		CHECK(io_uring_submit_and_wait_reg(&ring, &cqe, 1, 1) == -ETIME);
		io_uring_prep_nop(io_uring_get_sqe(&ring));
		ret = io_uring_submit_and_wait_reg(&ring, &cqe, 1, 1);
		CHECK(ret >= 0 && cqe && cqe->res == 0);
		io_uring_cqe_seen(&ring, cqe);
	}
	io_uring_queue_exit(&ring);
	printf("wait region ok\n");
	/* liburing 2.15's registrations: each one io_uring_register(2), so each answers
	 * what the system call answers on this kernel (6.18: the query works, BPF
	 * filters and ZCRX control are unknown opcodes). */
	{
		struct query_opcode a, b;
		struct query_hdr ha = { .query_data = (uintptr_t) &a, .size = sizeof(a) };
		struct query_hdr hb = { .query_data = (uintptr_t) &b, .size = sizeof(b) };
		static uint64_t opaque[16];

		memset(&a, 0, sizeof(a));
		memset(&b, 0, sizeof(b));
		ret = io_uring_register_query(&ha);
		CHECK(ret == raw_register(-1, 35, &hb, 0));
		CHECK(ha.result == hb.result && !memcmp(&a, &b, sizeof(a)));
		CHECK(io_uring_queue_init(4, &ring, 0) == 0);
		CHECK(io_uring_register_bpf_filter(&ring, opaque) == raw_register(ring.ring_fd, 37, opaque, 1));
		CHECK(io_uring_register_bpf_filter_task(opaque) == raw_register(-1, 37, opaque, 1));
		CHECK(io_uring_register_zcrx_ctrl(&ring, opaque) == raw_register(ring.ring_fd, 36, opaque, 0));
		io_uring_queue_exit(&ring);
		printf("2.15 registrations ok (query %d, opcodes %u)\n", ret, a.nr_request_opcodes);
	}
	return 0;
}
