/*
 * cmd_scenario.c: `ustack scenario`: the scenario book from the command
 * line: list the scenarios, run one or all of them (trace, diagram,
 * claims; exit 1 when a claim fails), write the book as Markdown.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "scenario/book.h"
#include "scenario/show.h"

static void help(void)
{
    printf("Usage: ustack scenario list\n"
           "       ustack scenario run NAME [--pcap FILE] [--svg FILE] [--ascii] [--seed N]\n"
           "       ustack scenario run --all [--seed N] [--quiet]\n"
           "       ustack scenario doc\n\n"
           "Plays textbook TCP situations on two stacks on the in-memory wire, under\n"
           "virtual time: prints the trace (segments as tcpdump prints them, each side's\n"
           "state changes beside them), the sequence diagram and the claims the scenario\n"
           "makes, each checked against what happened. Exits 1 naming the first claim\n"
           "that does not hold.\n\n"
           "  list          the scenarios, one a line\n"
           "  run NAME      play one scenario\n"
           "  run --all     play every scenario, in the book's order\n"
           "  doc           the book as Markdown (docs/scenarios.md is this output)\n\n"
           "Options of run:\n"
           "  --pcap FILE   write the wire capture to FILE (one scenario only; none)\n"
           "  --svg FILE    write the sequence diagram as SVG to FILE (one scenario only;\n"
           "                none); the text diagram is then printed only with --ascii\n"
           "  --ascii       print the diagram as text (the default without --svg)\n"
           "  --seed N      seed of the stacks and the wire: ISNs, ports (1)\n"
           "  --quiet       print only each scenario's verdict\n"
           "  --no-color    no colours (default: colour on a terminal unless NO_COLOR is set)\n");
}

static int scenario_list(void)
{
    size_t n;
    const struct scenario *const *book = book_scenarios(&n);
    for (size_t i = 0; i < n; i++) printf("%-22s %s\n", book[i]->name, book[i]->title);
    return 0;
}

enum { OPT_PCAP = 1, OPT_SVG, OPT_ASCII, OPT_SEED, OPT_ALL, OPT_QUIET, OPT_NO_COLOR };

static int scenario_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, 0, 'h'},
        {"pcap", required_argument, 0, OPT_PCAP},
        {"svg", required_argument, 0, OPT_SVG},
        {"ascii", no_argument, 0, OPT_ASCII},
        {"seed", required_argument, 0, OPT_SEED},
        {"all", no_argument, 0, OPT_ALL},
        {"quiet", no_argument, 0, OPT_QUIET},
        {"no-color", no_argument, 0, OPT_NO_COLOR},
        {0, 0, 0, 0},
    };
    struct play_opts po = {.seed = 1, .color = show_want_color()};
    bool all = false, ascii = false;
    unsigned long long v;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help();
            return 0;
        case OPT_PCAP:
            po.pcap = optarg;
            break;
        case OPT_SVG:
            po.svg = optarg;
            break;
        case OPT_ASCII:
            ascii = true;
            break;
        case OPT_SEED:
            if (parse_uint(optarg, UINT64_MAX, &v) < 0)
                usage_error("bad --seed '%s': expected a number", optarg);
            po.seed = v;
            break;
        case OPT_ALL:
            all = true;
            break;
        case OPT_QUIET:
            po.quiet = true;
            break;
        case OPT_NO_COLOR:
            po.color = false;
            break;
        case ':':
            usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    po.ascii = ascii || !po.svg;
    if (all && optind != argc) usage_error("--all takes no scenario name");
    if (all && (po.pcap || po.svg))
        usage_error("--pcap and --svg name one file: use them with one scenario");
    if (!all && optind == argc) usage_error("expected a scenario name or --all");
    if (!all && optind != argc - 1)
        usage_error("expected one scenario name, got %d", argc - optind);

    char err[512];
    if (!all) {
        const struct scenario *sc = book_find(argv[optind]);
        if (!sc)
            usage_error("no scenario named '%s'; 'ustack scenario list' names them", argv[optind]);
        int rc = scenario_play(sc, &po, stdout, err, sizeof(err));
        fflush(stdout);
        if (rc < 0) fail("%s", err);
        if (rc > 0) fprintf(stderr, "%s: %s\n", prog_cmd, err);
        return rc;
    }
    size_t n, failed = 0;
    const struct scenario *const *book = book_scenarios(&n);
    const char *first = NULL;
    for (size_t i = 0; i < n; i++) {
        int rc = scenario_play(book[i], &po, stdout, err, sizeof(err));
        if (!po.quiet) fputc('\n', stdout);
        if (rc < 0) fail("%s", err);
        if (rc > 0) {
            failed++;
            fflush(stdout);
            fprintf(stderr, "%s: %s\n", prog_cmd, err);
            if (!first) first = book[i]->name;
        }
    }
    printf("%zu scenarios, %zu passed, %zu failed%s%s\n", n, n - failed, failed,
           first ? "; first failure: " : "", first ? first : "");
    return failed ? 1 : 0;
}

int cmd_scenario(int argc, char **argv)
{
    if (argc < 2) usage_error("expected list, run or doc");
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        help();
        return 0;
    }
    if (!strcmp(sub, "list")) {
        if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
            help();
            return 0;
        }
        if (argc > 2) usage_error("list takes no arguments");
        return scenario_list();
    }
    if (!strcmp(sub, "run")) return scenario_run(argc - 1, argv + 1);
    if (!strcmp(sub, "doc")) {
        if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
            help();
            return 0;
        }
        if (argc > 2) usage_error("doc takes no arguments");
        char err[512];
        int rc = scenario_doc(stdout, err, sizeof(err));
        fflush(stdout);
        if (rc) fprintf(stderr, "%s: %s\n", prog_cmd, err);
        return rc;
    }
    usage_error("unknown subcommand '%s': expected list, run or doc", sub);
}
