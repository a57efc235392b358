/*
 * cmd_demo.c: `ustack demo`: two stacks on the in-memory wire, under virtual
 * time, with every frame traced.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void help(void)
{
    printf("Usage: ustack demo [--seed N] [--loss P] [--dup P] [--reorder P] [--corrupt P]\n"
           "                   [--delay MS] [--pcap FILE]\n\n"
           "Two stacks on the in-memory wire ping each other; every frame is printed\n"
           "the way tcpdump would print it. No TAP, no root needed.\n\n"
           "  --seed N       seed of the stacks and the wire's faults (default 1)\n"
           "  --loss P  --dup P  --reorder P  --corrupt P\n"
           "                 faults on the wire, in percent (default 0)\n"
           "  --delay MS     one-way delay of the wire (default 0)\n"
           "  --pcap FILE    also write every frame to FILE (default: none)\n");
}

/* The link options that mean something on the in-memory wire; --tap and
 * the rest would be accepted and silently ignored, so they are refused. */
static const struct option *demo_options(void)
{
    static const char *const wanted[] = {"seed",    "loss",  "dup", "reorder",
                                         "corrupt", "delay", "pcap"};
    static struct option opts[16];
    size_t n = 0;
    opts[n++] = (struct option){"help", no_argument, 0, 'h'};
    for (const struct option *o = link_long_options; o->name; o++)
        for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++)
            if (!strcmp(o->name, wanted[i])) opts[n++] = *o;
    opts[n] = (struct option){0, 0, 0, 0};
    return opts;
}

int cmd_demo(int argc, char **argv)
{
    const struct option *opts = demo_options();
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
    struct us_wire *w = us_wire_new(lo.seed);
    struct us_stack_config cfg;
    us_stack_config_default(&cfg);
    cfg.seed = lo.seed;
    cfg.name = "client";
    struct us_stack *a = us_stack_new(&cfg);
    cfg.name = "server";
    struct us_stack *b = us_stack_new(&cfg);
    struct us_iface_config ia = {.mac = {2, 0, 0, 0, 0, 1}, .addr = 0x0a000001, .prefix_len = 24};
    struct us_iface_config ib = {.mac = {2, 0, 0, 0, 0, 2}, .addr = 0x0a000002, .prefix_len = 24};
    int pa = us_wire_attach(w, a, &ia);
    int pb = us_wire_attach(w, b, &ib);
    us_wire_set_faults(w, pa, &lo.faults);
    us_wire_set_faults(w, pb, &lo.faults);
    struct us_text_trace *tr = us_text_trace_new(stdout, 0);
    struct us_observer o = us_text_trace_observer(tr);
    us_stack_observe(a, &o);
    struct us_pcap *pc = NULL;
    if (lo.pcap) {
        char err[256];
        pc = us_pcap_open(lo.pcap, err, sizeof(err));
        if (!pc) fail("%s", err);
        struct us_observer po = us_pcap_observer_out(pc);
        us_stack_observe(a, &po);
        us_stack_observe(b, &po);
    }
    for (uint16_t i = 1; i <= 3; i++) {
        us_ping_send(a, 0x0a000002, 1, i, 56);
        us_wire_run_for(w, US_SEC(1));
    }
    struct us_echo_reply r;
    unsigned got = 0;
    while (us_ping_recv(a, &r)) got++;
    printf("\n3 echo requests, %u replies\n", got);
    us_pcap_close(pc);
    us_text_trace_free(tr);
    us_stack_free(a);
    us_stack_free(b);
    us_wire_free(w);
    return 0;
}
