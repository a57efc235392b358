/* The expectations file (its format, its mistakes) and how a run's results
 * compare with it; the per-folder and per-suite counts and the pass rate. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkt/expect.h"
#include "pkt/tally.h"

static const char good[] = "# a comment\n"
                           "\n"
                           "gvisor/a.pkt\tstrict\tpass\n"
                           "gvisor/a.pkt\tportable\tpass\n"
                           "freebsd/b.pkt\tstrict\tfail\thome: FreeBSD's window\n"
                           "freebsd/c.pkt\tportable\tskip\tfeature: ECN\r\n";

static void parse_error(const char *text, const char *want)
{
    struct pkt_expectations x;
    char err[256];
    cr_assert_eq(pkt_expect_parse("e.tsv", text, &x, err, sizeof(err)), -1, "%s", text);
    cr_assert_str_eq(err, want);
}

Test(pkt_expect, lines_name_a_script_a_mode_a_result_and_a_reason)
{
    struct pkt_expectations x;
    char err[256];
    cr_assert_eq(pkt_expect_parse("e.tsv", good, &x, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(x.n, 4);
    struct pkt_expectation *e = pkt_expect_find(&x, "freebsd/b.pkt", PKT_MODE_STRICT);
    cr_assert(e);
    cr_assert_eq(e->status, PKT_STATUS_FAIL);
    cr_assert_str_eq(e->reason, "home: FreeBSD's window");
    cr_assert_eq(e->line, 5);
    cr_assert_null(pkt_expect_find(&x, "freebsd/b.pkt", PKT_MODE_PORTABLE));
    e = pkt_expect_find(&x, "freebsd/c.pkt", PKT_MODE_PORTABLE);
    cr_assert_str_eq(e->reason, "feature: ECN", "a CR at the end of the line is not the reason's");
    pkt_expect_free(&x);
}

Test(pkt_expect, mistakes_are_reported_with_their_line)
{
    parse_error("a.pkt\tstrict\n", "e.tsv:1: expected SCRIPT<TAB>MODE<TAB>RESULT[<TAB>REASON]");
    parse_error("a.pkt\tloose\tpass\n", "e.tsv:1: mode 'loose' is neither strict nor portable");
    parse_error("a.pkt\tstrict\tflaky\n", "e.tsv:1: result 'flaky' is not pass, fail or skip");
    parse_error("#\na.pkt\tstrict\tfail\n",
                "e.tsv:2: fail needs a reason starting with feature:, home:, bug: or runner:");
    parse_error("a.pkt\tstrict\tfail\tbecause\n",
                "e.tsv:1: fail needs a reason starting with feature:, home:, bug: or runner:");
    parse_error("a.pkt\tstrict\tpass\thome: x\n", "e.tsv:1: a passing script takes no reason");
    parse_error("a.pkt\tstrict\tpass\na.pkt\tstrict\tpass\n",
                "e.tsv:2: a.pkt is listed twice for strict mode");
}

static enum pkt_verdict_vs_expectation compare(struct pkt_expectations *x, const char *script,
                                               enum pkt_mode mode, enum pkt_status got)
{
    struct pkt_result r = {.path = script, .status = got, .mode = mode};
    return pkt_expect_compare(pkt_expect_find(x, script, mode), &r);
}

Test(pkt_expect, a_result_is_as_expected_a_regression_or_a_fix)
{
    struct pkt_expectations x;
    char err[256];
    cr_assert_eq(pkt_expect_parse("e.tsv", good, &x, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(compare(&x, "gvisor/a.pkt", PKT_MODE_STRICT, PKT_STATUS_PASS), PKT_AS_EXPECTED);
    cr_assert_eq(compare(&x, "gvisor/a.pkt", PKT_MODE_STRICT, PKT_STATUS_FAIL), PKT_REGRESSION);
    cr_assert_eq(compare(&x, "freebsd/b.pkt", PKT_MODE_STRICT, PKT_STATUS_FAIL), PKT_AS_EXPECTED);
    cr_assert_eq(compare(&x, "freebsd/b.pkt", PKT_MODE_STRICT, PKT_STATUS_PASS),
                 PKT_UNEXPECTED_PASS);
    cr_assert_eq(compare(&x, "freebsd/c.pkt", PKT_MODE_PORTABLE, PKT_STATUS_FAIL), PKT_CHANGED);
    cr_assert_eq(compare(&x, "freebsd/b.pkt", PKT_MODE_PORTABLE, PKT_STATUS_FAIL), PKT_UNLISTED);
    pkt_expect_free(&x);
}

Test(pkt_expect, the_project_file_is_valid_and_lists_both_modes_of_every_script)
{
    struct pkt_expectations x;
    char err[512];
    cr_assert_eq(
        pkt_expect_load(USTACK_SOURCE_DIR "/tests/pkt/expectations.tsv", &x, err, sizeof(err)), 0,
        "%s", err);
    cr_assert(x.n > 0);
    for (size_t i = 0; i < x.n; i++) {
        enum pkt_mode other = x.e[i].mode == PKT_MODE_STRICT ? PKT_MODE_PORTABLE : PKT_MODE_STRICT;
        cr_assert(pkt_expect_find(&x, x.e[i].script, other), "%s is listed for one mode only",
                  x.e[i].script);
    }
    pkt_expect_free(&x);
}

static char *print_tally(const struct pkt_tally *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    pkt_tally_print(f, t);
    fclose(f);
    return buf;
}

Test(pkt_tally, counts_per_folder_and_suite_with_the_pass_rate)
{
    struct pkt_tally t;
    pkt_tally_init(&t, PKT_MODE_PORTABLE);
    pkt_tally_add(&t, "freebsd/snippets/a.pkt", PKT_STATUS_PASS, false);
    pkt_tally_add(&t, "freebsd/snippets/b.pkt", PKT_STATUS_FAIL, true);
    pkt_tally_add(&t, "freebsd/snd-syn/c.pkt", PKT_STATUS_SKIP, false);
    pkt_tally_add(&t, "gvisor/d.pkt", PKT_STATUS_PASS, false);
    pkt_tally_add(&t, "gvisor/e.pkt", PKT_STATUS_FAIL, false);
    cr_assert_eq(t.nfolders, 3);
    cr_assert_eq(t.nsuites, 2);
    cr_assert_str_eq(t.folders[0].name, "freebsd/snippets");
    cr_assert_eq(t.folders[0].pass, 1);
    cr_assert_eq(t.folders[0].xfail, 1);
    cr_assert_eq(t.suites[0].skip, 1);
    cr_assert_eq(t.suites[1].fail, 1);
    char *out = print_tally(&t);
    cr_assert(strstr(out, "portable mode, per folder"), "%s", out);
    cr_assert(strstr(out, "  freebsd      "), "%s", out);
    cr_assert(strstr(out, "1/3 = 33.3%"), "a skipped script is not a pass:\n%s", out);
    cr_assert(strstr(out, "2/5 = 40.0%"), "%s", out);
    free(out);
    pkt_tally_free(&t);
}
