/*
 * cmd_run.c: `ustack run`: a stack on a TAP that answers ARP and ping (and,
 * later, whatever its sockets serve) until SIGINT/SIGTERM.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void help(void)
{
    printf("Usage: ustack run --tap IFNAME --addr A.B.C.D/NN [options]\n\n"
           "Brings a ustack stack up on a TAP device and answers ARP and ping until\n"
           "interrupted (Ctrl-C flushes the pcap and exits 0).\n\n" LINK_OPTIONS_HELP);
}

int cmd_run(int argc, char **argv)
{
    static const struct option own[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const struct option *opts = options_with_link(own);
    struct link_opts lo;
    link_opts_init(&lo);
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h') {
            help();
            return 0;
        }
        if (c == '?' || c == ':') option_error(c, argv);
        if (!link_opts_parse(&lo, c, optarg)) usage_error("unexpected option");
    }
    if (optind < argc) usage_error("unexpected argument '%s'", argv[optind]);
    link_opts_require_tap(&lo);

    struct session ss;
    session_open(&ss, &lo, "ustack");
    char a[16];
    fprintf(stderr, "ustack: up on %s as %s/%u\n", lo.tap, us_ip_str(lo.addr, a), lo.prefix);
    us_loop_run(ss.loop);
    session_close(&ss);
    fprintf(stderr, "ustack: stopped\n");
    return 0;
}
