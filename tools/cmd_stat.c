/*
 * cmd_stat.c: `ustack stat`: the sockets and counters of a running ustack,
 * asked over its control socket (ctl.h), shown like `ss -tan -o` or as
 * JSON, once or every few seconds.
 *
 * Finding the process: --ctl names the socket, --pid the process; with
 * neither, the control directories are searched for ustack-PID.ctl sockets
 * whose process is alive, and exactly one must be found.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ctl.h"

/* A document bigger than this is not one we wrote (STAT_MAX_SOCKETS
 * sockets take about 20 MB). */
#define STAT_MAX_DOC (64u << 20)
/* A live ustack answers within a loop round; this is generous. */
#define STAT_TIMEOUT_MS 5000
#define MAX_DIRS        4
#define MAX_FOUND       64

static void help(void)
{
    printf("Usage: ustack stat [--ctl PATH | --pid PID] [--json] [--watch [SECONDS]]\n\n"
           "Shows the sockets of a running ustack (echo, http, run, connect) the way\n"
           "`ss -tan -o` does, then its non-zero counters. It asks the process over\n"
           "its control socket; the process is not disturbed.\n\n"
           "  --ctl PATH     ask the control socket at PATH (default: find the one\n"
           "                 ustack running)\n"
           "  --pid PID      ask the ustack with this process id (default: as above)\n"
           "  --json         print the JSON document instead of the table (default:\n"
           "                 table); with --watch, one document per line\n"
           "  --watch [S]    refresh every S seconds until Ctrl-C (default: once;\n"
           "                 S defaults to 1)\n\n"
           "Control sockets are looked for in $USTACK_CTL_DIR when set, else in\n"
           "/run/ustack and $TMPDIR (default /tmp), named ustack-PID.ctl.\n"
           "Exit status: 0 shown, 1 no answer, 2 bad usage or several candidates.\n");
}

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* ---- talking to the process ---- */

/* Reads the whole answer from PATH into *doc. 0, or -1 with a message. */
static int fetch(const char *path, char **doc, size_t *len, char *err, size_t errlen)
{
    *doc = NULL;
    *len = 0;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "%s: path too long for a Unix socket", path);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        snprintf(err, errlen, "%s: %s", path,
                 e == ENOENT         ? "no such control socket (is ustack running? see --pid)"
                 : e == ECONNREFUSED ? "nobody answers (the process has exited; the file is stale)"
                 : e == EACCES || e == EPERM
                     ? "permission denied (run as the user who started ustack, e.g. with sudo)"
                     : strerror(e));
        return -1;
    }
    size_t cap = 65536;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        long waited = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int pr = waited < STAT_TIMEOUT_MS ? poll(&pf, 1, (int)(STAT_TIMEOUT_MS - waited)) : 0;
        if (pr < 0 && errno == EINTR && !interrupted) continue;
        if (pr <= 0) {
            snprintf(err, errlen, "%s: %s", path,
                     pr == 0 ? "no answer within 5 s (is the process stopped?)" : "interrupted");
            goto fail;
        }
        if (*len + 1 >= cap) {
            if (cap >= STAT_MAX_DOC) {
                snprintf(err, errlen, "%s: answer larger than %u MiB", path, STAT_MAX_DOC >> 20);
                goto fail;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + *len, cap - *len - 1);
        if (n < 0 && errno == EINTR && !interrupted) continue;
        if (n < 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            goto fail;
        }
        if (n == 0) break;
        *len += (size_t)n;
    }
    close(fd);
    if (*len == 0) {
        free(buf);
        snprintf(err, errlen, "%s: closed without an answer (the process is busy or stopping)",
                 path);
        return -1;
    }
    buf[*len] = 0;
    *doc = buf;
    return 0;
fail:
    close(fd);
    free(buf);
    *len = 0;
    return -1;
}

static int fetch_snapshot(const char *path, struct stat_snapshot *snap, char *err, size_t errlen)
{
    char *doc;
    size_t len;
    if (fetch(path, &doc, &len, err, errlen) < 0) return -1;
    char why[200];
    int rc = stat_read_json(snap, doc, len, why, sizeof(why));
    if (rc < 0) snprintf(err, errlen, "%s: %s", path, why);
    free(doc);
    return rc;
}

/* ---- finding the process ---- */

struct found {
    long pid;
    char path[CTL_PATH_MAX];
};

static bool alive(long pid)
{
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* The sockets named ustack-PID.ctl in the search directories whose PID is
 * alive (a crashed process leaves its socket behind). */
static size_t discover(struct found *out, size_t max)
{
    char dirs[MAX_DIRS][CTL_PATH_MAX];
    size_t nd = ctl_search_dirs(dirs, MAX_DIRS), n = 0;
    for (size_t d = 0; d < nd; d++) {
        DIR *dir = opendir(dirs[d]);
        if (!dir) continue;
        struct dirent *e;
        while ((e = readdir(dir)) && n < max) {
            long pid;
            char check[64];
            if (sscanf(e->d_name, "ustack-%ld.ctl", &pid) != 1 || pid <= 0) continue;
            snprintf(check, sizeof(check), "ustack-%ld.ctl", pid);
            if (strcmp(check, e->d_name) != 0 || !alive(pid)) continue;
            bool dup = false;
            for (size_t i = 0; i < n; i++) dup |= out[i].pid == pid;
            char path[2 * CTL_PATH_MAX];
            snprintf(path, sizeof(path), "%s/%s", dirs[d], e->d_name);
            struct stat st;
            if (dup || strlen(path) >= CTL_PATH_MAX || lstat(path, &st) < 0 ||
                !S_ISSOCK(st.st_mode))
                continue;
            out[n].pid = pid;
            snprintf(out[n].path, CTL_PATH_MAX, "%s", path);
            n++;
        }
        closedir(dir);
    }
    return n;
}

static void describe_dirs(char *buf, size_t len)
{
    char dirs[MAX_DIRS][CTL_PATH_MAX];
    size_t nd = ctl_search_dirs(dirs, MAX_DIRS), n = 0;
    buf[0] = 0;
    for (size_t d = 0; d < nd && n < len; d++)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", d ? " and " : "", dirs[d]);
}

/* Decides which socket to ask; exits with a message when it cannot. */
static void choose_path(char *path, size_t len, const char *ctl, long pid)
{
    if (ctl) {
        snprintf(path, len, "%s", ctl);
        return;
    }
    static struct found found[MAX_FOUND];
    size_t n = discover(found, MAX_FOUND);
    char where[3 * CTL_PATH_MAX];
    describe_dirs(where, sizeof(where));
    if (pid) {
        for (size_t i = 0; i < n; i++)
            if (found[i].pid == pid) {
                snprintf(path, len, "%s", found[i].path);
                return;
            }
        fail("no control socket for pid %ld in %s (is it a running ustack? one started with "
             "--ctl PATH is asked with --ctl PATH)",
             pid, where);
    }
    if (n == 1) {
        snprintf(path, len, "%s", found[0].path);
        return;
    }
    if (n == 0)
        fail("no running ustack found in %s; start one (ustack http, echo, run, connect) or "
             "give --ctl PATH",
             where);
    /* Several: name them all on one line, with what each one is. */
    char list[2048];
    size_t used = 0;
    list[0] = 0;
    for (size_t i = 0; i < n && used < sizeof(list); i++) {
        struct stat_snapshot snap;
        char err[256];
        if (fetch_snapshot(found[i].path, &snap, err, sizeof(err)) == 0) {
            char a[16];
            used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%ld (%s on %s as %s)",
                                     i ? ", " : "", found[i].pid, snap.command, snap.tap,
                                     us_ip_str(snap.addr, a));
            stat_free(&snap);
        } else {
            used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%ld", i ? ", " : "",
                                     found[i].pid);
        }
    }
    fprintf(stderr, "%s: %zu ustack processes are running; pick one with --pid: %s\n", prog_cmd, n,
            list);
    exit(EXIT_USAGE);
}

/* ---- showing ---- */

static int show_once(const char *path, bool json, bool watching, char *err, size_t errlen)
{
    struct stat_snapshot snap;
    if (fetch_snapshot(path, &snap, err, errlen) < 0) return -1;
    if (json)
        stat_write_json(stdout, &snap, !watching); /* one line per document when watching */
    else
        stat_write_table(stdout, &snap);
    if (json && watching) fputc('\n', stdout);
    stat_free(&snap);
    fflush(stdout);
    return 0;
}

/* Sleeps `secs`, returning early (false) on Ctrl-C. */
static bool pause_for(double secs)
{
    struct timespec ts = {.tv_sec = (time_t)secs,
                          .tv_nsec = (long)((secs - (double)(time_t)secs) * 1e9)};
    while (nanosleep(&ts, &ts) < 0)
        if (errno != EINTR || interrupted) return false;
    return !interrupted;
}

static int watch(const char *path, bool json, double interval)
{
    bool tty = isatty(STDOUT_FILENO) && !json;
    char err[512];
    for (;;) {
        if (tty) {
            char when[64];
            time_t now = time(NULL);
            strftime(when, sizeof(when), "%H:%M:%S", localtime(&now));
            /* Home and clear: the refresh overwrites the last one in place. */
            printf("\033[H\033[2J"
                   "Every %gs: ustack stat (%s)   %s\n\n",
                   interval, path, when);
        }
        if (show_once(path, json, true, err, sizeof(err)) < 0) {
            if (interrupted) return 0;
            fprintf(stderr, "%s: %s\n", prog_cmd, err);
            return 1;
        }
        if (!pause_for(interval)) return 0;
    }
}

int cmd_stat(int argc, char **argv)
{
    enum { OPT_CTL = 1, OPT_PID, OPT_JSON, OPT_WATCH };
    static const struct option opts[] = {
        {"help", no_argument, 0, 'h'},
        {"ctl", required_argument, 0, OPT_CTL},
        {"pid", required_argument, 0, OPT_PID},
        {"json", no_argument, 0, OPT_JSON},
        {"watch", optional_argument, 0, OPT_WATCH},
        {0, 0, 0, 0},
    };
    const char *ctl = NULL;
    long pid = 0;
    bool json = false, watching = false;
    double interval = 1;
    unsigned long long v;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help();
            return 0;
        case OPT_CTL:
            if (!*optarg) usage_error("bad --ctl '': expected a path");
            ctl = optarg;
            break;
        case OPT_PID:
            if (parse_uint(optarg, 4194304, &v) < 0 || v == 0)
                usage_error("bad --pid '%s': expected a process id", optarg);
            pid = (long)v;
            break;
        case OPT_JSON:
            json = true;
            break;
        case OPT_WATCH: {
            /* "--watch 2" as well as "--watch=2": take the next word when it
             * is a number. */
            const char *arg = optarg;
            if (!arg && optind < argc && argv[optind][0] >= '0' && argv[optind][0] <= '9')
                arg = argv[optind++];
            if (arg) {
                char *end;
                errno = 0;
                interval = strtod(arg, &end);
                if (errno || *end || !(interval >= 0.1 && interval <= 86400))
                    usage_error("bad --watch '%s': expected seconds, 0.1 to 86400", arg);
            }
            watching = true;
            break;
        }
        case ':':
            usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) usage_error("unexpected argument '%s'", argv[optind]);
    if (ctl && pid) usage_error("give --ctl or --pid, not both");

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    char path[CTL_PATH_MAX];
    choose_path(path, sizeof(path), ctl, pid);
    if (watching) return watch(path, json, interval);
    char err[512];
    if (show_once(path, json, false, err, sizeof(err)) < 0) fail("%s", err);
    return 0;
}
