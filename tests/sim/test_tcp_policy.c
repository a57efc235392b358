/* Keepalive, TCP_USER_TIMEOUT, the listen backlog, SYN floods and SYN
 * cookies, TIME-WAIT in volume, its cap and its reuse (RFC 6191). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>

#include "core/csum.h"
#include "core/rand.h"
#include "core/util.h"
#include "internal.h"
#include "tcp/tcp.h"
#include "testlib.h"

static void set_int(struct us_stack *s, int fd, int level, int name, int v)
{
    cr_assert_eq(us_setsockopt(s, fd, level, name, &v, sizeof(v)), 0, "setsockopt %d", name);
}

/* ---- keepalive ---- */

Test(keepalive, vanished_peer_is_detected_at_the_textbook_times)
{
    /* ARP entries outlive the test: otherwise, two hours on, the probes to
     * the vanished peer would wait behind ARP requests it never answers
     * (the keepalive still ends the connection, but nothing to count). */
    struct us_stack_config cfg;
    us_stack_config_default(&cfg);
    cfg.arp_timeout = US_SEC(86400);
    struct pair *p = pair_new_mtu(1, NULL, NULL, 1500, &cfg);
    struct recorder *r = recorder_attach(p);
    int c, s, l;
    tcp_connect_pair(p, 80, &c, &s, &l);
    set_int(p->a, c, SOL_SOCKET, SO_KEEPALIVE, 1); /* defaults: 7200 s, 75 s, 9 probes */
    us_time_t t0 = us_wire_now(p->w);
    recorder_clear(r);
    /* The server vanishes (its cable is cut). */
    us_wire_set_down(p->w, p->pb, true);
    char b[4];
    /* A blocking read waits; the keepalive ends it. */
    cr_assert_eq(us_recv(p->a, c, b, sizeof(b), 0), -1);
    cr_assert_eq(errno, ETIMEDOUT);
    unsigned k = 0;
    for (unsigned i = 0; i < r->n; i++) {
        if (strcmp(r->ev[i].text, "c .")) continue;
        cr_assert_eq(r->ev[i].time - t0, US_SEC(7200 + 75 * k), "probe %u at %llu s", k,
                     (unsigned long long)((r->ev[i].time - t0) / 1000000));
        k++;
    }
    cr_assert_eq(k, 9, "nine probes (Linux's default), got %u", k);
    cr_assert_eq(us_wire_now(p->w) - t0, US_SEC(7200 + 75 * 9), "given up after the ninth");
    cr_assert_eq(us_stack_counter(p->a, US_C_tcp_keepalive_timeouts), 1);
    us_wire_set_down(p->w, p->pb, false);
    us_close(p->a, c);
    us_close(p->b, s);
    us_close(p->b, l);
    recorder_detach(r);
    pair_free(p);
}

Test(keepalive, textbook_count_of_ten_is_one_setting_away)
{
    struct pair *p = pair_new(2, NULL, NULL);
    int c, s, l;
    tcp_connect_pair(p, 80, &c, &s, &l);
    set_int(p->a, c, SOL_SOCKET, SO_KEEPALIVE, 1);
    set_int(p->a, c, IPPROTO_TCP, TCP_KEEPIDLE, 60);
    set_int(p->a, c, IPPROTO_TCP, TCP_KEEPINTVL, 5);
    set_int(p->a, c, IPPROTO_TCP, TCP_KEEPCNT, 10);
    us_time_t t0 = us_wire_now(p->w);
    us_wire_set_down(p->w, p->pb, true);
    char b[4];
    cr_assert_eq(us_recv(p->a, c, b, sizeof(b), 0), -1);
    cr_assert_eq(errno, ETIMEDOUT);
    cr_assert_eq(us_wire_now(p->w) - t0, US_SEC(60 + 5 * 10));
    cr_assert_eq(us_stack_counter(p->a, US_C_tcp_keepalive_probes), 10);
    us_close(p->a, c);
    us_close(p->b, s);
    us_close(p->b, l);
    pair_free(p);
}

Test(keepalive, answering_peer_stays_alive_for_days)
{
    struct pair *p = pair_new(3, NULL, NULL);
    int c, s, l;
    tcp_connect_pair(p, 80, &c, &s, &l);
    set_int(p->a, c, SOL_SOCKET, SO_KEEPALIVE, 1);
    us_wire_run_for(p->w, US_SEC(3 * 86400));
    struct us_tcp_info i;
    socklen_t il = sizeof(i);
    us_getsockopt(p->a, c, IPPROTO_TCP, TCP_INFO, &i, &il);
    cr_assert_eq(i.state, US_TCP_ESTABLISHED);
    /* One probe per idle period of 7200 s, each answered. */
    cr_assert_eq(us_stack_counter(p->a, US_C_tcp_keepalive_probes), 3 * 86400 / 7200);
    cr_assert_eq(us_stack_counter(p->a, US_C_tcp_keepalive_timeouts), 0);
    cr_assert_eq(us_send(p->a, c, "still here", 10, 0), 10);
    char b[16];
    cr_assert_eq(us_recv(p->b, s, b, sizeof(b), 0), 10);
    us_close(p->a, c);
    us_close(p->b, s);
    us_close(p->b, l);
    pair_free(p);
}

Test(keepalive, user_timeout_aborts_unacknowledged_data)
{
    struct pair *p = pair_new(4, NULL, NULL);
    int c, s, l;
    tcp_connect_pair(p, 80, &c, &s, &l);
    set_int(p->a, c, IPPROTO_TCP, TCP_USER_TIMEOUT, 10000); /* 10 s (RFC 5482) */
    us_wire_set_down(p->w, p->pb, true);
    us_time_t t0 = us_wire_now(p->w);
    cr_assert_eq(us_send(p->a, c, "lost", 4, 0), 4);
    char b[4];
    cr_assert_eq(us_recv(p->a, c, b, sizeof(b), 0), -1);
    cr_assert_eq(errno, ETIMEDOUT);
    us_time_t took = us_wire_now(p->w) - t0;
    cr_assert(took >= US_SEC(10) && took <= US_SEC(11), "aborted after %.2f s", (double)took / 1e6);
    us_close(p->a, c);
    us_close(p->b, s);
    us_close(p->b, l);
    pair_free(p);
}

/* ---- the listen backlog ---- */

Test(backlog, third_and_fourth_clients_wait_for_accept_nothing_lost)
{
    struct pair *p = pair_new(5, NULL, NULL);
    us_ping_send(p->a, PAIR_B_IP, 1, 1, 8);
    us_wire_run_for(p->w, US_MSEC(1));
    int l = us_socket(p->b, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = sin_of(0, 80);
    us_bind(p->b, l, (struct sockaddr *)&a, sizeof(a));
    cr_assert_eq(us_listen(p->b, l, 2), 0);
    int c[4];
    struct sockaddr_in sa = sin_of(PAIR_B_IP, 80);
    for (int i = 0; i < 4; i++) {
        c[i] = us_socket(p->a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        us_connect(p->a, c[i], (struct sockaddr *)&sa, sizeof(sa));
    }
    us_wire_run_for(p->w, US_MSEC(100));
    /* Each client sends a line right away, as clients do. */
    for (int i = 0; i < 4; i++) {
        char line[16];
        snprintf(line, sizeof(line), "client %d", i);
        cr_assert_eq(us_send(p->a, c[i], line, strlen(line), 0), (ssize_t)strlen(line));
    }
    us_wire_run_for(p->w, US_MSEC(100));
    /* The 3rd and 4th final ACKs were dropped, and so were the segments
     * that tried to complete the same handshakes since (their data, its
     * probes and retransmissions): each counted. */
    cr_assert_geq(us_stack_counter(p->b, US_C_tcp_listen_overflows), 4, "overflows %llu",
                  (unsigned long long)us_stack_counter(p->b, US_C_tcp_listen_overflows));
    /* The server accepts only now. */
    int got = 0;
    char seen[4] = {0};
    for (int round = 0; round < 50 && got < 4; round++) {
        int s;
        while ((s = us_accept(p->b, l, NULL, NULL)) >= 0) {
            char buf[32] = {0};
            ssize_t n = us_recv(p->b, s, buf, sizeof(buf) - 1, 0);
            cr_assert(n > 0, "data of an accepted client: %s", strerror(errno));
            int which;
            cr_assert_eq(sscanf(buf, "client %d", &which), 1, "got [%s]", buf);
            seen[which] = 1;
            got++;
            us_close(p->b, s);
        }
        us_wire_run_for(p->w, US_MSEC(500));
    }
    cr_assert_eq(got, 4, "all four clients get through");
    for (int i = 0; i < 4; i++) cr_assert(seen[i], "client %d's line arrived", i);
    for (int i = 0; i < 4; i++) us_close(p->a, c[i]);
    us_close(p->b, l);
    us_wire_run_for(p->w, US_SEC(120));
    pair_free(p);
}

/* ---- SYN floods ---- */

/* A spoofed SYN from `src` (another network, so the SYN-ACK goes towards a
 * gateway nobody answers) straight into the server's stack. */
static void spoof_syn(struct us_stack *s, uint32_t src, uint16_t sport, uint32_t seq)
{
    uint8_t tcp[24];
    memset(tcp, 0, sizeof(tcp));
    wr16(tcp, sport);
    wr16(tcp + 2, 80);
    wr32(tcp + 4, seq);
    tcp[12] = 6 << 4;
    tcp[13] = 0x02;
    wr16(tcp + 14, 64240);
    tcp[20] = 2;
    tcp[21] = 4;
    wr16(tcp + 22, 1460);
    uint32_t sum = csum_pseudo(src, PAIR_B_IP, 6, sizeof(tcp));
    wr16(tcp + 16, csum_fold(csum_add(sum, tcp, sizeof(tcp))));
    uint8_t f[128];
    size_t n = build_ipv4(f, src, PAIR_B_IP, 6, tcp, sizeof(tcp));
    static const uint8_t gw_mac[6] = {2, 0, 0, 0, 0, 0x99};
    memcpy(f, (const uint8_t[]){2, 0, 0, 0, 0, 2}, 6); /* the server's MAC */
    memcpy(f + 6, gw_mac, 6);
    us_stack_input(s, 0, f, n, us_stack_now(s));
}

static void flood_and_connect(bool cookies, unsigned flood, bool *client_ok, us_time_t *took)
{
    struct us_stack_config cfg;
    us_stack_config_default(&cfg);
    cfg.tcp.syncookies = cookies ? 1 : 0;
    struct pair *p = pair_new_mtu(6, NULL, NULL, 1500, &cfg);
    cr_assert_eq(us_stack_set_gateway(p->b, IP(10, 0, 0, 254)), 0);
    int l = us_socket(p->b, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = sin_of(0, 80);
    us_bind(p->b, l, (struct sockaddr *)&a, sizeof(a));
    us_listen(p->b, l, 128);
    struct rng rg;
    rng_seed(&rg, 77);
    /* Half the flood before the client tries, half while it does. */
    for (unsigned i = 0; i < flood / 2; i++)
        spoof_syn(p->b, IP(100, 64, 0, 0) + (uint32_t)rng_below(&rg, 1u << 22),
                  (uint16_t)(1024 + rng_below(&rg, 60000)), (uint32_t)rng_next(&rg));
    struct tcp_stack *ts = p->b->tcp;
    cr_assert(ts->syns.in_use <= cfg.tcp.max_syn_backlog, "SYN entries bounded: %zu",
              ts->syns.in_use);
    int c = us_socket(p->a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = sin_of(PAIR_B_IP, 80);
    us_connect(p->a, c, (struct sockaddr *)&sa, sizeof(sa));
    us_time_t t0 = us_wire_now(p->w);
    for (unsigned i = flood / 2; i < flood; i++) {
        spoof_syn(p->b, IP(100, 64, 0, 0) + (uint32_t)rng_below(&rg, 1u << 22),
                  (uint16_t)(1024 + rng_below(&rg, 60000)), (uint32_t)rng_next(&rg));
        if (i % 1000 == 0) us_wire_run_for(p->w, US_MSEC(1));
    }
    /* Memory stays bounded whatever the flood's size. */
    cr_assert(ts->syns.allocated <= cfg.tcp.max_syn_backlog + 64, "%zu SYN entries allocated",
              ts->syns.allocated);
    cr_assert(us_stack_pbufs_in_use(p->b) <= 64, "%u packet buffers held",
              us_stack_pbufs_in_use(p->b));
    cr_assert(ts->conns.count <= cfg.tcp.max_syn_backlog + 16, "%u connection table entries",
              ts->conns.count);
    /* The legitimate client: connect, then a request and its answer. */
    struct pollfd pf = {.fd = c, .events = POLLOUT};
    us_poll(p->a, &pf, 1, 200000);
    *client_ok = false;
    int sc = us_accept(p->b, l, NULL, NULL);
    if ((pf.revents & POLLOUT) && !(pf.revents & POLLERR) && sc >= 0) {
        int zero = 0;
        us_fcntl(p->a, c, F_SETFL, zero);
        cr_assert_eq(us_send(p->a, c, "GET", 3, 0), 3);
        char b[8];
        cr_assert_eq(us_recv(p->b, sc, b, sizeof(b), 0), 3);
        cr_assert_eq(us_send(p->b, sc, "OK", 2, 0), 2);
        cr_assert_eq(us_recv(p->a, c, b, sizeof(b), 0), 2);
        *client_ok = true;
    }
    *took = us_wire_now(p->w) - t0;
    if (cookies) {
        cr_assert(us_stack_counter(p->b, US_C_tcp_syncookies_sent) > flood / 2,
                  "cookies answer the flood");
    }
    if (sc >= 0) us_close(p->b, sc);
    us_close(p->a, c);
    us_close(p->b, l);
    pair_free(p);
}

Test(synflood, with_cookies_the_client_gets_through_and_memory_is_bounded)
{
    bool ok;
    us_time_t took;
    flood_and_connect(true, 200000, &ok, &took);
    cr_assert(ok, "the legitimate client connected and talked");
    cr_assert(took < US_SEC(1), "at once: %.3f s", (double)took / 1e6);
}

Test(synflood, without_cookies_the_queue_fills_and_the_client_waits)
{
    bool ok;
    us_time_t took;
    flood_and_connect(false, 20000, &ok, &took);
    /* The client's SYNs are dropped while the SYN queue is full; it gets
     * in only when entries expire (after the SYN-ACK retries, ~63 s). */
    cr_assert(!ok || took > US_SEC(30), "client ok %d after %.1f s", ok, (double)took / 1e6);
}

Test(synflood, a_valid_cookie_completes_and_a_forged_one_is_refused)
{
    struct us_stack_config cfg;
    us_stack_config_default(&cfg);
    cfg.tcp.syncookies = 2; /* always, so the real client goes through a cookie */
    struct pair *p = pair_new_mtu(7, NULL, NULL, 1500, &cfg);
    int c, s, l;
    tcp_connect_pair(p, 80, &c, &s, &l);
    cr_assert_eq(us_stack_counter(p->b, US_C_tcp_syncookies_sent), 1);
    cr_assert_eq(us_stack_counter(p->b, US_C_tcp_syncookies_recv), 1);
    cr_assert_eq(us_send(p->a, c, "hi", 2, 0), 2);
    char b[4];
    cr_assert_eq(us_recv(p->b, s, b, sizeof(b), 0), 2);
    struct us_tcp_info i;
    socklen_t il = sizeof(i);
    us_getsockopt(p->b, s, IPPROTO_TCP, TCP_INFO, &i, &il);
    cr_assert(i.options & US_TCPI_OPT_SACK, "SACK-permitted carried in the timestamp");
    cr_assert(i.options & US_TCPI_OPT_WSCALE, "window scale carried in the timestamp");
    cr_assert_eq(i.snd_wscale, 7);
    us_close(p->a, c);
    us_close(p->b, s);
    us_close(p->b, l);
    pair_free(p);
}

/* ---- TIME-WAIT ---- */

Test(timewait, thousands_of_short_connections_do_not_exhaust_ports)
{
    struct pair *p = pair_new(8, NULL, NULL);
    int l = us_socket(p->b, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = sin_of(0, 80);
    us_bind(p->b, l, (struct sockaddr *)&a, sizeof(a));
    us_listen(p->b, l, 64);
    struct sockaddr_in sa = sin_of(PAIR_B_IP, 80);
    enum { N = 5000 };
    for (int i = 0; i < N; i++) {
        int c = us_socket(p->a, AF_INET, SOCK_STREAM, 0);
        cr_assert_eq(us_connect(p->a, c, (struct sockaddr *)&sa, sizeof(sa)), 0,
                     "connection %d: %s", i, strerror(errno));
        int s = us_accept(p->b, l, NULL, NULL);
        us_close(p->a, c); /* the client closes first: it holds TIME-WAIT */
        char b[1];
        us_recv(p->b, s, b, 1, 0);
        us_close(p->b, s);
        us_wire_run_for(p->w, US_MSEC(2));
    }
    cr_assert_eq(p->a->tcp->tw_count, N, "every connection left a TIME-WAIT entry");
    cr_assert_eq(us_stack_counter(p->a, US_C_tcp_tw_overflow), 0);
    /* Compact: the TIME-WAIT entries hold no control block. */
    cr_assert(p->a->tcp->tcbs.in_use == 0, "%zu control blocks", p->a->tcp->tcbs.in_use);
    us_wire_run_for(p->w, US_SEC(61));
    cr_assert_eq(p->a->tcp->tw_count, 0, "all expired after 2MSL");
    us_close(p->b, l);
    pair_free(p);
}

Test(timewait, the_cap_holds_and_is_counted)
{
    struct us_stack_config cfg;
    us_stack_config_default(&cfg);
    cfg.tcp.max_tw = 100;
    struct pair *p = pair_new_mtu(9, NULL, NULL, 1500, &cfg);
    int l = us_socket(p->b, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = sin_of(0, 80);
    us_bind(p->b, l, (struct sockaddr *)&a, sizeof(a));
    us_listen(p->b, l, 64);
    struct sockaddr_in sa = sin_of(PAIR_B_IP, 80);
    for (int i = 0; i < 300; i++) {
        int c = us_socket(p->a, AF_INET, SOCK_STREAM, 0);
        cr_assert_eq(us_connect(p->a, c, (struct sockaddr *)&sa, sizeof(sa)), 0);
        int s = us_accept(p->b, l, NULL, NULL);
        us_close(p->a, c);
        char b[1];
        us_recv(p->b, s, b, 1, 0);
        us_close(p->b, s);
        us_wire_run_for(p->w, US_MSEC(2));
    }
    cr_assert_eq(p->a->tcp->tw_count, 100);
    cr_assert_eq(us_stack_counter(p->a, US_C_tcp_tw_overflow), 200);
    us_close(p->b, l);
    pair_free(p);
}

Test(timewait, a_newer_syn_reuses_the_tuple_rfc6191)
{
    struct pair *p = pair_new(10, NULL, NULL);
    int l = us_socket(p->b, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = sin_of(0, 80);
    us_bind(p->b, l, (struct sockaddr *)&a, sizeof(a));
    us_listen(p->b, l, 4);
    struct sockaddr_in sa = sin_of(PAIR_B_IP, 80), ca = sin_of(0, 5555);
    for (int round = 0; round < 2; round++) {
        int c = us_socket(p->a, AF_INET, SOCK_STREAM, 0);
        set_int(p->a, c, SOL_SOCKET, SO_REUSEADDR, 1);
        cr_assert_eq(us_bind(p->a, c, (struct sockaddr *)&ca, sizeof(ca)), 0);
        cr_assert_eq(us_connect(p->a, c, (struct sockaddr *)&sa, sizeof(sa)), 0, "round %d: %s",
                     round, strerror(errno));
        int s = us_accept(p->b, l, NULL, NULL);
        cr_assert(s >= 0);
        /* The server closes first: it holds TIME-WAIT for 10.0.0.1:5555. */
        us_close(p->b, s);
        us_wire_run_for(p->w, US_MSEC(10));
        us_close(p->a, c);
        us_wire_run_for(p->w, US_SEC(1));
    }
    cr_assert_eq(us_stack_counter(p->b, US_C_tcp_tw_recycled), 1,
                 "the second connection took over the first's TIME-WAIT tuple");
    us_close(p->b, l);
    pair_free(p);
}
