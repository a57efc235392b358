/*
 * bench.c: `ustack bench [NAME...] [--json FILE] [--quick]`.
 *
 * Runs the benchmarks named (all by default), each measuring ustack and the
 * kernel with the same pattern in the same run, then prints one table row
 * per figure (min/median/max of each side and the ratio of the medians,
 * above 1 when ustack is better) and writes the same to a JSON file. Timings
 * are reported, never asserted: the machine is shared and noisy.
 */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define MAX_ENTRIES 128

static struct bench_entry entries[MAX_ENTRIES];
static unsigned n_entries;

struct bench_entry *bench_entry_new(const char *name, const char *unit, bool higher_better)
{
    /* Running out is a programming error in the table of benchmarks, not a
     * run-time condition: keep going with the last slot. */
    struct bench_entry *e = &entries[n_entries < MAX_ENTRIES ? n_entries++ : MAX_ENTRIES - 1];
    memset(e, 0, sizeof(*e));
    snprintf(e->name, sizeof(e->name), "%s", name);
    snprintf(e->unit, sizeof(e->unit), "%s", unit);
    snprintf(e->ref_name, sizeof(e->ref_name), "kernel");
    e->higher_better = higher_better;
    return e;
}

void series_add(struct bench_series *s, double v)
{
    if (s->n < BENCH_MAX_RUNS && isfinite(v)) s->v[s->n++] = v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double series_median(const struct bench_series *s)
{
    if (!s->n) return NAN;
    double v[BENCH_MAX_RUNS];
    memcpy(v, s->v, s->n * sizeof(double));
    qsort(v, s->n, sizeof(double), cmp_double);
    return s->n % 2 ? v[s->n / 2] : (v[s->n / 2 - 1] + v[s->n / 2]) / 2;
}

double series_min(const struct bench_series *s)
{
    double m = INFINITY;
    for (unsigned i = 0; i < s->n; i++) m = fmin(m, s->v[i]);
    return s->n ? m : NAN;
}

double series_max(const struct bench_series *s)
{
    double m = -INFINITY;
    for (unsigned i = 0; i < s->n; i++) m = fmax(m, s->v[i]);
    return s->n ? m : NAN;
}

static double entry_ratio(const struct bench_entry *e)
{
    double u = series_median(&e->us), k = series_median(&e->k);
    if (!e->us.n || !e->k.n || u <= 0 || k <= 0) return NAN;
    return e->higher_better ? u / k : k / u;
}

/* ---- clocks, CPUs, memory ---- */

uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

us_time_t mono_us(void)
{
    return mono_ns() / 1000u;
}

int pin_cpu(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (cpu < 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        for (long i = 0; i < n; i++) CPU_SET((int)i, &set);
    } else {
        CPU_SET(cpu % (int)sysconf(_SC_NPROCESSORS_ONLN), &set);
    }
    return sched_setaffinity(0, sizeof(set), &set);
}

size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size = 0, res = 0;
    if (fscanf(f, "%lu %lu", &size, &res) != 2) res = 0;
    fclose(f);
    return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

const char *bench_commit(void)
{
    static char commit[48];
    if (commit[0]) return commit;
    snprintf(commit, sizeof(commit), "unknown");
    FILE *p = popen("git rev-parse --short HEAD 2>/dev/null && git status --porcelain "
                    "--untracked-files=no 2>/dev/null | head -1",
                    "r");
    if (!p) return commit;
    char line[64], dirty[64] = "";
    if (fgets(line, sizeof(line), p)) {
        line[strcspn(line, "\n")] = 0;
        if (fgets(dirty, sizeof(dirty), p) && dirty[0])
            snprintf(commit, sizeof(commit), "%s+dirty", line);
        else
            snprintf(commit, sizeof(commit), "%s", line);
    }
    pclose(p);
    return commit;
}

static void machine(char *buf, size_t cap)
{
    char model[96] = "?";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof(line), f)) {
            char *c = strchr(line, ':');
            if (!strncmp(line, "model name", 10) && c) {
                snprintf(model, sizeof(model), "%s", c + 2);
                model[strcspn(model, "\n")] = 0;
                break;
            }
        }
        fclose(f);
    }
    struct utsname u;
    uname(&u);
    snprintf(buf, cap, "%ld x %s, %.1f GiB, Linux %s", sysconf(_SC_NPROCESSORS_ONLN), model,
             (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE) / (1u << 30),
             u.release);
}

/* ---- output ---- */

static void fmt_num(char *buf, size_t cap, double v)
{
    if (isnan(v))
        snprintf(buf, cap, "-");
    else if (fabs(v) >= 100000)
        snprintf(buf, cap, "%.0f", v);
    else if (fabs(v) >= 100)
        snprintf(buf, cap, "%.1f", v);
    else if (fabs(v) >= 1)
        snprintf(buf, cap, "%.2f", v);
    else
        snprintf(buf, cap, "%.3g", v);
}

static void fmt_series(char *buf, size_t cap, const struct bench_series *s)
{
    char a[32], b[32], c[32];
    if (!s->n) {
        snprintf(buf, cap, "-");
        return;
    }
    fmt_num(a, sizeof(a), series_min(s));
    fmt_num(b, sizeof(b), series_median(s));
    fmt_num(c, sizeof(c), series_max(s));
    if (s->n == 1)
        snprintf(buf, cap, "%s", b);
    else
        snprintf(buf, cap, "%s [%s..%s]", b, a, c);
}

static void print_table(FILE *out)
{
    fprintf(out, "\n%-34s %-12s %-30s %-30s %7s  %s\n", "benchmark", "unit",
            "ustack median [min..max]", "reference median [min..max]", "ratio", "reference");
    for (unsigned i = 0; i < n_entries; i++) {
        const struct bench_entry *e = &entries[i];
        char u[80], k[80], r[32];
        fmt_series(u, sizeof(u), &e->us);
        fmt_series(k, sizeof(k), &e->k);
        double ratio = entry_ratio(e);
        if (isnan(ratio))
            snprintf(r, sizeof(r), "-");
        else
            snprintf(r, sizeof(r), "%.2fx", ratio);
        fprintf(out, "%-34s %-12s %-30s %-30s %7s  %s%s%s\n", e->name, e->unit, u, k, r,
                e->ref_name, e->note[0] ? "; " : "", e->note);
    }
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, double v)
{
    if (isnan(v) || isinf(v))
        fprintf(f, "null");
    else
        fprintf(f, "%.6g", v);
}

static void json_series(FILE *f, const struct bench_series *s, const char *unit)
{
    fprintf(f, "{\"value\": ");
    json_num(f, series_median(s));
    fprintf(f, ", \"min\": ");
    json_num(f, series_min(s));
    fprintf(f, ", \"max\": ");
    json_num(f, series_max(s));
    fprintf(f, ", \"runs\": [");
    for (unsigned i = 0; i < s->n; i++) {
        if (i) fprintf(f, ", ");
        json_num(f, s->v[i]);
    }
    fprintf(f, "], \"unit\": ");
    json_str(f, unit);
    fprintf(f, "}");
}

static int write_json(const char *path, const struct bench_ctx *bc, double seconds)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    char m[256];
    machine(m, sizeof(m));
    fprintf(f, "{\n  \"commit\": ");
    json_str(f, bench_commit());
    fprintf(f, ",\n  \"machine\": ");
    json_str(f, m);
    fprintf(f, ",\n  \"quick\": %s,\n  \"runs\": %u,\n  \"seconds\": %.1f,\n",
            bc->quick ? "true" : "false", bc->runs, seconds);
    fprintf(f, "  \"benchmarks\": [\n");
    for (unsigned i = 0; i < n_entries; i++) {
        const struct bench_entry *e = &entries[i];
        fprintf(f, "    {\"name\": ");
        json_str(f, e->name);
        fprintf(f, ",\n     \"ustack\": ");
        json_series(f, &e->us, e->unit);
        fprintf(f, ",\n     \"kernel\": ");
        json_series(f, &e->k, e->unit);
        fprintf(f, ",\n     \"reference\": ");
        json_str(f, e->ref_name);
        fprintf(f, ",\n     \"ratio\": {\"value\": ");
        json_num(f, entry_ratio(e));
        fprintf(f, ", \"unit\": \"x\", \"meaning\": \"above 1: ustack better\"},\n     \"note\": ");
        json_str(f, e->note);
        fprintf(f, "}%s\n", i + 1 < n_entries ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    return fclose(f);
}

/* ---- the command ---- */

struct bench_def {
    const char *name;
    int (*fn)(const struct bench_ctx *bc);
    const char *what;
};

static const struct bench_def benches[] = {
    {"bulk", bench_bulk, "one-way transfer, wire (1 and 2 threads) vs kernel loopback"},
    {"rr", bench_rr, "1-byte and 1 KiB request/response vs kernel loopback"},
    {"crr", bench_crr, "connect, request/response, close: lifecycles per second"},
    {"tap", bench_tap, "ustack <-> kernel through a TAP vs kernel <-> kernel over veth"},
    {"conns", bench_conns, "memory per idle connection; 1 M established connections"},
    {"scale", bench_scale, "bulk and rr with 1, 1k, 100k, 1M idle connections"},
    {"instructions", bench_instructions, "callgrind instruction counts per segment/RT/lifecycle"},
};
#define N_BENCHES (sizeof(benches) / sizeof(benches[0]))

static void help(void)
{
    printf("Usage: ustack bench [NAME...] [--json FILE] [--quick] [--runs N]\n\n"
           "Measures ustack and the Linux kernel side by side (the kernel's figures\n"
           "are measured in the same run, with the same pattern) and prints\n"
           "min/median/max of several runs and the ratio of the medians (above 1:\n"
           "ustack is better). Benchmarks needing namespaces or a TAP are skipped\n"
           "without root. Benchmarks:\n");
    for (size_t i = 0; i < N_BENCHES; i++) printf("  %-13s %s\n", benches[i].name, benches[i].what);
    printf("\nOptions:\n"
           "  NAME...       which benchmarks (default: all)\n"
           "  --json FILE   also write every figure to FILE (default: none)\n"
           "  --quick       a seconds-long smoke run (default: off)\n"
           "  --runs N      runs per figure (default: 5)\n");
}

int cmd_bench(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "--probe")) return bench_probe(argc - 1, argv + 1);
    static const struct option opts[] = {{"json", required_argument, 0, 'j'},
                                         {"quick", no_argument, 0, 'q'},
                                         {"runs", required_argument, 0, 'r'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    struct bench_ctx bc = {.runs = 5, .root = geteuid() == 0};
    const char *json = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "hqj:r:", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help();
            return 0;
        case 'q':
            bc.quick = true;
            break;
        case 'j':
            json = optarg;
            break;
        case 'r': {
            unsigned long long n;
            if (parse_uint(optarg, BENCH_MAX_RUNS, &n) || n == 0)
                usage_error("--runs takes 1 to %d", BENCH_MAX_RUNS);
            bc.runs = (unsigned)n;
            break;
        }
        default:
            usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (bc.quick) bc.runs = 1;
    static char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    bc.self = n > 0 ? (self[n] = 0, self) : argv[0];

    bool want[N_BENCHES];
    memset(want, optind >= argc, sizeof(want));
    for (int i = optind; i < argc; i++) {
        size_t k = 0;
        while (k < N_BENCHES && strcmp(argv[i], benches[k].name)) k++;
        if (k == N_BENCHES) usage_error("no benchmark named '%s'", argv[i]);
        want[k] = true;
    }
    char m[256];
    machine(m, sizeof(m));
    fprintf(stderr, "ustack bench: commit %s on %s; %u run%s per figure%s\n", bench_commit(), m,
            bc.runs, bc.runs > 1 ? "s" : "", bc.quick ? " (quick)" : "");
    uint64_t t0 = mono_ns();
    int failed = 0, ran = 0;
    for (size_t i = 0; i < N_BENCHES; i++) {
        if (!want[i]) continue;
        uint64_t t1 = mono_ns();
        fprintf(stderr, "== %s\n", benches[i].name);
        int rc = benches[i].fn(&bc);
        if (rc < 0) failed++;
        if (rc == 0) ran++;
        fprintf(stderr, "   (%.1f s)\n", (double)(mono_ns() - t1) / 1e9);
    }
    double secs = (double)(mono_ns() - t0) / 1e9;
    print_table(stdout);
    printf("\n%.1f s in all\n", secs);
    if (json && write_json(json, &bc, secs) != 0)
        fail("cannot write %s: %s", json, strerror(errno));
    if (failed) return 1;
    /* Everything asked for was skipped (no root, no valgrind): say so the
     * way CTest understands. */
    return ran ? 0 : 77;
}
