/* rundir: the advisory lock of a run directory and the clean-up of stale temporaries. */
#include "train/rundir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* The PID written in an open lock file, or 0 when it holds none. */
static long holder_pid(int fd)
{
    char buf[32] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return 0;
    buf[n] = 0;
    return strtol(buf, NULL, 10);
}

/* True when name is "<output>.tmp." followed by mkstemp's six characters, for one of
 * outputs[n] (io_atomic_open's temporary). */
static bool is_stale_tmp(const char *name, const char *const *outputs, int n)
{
    for (int i = 0; i < n; i++) {
        size_t k = strlen(outputs[i]);
        if (strncmp(name, outputs[i], k) == 0 && strncmp(name + k, ".tmp.", 5) == 0 &&
            strlen(name + k + 5) == 6)
            return true;
    }
    return false;
}

/* Removes the stale temporaries in dir (only called with the lock held, so no writer of ours
 * is using them); a file that cannot be removed is a warning. */
static void remove_stale(const char *dir, const char *const *outputs, int n, Diag *d)
{
    DIR *dp = opendir(dir);
    if (!dp) return;
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (!is_stale_tmp(e->d_name, outputs, n)) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) != 0)
            diag_warning(d, (SrcRange){0}, "%s: cannot remove a stale temporary file: %s", path,
                         strerror(errno));
    }
    closedir(dp);
}

int rundir_lock(RunLock *l, const char *dir, const char *const *outputs, int n, Diag *d)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, RUNDIR_LOCK_NAME);
    l->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (l->fd < 0) {
        diag_error_in(d, path, "cannot create the run's lock file: %s", strerror(errno));
        return -1;
    }
    if (flock(l->fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        long pid = holder_pid(l->fd);
        close(l->fd);
        l->fd = -1;
        if (err != EWOULDBLOCK) {
            diag_error_in(d, path, "cannot lock: %s", strerror(err));
            return -1;
        }
        char who[48] = "another process";
        if (pid > 0) snprintf(who, sizeof who, "another recur (pid %ld)", pid);
        DiagMessage *m = diag_error_in(d, dir, "%s is training into this directory", who);
        diag_help(m, "wait for it to finish, or choose another --out directory");
        return -1;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(l->fd, 0) != 0 || pwrite(l->fd, pid, (size_t)len, 0) != len)
        diag_warning(d, (SrcRange){0}, "%s: cannot record this process's PID", path);
    remove_stale(dir, outputs, n, d);
    return 0;
}

void rundir_unlock(RunLock *l)
{
    if (l->fd >= 0) close(l->fd);
    l->fd = -1;
}
