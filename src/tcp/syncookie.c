/*
 * syncookie.c: SYN cookies (RFC 4987 §3.6), encoded as Linux does.
 *
 * The ISN of the SYN-ACK is the whole state:
 *   cookie = H1(tuple) + SEG.SEQ + (count << 24)
 *            + ((H2(tuple, count) + mss_index) mod 2^24)
 * where count is a minute counter, mss_index picks from a small table and H1,
 * H2 are SipHash under the stack's key. The returning ACK proves itself by
 * recomputing H1 and H2 for a recent count. With timestamps the low six bits
 * of our TSval carry window scale (4 bits, 0xf = none) and SACK-permitted,
 * recovered from the peer's TSecr.
 */
#include <string.h>

#include "core/util.h"
#include "tcp/tcp.h"

#define COOKIE_MINUTE US_SEC(60)
#define COOKIE_MAX_AGE 2 /* minutes */

static const uint16_t mss_table[] = {536, 1300, 1440, 1460};

static uint32_t hash(struct us_stack *s, const struct segment *sg, uint32_t count, uint8_t which)
{
    uint8_t key[17];
    wr32(key, sg->src);
    wr32(key + 4, sg->dst);
    wr16(key + 8, sg->sport);
    wr16(key + 10, sg->dport);
    wr32(key + 12, count);
    key[16] = which;
    return (uint32_t)keyed_hash(s->hash_key, key, sizeof(key));
}

static uint32_t minute(const struct us_stack *s) { return (uint32_t)(s->now / COOKIE_MINUTE); }

seq_t syncookie_make(struct us_stack *s, const struct segment *sg, uint16_t *mss_out)
{
    uint16_t mss = sg->opt.has_mss ? sg->opt.mss : s->cfg.tcp.default_mss;
    unsigned idx = 0;
    for (unsigned i = 0; i < ARRAY_LEN(mss_table); i++)
        if (mss_table[i] <= mss) idx = i;
    *mss_out = mss_table[idx];
    uint32_t count = minute(s);
    return hash(s, sg, 0, 1) + sg->seq + (count << 24) + ((hash(s, sg, count, 2) + idx) & 0xffffff);
}

bool syncookie_check(struct us_stack *s, const struct segment *sg, uint16_t *mss_out)
{
    seq_t cookie = sg->ack - 1;
    seq_t sseq = sg->seq - 1;
    uint32_t v = cookie - hash(s, sg, 0, 1) - sseq;
    uint32_t count = minute(s);
    uint32_t made = v >> 24;
    uint32_t age = (count - made) & 0xff;
    if (age > COOKIE_MAX_AGE) return false;
    uint32_t full = count - age;
    uint32_t idx = (v - (full << 24) - hash(s, sg, full, 2)) & 0xffffff;
    if (idx >= ARRAY_LEN(mss_table)) return false;
    *mss_out = mss_table[idx];
    return true;
}

uint32_t syncookie_ts(struct us_stack *s, uint32_t ts_now, bool sack, bool ws, uint8_t wscale)
{
    uint32_t opts = (ws ? (wscale & 0xf) : 0xf) | (sack ? 0x10 : 0);
    uint32_t ts = (ts_now & ~0x3fu) | opts;
    if ((int32_t)(ts - ts_now) > 0) ts -= 64; /* never a timestamp from the future */
    return ts;
}

void syncookie_ts_decode(uint32_t ts_ecr, bool *sack, bool *ws, uint8_t *wscale)
{
    uint32_t w = ts_ecr & 0xf;
    *ws = w != 0xf;
    *wscale = *ws ? (uint8_t)w : 0;
    *sack = ts_ecr & 0x10;
}
