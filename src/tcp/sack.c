/*
 * sack.c: the sender's SACK scoreboard (RFC 2018, RFC 6675).
 *
 * Ranges the receiver reported holding above SND.UNA, sorted and disjoint.
 * Blocks outside (SND.UNA, SND.MAX] are ignored: below SND.UNA they are
 * D-SACKs (RFC 2883) or stale, above they are bogus. When the board is full
 * the highest range is dropped: the ranges nearest SND.UNA matter most for
 * repairing the next hole.
 */
#include <string.h>

#include "tcp/tcp.h"

static void recount(struct scoreboard *sb)
{
    sb->sacked = 0;
    for (unsigned i = 0; i < sb->n; i++) sb->sacked += sb->r[i].right - sb->r[i].left;
}

static void insert(struct scoreboard *sb, seq_t lo, seq_t hi)
{
    unsigned i = 0;
    while (i < sb->n && seq_lt(sb->r[i].right, lo)) i++;
    if (i < sb->n && seq_leq(sb->r[i].left, hi)) {
        sb->r[i].left = seq_min(sb->r[i].left, lo);
        sb->r[i].right = seq_max(sb->r[i].right, hi);
        while (i + 1 < sb->n && seq_leq(sb->r[i + 1].left, sb->r[i].right)) {
            sb->r[i].right = seq_max(sb->r[i].right, sb->r[i + 1].right);
            memmove(&sb->r[i + 1], &sb->r[i + 2], (sb->n - i - 2) * sizeof(sb->r[0]));
            sb->n--;
        }
        return;
    }
    if (sb->n == SB_MAX) {
        if (i == SB_MAX) return; /* higher than everything kept */
        sb->n--;                 /* drop the highest */
    }
    memmove(&sb->r[i + 1], &sb->r[i], (sb->n - i) * sizeof(sb->r[0]));
    sb->r[i].left = lo;
    sb->r[i].right = hi;
    sb->n++;
}

void sb_update(struct scoreboard *sb, seq_t snd_una, seq_t snd_max,
               const struct sack_block *blk, unsigned n)
{
    for (unsigned k = 0; k < n; k++) {
        seq_t lo = blk[k].left, hi = blk[k].right;
        if (!seq_lt(lo, hi)) continue;
        if (seq_leq(hi, snd_una) || seq_gt(hi, snd_max)) continue; /* D-SACK or bogus */
        if (seq_lt(lo, snd_una)) lo = snd_una;
        insert(sb, lo, hi);
    }
    recount(sb);
}

void sb_ack(struct scoreboard *sb, seq_t snd_una)
{
    unsigned keep = 0;
    for (unsigned i = 0; i < sb->n; i++) {
        if (seq_leq(sb->r[i].right, snd_una)) continue;
        sb->r[keep] = sb->r[i];
        if (seq_lt(sb->r[keep].left, snd_una)) sb->r[keep].left = snd_una;
        keep++;
    }
    sb->n = (uint8_t)keep;
    if (seq_lt(sb->rtx_next, snd_una)) sb->rtx_next = snd_una;
    if (seq_lt(sb->high_rtx, snd_una)) sb->high_rtx = snd_una;
    recount(sb);
}

bool sb_is_sacked(const struct scoreboard *sb, seq_t seq)
{
    for (unsigned i = 0; i < sb->n; i++)
        if (seq_in(seq, sb->r[i].left, sb->r[i].right)) return true;
    return false;
}

bool sb_next_hole(const struct scoreboard *sb, seq_t from, seq_t limit, seq_t *start, seq_t *end)
{
    seq_t cur = from;
    for (unsigned i = 0; i < sb->n; i++) {
        if (seq_leq(sb->r[i].right, cur)) continue;
        if (seq_leq(sb->r[i].left, cur)) {
            cur = sb->r[i].right; /* inside a SACKed range: skip it */
            continue;
        }
        if (!seq_lt(cur, limit)) return false;
        *start = cur;
        *end = seq_min(sb->r[i].left, limit);
        return true;
    }
    if (!seq_lt(cur, limit)) return false;
    *start = cur;
    *end = limit;
    return true;
}

bool sb_is_lost(const struct scoreboard *sb, seq_t seq, uint32_t mss)
{
    /* RFC 6675 §4 IsLost(): DupThresh (3) discontiguous SACKed ranges above
     * seq, or more than (DupThresh - 1) * SMSS bytes SACKed above it. */
    unsigned ranges = 0;
    uint32_t bytes = 0;
    for (unsigned i = 0; i < sb->n; i++) {
        if (seq_leq(sb->r[i].right, seq)) continue;
        ranges++;
        seq_t lo = seq_gt(sb->r[i].left, seq) ? sb->r[i].left : seq + 1;
        bytes += sb->r[i].right - lo;
    }
    return ranges >= 3 || bytes > 2 * mss;
}

seq_t sb_highest(const struct scoreboard *sb, seq_t snd_una)
{
    return sb->n ? sb->r[sb->n - 1].right : snd_una;
}

void sb_clear(struct scoreboard *sb) { memset(sb, 0, sizeof(*sb)); }
