/*
 * cmd_diagram.c: `ustack diagram FILE.pcap`: the sequence diagram of one TCP
 * connection, as text for the terminal or as SVG for a browser, from any
 * capture, with flight times, losses and states when the event log written
 * beside it is given.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "diagram/render.h"

static void help(void)
{
    printf("Usage: ustack diagram FILE.pcap [--events FILE] [--svg OUT.svg] [--ascii]\n"
           "                      [--abs] [--port P] [--color WHEN]\n\n"
           "Draws one TCP connection of a capture as a sequence diagram: the client's\n"
           "and the server's lifelines, one arrow per segment (flags, seq, ack, length;\n"
           "numbers relative to each side's ISN), the state each side enters where it\n"
           "enters it, time going down.\n\n"
           "  --events FILE  the event log written with the capture (ustack's wire\n"
           "                 capture): adds flight times, lost segments and TCP states\n"
           "  --svg OUT.svg  write an SVG diagram to OUT.svg ('-' for standard output)\n"
           "  --ascii        print the diagram as text (the default without --svg)\n"
           "  --abs          absolute sequence numbers\n"
           "  --port P       the first connection using TCP port P (default: the first\n"
           "                 connection in the capture)\n"
           "  --color WHEN   colour the text: auto (a terminal and NO_COLOR unset),\n"
           "                 always, never\n");
}

enum { OPT_EVENTS = 1, OPT_SVG, OPT_ASCII, OPT_ABS, OPT_PORT, OPT_COLOR };

static bool want_color(const char *when)
{
    if (!strcmp(when, "always")) return true;
    if (!strcmp(when, "never")) return false;
    const char *no = getenv("NO_COLOR");
    return isatty(STDOUT_FILENO) && !(no && *no);
}

static void write_svg(const struct diagram *d, const char *path, unsigned flags)
{
    bool std = !strcmp(path, "-");
    FILE *out = std ? stdout : fopen(path, "w");
    if (!out) fail("cannot write %s: %s", path, strerror(errno));
    int rc = diagram_render_svg(d, out, flags);
    if (!std && fclose(out) != 0) rc = -EIO;
    if (rc < 0) fail("writing %s: %s", std ? "standard output" : path, strerror(-rc));
}

int cmd_diagram(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, 0, 'h'},
        {"events", required_argument, 0, OPT_EVENTS},
        {"svg", required_argument, 0, OPT_SVG},
        {"ascii", no_argument, 0, OPT_ASCII},
        {"abs", no_argument, 0, OPT_ABS},
        {"port", required_argument, 0, OPT_PORT},
        {"color", required_argument, 0, OPT_COLOR},
        {0, 0, 0, 0},
    };
    const char *events = NULL, *svg = NULL, *color = "auto";
    bool ascii = false;
    unsigned flags = 0;
    struct diagram_opts dopts = {0};
    unsigned long long v;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help();
            return 0;
        case OPT_EVENTS:
            events = optarg;
            break;
        case OPT_SVG:
            svg = optarg;
            break;
        case OPT_ASCII:
            ascii = true;
            break;
        case OPT_ABS:
            flags |= DIAGRAM_ABS_SEQ;
            break;
        case OPT_PORT:
            if (parse_uint(optarg, 65535, &v) < 0 || v == 0)
                usage_error("bad --port '%s': expected a TCP port 1..65535", optarg);
            dopts.port = (uint16_t)v;
            break;
        case OPT_COLOR:
            if (strcmp(optarg, "auto") && strcmp(optarg, "always") && strcmp(optarg, "never"))
                usage_error("bad --color '%s': expected auto, always or never", optarg);
            color = optarg;
            break;
        default:
            option_error(c, argv);
        }
    }
    if (optind == argc) usage_error("expected a pcap file");
    if (optind != argc - 1) usage_error("expected one pcap file, got %d arguments", argc - optind);
    if (!svg) ascii = true;
    if (ascii && svg && !strcmp(svg, "-"))
        usage_error("--svg - and --ascii would both write to standard output");

    struct diagram *d = diagram_new(&dopts);
    if (!d) fail("out of memory");
    char err[512];
    if (diagram_load(d, argv[optind], events, err, sizeof(err)) < 0) {
        diagram_free(d);
        fail("%s", err);
    }
    if (svg) write_svg(d, svg, flags);
    if (ascii) {
        unsigned aflags = flags | (want_color(color) ? DIAGRAM_COLOR : 0);
        int rc = diagram_render_ascii(d, stdout, aflags);
        if (rc == 0 && fflush(stdout) != 0) rc = -EIO;
        if (rc < 0) fail("writing the diagram: %s", strerror(-rc));
    }
    diagram_free(d);
    return 0;
}
