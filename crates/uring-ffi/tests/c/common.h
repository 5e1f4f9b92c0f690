/* Shared by the C ABI test programs: each is compiled once against the system's
 * liburing.h and run against the system's liburing (the control) and against ours;
 * both runs must print the same lines and exit 0. Exit 77 means "skip". */
#ifndef URING_FFI_TEST_COMMON_H
#define URING_FFI_TEST_COMMON_H
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Flags newer than the liburing 2.3 headers. */
#ifndef IORING_SETUP_NO_MMAP
#define IORING_SETUP_NO_MMAP (1U << 14)
#endif
#ifndef IORING_SETUP_REGISTERED_FD_ONLY
#define IORING_SETUP_REGISTERED_FD_ONLY (1U << 15)
#endif
#ifndef IORING_SETUP_NO_SQARRAY
#define IORING_SETUP_NO_SQARRAY (1U << 16)
#endif

#define CHECK(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,   \
				__LINE__, #cond);                                \
			exit(1);                                                 \
		}                                                                \
	} while (0)

/* Prints "what = value" and returns the value, so every result is compared. */
static inline int show(const char *what, int value)
{
	printf("%s = %d\n", what, value);
	return value;
}

/* A temporary file, unlinked at once; returns its fd. */
static inline int temp_file(void)
{
	char path[] = "/tmp/uring-ffi-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	unlink(path);
	return fd;
}

/* Submits one NOP with user_data `ud` and reaps it; returns its result. */
static inline int nop_roundtrip(struct io_uring *ring, unsigned long long ud)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int ret;

	CHECK(sqe);
	io_uring_prep_nop(sqe);
	sqe->user_data = ud;
	ret = io_uring_submit_and_wait(ring, 1);
	if (ret < 0)
		return ret;
	for (;;) {
		ret = io_uring_wait_cqe(ring, &cqe);
		if (ret < 0)
			return ret;
		if (cqe->user_data == ud)
			break;
		/* The CQE of a released tagged resource (tags are small): skip. */
		CHECK(cqe->user_data < 100);
		io_uring_cqe_seen(ring, cqe);
	}
	ret = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return ret;
}
#endif
