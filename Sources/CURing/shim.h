// liburing.h defines _XOPEN_SOURCE and _GNU_SOURCE; libc headers it pulls in would then differ from
// the same headers in the other C modules (fd_set's member names), which clang refuses when one Swift
// module sees both. Fixing the feature macros first keeps every module's libc the same.
#include <features.h>
#include <liburing.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// FlavorRing cannot import Glibc next to liburing (two fd_set definitions), so the few libc
// calls it needs, and the small write+close batcher, live here as static inline C.

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

// A per-thread batcher: the caller opens each file synchronously (O_CREAT openat goes to io-wq
// anyway), then hands fd + buffer here; we queue write -> close linked, `window` files in
// flight. Buffers must stay valid until CURing_writer_flush returns. Short writes finish
// synchronously. The first failure (tag, errno) is kept; later files still get closed.
typedef struct {
    int fd;
    const void *buf;
    size_t len;
    long tag;
    int busy;
} CURing_file;

typedef struct {
    struct io_uring ring;
    CURing_file *files;
    unsigned window;
    unsigned inflight;
    long fail_tag;
    int fail_errno;
} CURing_writer;

static inline void CURing_fail(CURing_writer *w, long tag, int err) {
    if (w->fail_errno == 0) { w->fail_errno = err; w->fail_tag = tag; }
}

static inline int CURing_writer_init(CURing_writer *w, unsigned window) {
    memset(w, 0, sizeof *w);
    w->files = (CURing_file *)calloc(window, sizeof(CURing_file));
    if (!w->files) return -ENOMEM;
    w->window = window;
    unsigned entries = window * 2;
    int r = io_uring_queue_init(entries, &w->ring, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);
    if (r < 0) r = io_uring_queue_init(entries, &w->ring, IORING_SETUP_COOP_TASKRUN);
    if (r < 0) r = io_uring_queue_init(entries, &w->ring, 0);
    if (r < 0) { free(w->files); w->files = 0; }
    return r;
}

static inline void CURing_finish_sync(CURing_writer *w, CURing_file *f, size_t done) {
    while (done < f->len) {
        ssize_t n = pwrite(f->fd, (const char *)f->buf + done, f->len - done, (off_t)done);
        if (n < 0) { if (errno == EINTR) continue; CURing_fail(w, f->tag, errno); break; }
        if (n == 0) { CURing_fail(w, f->tag, EIO); break; }
        done += (size_t)n;
    }
    if (close(f->fd) != 0 && errno != EINTR) CURing_fail(w, f->tag, errno);
}

static inline void CURing_reap(CURing_writer *w, unsigned wait_nr) {
    struct io_uring_cqe *cqe;
    if (wait_nr) io_uring_submit_and_wait(&w->ring, wait_nr);
    while (io_uring_peek_cqe(&w->ring, &cqe) == 0) {
        unsigned long long ud = io_uring_cqe_get_data64(cqe);
        int res = cqe->res;
        io_uring_cqe_seen(&w->ring, cqe);
        CURing_file *f = &w->files[ud >> 1];
        if ((ud & 1) == 0) {                       // the write
            if (res < 0) { CURing_fail(w, f->tag, -res); close(f->fd); }
            else if ((size_t)res < f->len) CURing_finish_sync(w, f, (size_t)res);  // link broken: close canceled
        } else {                                   // the close
            if (res < 0 && res != -ECANCELED) CURing_fail(w, f->tag, -res);
            f->busy = 0;
            w->inflight--;
        }
    }
}

static inline int CURing_writer_write(CURing_writer *w, int fd, const void *buf, size_t len, long tag) {
    while (w->inflight >= w->window) CURing_reap(w, 1);
    unsigned i = 0;
    while (w->files[i].busy) i++;
    CURing_file *f = &w->files[i];
    f->fd = fd; f->buf = buf; f->len = len; f->tag = tag; f->busy = 1;
    struct io_uring_sqe *a = io_uring_get_sqe(&w->ring);
    if (!a) { io_uring_submit(&w->ring); a = io_uring_get_sqe(&w->ring); }
    io_uring_prep_write(a, fd, buf, (unsigned)len, 0);
    io_uring_sqe_set_data64(a, (unsigned long long)i << 1);
    a->flags |= IOSQE_IO_LINK;
    struct io_uring_sqe *b = io_uring_get_sqe(&w->ring);
    io_uring_prep_close(b, fd);
    io_uring_sqe_set_data64(b, ((unsigned long long)i << 1) | 1);
    w->inflight++;
    if (io_uring_sq_ready(&w->ring) >= w->window) io_uring_submit(&w->ring);
    return w->fail_errno ? -w->fail_errno : 0;
}

static inline int CURing_writer_flush(CURing_writer *w) {
    while (w->inflight > 0) CURing_reap(w, 1);
    return w->fail_errno ? -w->fail_errno : 0;
}

static inline void CURing_writer_exit(CURing_writer *w) {
    if (w->files) {
        CURing_writer_flush(w);
        io_uring_queue_exit(&w->ring);
        free(w->files);
        w->files = 0;
    }
}
