#ifndef FLAVOR_EMBEDDED_GLIBC_SHIM_H
#define FLAVOR_EMBEDDED_GLIBC_SHIM_H
// The C half of a minimal "Glibc" overlay for Embedded Swift on Linux: the system headers
// plus functions for what the real Glibc overlay provides in Swift (errno, variadic calls, macros).
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <dirent.h>
#include <pthread.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <sys/uio.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/types.h>

static inline int flavor_shim_errno_get(void) { return errno; }
static inline void flavor_shim_errno_set(int e) { errno = e; }
static inline int flavor_shim_open(const char *p, int flags, mode_t mode) { return open(p, flags, mode); }
static inline int flavor_shim_openat(int dir, const char *p, int flags, mode_t mode) { return openat(dir, p, flags, mode); }
static inline int flavor_shim_fcntl(int fd, int cmd, int arg) { return fcntl(fd, cmd, arg); }
static inline void *flavor_shim_map_failed(void) { return MAP_FAILED; }
static inline char **flavor_shim_environ(void) { return environ; }
// argc/argv as glibc passes them to ELF constructors (shim.c); Embedded Swift has no CommandLine.
extern int flavor_shim_argc;
extern char **flavor_shim_argv;
#endif
