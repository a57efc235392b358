/*
 * SACK loss detection against a receiver like Linux's, which grows its
 * advertised window with every segment it takes in, in order or not. By
 * RFC 5681's definition a duplicate ACK must repeat the window, so none of
 * Linux's duplicate ACKs would count and every loss would wait for the
 * retransmission timeout. RFC 6675 §2 counts an ACK that SACKs new data as
 * a duplicate "even if it ... changes the advertised window": three of them
 * start fast retransmit at once.
 *
 * Found by `ustack http` serving curl through a TAP with --loss 2: 251
 * timeouts against 476 fast retransmits for two 20 MB downloads.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "core/csum.h"
#include "core/util.h"
#include "testlib.h"

#define PEER_PORT 40000
#define PORT      80
#define MSS       1460

static struct solo *t;
static int lfd, fd;
static uint32_t iss, peer_seq = 1000;

static size_t tcp_frame(uint8_t *f, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd,
                        const uint8_t *opt, size_t optlen)
{
    uint8_t seg[60] = {0};
    size_t len = 20 + optlen;
    wr16(seg, PEER_PORT);
    wr16(seg + 2, PORT);
    wr32(seg + 4, seq);
    wr32(seg + 8, ack);
    seg[12] = (uint8_t)((len / 4) << 4);
    seg[13] = flags;
    wr16(seg + 14, wnd);
    if (optlen) memcpy(seg + 20, opt, optlen);
    wr16(seg + 16, csum_fold(csum_add(csum_pseudo(PEER_IP, SOLO_IP, 6, (uint16_t)len), seg, len)));
    return build_ipv4(f, PEER_IP, SOLO_IP, 6, seg, len);
}

static void feed(const uint8_t *f, size_t n)
{
    us_stack_input(t->s, t->iface, f, n, us_stack_now(t->s));
}

/* Handshake as the peer: MSS 1460 and SACK permitted, no window scaling. */
static void establish(void)
{
    uint8_t f[128];
    static const uint8_t syn_opts[] = {2, 4, MSS >> 8, MSS & 0xff, 1, 1, 4, 2};
    feed(f, tcp_frame(f, peer_seq, 0, 0x02, 64000, syn_opts, sizeof(syn_opts)));
    const struct cap_frame *sa = cap_pop(&t->cap);
    cr_assert(sa, "no SYN-ACK");
    const uint8_t *th = sa->data + 14 + 20;
    cr_assert_eq(th[13], 0x12, "SYN-ACK flags");
    iss = rd32(th + 4);
    peer_seq++;
    feed(f, tcp_frame(f, peer_seq, iss + 1, 0x10, 64000, NULL, 0));
    fd = us_accept4(t->s, lfd, NULL, NULL, SOCK_NONBLOCK);
    cr_assert_geq(fd, 0, "accept");
}

static void setup(void)
{
    t = solo_new(7);
    solo_learn_peer(t);
    lfd = us_socket(t->s, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = sin_of(0, PORT);
    cr_assert_eq(us_bind(t->s, lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(us_listen(t->s, lfd, 4), 0);
    establish();
}

static void teardown(void)
{
    us_close(t->s, fd);
    us_close(t->s, lfd);
    solo_free(t);
}

TestSuite(sack_dupack, .init = setup, .fini = teardown);

Test(sack_dupack, window_growing_dupacks_start_fast_retransmit)
{
    static uint8_t data[10 * MSS];
    cr_assert_eq(us_send(t->s, fd, data, sizeof(data), 0), (ssize_t)sizeof(data));
    unsigned sent = 0;
    const struct cap_frame *c;
    while ((c = cap_pop(&t->cap))) sent++;
    cr_assert_eq(sent, 10, "the initial window goes out at once (%u segments)", sent);

    /* The first segment is lost; the next three arrive, and each ACK
     * carries a larger window, as Linux's do. */
    uint8_t f[128];
    for (uint32_t k = 1; k <= 3; k++) {
        uint8_t sack[12] = {1, 1, 5, 10};
        wr32(sack + 4, iss + 1 + MSS);
        wr32(sack + 8, iss + 1 + MSS * (k + 1));
        feed(f, tcp_frame(f, peer_seq, iss + 1, 0x10, (uint16_t)(64000 + 100 * k), sack,
                          sizeof(sack)));
    }

    bool resent = false;
    while ((c = cap_pop(&t->cap))) {
        const uint8_t *th = c->data + 14 + 20;
        size_t len = c->len - 14 - 20 - (size_t)(th[12] >> 4) * 4;
        if (rd32(th + 4) == iss + 1 && len == MSS) resent = true;
    }
    cr_assert(resent, "the lost segment was not retransmitted on the third duplicate ACK");
    cr_assert_eq(us_stack_counter(t->s, US_C_tcp_fast_retransmits), 1);
    cr_assert_eq(us_stack_counter(t->s, US_C_tcp_rto_expired), 0);
}

Test(sack_dupack, window_updates_without_sack_are_not_dupacks)
{
    /* The other side of the rule: without new SACK information an ACK that
     * changes the window is a window update (RFC 5681 §2 (e)), not a sign
     * of loss. */
    static uint8_t data[10 * MSS];
    cr_assert_eq(us_send(t->s, fd, data, sizeof(data), 0), (ssize_t)sizeof(data));
    while (cap_pop(&t->cap)) {
    }
    uint8_t f[128];
    for (uint32_t k = 1; k <= 3; k++)
        feed(f, tcp_frame(f, peer_seq, iss + 1, 0x10, (uint16_t)(64000 + 100 * k), NULL, 0));
    cr_assert_eq(us_stack_counter(t->s, US_C_tcp_fast_retransmits), 0);
}
