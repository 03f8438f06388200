#include <liburing.h>
#include <fcntl.h>
#include <unistd.h>
#include <string.h>

// Shift macros do not import into Swift.
static inline unsigned CURing_IOSQE_IO_LINK(void) { return IOSQE_IO_LINK; }
static inline unsigned CURing_IOSQE_CQE_SKIP_SUCCESS(void) { return IOSQE_CQE_SKIP_SUCCESS; }
static inline unsigned CURing_SETUP_COOP_TASKRUN(void) { return IORING_SETUP_COOP_TASKRUN; }

// FlavorRing cannot import Glibc next to liburing (two fd_set definitions), so the few libc
// calls it needs are here.
static inline int CURing_sysctl_disabled(void) {
    int fd = open("/proc/sys/kernel/io_uring_disabled", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[8] = {0};
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    return n > 0 ? buf[0] - '0' : 0;
}

// 0 when a ring can be set up here, else -errno from io_uring_setup.
static inline int CURing_probe(void) {
    struct io_uring ring;
    int r = io_uring_queue_init(8, &ring, 0);
    if (r < 0) return r;
    io_uring_queue_exit(&ring);
    return 0;
}

static inline const char *CURing_strerror(int e) { return strerror(e); }
