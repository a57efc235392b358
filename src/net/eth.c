/*
 * eth.c: Ethernet II framing (no FCS: links deliver frames without it).
 */
#include <errno.h>
#include <string.h>

#include "core/csum.h"
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
    /* A link that segments may also deliver a peer's frame not yet cut
     * (GRO/GSO); TCP takes a segment of any length. */
    unsigned most = ifc->link->gso_max > ifc->mtu ? ifc->link->gso_max : ifc->mtu;
    if (len > ETH_HLEN + most) {
        stat_inc(s, US_C_drop_eth_oversize);
        return;
    }
    const uint8_t *dst = frame;
    if (memcmp(dst, ifc->mac, ETH_ALEN) != 0 && memcmp(dst, eth_broadcast, ETH_ALEN) != 0) {
        /* Multicast too: we join no group. */
        stat_inc(s, US_C_drop_eth_other_mac);
        return;
    }
    if (len > ETH_HLEN + ifc->mtu) stat_inc(s, US_C_eth_rx_gso);
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

/* Finishes a partial checksum (pbuf.h): the field holds the pseudo-header
 * sum, so the sum over the covered bytes, field included, is the rest. */
static void csum_finish(struct pbuf *p)
{
    uint8_t *c = p->buf + p->csum_start;
    uint32_t n = p->off + p->len - p->csum_start;
    wr16(c + p->csum_off, csum_fold(csum_add(0, c, n)));
}

static int send_offloaded(struct us_stack *s, int iface, struct pbuf *p)
{
    struct us_link *link = s->ifaces[iface].link;
    uint8_t *h = pbuf_data(p);
    struct us_tx_offload o = {
        .gso_size = p->gso_size,
        .csum_start = (uint16_t)(p->csum_start - p->off),
        .csum_offset = p->csum_off,
    };
    if (o.gso_size) stat_inc(s, US_C_eth_tx_gso);
    if (s->n_obs && p->csum_start) {
        /* Observers (pcap, trace) see the frame as it will be on the wire:
         * with its checksum, one frame per GSO burst as tcpdump shows it. */
        uint8_t *c = p->buf + p->csum_start + p->csum_off;
        uint16_t partial = rd16(c);
        csum_finish(p);
        stack_notify_frame(s, iface, US_DIR_OUT, h, p->len);
        wr16(c, partial);
    } else {
        stack_notify_frame(s, iface, US_DIR_OUT, h, p->len);
    }
    return link->ops->send_offload(link, h, p->len, &o, s->now);
}

int eth_output(struct us_stack *s, int iface, const uint8_t dst[ETH_ALEN], uint16_t type,
               struct pbuf *p)
{
    const struct iface *ifc = &s->ifaces[iface];
    uint8_t *h = pbuf_push(p, ETH_HLEN);
    memcpy(h, dst, ETH_ALEN);
    memcpy(h + 6, ifc->mac, ETH_ALEN);
    wr16(h + 12, type);
    int rc;
    if (p->gso_size || (p->csum_start && (ifc->link->flags & US_LINK_F_TX_CSUM) &&
                        ifc->link->ops->send_offload)) {
        rc = send_offloaded(s, iface, p);
    } else {
        if (p->csum_start) csum_finish(p);
        stack_notify_frame(s, iface, US_DIR_OUT, h, p->len);
        rc = us_link_send(ifc->link, h, p->len, s->now);
    }
    if (rc < 0)
        stat_inc(s, US_C_eth_tx_fail);
    else
        stat_inc(s, US_C_eth_tx);
    pbuf_free(&s->pool, p);
    return rc;
}
