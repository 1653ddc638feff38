/* exec_omp: how idle OpenMP threads wait, chosen once at start from what else the machine is
 * running (exec_omp_setup, see exec.h). A concern of its own: it reads /proc, not the model. */
#define _DEFAULT_SOURCE /* setenv, execv, nanosleep, opendir under -std=c11 */
#include "exec/exec.h"

#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Whether the task whose stat file is at path is runnable (state R, after the name's ')'). */
static bool task_running(const char *path)
{
    char buf[512];
    FILE *f = fopen(path, "r");
    if (!f)
        return false; /* gone since the directory was read */
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *q = strrchr(buf, ')');
    return q && q[1] == ' ' && q[2] == 'R';
}

/* Tasks (threads) of other processes that are runnable now, from /proc/<pid>/task/<tid>/stat.
 * /proc/loadavg's own count of runnable tasks is not used: on the project's virtual machines
 * it reads one more than `ps` finds, with nothing else running. */
static long others_running(void)
{
    DIR *proc = opendir("/proc");
    if (!proc)
        return 0;
    long self = (long)getpid(), n = 0;
    struct dirent *p;
    while ((p = readdir(proc))) {
        if (!isdigit((unsigned char)p->d_name[0]) || atol(p->d_name) == self)
            continue;
        char dir[300], path[600];
        snprintf(dir, sizeof dir, "/proc/%s/task", p->d_name);
        DIR *tasks = opendir(dir);
        struct dirent *t;
        while (tasks && (t = readdir(tasks))) {
            if (!isdigit((unsigned char)t->d_name[0]))
                continue;
            snprintf(path, sizeof path, "%s/%s/stat", dir, t->d_name);
            n += task_running(path);
        }
        if (tasks)
            closedir(tasks);
    }
    closedir(proc);
    return n;
}

/* The 1-minute load average (0 when unreadable). */
static double load_average(void)
{
    double load = 0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f && fscanf(f, "%lf", &load) != 1)
        load = 0;
    if (f)
        fclose(f);
    return load;
}

/* The decision of machine_busy, apart from /proc so that it can be tested (exec.h). */
bool exec_omp_busy(long cpus, long fewest_others, double load1)
{
    if (cpus < 1)
        cpus = 1;
    return fewest_others >= cpus || (fewest_others >= 1 && load1 >= (double)cpus);
}

/* Whether other work keeps this machine busy: other processes' runnable tasks at each of 4
 * looks 5 ms apart (one look that finds none ends it), as many as the cores, or any while the
 * 1-minute load average is at the core count. The load average alone lags (just after a
 * finished job it still reads >= cpus on an idle machine), and one look catches passing tasks
 * (a process exiting, a kernel worker): both made `make bench` pick sleeping waits on an idle
 * machine, where the RNN H512 step then ran at half speed. */
static bool machine_busy(void)
{
    long fewest = LONG_MAX;
    for (int look = 0; look < 4 && fewest > 0; look++) {
        if (look)
            nanosleep(&(struct timespec){ 0, 5000000 }, NULL);
        long others = others_running();
        fewest = others < fewest ? others : fewest;
    }
    return exec_omp_busy(sysconf(_SC_NPROCESSORS_ONLN), fewest,
                         fewest >= 1 ? load_average() : 0.0);
}

/* Measured on a 2-core AVX-512 machine, lstm(128) B 32 T 64, 2 threads: quiet, spinning 1000
 * times 401k tok/s, libgomp's default (300000) 431k, passive 87k (idle cores wake slowly);
 * with 4 busy processes beside it, passive 179k, spinning 1000 67k, the default 2.7k (workers
 * spin while the thread they wait for is descheduled). On a 2-core Sapphire Rapids (whose
 * `pause` takes about 140 cycles), training tok/s, quiet: 1000 spins 242-280k, 3000 281-307k,
 * 10000-300000 276-302k (the step's many short parallel regions no longer wait on a futex);
 * with 4 busy processes: 1000 43-47k, 3000 57-66k, 10000 11k, 30000 4.5k, passive 21k. */
void exec_omp_setup(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT") || !argv)
        return;
    if (machine_busy() ? setenv("OMP_WAIT_POLICY", "PASSIVE", 1)
                       : setenv("GOMP_SPINCOUNT", "3000", 1))
        return;
    execv("/proc/self/exe", argv); /* returns only on failure: carry on as we are */
}
