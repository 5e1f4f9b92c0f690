// NOP throughput loop on liburing: the C anchor of the uring-bench comparison.
//
// Same loop as the Rust implementations in src/lib.rs: get `batch` SQEs,
// prep NOPs, submit and wait for `batch` completions, reap and check them.
// Returns -errno on failure and never relies on errno (liburing's convention).

#include <errno.h>
#include <liburing.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

// Runs NOPs until `ops` completions have been reaped, `batch` at a time.
// Adds the number of CQEs seen to *completions. Returns 0 or -errno.
static int nop_loop(struct io_uring *ring, unsigned batch, uint64_t ops,
                    uint64_t *completions)
{
	uint64_t submitted = 0, completed = 0;

	while (completed < ops) {
		uint64_t left = ops - submitted;
		unsigned n = left < batch ? (unsigned)left : batch;
		unsigned i, head, seen = 0;
		struct io_uring_cqe *cqe;
		int ret;

		for (i = 0; i < n; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

			if (!sqe)
				return -EBUSY;
			io_uring_prep_nop(sqe);
			io_uring_sqe_set_data64(sqe, submitted + i);
		}
		submitted += n;

		ret = io_uring_submit_and_wait(ring, n);
		if (ret < 0)
			return ret;

		// A short wait (signal, SQPOLL lag) is fine: keep reaping until
		// every CQE of this batch has arrived.
		while (seen < n) {
			unsigned count = 0;

			io_uring_for_each_cqe(ring, head, cqe) {
				if (cqe->res < 0)
					return cqe->res;
				if (cqe->res != 0 || cqe->user_data >= submitted)
					return -EPROTO;
				count++;
			}
			io_uring_cq_advance(ring, count);
			seen += count;
			if (seen < n) {
				ret = io_uring_wait_cqe_nr(ring, &cqe, n - seen);
				if (ret < 0)
					return ret;
			}
		}
		completed += seen;
		*completions += seen;
	}
	return 0;
}

static int64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// Sets up a ring of `entries` (SQPOLL with a 2 s idle when `sqpoll` is
// non-zero), runs `warmup_ops` untimed NOPs, then times `total_ops` NOPs.
// Stores the number of timed completions in *completions and the thread CPU
// time of the timed part in *cpu_ns.
// Returns the elapsed nanoseconds of the timed part, or -errno.
int64_t liburing_nop(unsigned entries, unsigned batch, uint64_t warmup_ops,
                     uint64_t total_ops, int sqpoll, uint64_t *completions,
                     uint64_t *cpu_ns)
{
	struct io_uring_params p;
	struct io_uring ring;
	uint64_t warm = 0;
	int64_t start, elapsed, cpu_start;
	int ret;

	*completions = 0;
	*cpu_ns = 0;
	if (batch == 0 || batch > entries)
		return -EINVAL;

	memset(&p, 0, sizeof(p));
	if (sqpoll) {
		p.flags |= IORING_SETUP_SQPOLL;
		p.sq_thread_idle = 2000;
	}
	ret = io_uring_queue_init_params(entries, &ring, &p);
	if (ret < 0)
		return ret;

	ret = nop_loop(&ring, batch, warmup_ops, &warm);
	if (ret < 0)
		goto out;

	cpu_start = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	start = clock_ns(CLOCK_MONOTONIC);
	ret = nop_loop(&ring, batch, total_ops, completions);
	elapsed = clock_ns(CLOCK_MONOTONIC) - start;
	*cpu_ns = (uint64_t)(clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu_start);
out:
	io_uring_queue_exit(&ring);
	return ret < 0 ? ret : elapsed;
}

// The setup flags the linked liburing gives a plain ring of `entries`: `p.flags`
// after io_uring_queue_init_params, with whatever the library adds by default
// (liburing 2.6 and later add IORING_SETUP_NO_SQARRAY, 2.3 adds nothing).
// Returns the flags, or -errno.
int64_t liburing_default_flags(unsigned entries)
{
	struct io_uring_params p;
	struct io_uring ring;
	int ret;

	memset(&p, 0, sizeof(p));
	ret = io_uring_queue_init_params(entries, &ring, &p);
	if (ret < 0)
		return ret;
	io_uring_queue_exit(&ring);
	return p.flags;
}
