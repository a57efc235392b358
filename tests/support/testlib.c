/*
 * testlib.c: see testlib.h.
 */
#include "testlib.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/csum.h"
#include "core/util.h"

const uint8_t SOLO_MAC[6] = {0x02, 0, 0, 0, 0, 0x02};
const uint8_t PEER_MAC[6] = {0x02, 0, 0, 0, 0, 0x01};

static int cap_send(struct us_link *link, const uint8_t *frame, size_t len, us_time_t now)
{
    struct cap_link *c = container_of(link, struct cap_link, link);
    if (c->n >= CAP_MAX) return -1;
    c->f[c->n].data = malloc(len);
    memcpy(c->f[c->n].data, frame, len);
    c->f[c->n].len = len;
    c->f[c->n].time = now;
    c->n++;
    return 0;
}

static const struct us_link_ops cap_ops = {.send = cap_send};

void cap_init(struct cap_link *c, unsigned mtu)
{
    memset(c, 0, sizeof(*c));
    c->link.ops = &cap_ops;
    c->link.mtu = mtu;
    c->link.name = "cap";
}

void cap_clear(struct cap_link *c)
{
    for (unsigned i = 0; i < c->n; i++) free(c->f[i].data);
    c->n = 0;
    c->next = 0;
}

const struct cap_frame *cap_pop(struct cap_link *c)
{
    return c->next < c->n ? &c->f[c->next++] : NULL;
}

struct solo *solo_new(uint64_t seed)
{
    struct solo *t = calloc(1, sizeof(*t));
    struct us_stack_config cfg;
    us_stack_config_default(&cfg);
    cfg.seed = seed;
    cfg.name = "solo";
    t->s = us_stack_new(&cfg);
    cr_assert(t->s);
    cap_init(&t->cap, 1500);
    struct us_iface_config ic = {.addr = SOLO_IP, .prefix_len = 24};
    memcpy(ic.mac, SOLO_MAC, 6);
    t->iface = us_stack_add_iface(t->s, &t->cap.link, &ic);
    cr_assert(t->iface >= 0);
    return t;
}

void solo_free(struct solo *t)
{
    cr_expect_eq(us_stack_teardown(t->s), 0, "resources leaked");
    us_stack_free(t->s);
    cap_clear(&t->cap);
    free(t);
}

void solo_learn_peer(struct solo *t)
{
    uint8_t f[64];
    size_t n = build_arp(f, 2, PEER_MAC, PEER_IP, SOLO_MAC, SOLO_IP);
    us_stack_input(t->s, t->iface, f, n, us_stack_now(t->s));
    cap_clear(&t->cap);
}

size_t build_eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    wr16(f + 12, type);
    return 14;
}

size_t build_arp(uint8_t *f, uint16_t op, const uint8_t *sha, uint32_t spa, const uint8_t *tha,
                 uint32_t tpa)
{
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    build_eth(f, op == 1 ? bcast : tha, sha, 0x0806);
    uint8_t *a = f + 14;
    wr16(a, 1);
    wr16(a + 2, 0x0800);
    a[4] = 6;
    a[5] = 4;
    wr16(a + 6, op);
    memcpy(a + 8, sha, 6);
    wr32(a + 14, spa);
    memcpy(a + 18, tha, 6);
    wr32(a + 24, tpa);
    return 14 + 28;
}

void ipv4_fix_csum(uint8_t *frame)
{
    uint8_t *ip = frame + 14;
    size_t ihl = (size_t)(ip[0] & 0xf) * 4;
    wr16(ip + 10, 0);
    wr16(ip + 10, csum(ip, ihl));
}

size_t build_ipv4(uint8_t *f, uint32_t src, uint32_t dst, uint8_t proto, const uint8_t *l4,
                  size_t l4len)
{
    build_eth(f, SOLO_MAC, PEER_MAC, 0x0800);
    uint8_t *ip = f + 14;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    wr16(ip + 2, (uint16_t)(20 + l4len));
    wr16(ip + 4, 0x1234);
    wr16(ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = proto;
    wr32(ip + 12, src);
    wr32(ip + 16, dst);
    memcpy(ip + 20, l4, l4len);
    ipv4_fix_csum(f);
    return 14 + 20 + l4len;
}

size_t build_icmp_echo(uint8_t *f, uint32_t src, uint32_t dst, uint8_t type, uint16_t id,
                       uint16_t seq, size_t payload)
{
    uint8_t m[1600];
    m[0] = type;
    m[1] = 0;
    wr16(m + 2, 0);
    wr16(m + 4, id);
    wr16(m + 6, seq);
    for (size_t i = 0; i < payload; i++) m[8 + i] = (uint8_t)i;
    wr16(m + 2, csum(m, 8 + payload));
    return build_ipv4(f, src, dst, 1, m, 8 + payload);
}

struct pair *pair_new_mtu(uint64_t seed, const struct us_faults *fa, const struct us_faults *fb,
                          unsigned mtu, const struct us_stack_config *base)
{
    struct pair *p = calloc(1, sizeof(*p));
    p->seed = seed;
    p->w = us_wire_new(seed);
    struct us_stack_config cfg;
    if (base)
        cfg = *base;
    else
        us_stack_config_default(&cfg);
    if (cfg.max_mtu < mtu) cfg.max_mtu = mtu;
    cfg.name = "client";
    cfg.seed = seed * 2 + 1;
    p->a = us_stack_new(&cfg);
    cfg.name = "server";
    cfg.seed = seed * 2 + 2;
    p->b = us_stack_new(&cfg);
    cr_assert(p->a && p->b);
    struct us_iface_config ia = {.mac = {2, 0, 0, 0, 0, 1}, .addr = PAIR_A_IP, .prefix_len = 24,
                                 .mtu = mtu};
    struct us_iface_config ib = {.mac = {2, 0, 0, 0, 0, 2}, .addr = PAIR_B_IP, .prefix_len = 24,
                                 .mtu = mtu};
    p->pa = us_wire_attach(p->w, p->a, &ia);
    p->pb = us_wire_attach(p->w, p->b, &ib);
    cr_assert(p->pa >= 0 && p->pb >= 0);
    if (fa) us_wire_set_faults(p->w, p->pa, fa);
    if (fb) us_wire_set_faults(p->w, p->pb, fb);
    return p;
}

struct pair *pair_new(uint64_t seed, const struct us_faults *fa, const struct us_faults *fb)
{
    return pair_new_mtu(seed, fa, fb, 1500, NULL);
}

void pair_free(struct pair *p)
{
    cr_expect_eq(us_stack_teardown(p->a), 0, "client leaked resources (seed %llu)",
                 (unsigned long long)p->seed);
    cr_expect_eq(us_stack_teardown(p->b), 0, "server leaked resources (seed %llu)",
                 (unsigned long long)p->seed);
    us_stack_free(p->a);
    us_stack_free(p->b);
    us_wire_free(p->w);
    free(p);
}

unsigned test_seed_count(unsigned dflt)
{
    if (getenv("USTACK_SEED")) return 1;
    const char *n = getenv("USTACK_SEEDS");
    if (n && atoi(n) > 0) return (unsigned)atoi(n);
    return dflt;
}

uint64_t test_seed(unsigned i)
{
    const char *one = getenv("USTACK_SEED");
    if (one) return strtoull(one, NULL, 0);
    return 1000 + i;
}
