/*
 * main.c: the `ustack` command: one binary, one subcommand per job.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"bench", cmd_bench, "measure ustack against the kernel, side by side (docs/PERFORMANCE.md)"},
    {"demo", cmd_demo, "a TCP conversation from SYN to TIME-WAIT on the in-memory wire (no root)"},
    {"echo", cmd_echo, "a TCP (or UDP) echo server on a TAP; --upper answers in capitals"},
    {"connect", cmd_connect, "connect to HOST PORT through a TAP; stdin/stdout like nc"},
    {"diagram", cmd_diagram, "draw a TCP connection from a pcap as a sequence diagram"},
    {"pkt", cmd_pkt, "run or parse packetdrill scripts (ustack pkt run FILE.pkt|DIR...)"},
    {"scenario", cmd_scenario, "the scenario book: textbook TCP situations, played and checked"},
    {"http", cmd_http, "a static-file HTTP/1.1 server on a TAP (GET, HEAD, keep-alive)"},
    {"run", cmd_run, "bring a stack up on a TAP; answer ARP and ping until interrupted"},
    {"stat", cmd_stat, "show a running ustack's sockets (like ss -tan) and counters"},
    {"trace", cmd_trace, "print a pcap file one tcpdump-style line per frame"},
};

static void usage(FILE *out)
{
    fprintf(out, "Usage: ustack COMMAND [OPTIONS]\n\n"
                 "ustack is a TCP/IP stack in user space. Commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'ustack COMMAND --help' lists a command's options and their defaults;\n"
                 "'ustack --version' prints the version. Exit status: 0 success, 1 failure,\n"
                 "2 bad usage. The manual: docs/ustack.md.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("ustack %s\n", USTACK_VERSION);
        return 0;
    }
    static char cmdname[64];
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (!strcmp(argv[1], commands[i].name)) {
            snprintf(cmdname, sizeof(cmdname), "ustack %s", commands[i].name);
            prog_cmd = cmdname;
            return commands[i].fn(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "ustack: unknown command '%s' (try 'ustack --help')\n", argv[1]);
    return EXIT_USAGE;
}
