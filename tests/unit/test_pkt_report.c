/* The runner's report: result lines that name their mode, skip reasons for
 * features ustack lacks, what a script's lines leave undone, the summary
 * and the exit status. */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pkt/report.h"

static struct pkt_script *parse(const char *text)
{
    struct pkt_script *s;
    struct pkt_error err;
    char msg[600];
    int r = pkt_parse_buffer("t.pkt", text, strlen(text), NULL, &s, &err);
    cr_assert_eq(r, 0, "%s", pkt_error_format(&err, msg, sizeof(msg)));
    return s;
}

static void assert_skipped(const char *text, const char *why)
{
    struct pkt_script *s = parse(text);
    char reason[256];
    cr_assert(pkt_script_unsupported(s, reason, sizeof(reason)), "%s", text);
    cr_assert_str_eq(reason, why);
    pkt_script_free(s);
}

Test(pkt_report, features_ustack_lacks_are_skipped)
{
    assert_skipped("--ip_version=ipv6\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n",
                   "IPv6 (--ip_version)");
    assert_skipped("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                   "+0 > SEW 0:0(0) <mss 1460>\n",
                   "ECN (line 2: flags E/W)");
    assert_skipped("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                   "+0 setsockopt(3, IPPROTO_TCP, TCP_NOOPT, [1], 4) = 0\n",
                   "TCP_NOOPT (FreeBSD socket option) (line 2)");
    assert_skipped("0 socket(AF_INET6, SOCK_STREAM, IPPROTO_TCP) = 3\n", "IPv6 (line 1)");
    assert_skipped("0 sendto(3, ..., 10, MSG_FASTOPEN, ..., ...) = 10\n", "TCP Fast Open (line 1)");

    struct pkt_script *s = parse("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                                 "+0 > S 0:0(0) <mss 1460>\n");
    char reason[256];
    cr_assert_not(pkt_script_unsupported(s, reason, sizeof(reason)));
    pkt_script_free(s);
}

static void add_line(void *ctx, const char *what)
{
    char *buf = ctx;
    strcat(buf, what);
    strcat(buf, "|");
}

Test(pkt_report, what_a_script_leaves_undone)
{
    struct pkt_script *s = parse("--ip_version=ipv4\n--tolerance_usecs=9\n--verbose\n--speed=10\n"
                                 "`sysctl -w net.inet.tcp.blackhole=0`\n"
                                 "0 `sysctl -w net.inet.tcp.sack.enable=1`\n"
                                 "+0 `sockstat -4 | grep -c TIME_WAIT`\n"
                                 "+0 %{ assert tcpi_state == TCPI_CLOSED }%\n"
                                 "+0 %{ assert tcpi_rto == 1 }%\n"
                                 "`tcpdrop -s TIME_WAIT`\n");
    char buf[1024] = "";
    pkt_script_ignored(s, add_line, buf);
    cr_assert_str_eq(buf, "--verbose|--speed=10|sysctl net.inet.tcp.blackhole=0|"
                          "sockstat -4 | grep -c TIME_WAIT|%{ assert tcpi_rto == 1 }%|"
                          "tcpdrop -s TIME_WAIT|");
    pkt_script_free(s);
}

static char *printed(const struct pkt_result *r, const struct pkt_script *s, bool verbose)
{
    static char buf[8192];
    FILE *f = fmemopen(buf, sizeof(buf), "w");
    pkt_result_print(f, r, s, verbose);
    fclose(f);
    return buf;
}

Test(pkt_report, result_lines_name_their_mode)
{
    struct pkt_result r = {"a.pkt", PKT_STATUS_PASS, PKT_MODE_STRICT, ""};
    cr_assert_str_eq(printed(&r, NULL, false), "PASS a.pkt (strict mode)\n");

    r.status = PKT_STATUS_FAIL;
    r.mode = PKT_MODE_PORTABLE;
    snprintf(r.message, sizeof(r.message),
             "a.pkt:3: error: outbound packet does not match\n"
             "  actual packet:  > R. 1:1(0) ack 1 win 0\n");
    cr_assert_str_eq(printed(&r, NULL, false), "FAIL a.pkt (portable mode)\n"
                                               "  a.pkt:3: error: outbound packet does not match\n"
                                               "    actual packet:  > R. 1:1(0) ack 1 win 0\n");

    r.status = PKT_STATUS_SKIP;
    snprintf(r.message, sizeof(r.message), "ECN (line 2: flags E/W)");
    cr_assert_str_eq(printed(&r, NULL, false),
                     "SKIP a.pkt (portable mode): ECN (line 2: flags E/W)\n");

    struct pkt_error err = {"a.pkt", {3, 7}, "bad TCP flag 'X'"};
    pkt_result_parse_error(&r, "a.pkt", PKT_MODE_STRICT, &err);
    cr_assert_str_eq(printed(&r, NULL, false), "ERROR a.pkt: a.pkt:3:7: bad TCP flag 'X'\n");

    struct pkt_script *s = parse("0 `sysctl -w net.inet.tcp.blackhole=0`\n");
    struct pkt_result ok = {"b.pkt", PKT_STATUS_PASS, PKT_MODE_STRICT, ""};
    cr_assert_str_eq(printed(&ok, s, true), "PASS b.pkt (strict mode)\n"
                                            "  ignored: sysctl net.inet.tcp.blackhole=0\n");
    pkt_script_free(s);
}

Test(pkt_report, summary_and_exit_status)
{
    struct pkt_summary sum;
    pkt_summary_init(&sum, PKT_MODE_PORTABLE);
    struct pkt_script *a = parse("0 `sysctl -w net.inet.tcp.blackhole=0`\n"
                                 "+0 `sysctl -w net.inet.tcp.blackhole=0`\n"
                                 "+0 `tcpdrop -s TIME_WAIT`\n");
    struct pkt_script *b = parse("0 `sysctl -w net.inet.tcp.blackhole=0`\n");
    struct pkt_result pass = {"a.pkt", PKT_STATUS_PASS, PKT_MODE_PORTABLE, ""};
    struct pkt_result skip = {"b.pkt", PKT_STATUS_SKIP, PKT_MODE_PORTABLE, "ECN"};
    pkt_summary_add(&sum, &pass, a);
    pkt_summary_add(&sum, &skip, b);
    cr_assert_eq(pkt_summary_exit_status(&sum), 0, "skips do not fail a run");
    struct pkt_result fail = {"c.pkt", PKT_STATUS_FAIL, PKT_MODE_PORTABLE, "x"};
    pkt_summary_add(&sum, &fail, NULL);
    cr_assert_eq(pkt_summary_exit_status(&sum), 1);
    struct pkt_result error = {"d.pkt", PKT_STATUS_ERROR, PKT_MODE_PORTABLE, "x"};
    pkt_summary_add(&sum, &error, NULL);
    cr_assert_eq(pkt_summary_exit_status(&sum), 2, "a script that does not parse wins");

    char buf[2048];
    FILE *f = fmemopen(buf, sizeof(buf), "w");
    pkt_summary_print(f, &sum);
    fclose(f);
    cr_assert_str_eq(buf, "4 scripts (portable mode): 1 passed, 1 failed, 1 skipped, 1 did not "
                          "parse\n"
                          "not acted on (scripts):\n"
                          "     2  sysctl net.inet.tcp.blackhole=0\n"
                          "     1  tcpdrop -s TIME_WAIT\n");
    pkt_summary_free(&sum);
    pkt_script_free(a);
    pkt_script_free(b);
}

/* ---- over the public scripts ---- */

static unsigned scripts, unsupported;
static struct pkt_summary shared_sum;

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    size_t n = strlen(path);
    if (type != FTW_F || n < 4 || strcmp(path + n - 4, ".pkt") != 0) return 0;
    struct pkt_script *s;
    cr_assert_eq(pkt_parse_file(path, NULL, &s, NULL), 0, "%s", path);
    char reason[256];
    scripts++;
    struct pkt_result r = {path, PKT_STATUS_PASS, PKT_MODE_PORTABLE, ""};
    if (pkt_script_unsupported(s, reason, sizeof(reason))) {
        unsupported++;
        printf("pkt_report: would skip %s: %s\n", path + strlen(USTACK_SHARED_DIR) + 1, reason);
        r.status = PKT_STATUS_SKIP;
    }
    pkt_summary_add(&shared_sum, &r, s);
    pkt_script_free(s);
    return 0;
}

Test(pkt_report, skip_reasons_of_the_shared_scripts)
{
    const char *dir = USTACK_SHARED_DIR "/packetdrill";
    struct stat st;
    if (stat(dir, &st) != 0) cr_skip_test("%s not found", dir);
    pkt_summary_init(&shared_sum, PKT_MODE_PORTABLE);
    cr_assert_eq(nftw(dir, visit, 16, FTW_PHYS), 0);
    printf("pkt_report: %u of %u shared scripts need a feature ustack lacks\n", unsupported,
           scripts);
    /* snd-syn-with-ecn (ECN), noopt-* (TCP_NOOPT), snd-syn-rtx-keepinit (TCP_KEEPINIT). */
    cr_assert_geq(unsupported, 3);
    cr_assert_lt(unsupported, scripts / 4);
    bool purgenow = false;
    for (size_t i = 0; i < shared_sum.nignored; i++)
        if (!strcmp(shared_sum.ignored[i].text, "sysctl net.inet.tcp.hostcache.purgenow=1"))
            purgenow = shared_sum.ignored[i].scripts >= 170;
    cr_assert(purgenow, "every FreeBSD script flushes the host cache");
    pkt_summary_free(&shared_sum);
}
