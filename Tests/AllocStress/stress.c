// Stress test of the Embedded launcher's allocator (Sources/Embedded/CLauncherAlloc/alloc.c),
// linked in its place with musl, as the launcher links it. Four threads allocate, fill, check,
// grow and free blocks of every size class, large (mapped) blocks and over-aligned blocks; each
// block holds a pattern derived from its address and size, checked before it is freed, so two
// live blocks that overlap, or a block handed out twice, fail the run. Exit 0 and "ok" on success.
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>

enum { SLOTS = 512, ROUNDS = 20000, THREADS = 4 };

struct block { unsigned char *p; size_t n; unsigned char tag; };

static uint64_t next(uint64_t *s) {   // SplitMix64
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static size_t pick_size(uint64_t r) {
    switch (r % 8) {
    case 0: return r >> 40 & 15;                 // 0..15
    case 1: case 2: return (r >> 32) % 512;      // small classes
    case 3: case 4: return (r >> 32) % 70000;    // up to and past the largest class
    case 5: return 65536 - 16 + (r >> 40) % 32;  // around the small/large border
    case 6: return (r >> 32) % (1 << 20);        // large, mapped
    default: return (r >> 32) % 4096;
    }
}

static int check(const struct block *b) {
    for (size_t i = 0; i < b->n; i += 1 + (i >> 6)) if (b->p[i] != (unsigned char)(b->tag + i)) return 0;
    return b->n == 0 || b->p[b->n - 1] == (unsigned char)(b->tag + b->n - 1);
}

static void fill(struct block *b) { for (size_t i = 0; i < b->n; i++) b->p[i] = (unsigned char)(b->tag + i); }

static void *worker(void *arg) {
    uint64_t seed = (uint64_t)(uintptr_t)arg * 7919 + 1;
    struct block *slots = calloc(SLOTS, sizeof *slots);
    if (!slots) return "calloc of the slot table failed";
    for (int round = 0; round < ROUNDS; round++) {
        uint64_t r = next(&seed);
        struct block *b = &slots[r % SLOTS];
        if (b->p && !check(b)) return "a block's contents changed while it was live";
        switch ((r >> 20) % 6) {
        case 0: case 1: {   // malloc or calloc a new block in this slot
            free(b->p);
            b->n = pick_size(next(&seed));
            int zeroed = (r >> 24) & 1;
            b->p = zeroed ? calloc(1, b->n) : malloc(b->n);
            if (!b->p && b->n) return "allocation failed";
            if (zeroed) for (size_t i = 0; i < b->n; i++) if (b->p[i]) return "calloc returned non-zero bytes";
            if (malloc_usable_size(b->p) < b->n) return "usable size below the request";
            if ((uintptr_t)b->p % 16) return "a block is not 16-byte aligned";
            b->tag = (unsigned char)r; fill(b);
            break;
        }
        case 2: {           // grow or shrink, keeping the common prefix
            if (!b->p) break;
            size_t n = pick_size(next(&seed)) + 1, keep = n < b->n ? n : b->n;
            unsigned char *q = realloc(b->p, n);
            if (!q) return "realloc failed";
            for (size_t i = 0; i < keep; i++) if (q[i] != (unsigned char)(b->tag + i)) return "realloc lost bytes";
            b->p = q; b->n = n; fill(b);
            break;
        }
        case 3: {           // over-aligned
            free(b->p);
            size_t align = (size_t)32 << ((r >> 28) % 8);   // 32 B … 4 KiB
            b->n = pick_size(next(&seed));
            void *p = 0;
            if (posix_memalign(&p, align, b->n) != 0) return "posix_memalign failed";
            if ((uintptr_t)p % align) return "posix_memalign misaligned";
            b->p = p; b->tag = (unsigned char)(r >> 8); fill(b);
            break;
        }
        default:            // free
            free(b->p); b->p = 0; b->n = 0;
        }
    }
    for (int i = 0; i < SLOTS; i++) { if (slots[i].p && !check(&slots[i])) return "a block changed"; free(slots[i].p); }
    free(slots);
    return 0;
}

int main(void) {
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++) if (pthread_create(&t[i], 0, worker, (void *)(i + 1))) { puts("pthread_create failed"); return 1; }
    int failed = 0;
    for (int i = 0; i < THREADS; i++) {
        void *why = 0;
        pthread_join(t[i], &why);
        if (why) { printf("thread %d: %s\n", i, (const char *)why); failed = 1; }
    }
    if (realloc(malloc(8), 0) != 0) { puts("realloc(p, 0) did not free"); failed = 1; }
    if (!failed) puts("ok");
    return failed;
}
