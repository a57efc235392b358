/* Internet checksum: RFC 1071 vectors, a reference comparison at every
 * length and alignment, and RFC 1624 incremental update. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/csum.h"
#include "core/rand.h"
#include "core/util.h"

/* The textbook algorithm, 16 bits at a time, big-endian. */
static uint16_t ref_csum(const uint8_t *p, size_t len)
{
    uint64_t sum = 0; /* 64 bits: large buffers would overflow 32 */
    for (size_t i = 0; i + 1 < len; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1) sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

Test(csum, rfc1071_example)
{
    /* RFC 1071 §3: the sum of 0001 f203 f4f5 f6f7 is ddf2. */
    const uint8_t d[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    cr_assert_eq(csum(d, sizeof(d)), (uint16_t)~0xddf2);
}

Test(csum, ipv4_header_known_value)
{
    uint8_t h[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                   0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    cr_assert_eq(csum(h, sizeof(h)), 0xb861);
    wr16(h + 10, 0xb861);
    cr_assert_eq(csum(h, sizeof(h)), 0, "a header with its checksum sums to zero");
}

Test(csum, matches_reference_at_every_length_and_alignment)
{
    struct rng r;
    rng_seed(&r, 42);
    uint8_t buf[2100];
    rng_bytes(&r, buf, sizeof(buf));
    for (size_t off = 0; off < 8; off++)
        for (size_t len = 0; len < 2048; len += (len < 80 ? 1 : 37))
            cr_assert_eq(csum(buf + off, len), ref_csum(buf + off, len), "off %zu len %zu", off,
                         len);
}

Test(csum, all_ones_data)
{
    uint8_t buf[1500];
    memset(buf, 0xff, sizeof(buf));
    cr_assert_eq(csum(buf, sizeof(buf)), ref_csum(buf, sizeof(buf)));
}

/* The sum runs in chunks of 64 KiB (32-bit lanes that must not
 * overflow): a 64 KiB GSO frame and more, with the worst data for an
 * overflow (all ones) and random data. */
Test(csum, large_buffers_across_chunks)
{
    static uint8_t big[300001];
    memset(big, 0xff, sizeof(big));
    for (size_t len = 65530; len < 65545; len++)
        cr_assert_eq(csum(big, len), ref_csum(big, len), "all ones, len %zu", len);
    cr_assert_eq(csum(big, sizeof(big)), ref_csum(big, sizeof(big)));
    struct rng r;
    rng_seed(&r, 9);
    rng_bytes(&r, big, sizeof(big));
    cr_assert_eq(csum(big + 1, sizeof(big) - 1), ref_csum(big + 1, sizeof(big) - 1));
    cr_assert_eq(csum(big, 65536 * 4 + 2), ref_csum(big, 65536 * 4 + 2));
}

Test(csum, split_sums_compose)
{
    struct rng r;
    rng_seed(&r, 7);
    uint8_t buf[1000];
    rng_bytes(&r, buf, sizeof(buf));
    for (size_t cut = 0; cut <= 1000; cut += 2) {
        uint32_t s = csum_add(csum_add(0, buf, cut), buf + cut, 1000 - cut);
        cr_assert_eq(csum_fold(s), csum(buf, 1000));
    }
}

Test(csum, pseudo_header)
{
    /* The pseudo-header sum equals the checksum of its 12 bytes. */
    uint8_t ph[12] = {10, 0, 0, 1, 10, 0, 0, 2, 0, 6, 0x05, 0xdc};
    cr_assert_eq(csum_fold(csum_pseudo(0x0a000001, 0x0a000002, 6, 1500)), csum(ph, 12));
    /* And as a partial sum that data is added to, for any addresses
     * (carries out of every word included). */
    struct rng r;
    rng_seed(&r, 11);
    for (int i = 0; i < 10000; i++) {
        uint32_t a = (uint32_t)rng_next(&r), b = i % 7 ? (uint32_t)rng_next(&r) : 0xffffffffu;
        uint16_t len = (uint16_t)rng_next(&r);
        uint8_t proto = i & 1 ? 6 : 17;
        uint8_t buf[12 + 9];
        wr32(buf, a);
        wr32(buf + 4, b);
        buf[8] = 0;
        buf[9] = proto;
        wr16(buf + 10, len);
        rng_bytes(&r, buf + 12, 9);
        uint16_t want = csum(buf, sizeof(buf));
        uint16_t got = csum_fold(csum_add(csum_pseudo(a, b, proto, len), buf + 12, 9));
        cr_assert_eq(got, want, "src %08x dst %08x proto %u len %u", a, b, proto, len);
    }
}

Test(csum, rfc1624_incremental_update)
{
    struct rng r;
    rng_seed(&r, 99);
    for (int i = 0; i < 20000; i++) {
        uint8_t h[20];
        rng_bytes(&r, h, sizeof(h));
        wr16(h + 10, 0);
        wr16(h + 10, csum(h, 20));
        size_t field = 2 * rng_below(&r, 10);
        if (field == 10) continue;
        uint16_t old = rd16(h + field), nw = (uint16_t)rng_next(&r);
        if (i % 7 == 0) nw = (uint16_t)~old; /* the -0/+0 corner of RFC 1624 §3 */
        wr16(h + field, nw);
        uint16_t inc = csum_update16(rd16(h + 10), old, nw);
        wr16(h + 10, inc);
        cr_assert_eq(csum(h, 20), 0, "incremental update keeps the header valid (iter %d)", i);
    }
}

Test(csum, rfc1624_update32)
{
    uint8_t h[20] = {0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2};
    wr16(h + 10, csum(h, 20));
    uint32_t old = rd32(h + 16);
    wr32(h + 16, 0xc0a80101);
    wr16(h + 10, csum_update32(rd16(h + 10), old, 0xc0a80101));
    cr_assert_eq(csum(h, 20), 0);
}

Test(csum, ip20_matches_csum)
{
    /* The inline 20-byte header sum against the general routine: the
     * textbook header, all ones and all zeros (the fold's corners), and
     * random headers with and without their checksum filled in. */
    uint8_t h[20] = {0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0, 0, 0xc0, 0xa8, 0, 1, 0xc0, 0xa8, 0, 0xc7};
    cr_assert_eq(csum_ip20(h), 0xb861);
    memset(h, 0xff, sizeof(h));
    cr_assert_eq(csum_ip20(h), csum(h, 20));
    memset(h, 0, sizeof(h));
    cr_assert_eq(csum_ip20(h), csum(h, 20));
    struct rng r;
    rng_seed(&r, 20);
    for (int i = 0; i < 100000; i++) {
        rng_bytes(&r, h, sizeof(h));
        if (i % 3 == 0) memset(h + 12, 0xff, 8); /* large words: carries out of 32 bits */
        cr_assert_eq(csum_ip20(h), csum(h, 20), "iteration %d", i);
        wr16(h + 10, 0);
        wr16(h + 10, csum_ip20(h));
        cr_assert_eq(csum_ip20(h), 0, "a header with its checksum sums to zero (iteration %d)", i);
    }
}
