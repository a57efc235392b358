/* Two stacks ping each other over the wire under loss, duplication,
 * reordering and corruption. Same seed, same bytes: the pcaps of two runs
 * are identical. Every corrupted frame is caught and counted. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "testlib.h"

static const struct us_faults rough = {
    .loss = 10, .dup = 10, .reorder = 20, .corrupt = 10, .delay = US_MSEC(5)};

struct ping_result {
    unsigned replies;
    uint64_t drops;     /* drops of arriving frames, both stacks (all_drops) */
    uint64_t corrupted; /* frames the wire corrupted */
};

/* Every drop_* counter but the two of packets waiting for ARP: those are
 * good packets of our own whose address the wire kept from us by losing
 * ARP requests or replies (seeds 1028, 3802), not frames that arrived. */
static uint64_t all_drops(struct us_stack *s)
{
    uint64_t n = 0;
    for (int c = 0; c < US_C__COUNT; c++)
        if (strncmp(us_counter_name(c), "drop_", 5) == 0 && c != US_C_drop_arp_queue_full &&
            c != US_C_drop_arp_unresolved)
            n += us_stack_counter(s, c);
    return n;
}

static struct ping_result run_pings(uint64_t seed, const char *pcap_path, unsigned count)
{
    struct pair *p = pair_new(seed, &rough, &rough);
    struct us_pcap *pc = NULL;
    if (pcap_path) {
        char err[256];
        pc = us_pcap_open(pcap_path, err, sizeof(err));
        cr_assert(pc, "%s", err);
        struct us_observer o = us_pcap_observer_out(pc);
        us_stack_observe(p->a, &o);
        us_stack_observe(p->b, &o);
    }
    us_stack_start(p->a, 0);
    us_stack_start(p->b, 0);
    struct ping_result r = {0};
    bool seen[1024] = {0};
    for (unsigned i = 0; i < count; i++) {
        us_ping_send(p->a, PAIR_B_IP, 42, (uint16_t)i, 56);
        us_wire_run_for(p->w, US_MSEC(100));
        struct us_echo_reply rep;
        while (us_ping_recv(p->a, &rep)) {
            cr_assert_eq(rep.from, PAIR_B_IP);
            cr_assert_eq(rep.id, 42);
            cr_assert(rep.seq <= i, "reply to a request never sent (seed %llu)",
                      (unsigned long long)seed);
            cr_assert_eq(rep.len, 56);
            if (!seen[rep.seq]) r.replies++;
            seen[rep.seq] = true;
        }
    }
    us_wire_run_for(p->w, US_SEC(5));
    r.drops = all_drops(p->a) + all_drops(p->b);
    r.corrupted = us_wire_stats(p->w, p->pa)->corrupted + us_wire_stats(p->w, p->pb)->corrupted;
    if (pc) {
        us_stack_unobserve(p->a, pc);
        us_stack_unobserve(p->b, pc);
        us_pcap_close(pc);
    }
    pair_free(p);
    return r;
}

Test(ping, clean_wire_every_ping_answered)
{
    struct pair *p = pair_new(1, NULL, NULL);
    for (uint16_t i = 0; i < 20; i++) {
        us_time_t sent = us_wire_now(p->w);
        cr_assert_eq(us_ping_send(p->a, PAIR_B_IP, 1, i, 100), 0);
        us_wire_run_for(p->w, US_MSEC(10));
        struct us_echo_reply rep;
        cr_assert(us_ping_recv(p->a, &rep), "reply %u", i);
        cr_assert_eq(rep.seq, i);
        /* Zero delay: the reply arrives the instant the request leaves, and
         * the request leaves at the wire's time, not the stack's last frame. */
        cr_assert_eq(rep.time, sent, "reply %u at %llu, sent at %llu", i,
                     (unsigned long long)rep.time, (unsigned long long)sent);
    }
    cr_assert_eq(us_stack_counter(p->a, US_C_arp_request_tx), 1, "ARP once, then cached");
    pair_free(p);
}

Test(ping, faults_corruption_is_always_caught)
{
    unsigned seeds = test_seed_count(20);
    for (unsigned i = 0; i < seeds; i++) {
        uint64_t seed = test_seed(i);
        struct ping_result r = run_pings(seed, NULL, 100);
        cr_assert(r.replies > 30 && r.replies < 100, "seed %llu: %u replies",
                  (unsigned long long)seed, r.replies);
        cr_assert(r.corrupted > 0, "seed %llu: some frames were corrupted",
                  (unsigned long long)seed);
        cr_assert_eq(r.drops, r.corrupted,
                     "seed %llu: each corrupted frame is dropped and counted exactly once "
                     "(drops %llu, corrupted %llu)",
                     (unsigned long long)seed, (unsigned long long)r.drops,
                     (unsigned long long)r.corrupted);
    }
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(*len);
    cr_assert_eq(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

Test(ping, same_seed_gives_byte_identical_pcaps)
{
    char a[64], b[64], c[64];
    snprintf(a, sizeof(a), "/tmp/ustack-ping-%d-a.pcap", getpid());
    snprintf(b, sizeof(b), "/tmp/ustack-ping-%d-b.pcap", getpid());
    snprintf(c, sizeof(c), "/tmp/ustack-ping-%d-c.pcap", getpid());
    run_pings(77, a, 60);
    run_pings(77, b, 60);
    run_pings(78, c, 60);
    size_t la, lb, lc;
    char *da = slurp(a, &la), *db = slurp(b, &lb), *dc = slurp(c, &lc);
    cr_assert(la > 1000);
    cr_assert_eq(la, lb);
    cr_assert(memcmp(da, db, la) == 0, "same seed, same bytes");
    cr_assert(la != lc || memcmp(da, dc, la) != 0, "another seed, another run");
    free(da);
    free(db);
    free(dc);
    unlink(a);
    unlink(b);
    unlink(c);
}
