/*
 * stack.c: the stack object: creation, interfaces, input and poll entry
 * points, observers and the driver (docs/DESIGN.md §3).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "net/net.h"
#include "stack_modules.h"

void us_stack_config_default(struct us_stack_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->name = "ustack";
    cfg->seed = 1;
    cfg->max_mtu = 1500;
    cfg->pbuf_max = 1024;
    cfg->arp_timeout = US_SEC(60);
    cfg->arp_retry = US_SEC(1);
    cfg->arp_tries = 3;
    cfg->arp_queue = 8;

    struct us_tcp_config *t = &cfg->tcp;
    t->msl = US_SEC(30);
    t->fin_wait2_timeout = US_SEC(60);
    t->rto_initial = US_SEC(1);
    t->rto_min = US_MSEC(200);
    t->rto_max = US_SEC(120);
    t->delack_timeout = US_MSEC(40);
    t->syn_retries = 6;
    t->synack_retries = 5;
    t->retries2 = 15;
    t->keepalive_idle = US_SEC(7200);
    t->keepalive_intvl = US_SEC(75);
    t->keepalive_probes = 9;
    t->sndbuf = 16384;
    t->rcvbuf = 131072;
    t->max_rcvbuf = 6u << 20;
    t->max_sndbuf = 4u << 20;
    t->timestamps = true;
    t->window_scaling = true;
    t->sack = true;
    t->rfc5961 = true;
    t->challenge_ack_limit = 1000;
    t->syncookies = 1;
    t->max_syn_backlog = 256;
    t->max_tw = 262144;
    t->congestion = "cubic";
    t->initial_cwnd = 10;
    t->slow_start_after_idle = true;
    t->tlp = true;
    t->header_prediction = true;
    t->nagle = true;
    t->ephemeral_lo = 32768;
    t->ephemeral_hi = 60999;
    t->default_mss = 536;
}

struct us_stack *us_stack_new(const struct us_stack_config *cfg)
{
    struct us_stack *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->cfg = *cfg;
    snprintf(s->name, sizeof(s->name), "%s", cfg->name ? cfg->name : "ustack");
    s->cfg.name = s->name;
    if (!s->cfg.max_mtu) s->cfg.max_mtu = 1500;
    if (!s->cfg.pbuf_max) s->cfg.pbuf_max = 1024;
    if (!s->cfg.tcp.congestion) s->cfg.tcp.congestion = "cubic";

    /* Every random choice derives from the seed: the generator, and the key
     * of the keyed hash (ISNs, ports, cookies). */
    uint64_t sm = cfg->seed;
    rng_seed(&s->rng, splitmix64(&sm));
    for (unsigned i = 0; i < KEYED_HASH_KEYBYTES; i += 8) {
        uint64_t v = splitmix64(&sm);
        memcpy(s->hash_key + i, &v, 8);
    }
    s->ip_id = (uint16_t)rng_next(&s->rng);
    s->icmp_tokens = 50;

    pbuf_pool_init(&s->pool, PBUF_HEADROOM + ETH_HLEN + s->cfg.max_mtu + 64, s->cfg.pbuf_max);
    timer_wheel_init(&s->timers, 0, s);
    arp_init(s);
    if (stack_modules_init(s) < 0) {
        stack_modules_free(s);
        pbuf_pool_destroy(&s->pool);
        free(s);
        return NULL;
    }
    return s;
}

static unsigned teardown(struct us_stack *s)
{
    unsigned leaked = stack_modules_destroy(s);
    arp_destroy(s);
    return leaked + s->pool.in_use;
}

unsigned us_stack_teardown(struct us_stack *s)
{
    /* An API call like the socket calls: the connections it drops are
     * reported at the driver's time, not at the last frame's. */
    stack_sync_time(s);
    return teardown(s);
}

void us_stack_free(struct us_stack *s)
{
    if (!s) return;
    /* No time sync here: the driver (a wire) may already be gone. */
    teardown(s);
    stack_modules_free(s);
    timer_cancel(&s->timers, &s->arp.timer);
    pbuf_pool_destroy(&s->pool);
    free(s);
}

const char *us_stack_name(const struct us_stack *s)
{
    return s->name;
}
const struct us_stack_config *us_stack_config(const struct us_stack *s)
{
    return &s->cfg;
}
struct us_tcp_config *us_stack_tcp_config(struct us_stack *s)
{
    return &s->cfg.tcp;
}

int us_stack_add_iface(struct us_stack *s, struct us_link *link, const struct us_iface_config *cfg)
{
    if (s->n_ifaces >= US_MAX_IFACES) return -ENOSPC;
    if (!link || cfg->prefix_len > 32) return -EINVAL;
    struct iface *ifc = &s->ifaces[s->n_ifaces];
    ifc->link = link;
    memcpy(ifc->mac, cfg->mac, ETH_ALEN);
    ifc->addr = cfg->addr;
    ifc->prefix_len = cfg->prefix_len;
    ifc->netmask = cfg->prefix_len ? ~0u << (32 - cfg->prefix_len) : 0;
    ifc->mtu = cfg->mtu ? cfg->mtu : link->mtu;
    if (ifc->mtu > s->cfg.max_mtu) return -EINVAL;
    if (ifc->mtu < 576) return -EINVAL; /* RFC 791: every host takes 576 */
    if (link->gso_max) s->gso_links = true;
    for (unsigned i = 0; i <= s->n_ifaces; i++) s->ifaces[i].src_ok = 0xffffffffu;
    if (link->flags & US_LINK_F_TX_CSUM) s->csum_links = true;
    return (int)s->n_ifaces++;
}

int us_stack_set_gateway(struct us_stack *s, uint32_t gw)
{
    if (gw) {
        int iface;
        uint32_t nh;
        uint32_t saved = s->gateway;
        s->gateway = 0;
        if (ip_route(s, gw, &iface, &nh) < 0) {
            s->gateway = saved;
            return -EINVAL; /* the gateway must be on a connected network */
        }
    }
    s->gateway = gw;
    return 0;
}

static void set_now(struct us_stack *s, us_time_t now)
{
    if (now > s->now) s->now = now;
}

void us_stack_start(struct us_stack *s, us_time_t now)
{
    set_now(s, now);
    for (unsigned i = 0; i < s->n_ifaces; i++) arp_announce(s, (int)i);
}

void us_stack_input(struct us_stack *s, int iface, const uint8_t *frame, size_t len, us_time_t now)
{
    set_now(s, now);
    timer_wheel_run(&s->timers, s->now);
    stat_inc(s, US_C_eth_rx);
    stack_notify_frame(s, iface, US_DIR_IN, frame, len);
    eth_input(s, iface, frame, len);
    stack_modules_flush(s);
}

us_time_t us_stack_poll(struct us_stack *s, us_time_t now)
{
    set_now(s, now);
    timer_wheel_run(&s->timers, s->now);
    stack_modules_flush(s);
    return timer_wheel_next(&s->timers);
}

us_time_t us_stack_now(const struct us_stack *s)
{
    return s->now;
}

us_time_t us_stack_next_timer(const struct us_stack *s)
{
    return timer_wheel_next(&s->timers);
}

uint64_t us_stack_counter(const struct us_stack *s, enum us_counter c)
{
    return (unsigned)c < US_C__COUNT ? s->ctr[c] : 0;
}
const uint64_t *us_stack_counters(const struct us_stack *s)
{
    return s->ctr;
}

unsigned us_stack_pbufs_in_use(const struct us_stack *s)
{
    return s->pool.in_use;
}

int us_stack_observe(struct us_stack *s, const struct us_observer *obs)
{
    if (s->n_obs >= US_MAX_OBSERVERS) return -ENOSPC;
    s->obs[s->n_obs++] = *obs;
    return 0;
}

bool us_stack_observed(const struct us_stack *s)
{
    for (unsigned i = 0; i < s->n_obs; i++)
        if (s->obs[i].frame) return true;
    return false;
}

void us_stack_unobserve(struct us_stack *s, void *ctx)
{
    for (unsigned i = 0; i < s->n_obs;) {
        if (s->obs[i].ctx == ctx) {
            memmove(&s->obs[i], &s->obs[i + 1], (s->n_obs - i - 1) * sizeof(s->obs[0]));
            s->n_obs--;
        } else {
            i++;
        }
    }
}

void stack_notify_frame(struct us_stack *s, int iface, enum us_dir dir, const uint8_t *frame,
                        size_t len)
{
    for (unsigned i = 0; i < s->n_obs; i++)
        if (s->obs[i].frame) s->obs[i].frame(s->obs[i].ctx, s, iface, dir, frame, len, s->now);
}

void stack_notify_state(struct us_stack *s, const struct us_state_event *ev)
{
    for (unsigned i = 0; i < s->n_obs; i++)
        if (s->obs[i].state) s->obs[i].state(s->obs[i].ctx, s, ev);
}

void us_stack_set_driver(struct us_stack *s, const struct us_driver *drv)
{
    if (drv)
        s->driver = *drv;
    else
        memset(&s->driver, 0, sizeof(s->driver));
}

const struct us_driver *us_stack_driver(const struct us_stack *s)
{
    return s->driver.wait ? &s->driver : NULL;
}

char *us_ip_str(uint32_t a, char *buf)
{
    snprintf(buf, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
    return buf;
}

int us_ip_parse(const char *str, uint32_t *addr)
{
    unsigned b[4];
    char tail;
    if (sscanf(str, "%u.%u.%u.%u%c", &b[0], &b[1], &b[2], &b[3], &tail) != 4) return -1;
    for (int i = 0; i < 4; i++)
        if (b[i] > 255) return -1;
    *addr = b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
    return 0;
}
