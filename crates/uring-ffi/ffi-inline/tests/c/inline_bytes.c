/* liburing-ffi.so.2 (path in argv[1], opened with dlopen) against the inline helpers
 * of a liburing.h (the system's, or liburing 2.15's): each prep helper must write the
 * same 64 bytes into an SQE prefilled with the same junk, and the ring helpers must
 * give the same answers on the same ring. Prints how many helpers were compared;
 * exit 1 on a difference.
 *
 * Since liburing 2.6 a prep helper writes only its own fields and io_uring_get_sqe
 * clears the rest when it hands the SQE out (ours does as 2.15 does). Against 2.15's
 * header the junk stays as it is, so any field written differently shows; against an
 * older header, whose helpers clear those fields themselves, the junk SQE is first
 * cleared as io_uring_get_sqe clears it. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <linux/futex.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef IO_URING_CHECK_VERSION
#if !IO_URING_CHECK_VERSION(2, 15)
#define HEADER_2_15 1
#endif
#endif

static void *lib;

/* An SQE as io_uring_get_sqe hands it out: junk in the fields every helper writes,
 * and (before 2.15's header) zero in those io_uring_get_sqe clears. */
static void prefill(struct io_uring_sqe *sqe)
{
	memset(sqe, 0xa5, sizeof(*sqe));
#ifndef HEADER_2_15
	sqe->flags = 0;
	sqe->ioprio = 0;
	sqe->rw_flags = 0;
	sqe->buf_index = 0;
	sqe->personality = 0;
	sqe->file_index = 0;
	sqe->addr3 = 0;
	sqe->__pad2[0] = 0;
#endif
}
static int compared, differ;

static void *ours(const char *name)
{
	void *f = dlsym(lib, name);
	if (!f) {
		fprintf(stderr, "%s missing from liburing-ffi\n", name);
		exit(1);
	}
	return f;
}

/* The header's helper into one SQE, ours into another, compare all 64 bytes. */
#define SAME(name, ...)                                                          \
	do {                                                                     \
		struct io_uring_sqe a, b;                                        \
		prefill(&a);                                                     \
		prefill(&b);                                                     \
		name(&a, ##__VA_ARGS__);                                         \
		((__typeof__(&name)) ours(#name))(&b, ##__VA_ARGS__);            \
		compared++;                                                      \
		if (memcmp(&a, &b, sizeof(a))) {                                 \
			printf("%s writes a different SQE\n", #name);            \
			differ++;                                                \
		}                                                                \
	} while (0)

#define SAME_VALUE(name, ...)                                                     \
	do {                                                                     \
		long long x = (long long) name(__VA_ARGS__);                     \
		long long y = (long long) ((__typeof__(&name)) ours(#name))(__VA_ARGS__); \
		compared++;                                                      \
		if (x != y) {                                                    \
			printf("%s: header %lld, ours %lld\n", #name, x, y);     \
			differ++;                                                \
		}                                                                \
	} while (0)

int main(int argc, char **argv)
{
	char buf[64], path[] = "p", path2[] = "q";
	struct iovec iov = { buf, sizeof(buf) };
	struct __kernel_timespec ts = { 1, 2 };
	struct sockaddr sa;
	socklen_t slen = sizeof(sa);
	struct msghdr msg = { 0 };
	struct open_how how = { 0 };
	struct epoll_event ev = { 0 };
	struct statx stx;
	int fds[2] = { 3, 4 };
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	struct io_uring_probe *probe;

	if (argc != 2 || !(lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL))) {
		fprintf(stderr, "dlopen %s: %s\n", argc > 1 ? argv[1] : "?", dlerror());
		return 1;
	}

	SAME(io_uring_prep_nop);
	{
		/* io_uring_prep_rw takes the opcode before the SQE. */
		struct io_uring_sqe a, b;
		prefill(&a);
		prefill(&b);
		io_uring_prep_rw(3, &a, 5, buf, 7, 9);
		((__typeof__(&io_uring_prep_rw)) ours("io_uring_prep_rw"))(3, &b, 5, buf, 7, 9);
		compared++;
		if (memcmp(&a, &b, sizeof(a))) {
			printf("io_uring_prep_rw writes a different SQE\n");
			differ++;
		}
	}
	SAME(io_uring_prep_read, 5, buf, 64, 4096);
	SAME(io_uring_prep_write, 5, buf, 64, 4096);
	SAME(io_uring_prep_readv, 5, &iov, 1, 8);
	SAME(io_uring_prep_readv2, 5, &iov, 1, 8, 3);
	SAME(io_uring_prep_writev, 5, &iov, 1, 8);
	SAME(io_uring_prep_writev2, 5, &iov, 1, 8, 3);
	SAME(io_uring_prep_read_fixed, 5, buf, 64, 8, 2);
	SAME(io_uring_prep_write_fixed, 5, buf, 64, 8, 2);
	SAME(io_uring_prep_fsync, 5, IORING_FSYNC_DATASYNC);
	SAME(io_uring_prep_sync_file_range, 5, 100, 200, 3);
	SAME(io_uring_prep_fallocate, 5, 1, 100, 200);
	SAME(io_uring_prep_fadvise, 5, 100, 200, 4);
	SAME(io_uring_prep_madvise, buf, 64, 4);
	SAME(io_uring_prep_splice, 5, -1, 6, 100, 64, 2);
	SAME(io_uring_prep_tee, 5, 6, 64, 2);
	SAME(io_uring_prep_timeout, &ts, 3, IORING_TIMEOUT_ABS);
	SAME(io_uring_prep_timeout_remove, 77, 0);
	SAME(io_uring_prep_timeout_update, &ts, 77, IORING_TIMEOUT_ABS);
	SAME(io_uring_prep_link_timeout, &ts, 0);
	SAME(io_uring_prep_poll_add, 5, POLLIN);
	SAME(io_uring_prep_poll_multishot, 5, POLLIN);
	SAME(io_uring_prep_poll_remove, 77);
	SAME(io_uring_prep_poll_update, 77, 78, POLLOUT, IORING_POLL_UPDATE_EVENTS);
	SAME(io_uring_prep_accept, 5, &sa, &slen, 0);
	SAME(io_uring_prep_accept_direct, 5, &sa, &slen, 0, 3);
	/* Not with IORING_FILE_INDEX_ALLOC: liburing 2.3 stores it plus one, which wraps
	 * to 0 ("not direct"); 2.4 and later, and ours, store it as is. */
	SAME(io_uring_prep_multishot_accept, 5, &sa, &slen, 0);
	SAME(io_uring_prep_multishot_accept_direct, 5, &sa, &slen, 0);
	SAME(io_uring_prep_connect, 5, &sa, slen);
	SAME(io_uring_prep_send, 5, buf, 64, MSG_NOSIGNAL);
	SAME(io_uring_prep_recv, 5, buf, 64, MSG_WAITALL);
	SAME(io_uring_prep_recv_multishot, 5, buf, 64, 0);
	SAME(io_uring_prep_sendmsg, 5, &msg, 0);
	SAME(io_uring_prep_recvmsg, 5, &msg, 0);
	SAME(io_uring_prep_recvmsg_multishot, 5, &msg, 0);
	SAME(io_uring_prep_shutdown, 5, SHUT_RDWR);
	SAME(io_uring_prep_socket, AF_INET, SOCK_STREAM, 0, 0);
	SAME(io_uring_prep_socket_direct, AF_INET, SOCK_STREAM, 0, 2, 0);
	SAME(io_uring_prep_socket_direct_alloc, AF_INET, SOCK_STREAM, 0, 0);
	SAME(io_uring_prep_close, 5);
	SAME(io_uring_prep_close_direct, 3);
	SAME(io_uring_prep_openat, AT_FDCWD, path, O_RDONLY, 0644);
	SAME(io_uring_prep_openat_direct, AT_FDCWD, path, O_RDONLY, 0644, 3);
	SAME(io_uring_prep_openat2, AT_FDCWD, path, &how);
	SAME(io_uring_prep_statx, AT_FDCWD, path, 0, STATX_ALL, &stx);
	SAME(io_uring_prep_unlinkat, AT_FDCWD, path, AT_REMOVEDIR);
	SAME(io_uring_prep_unlink, path, 0);
	SAME(io_uring_prep_renameat, AT_FDCWD, path, AT_FDCWD, path2, 1);
	SAME(io_uring_prep_rename, path, path2);
	SAME(io_uring_prep_mkdirat, AT_FDCWD, path, 0755);
	SAME(io_uring_prep_mkdir, path, 0755);
	SAME(io_uring_prep_symlinkat, path, AT_FDCWD, path2);
	SAME(io_uring_prep_symlink, path, path2);
	SAME(io_uring_prep_linkat, AT_FDCWD, path, AT_FDCWD, path2, 0);
	SAME(io_uring_prep_link, path, path2, 0);
	SAME(io_uring_prep_cancel64, 77, IORING_ASYNC_CANCEL_ALL);
	SAME(io_uring_prep_cancel, buf, 0);
	SAME(io_uring_prep_cancel_fd, 5, 0);
	SAME(io_uring_prep_provide_buffers, buf, 16, 4, 7, 0);
	SAME(io_uring_prep_remove_buffers, 4, 7);
	SAME(io_uring_prep_files_update, fds, 2, 1);
	SAME(io_uring_prep_msg_ring, 5, 10, 77, 0);
	SAME(io_uring_prep_epoll_ctl, 5, 6, EPOLL_CTL_ADD, &ev);
	SAME(io_uring_sqe_set_data, buf);
	SAME(io_uring_sqe_set_data64, 0x1234567890ULL);
	SAME(io_uring_sqe_set_flags, IOSQE_IO_LINK | IOSQE_ASYNC);
#ifdef HEADER_2_15
	/* The helpers liburing added from 2.4 to 2.15. */
	{
		unsigned int futex = 0;
		siginfo_t si;
		int pipefds[2];

		SAME(io_uring_prep_accept_direct, 5, &sa, &slen, 0, IORING_FILE_INDEX_ALLOC);
		SAME(io_uring_prep_openat_direct, AT_FDCWD, path, O_RDONLY, 0644, IORING_FILE_INDEX_ALLOC);
		SAME(io_uring_prep_send_set_addr, &sa, 16);
		SAME(io_uring_prep_sendto, 5, buf, 64, MSG_NOSIGNAL, &sa, slen);
		SAME(io_uring_prep_send_zc, 5, buf, 64, MSG_NOSIGNAL, IORING_SEND_ZC_REPORT_USAGE);
		SAME(io_uring_prep_send_zc_fixed, 5, buf, 64, 0, 0, 3);
		SAME(io_uring_prep_sendmsg_zc, 5, &msg, MSG_NOSIGNAL);
		SAME(io_uring_prep_sendmsg_zc_fixed, 5, &msg, 0, 3);
		SAME(io_uring_prep_send_bundle, 5, 64, 0);
		SAME(io_uring_prep_getxattr, path, buf, path2, 64);
		SAME(io_uring_prep_fgetxattr, 5, path, buf, 64);
		SAME(io_uring_prep_setxattr, path, buf, path2, XATTR_CREATE, 64);
		SAME(io_uring_prep_fsetxattr, 5, path, buf, XATTR_CREATE, 64);
		SAME(io_uring_prep_openat2_direct, AT_FDCWD, path, &how, 3);
		SAME(io_uring_prep_openat2_direct, AT_FDCWD, path, &how, IORING_FILE_INDEX_ALLOC);
		SAME(io_uring_prep_open, path, O_RDONLY, 0644);
		SAME(io_uring_prep_open_direct, path, O_RDONLY, 0644, 2);
		SAME(io_uring_prep_msg_ring_cqe_flags, 5, 10, 77, 0, 0x40);
		SAME(io_uring_prep_msg_ring_fd, 5, 3, 4, 77, 0);
		SAME(io_uring_prep_msg_ring_fd, 5, -3, IORING_FILE_INDEX_ALLOC, 77, 0);
		SAME(io_uring_prep_msg_ring_fd_alloc, 5, 3, 77, 0);
		SAME(io_uring_prep_uring_cmd, 0x1234, 5);
		SAME(io_uring_prep_uring_cmd128, 0x1234, 5);
		SAME(io_uring_prep_cmd_sock, SOCKET_URING_OP_SETSOCKOPT, 5, SOL_SOCKET, SO_REUSEADDR, buf, 4);
		SAME(io_uring_prep_cmd_getsockname, 5, &sa, &slen, 1);
		SAME(io_uring_prep_cmd_discard, 5, 4096, 8192);
		SAME(io_uring_prep_read_multishot, 5, 64, 8, 7);
		SAME(io_uring_prep_waitid, P_PID, 1234, &si, WEXITED, 0);
		SAME(io_uring_prep_futex_wake, &futex, 1, FUTEX_BITSET_MATCH_ANY, 2 /* FUTEX2_SIZE_U32 */, 0);
		SAME(io_uring_prep_futex_wait, &futex, 0, FUTEX_BITSET_MATCH_ANY, 2 /* FUTEX2_SIZE_U32 */, 0);
		SAME(io_uring_prep_futex_waitv, (struct futex_waitv *) buf, 2, 0);
		SAME(io_uring_prep_fixed_fd_install, 3, 0);
		SAME(io_uring_prep_fadvise64, 5, 100, 1LL << 40, 4);
		SAME(io_uring_prep_madvise64, buf, 1LL << 40, 4);
		SAME(io_uring_prep_bind, 5, &sa, slen);
		SAME(io_uring_prep_listen, 5, 128);
		SAME(io_uring_prep_epoll_wait, 5, &ev, 1, 0);
		SAME(io_uring_prep_readv_fixed, 5, &iov, 1, 8, 3, 2);
		SAME(io_uring_prep_writev_fixed, 5, &iov, 1, 8, 3, 2);
		SAME(io_uring_prep_pipe, pipefds, O_CLOEXEC);
		SAME(io_uring_prep_pipe_direct, pipefds, 0, 4);
		SAME(io_uring_prep_pipe_direct, pipefds, 0, IORING_FILE_INDEX_ALLOC);
		SAME(io_uring_prep_nop128);
		SAME(io_uring_sqe_set_buf_group, 9);
	}
	{
		/* A multishot RECVMSG result: header, name, control, payload. */
		static unsigned char out[256] __attribute__((aligned(8)));
		struct msghdr mh = { .msg_namelen = 16, .msg_controllen = 32 };
		struct io_uring_recvmsg_out *o = (void *) out;
		struct cmsghdr *c;

		memset(out, 0, sizeof(out));
		o->namelen = 16;
		o->controllen = 32;
		o->payloadlen = 100;
		c = (struct cmsghdr *) (out + sizeof(*o) + 16);
		c->cmsg_len = CMSG_LEN(4);
		((struct cmsghdr *) ((unsigned char *) c + CMSG_ALIGN(c->cmsg_len)))->cmsg_len = 1;
		SAME_VALUE(io_uring_recvmsg_validate, out, sizeof(out), &mh);
		SAME_VALUE(io_uring_recvmsg_validate, out, 40, &mh);
		SAME_VALUE(io_uring_recvmsg_validate, out, -1, &mh);
		SAME_VALUE(io_uring_recvmsg_name, o);
		SAME_VALUE(io_uring_recvmsg_cmsg_firsthdr, o, &mh);
		SAME_VALUE(io_uring_recvmsg_cmsg_nexthdr, o, &mh, c);
		SAME_VALUE(io_uring_recvmsg_payload, o, &mh);
		SAME_VALUE(io_uring_recvmsg_payload_length, o, sizeof(out), &mh);
		SAME_VALUE(io_uring_recvmsg_payload_length, o, 20, &mh);
		o->controllen = 4;
		SAME_VALUE(io_uring_recvmsg_cmsg_firsthdr, o, &mh);
	}
#endif

	/* Ring helpers on a live ring set up by the system's liburing. */
	if (io_uring_queue_init(8, &ring, 0))
		return 1;
	for (int i = 0; i < 3; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
		io_uring_prep_nop(sqe);
		sqe->user_data = 100 + i;
	}
	SAME_VALUE(io_uring_sq_ready, &ring);
	SAME_VALUE(io_uring_sq_space_left, &ring);
	io_uring_submit_and_wait(&ring, 3);
	SAME_VALUE(io_uring_cq_ready, &ring);
	SAME_VALUE(io_uring_cq_has_overflow, &ring);
	SAME_VALUE(io_uring_cq_eventfd_enabled, &ring);
	SAME_VALUE(io_uring_buf_ring_mask, 64);
	io_uring_peek_cqe(&ring, &cqe);
	SAME_VALUE(io_uring_cqe_get_data64, cqe);
	SAME_VALUE(io_uring_cqe_get_data, cqe);
	{
		struct io_uring_cqe *mine;
		int ret = ((__typeof__(&io_uring_peek_cqe)) ours("io_uring_peek_cqe"))(&ring, &mine);
		compared++;
		if (ret != 0 || mine != cqe) {
			printf("io_uring_peek_cqe: %d %p, header's %p\n", ret, (void *) mine, (void *) cqe);
			differ++;
		}
		((__typeof__(&io_uring_cqe_seen)) ours("io_uring_cqe_seen"))(&ring, mine);
		((__typeof__(&io_uring_cq_advance)) ours("io_uring_cq_advance"))(&ring, 1);
		ret = ((__typeof__(&io_uring_wait_cqe)) ours("io_uring_wait_cqe"))(&ring, &mine);
		compared++;
		if (ret != 0 || mine->user_data != 102) {
			printf("io_uring_wait_cqe after seen+advance: %d\n", ret);
			differ++;
		}
		io_uring_cqe_seen(&ring, mine);
	}
#ifdef HEADER_2_15
	{
		/* CQE walks of 2.15: __io_uring_peek_cqe, the CQE iterator, cqe_nr. */
		struct io_uring_cqe *h = NULL, *mine = NULL;
		struct io_uring_cqe_iter hi, oi;
		unsigned hn = 0, on = 0;
		int hr, orr;
		bool hm, om;

		for (int i = 0; i < 3; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			io_uring_prep_nop(sqe);
			sqe->user_data = 200 + i;
		}
		io_uring_submit_and_wait(&ring, 3);
		hr = __io_uring_peek_cqe(&ring, &h, &hn);
		orr = ((__typeof__(&__io_uring_peek_cqe)) ours("__io_uring_peek_cqe"))(&ring, &mine, &on);
		compared++;
		if (hr != orr || h != mine || hn != on) {
			printf("__io_uring_peek_cqe: header %d %p %u, ours %d %p %u\n", hr, (void *) h, hn, orr, (void *) mine, on);
			differ++;
		}
		SAME_VALUE(io_uring_cqe_nr, h);
		hi = io_uring_cqe_iter_init(&ring);
		oi = ((__typeof__(&io_uring_cqe_iter_init)) ours("io_uring_cqe_iter_init"))(&ring);
		compared++;
		do {
			hm = io_uring_cqe_iter_next(&hi, &h);
			om = ((__typeof__(&io_uring_cqe_iter_next)) ours("io_uring_cqe_iter_next"))(&oi, &mine);
			if (hm != om || (hm && h != mine) || memcmp(&hi, &oi, sizeof(hi))) {
				printf("io_uring_cqe_iter: the walks part\n");
				differ++;
				break;
			}
		} while (hm);
		io_uring_cq_advance(&ring, 3);
		SAME_VALUE(io_uring_get_sqe128, &ring);
	}
	{
		/* A CQE_MIXED ring: a 32-byte CQE takes two slots, which io_uring_cqe_seen
		 * must consume (the header's on the first CQE, ours on the second). */
		struct io_uring mixed;
		struct io_uring_cqe *c;
		unsigned before, mid;

		if (io_uring_queue_init(8, &mixed, IORING_SETUP_CQE_MIXED) == 0) {
			for (int i = 0; i < 2; i++) {
				struct io_uring_sqe *sqe = io_uring_get_sqe(&mixed);
				io_uring_prep_nop(sqe);
				sqe->nop_flags = IORING_NOP_CQE32;
			}
			io_uring_submit_and_wait(&mixed, 2);
			before = *mixed.cq.khead;
			io_uring_peek_cqe(&mixed, &c);
			io_uring_cqe_seen(&mixed, c);
			mid = *mixed.cq.khead;
			io_uring_peek_cqe(&mixed, &c);
			((__typeof__(&io_uring_cqe_seen)) ours("io_uring_cqe_seen"))(&mixed, c);
			compared++;
			if (mid - before != 2 || *mixed.cq.khead - mid != 2) {
				printf("io_uring_cqe_seen on a 32-byte CQE: header %u slots, ours %u\n",
				       mid - before, *mixed.cq.khead - mid);
				differ++;
			}
			io_uring_queue_exit(&mixed);
		} else {
			printf("no CQE_MIXED rings on this kernel: not compared\n");
		}
	}
	{
		struct io_uring_buf_ring *br;
		int err;

		br = io_uring_setup_buf_ring(&ring, 8, 3, 0, &err);
		if (!br) {
			fprintf(stderr, "io_uring_setup_buf_ring: %d\n", err);
			return 1;
		}
		for (int i = 0; i < 5; i++)
			io_uring_buf_ring_add(br, buf, 16, i, 7, i);
		io_uring_buf_ring_advance(br, 5);
		SAME_VALUE(io_uring_buf_ring_available, &ring, br, 3);
		SAME_VALUE(io_uring_buf_ring_available, &ring, br, 4);
		io_uring_free_buf_ring(&ring, br, 8, 3);
	}
#endif
	{
		/* An empty CQ: both say -EAGAIN. */
		struct io_uring_cqe *none;
		SAME_VALUE(io_uring_peek_cqe, &ring, &none);
	}
	probe = io_uring_get_probe_ring(&ring);
	SAME_VALUE(io_uring_opcode_supported, probe, IORING_OP_READ);
	SAME_VALUE(io_uring_opcode_supported, probe, 250);
#ifdef HEADER_2_15
	SAME_VALUE(io_uring_opcode_supported, probe, -1);
#endif
	io_uring_free_probe(probe);
	io_uring_queue_exit(&ring);

	/* Buffer-ring helpers write the same ring. */
	{
		static struct io_uring_buf_ring a[8], b[8];
		memset(a, 0xa5, sizeof(a));
		memset(b, 0xa5, sizeof(b));
		io_uring_buf_ring_init(a);
		((__typeof__(&io_uring_buf_ring_init)) ours("io_uring_buf_ring_init"))(b);
		for (int i = 0; i < 3; i++) {
			io_uring_buf_ring_add(a, buf + i, 16, i, 7, i);
			((__typeof__(&io_uring_buf_ring_add)) ours("io_uring_buf_ring_add"))(b, buf + i, 16, i, 7, i);
		}
		io_uring_buf_ring_advance(a, 3);
		((__typeof__(&io_uring_buf_ring_advance)) ours("io_uring_buf_ring_advance"))(b, 3);
		compared++;
		if (memcmp(a, b, sizeof(a))) {
			printf("buffer ring helpers write a different ring\n");
			differ++;
		}
	}

	printf("compared %d helpers, %d differ\n", compared, differ);
	return differ ? 1 : 0;
}
