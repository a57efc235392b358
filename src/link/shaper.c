/*
 * shaper.c: one direction of a faulty link.
 *
 * A frame pushed in is decided at once, in this order, each decision drawn
 * from the shaper's own generator: partition ("down"), loss, the bandwidth
 * queue (tail drop when full, else a departure time after serialisation),
 * fixed delay, reordering (extra random delay), duplication, corruption (one
 * bit flipped past the Ethernet header, IPv4 frames only: ARP has no checksum
 * of its own and on a real link the Ethernet FCS would catch it). Frames wait
 * in a heap ordered by (due time, arrival order), so equal times keep FIFO
 * order and a run is reproducible from the seed.
 */
#include <stdlib.h>
#include <string.h>

#include "core/rand.h"
#include "core/util.h"
#include "ustack/wire.h"

struct sframe {
    us_time_t due;
    uint64_t order;
    uint64_t id;
    uint32_t len;
    uint8_t *data;
};

struct us_shaper {
    struct us_faults f;
    struct rng rng;
    struct us_wire_stats st;
    us_time_t tx_free_at;         /* when the serialiser is next idle */
    us_time_t *depart;            /* departure times of frames in the queue (FIFO) */
    unsigned dep_head, dep_count, dep_cap;
    struct sframe *heap;
    unsigned n, cap;
    uint64_t next_id, next_order;
    uint8_t **spare;              /* recycled frame buffers */
    unsigned n_spare, spare_cap;
    void (*obs)(void *ctx, const struct us_wire_event *ev);
    void *obs_ctx;
};

#define BUF_SIZE (65536 + 64)

struct us_shaper *us_shaper_new(uint64_t seed)
{
    struct us_shaper *sh = calloc(1, sizeof(*sh));
    if (!sh) return NULL;
    rng_seed(&sh->rng, seed);
    return sh;
}

void us_shaper_free(struct us_shaper *sh)
{
    if (!sh) return;
    for (unsigned i = 0; i < sh->n; i++) free(sh->heap[i].data);
    for (unsigned i = 0; i < sh->n_spare; i++) free(sh->spare[i]);
    free(sh->spare);
    free(sh->heap);
    free(sh->depart);
    free(sh);
}

void us_shaper_set_faults(struct us_shaper *sh, const struct us_faults *f) { sh->f = *f; }
struct us_faults *us_shaper_faults(struct us_shaper *sh) { return &sh->f; }
const struct us_wire_stats *us_shaper_stats(const struct us_shaper *sh) { return &sh->st; }
unsigned us_shaper_in_flight(const struct us_shaper *sh) { return sh->n; }

void us_shaper_observe(struct us_shaper *sh, void (*fn)(void *ctx, const struct us_wire_event *ev),
                       void *ctx)
{
    sh->obs = fn;
    sh->obs_ctx = ctx;
}

static void report_drop(struct us_shaper *sh, uint64_t id, us_time_t now, const char *why,
                        const uint8_t *frame, size_t len)
{
    if (!sh->obs) return;
    struct us_wire_event ev = {.kind = US_WIRE_DROP, .frame_id = id, .from = -1, .to = -1,
                               .time = now, .reason = why, .frame = frame, .len = len};
    sh->obs(sh->obs_ctx, &ev);
}

static bool before(const struct sframe *a, const struct sframe *b)
{
    return a->due < b->due || (a->due == b->due && a->order < b->order);
}

static void heap_push(struct us_shaper *sh, struct sframe fr)
{
    if (sh->n == sh->cap) {
        unsigned cap = sh->cap ? sh->cap * 2 : 64;
        struct sframe *h = realloc(sh->heap, cap * sizeof(*h));
        if (!h) {
            free(fr.data);
            return;
        }
        sh->heap = h;
        sh->cap = cap;
    }
    unsigned i = sh->n++;
    while (i > 0) {
        unsigned parent = (i - 1) / 2;
        if (!before(&fr, &sh->heap[parent])) break;
        sh->heap[i] = sh->heap[parent];
        i = parent;
    }
    sh->heap[i] = fr;
}

static struct sframe heap_pop(struct us_shaper *sh)
{
    struct sframe top = sh->heap[0];
    struct sframe last = sh->heap[--sh->n];
    unsigned i = 0;
    for (;;) {
        unsigned l = 2 * i + 1, r = l + 1, m = i;
        const struct sframe *best = &last;
        if (l < sh->n && before(&sh->heap[l], best)) {
            m = l;
            best = &sh->heap[l];
        }
        if (r < sh->n && before(&sh->heap[r], best)) m = r;
        if (m == i) break;
        sh->heap[i] = sh->heap[m];
        i = m;
    }
    if (sh->n) sh->heap[i] = last;
    return top;
}

static uint8_t *buf_get(struct us_shaper *sh)
{
    if (sh->n_spare) return sh->spare[--sh->n_spare];
    return malloc(BUF_SIZE);
}

static void buf_put(struct us_shaper *sh, uint8_t *b)
{
    if (sh->n_spare == sh->spare_cap) {
        unsigned cap = sh->spare_cap ? sh->spare_cap * 2 : 16;
        if (cap > 4096) {
            free(b);
            return;
        }
        uint8_t **sp = realloc(sh->spare, cap * sizeof(*sp));
        if (!sp) {
            free(b);
            return;
        }
        sh->spare = sp;
        sh->spare_cap = cap;
    }
    sh->spare[sh->n_spare++] = b;
}

/* Admits a frame to the bandwidth queue; returns its departure time, or
 * US_TIME_NEVER when the queue is full (tail drop). */
static us_time_t serialise(struct us_shaper *sh, size_t len, us_time_t now)
{
    if (!sh->f.rate_bps) return now;
    unsigned limit = sh->f.queue_frames ? sh->f.queue_frames : 1000;
    while (sh->dep_count && sh->depart[sh->dep_head] <= now) {
        sh->dep_head = (sh->dep_head + 1) % sh->dep_cap;
        sh->dep_count--;
    }
    if (sh->dep_count >= limit) return US_TIME_NEVER;
    if (sh->dep_count == sh->dep_cap) {
        unsigned cap = sh->dep_cap ? sh->dep_cap * 2 : 64;
        us_time_t *d = malloc(cap * sizeof(*d));
        if (!d) return US_TIME_NEVER;
        for (unsigned i = 0; i < sh->dep_count; i++)
            d[i] = sh->depart[(sh->dep_head + i) % sh->dep_cap];
        free(sh->depart);
        sh->depart = d;
        sh->dep_cap = cap;
        sh->dep_head = 0;
    }
    us_time_t start = max_u64(now, sh->tx_free_at);
    /* Serialisation time in microseconds, rounded up, at least 1. */
    uint64_t bits = (uint64_t)len * 8u;
    us_time_t tx = (bits * 1000000u + sh->f.rate_bps - 1) / sh->f.rate_bps;
    sh->tx_free_at = start + (tx ? tx : 1);
    sh->depart[(sh->dep_head + sh->dep_count) % sh->dep_cap] = sh->tx_free_at;
    sh->dep_count++;
    return sh->tx_free_at;
}

uint64_t us_shaper_push(struct us_shaper *sh, const uint8_t *frame, size_t len, us_time_t now,
                        uint64_t id)
{
    if (!id) id = ++sh->next_id;
    const struct us_faults *f = &sh->f;
    sh->st.sent++;
    if (len > BUF_SIZE) {
        report_drop(sh, id, now, "oversize", frame, len);
        return id;
    }
    if (f->down) {
        sh->st.down_drops++;
        report_drop(sh, id, now, "down", frame, len);
        return id;
    }
    if (rng_chance(&sh->rng, f->loss)) {
        sh->st.lost++;
        report_drop(sh, id, now, "loss", frame, len);
        return id;
    }
    us_time_t depart = serialise(sh, len, now);
    if (depart == US_TIME_NEVER) {
        sh->st.queue_drops++;
        report_drop(sh, id, now, "queue", frame, len);
        return id;
    }
    us_time_t due = depart + f->delay;
    if (rng_chance(&sh->rng, f->reorder)) {
        us_time_t span = f->reorder_delay ? f->reorder_delay : max_u64(1000, 2 * f->delay);
        due += 1 + rng_below(&sh->rng, span);
        sh->st.reordered++;
    }
    int copies = 1;
    if (rng_chance(&sh->rng, f->dup)) {
        copies = 2;
        sh->st.duplicated++;
    }
    bool ipv4 = len > 14 && frame[12] == 0x08 && frame[13] == 0x00;
    for (int c = 0; c < copies; c++) {
        uint8_t *data = buf_get(sh);
        if (!data) return id;
        memcpy(data, frame, len);
        if (ipv4 && rng_chance(&sh->rng, f->corrupt)) {
            uint64_t bit = 14 * 8 + rng_below(&sh->rng, (len - 14) * 8);
            data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            sh->st.corrupted++;
        }
        struct sframe fr = {.due = due, .order = sh->next_order++, .id = id, .len = (uint32_t)len,
                            .data = data};
        heap_push(sh, fr);
    }
    return id;
}

us_time_t us_shaper_next(const struct us_shaper *sh)
{
    return sh->n ? sh->heap[0].due : US_TIME_NEVER;
}

size_t us_shaper_pop(struct us_shaper *sh, us_time_t now, uint8_t *buf, size_t cap, uint64_t *id)
{
    if (!sh->n || sh->heap[0].due > now) return 0;
    struct sframe fr = heap_pop(sh);
    size_t n = min_size(fr.len, cap);
    memcpy(buf, fr.data, n);
    buf_put(sh, fr.data);
    if (id) *id = fr.id;
    sh->st.delivered++;
    return n;
}
