/* The farm's stand-in compiler: it costs wall time, not CPU.
 *
 * Installed as `cc` (a basename on distccd 3.4's allow-list) first on the PATH of the client
 * and of every daemon. With -E it is the preprocessor: it copies the source unchanged, so the
 * line `int cost_ms = N;` reaches the daemon. Otherwise it is the compiler: it reads that
 * line, sleeps N ms times $STANDIN_SLOWDOWN (the host's slowness, set when the daemon was
 * started), writes a small object to the -o path, and appends one line to $STANDIN_LOG:
 *   job host start_ns end_ns pid
 * with CLOCK_MONOTONIC times, as one O_APPEND write so that concurrent jobs never interleave.
 * Scheduling, reporting and the ideal makespan are the harness's business (bench/farm.py). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int fail(const char *what, const char *path) {
    fprintf(stderr, "standin: %s %s: %s\n", what, path ? path : "", strerror(errno));
    return 1;
}

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Reads at most cap-1 bytes of path into buf; the sources are a few lines long. */
static ssize_t slurp(const char *path, char *buf, size_t cap) {
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    return (ssize_t)n;
}

static long field(const char *text, const char *name) {
    const char *p = strstr(text, name);
    if (!p)
        return -1;
    p += strlen(name);
    while (*p == ' ' || *p == '=')
        p++;
    return strtol(p, NULL, 10);
}

static int write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *out = NULL, *in = NULL;
    int preprocess = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-E"))
            preprocess = 1;
        else if (!strcmp(argv[i], "-o") && i + 1 < argc)
            out = argv[++i];
        else if (!strncmp(argv[i], "-o", 2))
            out = argv[i] + 2;
        else if (argv[i][0] != '-')
            in = argv[i];
    }
    if (!in) {
        fprintf(stderr, "standin: no input file\n");
        return 1;
    }
    static char src[65536];
    ssize_t n = slurp(in, src, sizeof src);
    if (n < 0)
        return fail("cannot read", in);

    if (preprocess) {
        int fd = out ? open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644) : 1;
        if (fd < 0 || write_all(fd, src, (size_t)n) < 0)
            return fail("cannot write", out ? out : "stdout");
        return 0;
    }

    long cost = field(src, "cost_ms");
    long job = field(src, "job_id");
    if (cost < 0 || !out) {
        fprintf(stderr, "standin: %s has no cost_ms line or no -o\n", in);
        return 1;
    }
    const char *slow = getenv("STANDIN_SLOWDOWN");
    double factor = slow ? atof(slow) : 1.0;
    if (factor <= 0)
        factor = 1.0;
    long long start = now_ns();
    long long ns = (long long)(cost * factor * 1e6);
    struct timespec ts = {ns / 1000000000LL, ns % 1000000000LL};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    char obj[128];
    int len = snprintf(obj, sizeof obj, "standin object: job %ld, %ld ms\n", job, cost);
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write_all(fd, obj, (size_t)len) < 0 || close(fd) < 0)
        return fail("cannot write", out);
    long long end = now_ns();

    const char *log = getenv("STANDIN_LOG");
    if (log && *log) {
        const char *host = getenv("STANDIN_HOST");
        char line[256];
        len = snprintf(line, sizeof line, "%ld %s %lld %lld %d\n", job, host ? host : "?", start,
                       end, (int)getpid());
        int lfd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0666);
        if (lfd < 0 || write(lfd, line, (size_t)len) != len)
            return fail("cannot log to", log);
        close(lfd);
    }
    return 0;
}
