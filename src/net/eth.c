/*
 * eth.c: Ethernet II framing (no FCS: links deliver frames without it).
 */
#include <errno.h>
#include <string.h>

#include "core/util.h"
#include "net/net.h"

const uint8_t eth_broadcast[ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

void eth_input(struct us_stack *s, int iface, const uint8_t *frame, size_t len)
{
    if (iface < 0 || (unsigned)iface >= s->n_ifaces) {
        stat_inc(s, US_C_drop_eth_bad_iface);
        return;
    }
    const struct iface *ifc = &s->ifaces[iface];
    if (len < ETH_HLEN) {
        stat_inc(s, US_C_drop_eth_short);
        return;
    }
    if (len > ETH_HLEN + ifc->mtu) {
        stat_inc(s, US_C_drop_eth_oversize);
        return;
    }
    const uint8_t *dst = frame;
    if (memcmp(dst, ifc->mac, ETH_ALEN) != 0 && memcmp(dst, eth_broadcast, ETH_ALEN) != 0) {
        /* Multicast too: we join no group. */
        stat_inc(s, US_C_drop_eth_other_mac);
        return;
    }
    uint16_t type = rd16(frame + 12);
    switch (type) {
    case ETHERTYPE_ARP:
        arp_input(s, iface, frame + ETH_HLEN, len - ETH_HLEN);
        break;
    case ETHERTYPE_IPV4:
        ipv4_input(s, iface, frame + ETH_HLEN, len - ETH_HLEN);
        break;
    default:
        stat_inc(s, US_C_drop_eth_type);
        break;
    }
}

int eth_output(struct us_stack *s, int iface, const uint8_t dst[ETH_ALEN], uint16_t type,
               struct pbuf *p)
{
    const struct iface *ifc = &s->ifaces[iface];
    uint8_t *h = pbuf_push(p, ETH_HLEN);
    memcpy(h, dst, ETH_ALEN);
    memcpy(h + 6, ifc->mac, ETH_ALEN);
    wr16(h + 12, type);
    stack_notify_frame(s, iface, US_DIR_OUT, h, p->len);
    int rc = us_link_send(ifc->link, h, p->len, s->now);
    if (rc < 0)
        stat_inc(s, US_C_eth_tx_fail);
    else
        stat_inc(s, US_C_eth_tx);
    pbuf_free(&s->pool, p);
    return rc;
}
