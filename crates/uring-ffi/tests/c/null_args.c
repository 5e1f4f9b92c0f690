/* Every entry point given NULL where liburing tolerates it: pointer arguments the
 * library only forwards to the kernel (which answers -EFAULT or -EINVAL), optional
 * timeouts and signal masks, and io_uring_free_probe(NULL). errno stays as it was. */
#include "common.h"

int main(void)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;

	errno = 0;
	io_uring_free_probe(NULL);
	show("setup NULL params", io_uring_setup(4, NULL));
	CHECK(io_uring_queue_init(4, &ring, 0) == 0);

	show("enter NULL sigmask", io_uring_enter(ring.ring_fd, 0, 0, 0, NULL));
	show("enter2 NULL arg", io_uring_enter2(ring.ring_fd, 0, 0, IORING_ENTER_GETEVENTS, NULL, 0));
	show("register NULL arg", io_uring_register(ring.ring_fd, IORING_REGISTER_PROBE, NULL, 4));
	show("register_buffers NULL", io_uring_register_buffers(&ring, NULL, 1));
	show("register_buffers_tags NULL", io_uring_register_buffers_tags(&ring, NULL, NULL, 1));
	show("register_buffers_update_tag NULL", io_uring_register_buffers_update_tag(&ring, 0, NULL, NULL, 1));
	show("register_files NULL", io_uring_register_files(&ring, NULL, 1));
	show("register_files_tags NULL", io_uring_register_files_tags(&ring, NULL, NULL, 1));
	show("register_files_update NULL", io_uring_register_files_update(&ring, 0, NULL, 1));
	show("register_files_update_tag NULL", io_uring_register_files_update_tag(&ring, 0, NULL, NULL, 1));
	show("register_probe NULL", io_uring_register_probe(&ring, NULL, 4));
	show("register_buf_ring NULL", io_uring_register_buf_ring(&ring, NULL, 0));
	show("register_sync_cancel NULL", io_uring_register_sync_cancel(&ring, NULL));
	show("register_iowq_aff NULL", io_uring_register_iowq_aff(&ring, 8, NULL));
	show("register_iowq_max_workers NULL", io_uring_register_iowq_max_workers(&ring, NULL));

	/* Optional timeout and signal mask. */
	show("get_cqe nothing", __io_uring_get_cqe(&ring, &cqe, 0, 0, NULL));
	show("nop", nop_roundtrip(&ring, 1));
	io_uring_prep_nop(io_uring_get_sqe(&ring));
	io_uring_submit(&ring);
	show("wait_cqes NULL ts NULL sigmask", io_uring_wait_cqes(&ring, &cqe, 1, NULL, NULL));
	io_uring_cqe_seen(&ring, cqe);
	io_uring_prep_nop(io_uring_get_sqe(&ring));
	show("submit_and_wait_timeout NULL ts", io_uring_submit_and_wait_timeout(&ring, &cqe, 1, NULL, NULL));
	io_uring_cqe_seen(&ring, cqe);
	io_uring_prep_nop(io_uring_get_sqe(&ring));
	io_uring_submit(&ring);
	show("wait_cqe_timeout NULL ts", io_uring_wait_cqe_timeout(&ring, &cqe, NULL));
	io_uring_cqe_seen(&ring, cqe);
	io_uring_cqe_seen(&ring, NULL);
	show("peek_batch NULL array, count 0", io_uring_peek_batch_cqe(&ring, NULL, 0));

	io_uring_queue_exit(&ring);
	show("errno", errno);
	return 0;
}
