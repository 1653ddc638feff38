/* fault: an LD_PRELOAD shim for fault-injection tests (issue 14 item 7), SQLite-style: it
 * counts the calls of write, fsync, fdatasync, rename and close (on descriptors above 2: the
 * messages on stderr stay visible) and makes call number FAULT_N fail with FAULT_ERRNO (EIO,
 * the default, or ENOSPC) without doing it. FAULT_N=0 (or unset) fails nothing; FAULT_COUNT=FILE
 * receives the number of calls counted, at exit, so a test can try every N from 1 to it. When
 * the call fails, FAULT_HIT=FILE (if set) receives "N OP". Test code only: never installed.
 *
 * Build: make check builds tests/fault/libfault.la (a libtool module, not installed). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long calls, fail_at = -1;
static int fail_errno = EIO;

/* Reads FAULT_N and FAULT_ERRNO once. */
static void setup(void)
{
    if (fail_at >= 0)
        return;
    const char *n = getenv("FAULT_N"), *e = getenv("FAULT_ERRNO");
    fail_at = n ? atol(n) : 0;
    fail_errno = e && strcmp(e, "ENOSPC") == 0 ? ENOSPC : EIO;
}

/* Writes text into the file named by environment variable var (with the real calls). */
static void note(const char *var, const char *text)
{
    const char *path = getenv(var);
    if (!path)
        return;
    static ssize_t (*real_write)(int, const void *, size_t);
    static int (*real_close)(int);
    if (!real_write)
        real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    if (!real_close)
        real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return;
    (void)real_write(fd, text, strlen(text));
    real_close(fd);
}

/* True when this counted call is the one to fail (errno set). */
static int should_fail(int fd, const char *op)
{
    if (fd >= 0 && fd <= 2)
        return 0;
    setup();
    if (++calls != fail_at)
        return 0;
    char text[64];
    snprintf(text, sizeof text, "%ld %s\n", calls, op);
    note("FAULT_HIT", text);
    errno = fail_errno;
    return 1;
}

/* The real function name of this library's caller, looked up once. */
#define REAL(ret, name, ...)                                               \
    static ret (*real)(__VA_ARGS__);                                      \
    if (!real)                                                            \
        real = (ret (*)(__VA_ARGS__))dlsym(RTLD_NEXT, name)

ssize_t write(int fd, const void *buf, size_t n)
{
    REAL(ssize_t, "write", int, const void *, size_t);
    return should_fail(fd, "write") ? -1 : real(fd, buf, n);
}

int fsync(int fd)
{
    REAL(int, "fsync", int);
    return should_fail(fd, "fsync") ? -1 : real(fd);
}

int fdatasync(int fd)
{
    REAL(int, "fdatasync", int);
    return should_fail(fd, "fdatasync") ? -1 : real(fd);
}

int rename(const char *from, const char *to)
{
    REAL(int, "rename", const char *, const char *);
    return should_fail(-1, "rename") ? -1 : real(from, to);
}

/* A failed close still releases the descriptor, as Linux does (EIO after the close). */
int close(int fd)
{
    REAL(int, "close", int);
    if (should_fail(fd, "close")) {
        int e = errno;
        real(fd);
        errno = e;
        return -1;
    }
    return real(fd);
}

/* FAULT_COUNT: how many calls were counted. */
__attribute__((destructor)) static void report(void)
{
    char text[32];
    snprintf(text, sizeof text, "%ld\n", calls);
    note("FAULT_COUNT", text);
}
