/*
 * rand.c: xoshiro256** (Blackman & Vigna) seeded through splitmix64, and
 * SipHash-2-4 through libsodium.
 */
#include "core/rand.h"

#include <sodium.h>
#include <string.h>

uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

void rng_seed(struct rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t rng_below(struct rng *r, uint64_t n)
{
    /* Lemire's multiply-shift; the tiny bias is irrelevant here. */
    return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

int rng_chance(struct rng *r, double pct)
{
    if (pct <= 0) return 0;
    if (pct >= 100) return 1;
    double u = (double)(rng_next(r) >> 11) * 0x1.0p-53;
    return u * 100.0 < pct;
}

void rng_bytes(struct rng *r, void *out, size_t len)
{
    uint8_t *p = out;
    while (len) {
        uint64_t v = rng_next(r);
        size_t n = len < 8 ? len : 8;
        memcpy(p, &v, n);
        p += n;
        len -= n;
    }
}

uint64_t keyed_hash(const uint8_t key[KEYED_HASH_KEYBYTES], const void *data, size_t len)
{
    unsigned char out[crypto_shorthash_siphash24_BYTES];
    crypto_shorthash_siphash24(out, data, len, key);
    uint64_t v;
    memcpy(&v, out, sizeof(v));
    return v;
}
