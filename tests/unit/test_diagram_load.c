/* Loading a pcap and its event log: bad input is refused with a message
 * naming the file and line, a capture from another run is refused, and no
 * damaged file, however damaged, crashes the loader or the renderers. */
#include <criterion/criterion.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "diagram/render.h"
#include "diagram_fixture.h"

static char dir[64], pcap_path[128], log_path[128];

/* Writes the classic conversation (5 ms delay) as w.pcap + w.events. */
static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/ustack-load-XXXXXX");
    cr_assert(mkdtemp(dir));
    snprintf(pcap_path, sizeof(pcap_path), "%s/w.pcap", dir);
    snprintf(log_path, sizeof(log_path), "%s/w.events", dir);
    struct conv *c = conv_new(US_MSEC(5));
    char err[256];
    struct us_eventlog *log = us_eventlog_open(log_path, pcap_path, err, sizeof(err));
    cr_assert(log, "%s", err);
    us_eventlog_attach_wire(log, c->p->w);
    us_eventlog_attach_stack(log, c->p->a, c->p->pa);
    us_eventlog_attach_stack(log, c->p->b, c->p->pb);
    conv_play_classic(c, US_MSEC(5));
    cr_assert_eq(us_eventlog_close(log), 0);
    conv_free(c);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(diagram_load, .init = setup, .fini = teardown);

static int load(const char *pcap, const char *events, char *err, size_t errlen)
{
    struct diagram *d = diagram_new(NULL);
    int rc = diagram_load(d, pcap, events, err, errlen);
    if (rc == 0) {
        FILE *null = fopen("/dev/null", "w");
        cr_expect_eq(diagram_render_ascii(d, null, 0), 0);
        cr_expect_eq(diagram_render_svg(d, null, 0), 0);
        fclose(null);
    }
    diagram_free(d);
    return rc;
}

/* Writes `text` as a new event log next to the capture. */
static const char *write_log(const char *text)
{
    static char path[160];
    snprintf(path, sizeof(path), "%s/edited.events", dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void expect_error(const char *log_text, const char *message)
{
    char err[512];
    cr_expect_eq(load(pcap_path, write_log(log_text), err, sizeof(err)), -1, "accepted: %s",
                 log_text);
    cr_expect(strstr(err, message), "'%s' does not say '%s'", err, message);
}

Test(diagram_load, good_files_load)
{
    char err[512];
    cr_expect_eq(load(pcap_path, log_path, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(load(pcap_path, NULL, err, sizeof(err)), 0, "%s", err);
}

Test(diagram_load, bad_logs_are_refused_with_the_line)
{
    expect_error("", "empty event log");
    expect_error("hello\n", ":1: not a ustack event log");
    expect_error("# a comment\nustack-events 2\n", "version 2; this ustack reads version 1");
    expect_error("ustack-events 1\nsend 1 0.000000 0\n", ":2: bad 'send' line");
    expect_error("ustack-events 1\nsend 1 0.0 0 58\n", ":2: bad 'send' line");
    expect_error("ustack-events 1\nsend x 0.000000 0 58\n", ":2: bad 'send' line");
    expect_error("ustack-events 1\n\nstate 0.000000 c 1.2.3 1 1.2.3.4 2 CLOSED LISTEN\n",
                 ":3: bad 'state' line");
    expect_error("ustack-events 1\nstate 0.000000 c 1.2.3.4 1 1.2.3.4 2 CLOSED NOWHERE\n",
                 ":2: bad 'state' line");
    expect_error("ustack-events 1\ndeliver 1 0.000000\n", ":2: bad 'deliver' line");
    expect_error("ustack-events 1\ndrop 1 0.000000\n", ":2: bad 'drop' line");
    expect_error("ustack-events 1\nport x y\n", ":2: bad 'port' line");
}

Test(diagram_load, unknown_lines_are_ignored)
{
    char err[512];
    cr_expect_eq(load(pcap_path, write_log("ustack-events 1\nfuture 1 2 3\n"), err, sizeof(err)), 0,
                 "%s", err);
}

Test(diagram_load, a_capture_from_another_run_is_refused)
{
    char err[512];
    /* Same frames, but the log says the first left 1 us later. */
    cr_expect_eq(
        load(pcap_path, write_log("ustack-events 1\nsend 1 0.000001 0 58\n"), err, sizeof(err)),
        -1);
    cr_expect(strstr(err, "record 1 does not match"), "%s", err);
    /* More send lines than records. */
    char big[4096] = "ustack-events 1\n";
    for (int i = 0; i < 11; i++) strcat(big, "send 1 0.000000 0 58\n");
    cr_expect_eq(load(pcap_path, write_log(big), err, sizeof(err)), -1);
    cr_expect(strstr(err, "does not match") || strstr(err, "fewer records"), "%s", err);
}

Test(diagram_load, not_a_pcap_or_not_ethernet)
{
    char err[512];
    cr_expect_eq(load(log_path, NULL, err, sizeof(err)), -1, "an event log is not a pcap");
    cr_expect(err[0]);
    cr_expect_eq(load("/nonexistent.pcap", NULL, err, sizeof(err)), -1);
    char raw[160];
    snprintf(raw, sizeof(raw), "%s/raw.pcap", dir);
    pcap_t *dead = pcap_open_dead(DLT_RAW, 65535);
    pcap_dumper_t *dump = pcap_dump_open(dead, raw);
    pcap_dump_close(dump);
    pcap_close(dead);
    cr_expect_eq(load(raw, NULL, err, sizeof(err)), -1);
    cr_expect(strstr(err, "not an Ethernet capture"), "%s", err);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static size_t read_file(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static void write_file(const char *path, const uint8_t *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    fwrite(buf, 1, n, f);
    fclose(f);
}

/* Damages a copy of `in`: a few random bytes changed (biased towards digits
 * and separators for the text log), sometimes cut short. */
static size_t mutate(const uint8_t *in, size_t n, uint8_t *out, bool text)
{
    memcpy(out, in, n);
    unsigned flips = 1 + (unsigned)(next_rand() % 8);
    for (unsigned i = 0; i < flips && n; i++) {
        size_t at = next_rand() % n;
        static const char pick[] = "0123456789 .\n-%xX";
        out[at] = text && next_rand() % 2 ? (uint8_t)pick[next_rand() % (sizeof(pick) - 1)]
                                          : (uint8_t)next_rand();
    }
    if (next_rand() % 4 == 0 && n) n = next_rand() % n;
    return n;
}

Test(diagram_load, damaged_files_never_crash)
{
    static uint8_t pcap[65536], log[65536], mp[65536], ml[65536];
    size_t np = read_file(pcap_path, pcap, sizeof(pcap));
    size_t nl = read_file(log_path, log, sizeof(log));
    char p2[160], l2[160], err[512];
    snprintf(p2, sizeof(p2), "%s/m.pcap", dir);
    snprintf(l2, sizeof(l2), "%s/m.events", dir);
    unsigned loaded = 0;
    for (int i = 0; i < 1000; i++) {
        bool damage_pcap = i % 3 != 1, damage_log = i % 3 != 0;
        write_file(p2, damage_pcap ? mp : pcap, damage_pcap ? mutate(pcap, np, mp, false) : np);
        write_file(l2, damage_log ? ml : log, damage_log ? mutate(log, nl, ml, true) : nl);
        if (load(p2, l2, err, sizeof(err)) == 0) loaded++;
        load(p2, NULL, err, sizeof(err));
    }
    /* Some damage is harmless (a payload byte, a cause): not every file is
     * refused, and not every one loads. */
    cr_expect(loaded > 0 && loaded < 1000, "%u of 1000 loaded", loaded);
}
