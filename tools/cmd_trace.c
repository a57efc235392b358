/*
 * cmd_trace.c: `ustack trace FILE.pcap`: the text trace of any capture, so a
 * pcap from ustack (or anyone) reads the same as the live trace.
 */
#include <pcap/pcap.h>
#include <string.h>

#include "cli.h"

static void help(void)
{
    printf("Usage: ustack trace [-S] [-t] FILE.pcap\n\n"
           "Prints each frame the way `tcpdump -n` does.\n"
           "  -S   absolute TCP sequence numbers (default: relative, as tcpdump)\n"
           "  -t   no timestamps (default: wall-clock time of each frame)\n");
}

int cmd_trace(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    bool abs_seq = false, no_time = false;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hSt", opts, NULL)) != -1) {
        if (c == 'h') {
            help();
            return 0;
        }
        if (c == 'S') abs_seq = true;
        else if (c == 't') no_time = true;
        else option_error(c, argv);
    }
    if (optind != argc - 1) usage_error("expected one pcap file");
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(argv[optind], err);
    if (!p) fail("%s", err);
    if (pcap_datalink(p) != DLT_EN10MB) fail("%s: not an Ethernet capture", argv[optind]);
    struct us_seqrel *rel = abs_seq ? NULL : us_seqrel_new();
    struct pcap_pkthdr *h;
    const u_char *data;
    char line[1024], ts[32];
    while (pcap_next_ex(p, &h, &data) == 1) {
        us_trace_format(line, sizeof(line), data, h->caplen, rel);
        us_time_t t = (us_time_t)h->ts.tv_sec * 1000000u + (us_time_t)h->ts.tv_usec;
        if (!no_time) printf("%s ", us_trace_time(ts, sizeof(ts), t));
        printf("%s\n", line);
    }
    us_seqrel_free(rel);
    pcap_close(p);
    return 0;
}
