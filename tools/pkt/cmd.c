/*
 * cmd.c: `ustack pkt`, the packetdrill-script runner's command.
 *
 * `ustack pkt parse [-D NAME[=VALUE]]... FILE...` parses scripts and prints
 * each back in canonical syntax, with the settings its shell lines carry, or
 * the first error as file:line:col. Running scripts (`ustack pkt run`) needs
 * the TCP engine and comes with the executor.
 */
#include <string.h>

#include "cli.h"
#include "pkt/pkt.h"

#define PKT_DEFINES_MAX 64

static void help(void)
{
    printf("Usage: ustack pkt parse [-D NAME[=VALUE]]... [-U STANDARD] [-q] FILE.pkt...\n\n"
           "Parses packetdrill scripts and prints them back in canonical form.\n"
           "  -D NAME[=VALUE]  define NAME for #ifdef and as a macro\n"
           "  -U STANDARD      do not predefine STANDARD (the portable #ifdef branch)\n"
           "  -q               print nothing for scripts that parse\n"
           "Exit status: 0 when every script parses, 2 otherwise.\n");
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

int cmd_pkt(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        help();
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (!strcmp(argv[1], "parse")) return cmd_pkt_parse(argc - 1, argv + 1);
    usage_error("unknown pkt command '%s' (try 'ustack pkt --help')", argv[1]);
}
