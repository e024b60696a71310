/* SPDX-License-Identifier: MIT */
/* The process_* series from /proc/self (see process_metrics.h). */
#include "proxy/process_metrics.h"
#include "proxy/common.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct st_proc_stat_t {
    unsigned long long utime, stime, starttime, vsize;
    long long rss;
} proc_stat_t;

/* reads at most `size - 1` bytes of `path`, NUL-terminated; the length or -1 */
static ssize_t read_small_file(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;
    if (fd == -1)
        return -1;
    n = read(fd, buf, size - 1);
    close(fd);
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

/* /proc/self/stat, proc(5): the fields after the command name, which may hold spaces and parentheses */
static int read_stat(proc_stat_t *st)
{
    char buf[1024], *p;
    if (read_small_file("/proc/self/stat", buf, sizeof(buf)) <= 0 || (p = strrchr(buf, ')')) == NULL)
        return -1;
    /* fields 3.. : state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15)
     * cutime cstime priority nice num_threads itrealvalue starttime(22) vsize(23) rss(24) */
    return sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu %llu %lld",
                  &st->utime, &st->stime, &st->starttime, &st->vsize, &st->rss) == 5
               ? 0
               : -1;
}

/* btime of /proc/stat: the boot time in seconds since the epoch, 0 when unknown */
static unsigned long long boot_time(void)
{
    char buf[8192], *p;
    unsigned long long btime = 0;
    if (read_small_file("/proc/stat", buf, sizeof(buf)) <= 0 || (p = strstr(buf, "\nbtime ")) == NULL ||
        sscanf(p + 7, "%llu", &btime) != 1)
        return 0;
    return btime;
}

/* the entries of /proc/self/fd, less the one the listing itself opened; -1 when it cannot be read */
static long open_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *e;
    long n = 0;
    if (dir == NULL)
        return -1;
    while ((e = readdir(dir)) != NULL)
        n += e->d_name[0] != '.';
    closedir(dir);
    return n - 1;
}

void kve_process_metrics_render(kve_buf_t *buf)
{
    long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE), fds = open_fds();
    unsigned long long btime = boot_time();
    struct rlimit rl;
    proc_stat_t st;

    if (ticks > 0 && read_stat(&st) == 0) {
        kve_buf_printf(buf,
                       "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
                       "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.2f\n"
                       "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
                       "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes %llu\n"
                       "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                       "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %llu\n",
                       (double)(st.utime + st.stime) / (double)ticks, st.vsize,
                       (unsigned long long)KVE_MAX(st.rss, 0LL) * (unsigned long long)KVE_MAX(page, 0L));
        if (btime != 0)
            kve_buf_printf(buf,
                           "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
                           "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.2f\n",
                           (double)btime + (double)st.starttime / (double)ticks);
    }
    if (fds >= 0)
        kve_buf_printf(buf,
                       "# HELP process_open_fds Number of open file descriptors.\n"
                       "# TYPE process_open_fds gauge\nprocess_open_fds %ld\n",
                       fds);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        kve_buf_printf(buf,
                       "# HELP process_max_fds Maximum number of open file descriptors.\n"
                       "# TYPE process_max_fds gauge\nprocess_max_fds %llu\n",
                       (unsigned long long)rl.rlim_cur);
}
