/* io_uring refused as Docker's default seccomp profile refuses it (EPERM for the
 * three system calls), then a ring set up and used: the system's liburing fails;
 * ours, with URING_BACKEND unset (auto), falls back to the engine and works. Prints
 * what init returned and, if it worked, the results of writes and an fsync. */
#include "common.h"
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

static void refuse_io_uring(void)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_register, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	};
	struct sock_fprog prog = { .len = sizeof(filter) / sizeof(filter[0]), .filter = filter };

	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0);
}

int main(void)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	char block[256], back[256];
	int fd = temp_file(), ret;

	refuse_io_uring();
	ret = show("queue_init", io_uring_queue_init(8, &ring, 0));
	if (ret < 0)
		return 0;
	for (int i = 0; i < 3; i++) {
		memset(block, 'a' + i, sizeof(block));
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_write(sqe, fd, block, sizeof(block), i * sizeof(block));
		sqe->user_data = i;
		/* Each write is queued before the next one reuses the buffer. */
		CHECK(io_uring_submit(&ring) == 1);
		CHECK(io_uring_wait_cqe(&ring, &cqe) == 0);
		show("  write", cqe->res);
		io_uring_cqe_seen(&ring, cqe);
	}
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_fsync(sqe, fd, 0);
	show("submit fsync", io_uring_submit_and_wait(&ring, 1));
	CHECK(io_uring_wait_cqe(&ring, &cqe) == 0);
	show("  fsync", cqe->res);
	io_uring_cqe_seen(&ring, cqe);
	CHECK(pread(fd, back, sizeof(back), 2 * sizeof(back)) == sizeof(back) && back[0] == 'c');
	printf("file contents match\n");
	io_uring_queue_exit(&ring);
	return 0;
}
