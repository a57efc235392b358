/* Diagrams of conversations on a faulty wire, over many seeds: the diagram
 * accounts for every frame the wire handled (each sent frame one arrow; its
 * deliveries, damaged copies and losses as the wire counted them), and the
 * live recording equals the one drawn from the files written beside it.
 *
 * With USTACK_DIAGRAM_OUT=DIR, the textbook conversation (5 ms each way, one
 * segment lost) is also left in DIR/classic.pcap and DIR/classic.events for
 * the command-line test (tests/cli/test_diagram.sh). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "diagram/render.h"
#include "diagram_fixture.h"

struct recording {
    struct diagram *live, *file;
    uint64_t sent, delivered, lost, corrupted;
};

static void record(struct conv *c, const char *dir, const char *name,
                   void (*play)(struct conv *c, uint64_t seed), uint64_t seed,
                   struct recording *out)
{
    char lp[256], pp[256], err[256];
    snprintf(lp, sizeof(lp), "%s/%s.events", dir, name);
    snprintf(pp, sizeof(pp), "%s/%s.pcap", dir, name);
    struct us_eventlog *log = us_eventlog_open(lp, pp, err, sizeof(err));
    cr_assert(log, "%s", err);
    cr_assert_eq(us_eventlog_attach_wire(log, c->p->w), 0);
    cr_assert_eq(us_eventlog_attach_stack(log, c->p->a, c->p->pa), 0);
    cr_assert_eq(us_eventlog_attach_stack(log, c->p->b, c->p->pb), 0);
    struct diagram_recorder *r = diagram_recorder_new(c->p->w, NULL);
    cr_assert(r);
    cr_assert_eq(diagram_recorder_add_stack(r, c->p->a, c->p->pa), 0);
    cr_assert_eq(diagram_recorder_add_stack(r, c->p->b, c->p->pb), 0);
    play(c, seed);
    us_wire_run_for(c->p->w, US_SEC(10)); /* everything in flight lands */
    out->live = diagram_recorder_done(r);
    cr_assert_eq(us_eventlog_close(log), 0);
    out->file = diagram_new(NULL);
    cr_assert_eq(diagram_load(out->file, pp, lp, err, sizeof(err)), 0, "%s (seed %llu)", err,
                 (unsigned long long)seed);
    memset(&out->sent, 0, 4 * sizeof(uint64_t));
    for (int port = 0; port < 2; port++) {
        const struct us_wire_stats *st = us_wire_stats(c->p->w, port);
        out->sent += st->sent;
        out->delivered += st->delivered;
        out->lost += st->lost + st->queue_drops + st->down_drops;
        out->corrupted += st->corrupted;
    }
}

/* A handshake, 30 segments of data either way (some resent), a close: the
 * choices drawn from the seed. */
static void play_random(struct conv *c, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    conv_send(c, CLIENT, F_SYN, 0, 0, 0, 64240);
    us_wire_run_for(c->p->w, US_MSEC(5));
    conv_send(c, SERVER, F_SYN | F_ACK, 0, 1, 0, 65160);
    us_wire_run_for(c->p->w, US_MSEC(5));
    uint32_t next[2] = {1, 1};
    for (int i = 0; i < 30; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int side = (int)(x & 1);
        uint32_t len = 1 + (uint32_t)(x >> 8) % 1400;
        bool resend = (x >> 40) % 5 == 0 && next[side] > 1;
        uint32_t seq = resend ? 1 : next[side];
        conv_send(c, side, F_PSH | F_ACK, seq, next[!side], len, 502);
        if (!resend) next[side] += len;
        us_wire_run_for(c->p->w, US_MSEC((x >> 20) % 7));
    }
    conv_send(c, CLIENT, F_FIN | F_ACK, next[CLIENT], next[SERVER], 0, 502);
    conv_send(c, SERVER, F_FIN | F_ACK, next[SERVER], next[CLIENT] + 1, 0, 502);
}

static void expect_same(const struct diagram *a, const struct diagram *b, uint64_t seed)
{
    cr_assert_eq(a->n_arrows, b->n_arrows, "seed %llu", (unsigned long long)seed);
    for (size_t i = 0; i < a->n_arrows; i++) {
        const struct diagram_arrow *x = &a->arrows[i], *y = &b->arrows[i];
        cr_expect(x->id == y->id && x->fate == y->fate && x->sent == y->sent &&
                      x->arrived == y->arrived && x->copies == y->copies &&
                      x->damaged == y->damaged && x->retransmit == y->retransmit,
                  "arrow %zu differs live/file (seed %llu)", i, (unsigned long long)seed);
    }
}

Test(diagram_wire, every_frame_accounted_for_under_faults)
{
    static const struct us_faults rough = {
        .loss = 15, .dup = 10, .reorder = 20, .corrupt = 10, .delay = US_MSEC(5)};
    char dir[] = "/tmp/ustack-diagram-sim-XXXXXX";
    cr_assert(mkdtemp(dir));
    unsigned n = test_seed_count(30);
    uint64_t lost_total = 0, corrupt_total = 0, dup_total = 0, rtx_total = 0;
    for (unsigned k = 0; k < n; k++) {
        uint64_t seed = test_seed(k);
        struct conv *c = conv_new_faulty(seed, &rough);
        struct recording rec;
        record(c, dir, "random", play_random, seed, &rec);
        conv_free(c);
        struct diagram *d = rec.live;
        cr_assert(d->found && d->timed, "seed %llu", (unsigned long long)seed);
        cr_expect_eq(d->n_arrows, rec.sent, "one arrow per frame sent (seed %llu)",
                     (unsigned long long)seed);
        uint64_t lost = 0, copies = 0, damaged = 0, retransmits = 0;
        for (size_t i = 0; i < d->n_arrows; i++) {
            const struct diagram_arrow *a = &d->arrows[i];
            lost += a->fate == DG_LOST;
            copies += a->copies;
            damaged += a->damaged;
            retransmits += a->retransmit;
            cr_expect(a->fate != DG_UNKNOWN, "every fate decided (seed %llu)",
                      (unsigned long long)seed);
            cr_expect(a->arrived >= a->sent);
            if (a->copies > 1) dup_total++;
        }
        cr_expect_eq(lost, rec.lost, "losses (seed %llu)", (unsigned long long)seed);
        cr_expect_eq(copies + damaged, rec.delivered, "deliveries (seed %llu)",
                     (unsigned long long)seed);
        cr_expect_eq(damaged, rec.corrupted, "damaged copies (seed %llu)",
                     (unsigned long long)seed);
        lost_total += lost;
        corrupt_total += damaged;
        rtx_total += retransmits;
        expect_same(rec.live, rec.file, seed);
        FILE *null = fopen("/dev/null", "w");
        cr_expect_eq(diagram_render_ascii(d, null, 0), 0);
        cr_expect_eq(diagram_render_svg(d, null, 0), 0);
        fclose(null);
        diagram_free(rec.live);
        diagram_free(rec.file);
    }
    if (n >= 10)
        cr_expect(lost_total && corrupt_total && dup_total && rtx_total, "the faults happened");
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

static void play_classic(struct conv *c, uint64_t seed)
{
    conv_play_classic(c, US_MSEC(5));
}

Test(diagram_wire, classic_files_for_the_cli)
{
    const char *keep = getenv("USTACK_DIAGRAM_OUT");
    char tmp[] = "/tmp/ustack-diagram-cli-XXXXXX";
    const char *dir = keep ? keep : mkdtemp(tmp);
    cr_assert(dir);
    struct conv *c = conv_new(US_MSEC(5));
    struct recording rec;
    record(c, dir, "classic", play_classic, 0, &rec);
    conv_free(c);
    cr_expect_eq(rec.live->n_arrows, 10);
    cr_expect_eq(rec.live->n_states, 12);
    expect_same(rec.live, rec.file, 0);
    diagram_free(rec.live);
    diagram_free(rec.file);
    if (!keep) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        cr_expect_eq(system(cmd), 0);
    }
}
