/*
 * cmd.c: `ustack pkt`, the packetdrill-script runner's command.
 *
 * `ustack pkt parse [-D NAME[=VALUE]]... FILE...` parses scripts and prints
 * each back in canonical syntax, with the settings its shell lines carry, or
 * the first error as file:line:col.
 *
 * `ustack pkt run [OPTIONS] FILE.pkt|DIR...` runs scripts (directories are
 * searched for *.pkt) against a fresh stack each (exec.c), prints one result
 * per script naming its mode, and a summary. With --expect it compares each
 * result with the expectations file (expect.h) and fails on any difference:
 * a regression, or an expected failure that now passes.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "pkt/exec.h"
#include "pkt/expect.h"
#include "pkt/pkt.h"
#include "pkt/report.h"
#include "pkt/tally.h"

#define PKT_DEFINES_MAX 64

static void help(void)
{
    printf("Usage: ustack pkt parse [-D NAME[=VALUE]]... [-U STANDARD] [-q] FILE.pkt...\n"
           "       ustack pkt run [OPTIONS] FILE.pkt|DIR...\n\n"
           "parse: parses packetdrill scripts and prints them back in canonical form.\n"
           "  -D NAME[=VALUE]  define NAME for #ifdef and as a macro\n"
           "  -U STANDARD      do not predefine STANDARD (the portable #ifdef branch)\n"
           "  -q               print nothing for scripts that parse\n"
           "Exit status: 0 when every script parses, 2 otherwise.\n\n"
           "run: runs scripts against ustack in virtual time (DIRs: every *.pkt below).\n"
           "  --mode strict|portable   how outbound packets are compared (default: strict)\n"
           "  --tolerance_usecs N      timing tolerance of the scripts named after it, for\n"
           "                           those that set none (packetdrill's 4000)\n"
           "  --expect FILE            compare each result with FILE (tests/pkt/expectations.tsv)\n"
           "  --root DIR               name scripts relative to DIR (in results and FILE)\n"
           "  --summary                per-folder and per-suite counts and the pass rate\n"
           "  -D NAME[=VALUE], -U STANDARD   as for parse\n"
           "  -q                       print only results that are not as expected\n"
           "  -v                       print every event, frame and what was not acted on\n"
           "Exit status: 2 when a script does not parse; else 1 when one failed (with\n"
           "--expect: when a result differs from the file); else 0.\n");
}

static int cmd_pkt_parse(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    struct pkt_define defines[PKT_DEFINES_MAX];
    size_t ndefines = 0;
    bool quiet = false, no_standard = false;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "hD:U:q", opts, NULL)) != -1) {
        if (c == 'h') {
            help();
            return 0;
        }
        if (c == 'q') {
            quiet = true;
        } else if (c == 'U') {
            if (strcmp(optarg, "STANDARD") != 0) usage_error("only -U STANDARD is meaningful");
            no_standard = true;
        } else if (c == 'D') {
            if (ndefines == PKT_DEFINES_MAX) usage_error("too many -D definitions");
            if (pkt_define_parse(optarg, &defines[ndefines]) < 0)
                usage_error("bad definition -D '%s' (NAME or NAME=VALUE)", optarg);
            ndefines++;
        } else {
            usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) usage_error("expected at least one script");
    struct pkt_parse_opts po = {defines, ndefines, NULL, no_standard};
    int status = 0;
    for (int i = optind; i < argc; i++) {
        struct pkt_script *s;
        struct pkt_error err;
        if (pkt_parse_file(argv[i], &po, &s, &err) < 0) {
            char msg[600];
            fprintf(stderr, "%s\n", pkt_error_format(&err, msg, sizeof(msg)));
            status = EXIT_USAGE;
            continue;
        }
        if (!quiet) {
            printf("// %s: %u options, %u events\n", argv[i], s->noptions, s->nevents);
            pkt_script_print(stdout, s);
        }
        pkt_script_free(s);
    }
    return status;
}

/* ---- run ---- */

/* The scripts to run, each with the tolerance given before it. */
struct script_path {
    char *path;
    int64_t tolerance_usecs;
};

struct paths {
    struct script_path *p;
    size_t n, cap;
    int64_t tolerance_usecs; /* for the paths added next */
};

static void paths_add(struct paths *ps, const char *path)
{
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? ps->cap * 2 : 64;
        ps->p = realloc(ps->p, ps->cap * sizeof(*ps->p));
        if (!ps->p) fail("out of memory");
    }
    ps->p[ps->n].path = strdup(path);
    ps->p[ps->n].tolerance_usecs = ps->tolerance_usecs;
    if (!ps->p[ps->n].path) fail("out of memory");
    ps->n++;
}

static int path_cmp(const void *a, const void *b)
{
    return strcmp(((const struct script_path *)a)->path, ((const struct script_path *)b)->path);
}

/* `path` itself, or every *.pkt below it when it is a directory. */
static void collect(struct paths *ps, const char *path, int depth)
{
    struct stat st;
    if (depth > 16 || stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
        if (depth == 0)
            paths_add(ps, path); /* a missing file fails to parse */
        else if (strlen(path) > 4 && !strcmp(path + strlen(path) - 4, ".pkt"))
            paths_add(ps, path);
        return;
    }
    DIR *d = opendir(path);
    if (!d) fail("%s: cannot read the directory", path);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char child[4096];
        size_t len = strlen(path);
        snprintf(child, sizeof(child), "%s%s%s", path, len && path[len - 1] == '/' ? "" : "/",
                 e->d_name);
        collect(ps, child, depth + 1);
    }
    closedir(d);
}

struct run {
    struct pkt_exec_opts eo;
    struct pkt_parse_opts po;
    const char *root;
    const char *expect_path;
    struct pkt_expectations ex;
    bool have_ex, quiet, verbose;
    struct pkt_summary sum;
    struct pkt_tally tally;
    unsigned differ; /* results not as the expectations file says */
};

/* The script's name: relative to --root when it lies below it. */
static const char *script_name(const struct run *rn, const char *path)
{
    size_t n = rn->root ? strlen(rn->root) : 0;
    while (n > 1 && rn->root[n - 1] == '/') n--;
    if (n && !strncmp(path, rn->root, n) && path[n] == '/') return path + n + 1;
    return path;
}

static const char *status_word(enum pkt_status st)
{
    return st == PKT_STATUS_PASS ? "pass" : st == PKT_STATUS_SKIP ? "skip" : "fail";
}

static void report(struct run *rn, const struct pkt_result *res, const struct pkt_script *s,
                   struct pkt_expectation *e)
{
    const char *mode = pkt_mode_name(res->mode);
    if (!rn->have_ex) {
        if (!rn->quiet || res->status == PKT_STATUS_FAIL || res->status == PKT_STATUS_ERROR)
            pkt_result_print(stdout, res, s, rn->verbose);
        return;
    }
    enum pkt_verdict_vs_expectation v = pkt_expect_compare(e, res);
    if (v == PKT_AS_EXPECTED) {
        if (rn->quiet) return;
        if (res->status == PKT_STATUS_FAIL) {
            printf("XFAIL %s (%s mode): %s\n", res->path, mode, e->reason);
            if (rn->verbose) pkt_result_print(stdout, res, s, true);
        } else {
            pkt_result_print(stdout, res, s, rn->verbose);
        }
        return;
    }
    rn->differ++;
    pkt_result_print(stdout, res, s, rn->verbose);
    switch (v) {
    case PKT_UNLISTED:
        printf("  NOT AS EXPECTED: %s does not list this script for %s mode\n", rn->expect_path,
               mode);
        break;
    case PKT_UNEXPECTED_PASS:
        printf("  NOT AS EXPECTED: it passes now; %s:%u says %s (%s): update the file\n",
               rn->expect_path, e->line, status_word(e->status), e->reason);
        break;
    default:
        printf("  NOT AS EXPECTED: %s:%u says %s%s%s%s\n", rn->expect_path, e->line,
               status_word(e->status), e->reason ? " (" : "", e->reason ? e->reason : "",
               e->reason ? ")" : "");
        break;
    }
}

static void run_one(struct run *rn, const struct script_path *sp)
{
    const char *path = sp->path;
    rn->eo.tolerance_usecs = sp->tolerance_usecs;
    const char *name = script_name(rn, path);
    struct pkt_result *res = calloc(1, sizeof(*res));
    if (!res) fail("out of memory");
    struct pkt_script *s = NULL;
    struct pkt_error err;
    if (pkt_parse_file(path, &rn->po, &s, &err) < 0)
        pkt_result_parse_error(res, name, rn->eo.mode, &err);
    else
        pkt_exec(s, name, &rn->eo, res);
    struct pkt_expectation *e = rn->have_ex ? pkt_expect_find(&rn->ex, name, rn->eo.mode) : NULL;
    if (e) e->seen = true;
    report(rn, res, s, e);
    fflush(stdout);
    bool xfail = e && e->status == PKT_STATUS_FAIL && res->status == PKT_STATUS_FAIL;
    pkt_summary_add(&rn->sum, res, s);
    pkt_tally_add(&rn->tally, name, res->status, xfail);
    pkt_script_free(s);
    free(res);
}

static int cmd_pkt_run(int argc, char **argv)
{
    enum { OPT_MODE = 256, OPT_TOL, OPT_EXPECT, OPT_ROOT, OPT_SUMMARY };
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"mode", required_argument, 0, OPT_MODE},
                                         {"tolerance_usecs", required_argument, 0, OPT_TOL},
                                         {"expect", required_argument, 0, OPT_EXPECT},
                                         {"root", required_argument, 0, OPT_ROOT},
                                         {"summary", no_argument, 0, OPT_SUMMARY},
                                         {0, 0, 0, 0}};
    static struct pkt_define defines[PKT_DEFINES_MAX];
    size_t ndefines = 0;
    struct run rn;
    memset(&rn, 0, sizeof(rn));
    pkt_exec_opts_default(&rn.eo);
    bool summary = false;
    unsigned long long v;
    int c;
    opterr = 0;
    struct paths ps = {0};
    /* '-': paths come back in order (as 1), so --tolerance_usecs applies to
     * the paths after it. */
    while ((c = getopt_long(argc, argv, "-hD:U:qv", opts, NULL)) != -1) {
        switch (c) {
        case 1: {
            size_t first = ps.n;
            collect(&ps, optarg, 0);
            qsort(ps.p + first, ps.n - first, sizeof(*ps.p), path_cmp);
            break;
        }
        case 'h':
            help();
            return 0;
        case OPT_MODE:
            if (pkt_mode_parse(optarg, &rn.eo.mode) < 0)
                usage_error("--mode takes strict or portable, not '%s'", optarg);
            break;
        case OPT_TOL:
            if (parse_uint(optarg, 60000000, &v) < 0 || v == 0)
                usage_error("--tolerance_usecs takes microseconds (1 to 60000000)");
            ps.tolerance_usecs = (int64_t)v;
            break;
        case OPT_EXPECT:
            rn.expect_path = optarg;
            break;
        case OPT_ROOT:
            rn.root = optarg;
            break;
        case OPT_SUMMARY:
            summary = true;
            break;
        case 'q':
            rn.quiet = true;
            break;
        case 'v':
            rn.verbose = true;
            break;
        case 'U':
            if (strcmp(optarg, "STANDARD") != 0) usage_error("only -U STANDARD is meaningful");
            rn.po.no_standard = true;
            break;
        case 'D':
            if (ndefines == PKT_DEFINES_MAX) usage_error("too many -D definitions");
            if (pkt_define_parse(optarg, &defines[ndefines]) < 0)
                usage_error("bad definition -D '%s' (NAME or NAME=VALUE)", optarg);
            ndefines++;
            break;
        default:
            usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (ps.n == 0) usage_error("expected at least one script or directory");
    rn.po.defines = defines;
    rn.po.ndefines = ndefines;
    if (rn.verbose) rn.eo.verbose = stdout;
    if (rn.expect_path) {
        char err[512];
        if (pkt_expect_load(rn.expect_path, &rn.ex, err, sizeof(err)) < 0) usage_error("%s", err);
        rn.have_ex = true;
    }
    pkt_summary_init(&rn.sum, rn.eo.mode);
    pkt_tally_init(&rn.tally, rn.eo.mode);
    for (size_t i = 0; i < ps.n; i++) run_one(&rn, &ps.p[i]);

    if (rn.quiet) {
        struct pkt_summary counts = rn.sum;
        counts.nignored = 0;
        pkt_summary_print(stdout, &counts);
    } else {
        pkt_summary_print(stdout, &rn.sum);
    }
    if (summary) pkt_tally_print(stdout, &rn.tally);
    int status = pkt_summary_exit_status(&rn.sum);
    if (rn.have_ex && status != EXIT_USAGE) {
        if (rn.differ)
            printf("%u result%s not as %s says\n", rn.differ, rn.differ == 1 ? " is" : "s are",
                   rn.expect_path);
        status = rn.differ ? 1 : 0;
    }
    for (size_t i = 0; i < ps.n; i++) free(ps.p[i].path);
    free(ps.p);
    pkt_summary_free(&rn.sum);
    pkt_tally_free(&rn.tally);
    if (rn.have_ex) pkt_expect_free(&rn.ex);
    return status;
}

int cmd_pkt(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        help();
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (!strcmp(argv[1], "parse")) return cmd_pkt_parse(argc - 1, argv + 1);
    if (!strcmp(argv[1], "run")) return cmd_pkt_run(argc - 1, argv + 1);
    usage_error("unknown pkt command '%s' (try 'ustack pkt --help')", argv[1]);
}
