/* IPv4 input validation, by reason, and ICMP echo / unreachable. */
#include <criterion/criterion.h>

#include "core/csum.h"
#include "core/util.h"
#include "testlib.h"

static struct solo *t;
static uint8_t f[2048];
static size_t n;

static void setup(void)
{
    t = solo_new(3);
    solo_learn_peer(t);
    n = build_icmp_echo(f, PEER_IP, SOLO_IP, 8, 1, 1, 32);
}
static void teardown(void) { solo_free(t); }

static void feed(size_t len) { us_stack_input(t->s, t->iface, f, len, us_stack_now(t->s)); }

static void expect_drop(enum us_counter c)
{
    cr_assert_eq(us_stack_counter(t->s, c), 1, "counter %s", us_counter_name(c));
    cr_assert_null(cap_pop(&t->cap), "nothing sent in reply to a bad packet");
}

TestSuite(ipv4, .init = setup, .fini = teardown);

Test(ipv4, echo_request_gets_a_reply)
{
    feed(n);
    const struct cap_frame *r = cap_pop(&t->cap);
    cr_assert(r);
    const uint8_t *ip = r->data + 14;
    cr_assert_eq(rd32(ip + 12), SOLO_IP);
    cr_assert_eq(rd32(ip + 16), PEER_IP);
    cr_assert_eq(ip[9], 1);
    cr_assert_eq(rd16(ip + 6) & 0x4000, 0x4000, "DF set");
    cr_assert_eq(csum(ip, 20), 0);
    cr_assert_eq(ip[20], 0, "echo reply");
    cr_assert_eq(csum(ip + 20, r->len - 34), 0, "incrementally updated checksum is valid");
    cr_assert(memcmp(ip + 24, f + 14 + 24, 4 + 32) == 0, "id, seq and data echoed");
}

Test(ipv4, truncated) { feed(14 + 19); expect_drop(US_C_drop_ip_short); }

Test(ipv4, bad_version)
{
    f[14] = 0x65;
    ipv4_fix_csum(f);
    feed(n);
    expect_drop(US_C_drop_ip_version);
}

Test(ipv4, header_length_below_20)
{
    f[14] = 0x44;
    feed(n);
    expect_drop(US_C_drop_ip_bad_ihl);
}

Test(ipv4, header_length_beyond_packet)
{
    f[14] = 0x4f;
    feed(14 + 40);
    expect_drop(US_C_drop_ip_bad_ihl);
}

Test(ipv4, total_length_beyond_frame)
{
    wr16(f + 16, (uint16_t)(n - 14 + 1));
    ipv4_fix_csum(f);
    feed(n);
    expect_drop(US_C_drop_ip_bad_len);
}

Test(ipv4, total_length_below_header)
{
    wr16(f + 16, 19);
    ipv4_fix_csum(f);
    feed(n);
    expect_drop(US_C_drop_ip_bad_len);
}

Test(ipv4, bad_checksum)
{
    f[14 + 10] ^= 0x01;
    feed(n);
    expect_drop(US_C_drop_ip_bad_csum);
}

Test(ipv4, options_are_dropped)
{
    /* Rebuild with a 24-byte header (one NOP option word). */
    uint8_t g[2048];
    memcpy(g, f, 34);
    g[14] = 0x46;
    memset(g + 34, 1, 4);
    memcpy(g + 38, f + 34, n - 34);
    wr16(g + 16, (uint16_t)(n - 14 + 4));
    ipv4_fix_csum(g);
    us_stack_input(t->s, t->iface, g, n + 4, 0);
    expect_drop(US_C_drop_ip_options);
}

Test(ipv4, fragments_are_dropped)
{
    wr16(f + 14 + 6, 0x2000); /* MF */
    ipv4_fix_csum(f);
    feed(n);
    expect_drop(US_C_drop_ip_fragment);
    wr16(f + 14 + 6, 0x0010); /* offset */
    ipv4_fix_csum(f);
    feed(n);
    cr_assert_eq(us_stack_counter(t->s, US_C_drop_ip_fragment), 2);
}

Test(ipv4, other_destination)
{
    wr32(f + 14 + 16, IP(10, 0, 0, 9));
    ipv4_fix_csum(f);
    feed(n);
    expect_drop(US_C_drop_ip_not_for_us);
}

Test(ipv4, other_mac)
{
    f[5] = 0x99;
    feed(n);
    expect_drop(US_C_drop_eth_other_mac);
}

Test(ipv4, martian_source)
{
    wr32(f + 14 + 12, SOLO_IP);
    ipv4_fix_csum(f);
    feed(n);
    expect_drop(US_C_drop_ip_bad_src);
}

/* The last good source is remembered per interface so a flow skips the
 * checks: a martian after a good one is still caught, and the good one
 * still passes after it. */
Test(ipv4, martian_source_after_a_good_one)
{
    feed(n);
    cr_assert(cap_pop(&t->cap), "the echo from the peer is answered");
    uint8_t g[2048];
    memcpy(g, f, n);
    wr32(f + 14 + 12, SOLO_IP);
    ipv4_fix_csum(f);
    feed(n);
    cr_assert_eq(us_stack_counter(t->s, US_C_drop_ip_bad_src), 1);
    cr_assert_null(cap_pop(&t->cap));
    memcpy(f, g, n);
    feed(n);
    cr_assert(cap_pop(&t->cap), "the peer again");
    cr_assert_eq(us_stack_counter(t->s, US_C_drop_ip_bad_src), 1);
}

Test(ipv4, ttl_zero)
{
    f[14 + 8] = 0;
    ipv4_fix_csum(f);
    feed(n);
    expect_drop(US_C_drop_ip_ttl);
}

Test(ipv4, oversized_frame)
{
    uint8_t big[1600] = {0};
    memcpy(big, f, n);
    us_stack_input(t->s, t->iface, big, 1515, 0);
    expect_drop(US_C_drop_eth_oversize);
}

Test(ipv4, padding_beyond_total_length_is_ignored)
{
    uint8_t g[2048] = {0};
    memcpy(g, f, n);
    us_stack_input(t->s, t->iface, g, n + 6, 0);
    cr_assert(cap_pop(&t->cap), "a padded frame still gets its reply");
}

/* A datagram whose checksum is only the pseudo-header sum (what a TAP
 * with the virtio-net header hands over with NEEDS_CSUM): dropped as bad
 * from a link that does not vouch for it, delivered from one that does. */
static void udp_partial(void)
{
    int fd = us_socket(t->s, AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = sin_of(0, 9000);
    cr_assert_eq(us_bind(t->s, fd, (struct sockaddr *)&a, sizeof(a)), 0);
    uint8_t u[8 + 4] = {0x30, 0x39, 0x23, 0x28, 0, 12, 0, 0, 'p', 'i', 'n', 'g'};
    uint16_t partial = (uint16_t)~csum_fold(csum_pseudo(PEER_IP, SOLO_IP, 17, sizeof(u)));
    wr16(u + 6, partial);
    n = build_ipv4(f, PEER_IP, SOLO_IP, 17, u, sizeof(u));
    feed(n);
}

Test(ipv4, udp_partial_checksum_from_an_untrusted_link_is_dropped)
{
    udp_partial();
    cr_assert_eq(us_stack_counter(t->s, US_C_drop_udp_bad_csum), 1);
}

Test(ipv4, udp_partial_checksum_from_a_link_that_vouches_is_delivered)
{
    t->cap.link.flags |= US_LINK_F_CSUM_TRUSTED;
    udp_partial();
    t->cap.link.flags &= ~US_LINK_F_CSUM_TRUSTED;
    cr_assert_eq(us_stack_counter(t->s, US_C_drop_udp_bad_csum), 0);
    char b[8];
    cr_assert_eq(us_recv(t->s, 3, b, sizeof(b), MSG_DONTWAIT), 4, "the datagram arrives");
}

Test(ipv4, bad_icmp_checksum)
{
    f[14 + 20 + 8] ^= 0xff;
    feed(n);
    expect_drop(US_C_drop_icmp_bad_csum);
}

Test(ipv4, unknown_protocol_gets_protocol_unreachable)
{
    uint8_t l4[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    n = build_ipv4(f, PEER_IP, SOLO_IP, 253, l4, sizeof(l4));
    feed(n);
    const struct cap_frame *r = cap_pop(&t->cap);
    cr_assert(r);
    const uint8_t *m = r->data + 14 + 20;
    cr_assert_eq(m[0], 3);
    cr_assert_eq(m[1], 2, "code 2: protocol unreachable");
    cr_assert(memcmp(m + 8, f + 14, 28) == 0, "quotes the IP header and 8 bytes");
    cr_assert_eq(csum(m, r->len - 34), 0);
}

Test(ipv4, no_unreachable_for_broadcast)
{
    uint8_t l4[8] = {0};
    n = build_ipv4(f, PEER_IP, IP(10, 0, 0, 255), 253, l4, sizeof(l4));
    feed(n);
    cr_assert_null(cap_pop(&t->cap));
}

Test(ipv4, unreachable_is_rate_limited)
{
    uint8_t l4[8] = {0};
    n = build_ipv4(f, PEER_IP, SOLO_IP, 253, l4, sizeof(l4));
    for (int i = 0; i < 200; i++) feed(n);
    cr_assert_eq(us_stack_counter(t->s, US_C_icmp_unreach_tx), 50, "burst of 50");
    cr_assert_eq(us_stack_counter(t->s, US_C_icmp_ratelimited), 150);
    us_stack_poll(t->s, us_stack_now(t->s) + US_MSEC(10));
    feed(n);
    cr_assert_eq(us_stack_counter(t->s, US_C_icmp_unreach_tx), 51, "refilled at 1000/s");
}
