#include "flavor_sha256.h"
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#if defined(__GLIBC__)
#include <sys/platform/x86.h>
#else
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#endif
#endif

static const uint32_t K256[64] __attribute__((aligned(16))) = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
static inline uint32_t load_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void blocks_portable(uint32_t s[8], const uint8_t *p, size_t n) {
    uint32_t w[64];
    while (n--) {
        for (int t = 0; t < 16; t++) w[t] = load_be32(p + 4 * t);
        for (int t = 16; t < 64; t++) {
            uint32_t s0 = ror(w[t - 15], 7) ^ ror(w[t - 15], 18) ^ (w[t - 15] >> 3);
            uint32_t s1 = ror(w[t - 2], 17) ^ ror(w[t - 2], 19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
        uint32_t a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
        for (int t = 0; t < 64; t++) {
            uint32_t t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K256[t] + w[t];
            uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
        }
        s[0] += a; s[1] += b; s[2] += c; s[3] += d; s[4] += e; s[5] += f; s[6] += g; s[7] += h;
        p += 64;
    }
}

#if defined(__x86_64__)
// Four rounds: the message words plus their constants feed two SHA256RNDS2 steps.
#define QUAD(i, m) do { \
        __m128i k_ = _mm_add_epi32((m), _mm_load_si128((const __m128i *)&K256[4 * (i)])); \
        cdgh = _mm_sha256rnds2_epu32(cdgh, abef, k_); \
        abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(k_, 0x0E)); \
    } while (0)
// W[t..t+3] from W[t-16..t-1], held as four vectors (a oldest, d newest); the result replaces a.
#define NEXT(a, b, c, d) \
    (a) = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32((a), (b)), _mm_alignr_epi8((d), (c), 4)), (d))

__attribute__((target("sha,sse4.1,ssse3")))
static void blocks_shani(uint32_t s[8], const uint8_t *p, size_t n) {
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    // State as the instructions want it: ABEF and CDGH.
    __m128i dcba = _mm_loadu_si128((const __m128i *)&s[0]);
    __m128i hgfe = _mm_loadu_si128((const __m128i *)&s[4]);
    __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
    __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
    __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
    __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
    while (n--) {
        const __m128i abef0 = abef, cdgh0 = cdgh;
        __m128i w0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 0)), bswap);
        __m128i w1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), bswap);
        __m128i w2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), bswap);
        __m128i w3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), bswap);
        QUAD(0, w0); QUAD(1, w1); QUAD(2, w2); QUAD(3, w3);
        NEXT(w0, w1, w2, w3); QUAD(4, w0);
        NEXT(w1, w2, w3, w0); QUAD(5, w1);
        NEXT(w2, w3, w0, w1); QUAD(6, w2);
        NEXT(w3, w0, w1, w2); QUAD(7, w3);
        NEXT(w0, w1, w2, w3); QUAD(8, w0);
        NEXT(w1, w2, w3, w0); QUAD(9, w1);
        NEXT(w2, w3, w0, w1); QUAD(10, w2);
        NEXT(w3, w0, w1, w2); QUAD(11, w3);
        NEXT(w0, w1, w2, w3); QUAD(12, w0);
        NEXT(w1, w2, w3, w0); QUAD(13, w1);
        NEXT(w2, w3, w0, w1); QUAD(14, w2);
        NEXT(w3, w0, w1, w2); QUAD(15, w3);
        abef = _mm_add_epi32(abef, abef0);
        cdgh = _mm_add_epi32(cdgh, cdgh0);
        p += 64;
    }
    __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)&s[0], _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128((__m128i *)&s[4], _mm_alignr_epi8(dchg, feba, 8));
}
#endif

#if defined(__x86_64__) && !defined(__GLIBC__)
// musl keeps no CPU feature cache, and CPUID traps to the hypervisor on a VM: 4.6 µs each on our
// CI machines, four per check (leaves 0, 1, 0, 7), 7% of a warm start. So the launcher asks the CPU
// itself, once: it runs one SHA-NI, one SSSE3 and one SSE4.1 instruction with SIGILL caught, which
// costs four system calls and traps only on a CPU without them.
static sigjmp_buf probe_jump;
static int shani_usable;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

static void probe_trap(int sig) {
    (void)sig;
    siglongjmp(probe_jump, 1);
}

static void probe_shani(void) {
    struct sigaction trap, saved;
    memset(&trap, 0, sizeof trap);
    trap.sa_handler = probe_trap;
    sigemptyset(&trap.sa_mask);
    if (sigaction(SIGILL, &trap, &saved) != 0) return;
    // A blocked SIGILL would kill the process instead of reaching the handler (the mask is
    // inherited across exec); sigsetjmp(…, 1) restores the mask on the way back.
    sigset_t ill, mask;
    sigemptyset(&ill);
    sigaddset(&ill, SIGILL);
    pthread_sigmask(SIG_UNBLOCK, &ill, &mask);
    if (sigsetjmp(probe_jump, 1) == 0) {
        __asm__ volatile("sha256rnds2 %%xmm0, %%xmm1, %%xmm1\n\t"
                         "pshufb %%xmm1, %%xmm1\n\t"
                         "pblendw $0, %%xmm1, %%xmm1" ::: "xmm0", "xmm1");
        shani_usable = 1;
    }
    pthread_sigmask(SIG_SETMASK, &mask, NULL);
    sigaction(SIGILL, &saved, NULL);
}

static int cpu_has_shani(void) {
    pthread_once(&probe_once, probe_shani);
    return shani_usable;
}
#endif

int flavor_sha256_accelerated(void) {
#if defined(__x86_64__) && defined(__GLIBC__)
    return CPU_FEATURE_ACTIVE(SHA) && CPU_FEATURE_ACTIVE(SSE4_1) && CPU_FEATURE_ACTIVE(SSSE3);
#elif defined(__x86_64__)
    return cpu_has_shani();
#else
    return 0;
#endif
}

static void blocks(flavor_sha256_ctx *ctx, const uint8_t *p, size_t n) {
#if defined(__x86_64__)
    if (!ctx->portable) { blocks_shani(ctx->state, p, n); return; }
#endif
    blocks_portable(ctx->state, p, n);
}

void flavor_sha256_init(flavor_sha256_ctx *ctx, int portable) {
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(ctx->state, iv, sizeof iv);
    ctx->length = 0;
    ctx->used = 0;
    ctx->portable = portable || !flavor_sha256_accelerated();
}

void flavor_sha256_update(flavor_sha256_ctx *ctx, const void *data, size_t count) {
    const uint8_t *p = data;
    ctx->length += count;
    if (ctx->used) {
        size_t take = 64 - ctx->used < count ? 64 - ctx->used : count;
        memcpy(ctx->block + ctx->used, p, take);
        ctx->used += (uint32_t)take; p += take; count -= take;
        if (ctx->used < 64) return;
        blocks(ctx, ctx->block, 1);
        ctx->used = 0;
    }
    if (count >= 64) {
        blocks(ctx, p, count / 64);
        p += count & ~(size_t)63;
        count &= 63;
    }
    if (count) { memcpy(ctx->block, p, count); ctx->used = (uint32_t)count; }
}

void flavor_sha256_final(flavor_sha256_ctx *ctx, uint8_t digest[32]) {
    uint64_t bits = ctx->length * 8;
    uint8_t pad[72] = {0x80};
    size_t padLength = (ctx->used < 56 ? 56 : 120) - ctx->used;
    for (int i = 0; i < 8; i++) pad[padLength + i] = (uint8_t)(bits >> (56 - 8 * i));
    flavor_sha256_update(ctx, pad, padLength + 8);
    for (int i = 0; i < 8; i++) {
        digest[4 * i] = (uint8_t)(ctx->state[i] >> 24); digest[4 * i + 1] = (uint8_t)(ctx->state[i] >> 16);
        digest[4 * i + 2] = (uint8_t)(ctx->state[i] >> 8); digest[4 * i + 3] = (uint8_t)ctx->state[i];
    }
}
