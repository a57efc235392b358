/* SACK loss recovery resends holes, not what the receiver said it holds
 * (RFC 6675 §4 NextSeg(): the range starts at the first unSACKed, lost
 * byte; the receiver already has the SACKed bytes). Found by the scenario
 * book's loss-fast-retransmit: a lost 1000-byte segment came back as 1448
 * bytes, 448 of them SACKed. */
#include <criterion/criterion.h>
#include <string.h>

#include "testlib.h"

Test(sack_recovery, fast_retransmit_resends_only_the_hole)
{
    struct pair *p = pair_new(1, NULL, NULL);
    struct recorder *r = recorder_attach(p);
    r->with_lost = true;
    int c, s;
    tcp_connect_pair(p, 80, &c, &s, NULL);
    int one = 1;
    cr_assert_eq(us_setsockopt(p->a, c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
    static uint8_t buf[5000];
    fill_pattern(buf, sizeof(buf), 7, 0);
    recorder_clear(r);
    struct us_faults lose = {.loss = 100}, none = {0};
    us_wire_set_faults(p->w, p->pa, &lose);
    cr_assert_eq(us_send(p->a, c, buf, 1000, 0), 1000);
    us_wire_set_faults(p->w, p->pa, &none);
    cr_assert_eq(us_send(p->a, c, buf + 1000, 4000, 0), 4000);
    static uint8_t got[5000];
    cr_assert_eq(us_recv(p->b, s, got, sizeof(got), MSG_WAITALL), 5000);
    cr_assert(memcmp(got, buf, sizeof(buf)) == 0);
    char segs[1024];
    recorder_segments(r, segs, sizeof(segs));
    /* The original went out as 1000 bytes; its retransmission, the
     * client's last segment, must too. */
    const char *rtx = NULL;
    for (unsigned i = 0; i < r->n; i++)
        if (r->ev[i].text[0] == 'c') rtx = r->ev[i].text;
    cr_assert(rtx, "no segment: %s", segs);
    cr_assert_str_eq(rtx, "c . 1000", "segments: %s", segs);
    cr_assert_eq(us_stack_counter(p->a, US_C_tcp_fast_retransmits), 1);
    recorder_detach(r);
    us_close(p->a, c);
    us_close(p->b, s);
    pair_free(p);
}
