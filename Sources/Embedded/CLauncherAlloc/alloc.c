// The Embedded launcher's malloc (musl build). musl's mallocng returns memory to the kernel
// eagerly: a warm start made ~20 mmap/munmap calls for a few KiB of small objects. A launcher lives
// for milliseconds, so this allocator never gives small blocks back to the kernel: power-of-two size
// classes (16 B to 64 KiB) with free lists, carved from a static arena and then from 1 MiB mappings.
// A larger block is a mapping of its own; a few freed ones are kept for reuse, since an extraction
// allocates the same shard-sized buffers again and again and a fresh mapping faults in every page.
//
// Every block has a 16-byte header just before it: the class (or LARGE with the mapping's length,
// or ALIGNED with the distance back to the block that holds it). Thread-safe with one spinlock per
// class; the launcher has at most a few threads.
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

enum { MIN_SHIFT = 4, CLASSES = 13, MAX_SMALL = 1 << (MIN_SHIFT + CLASSES - 1) };  // 16 B … 64 KiB
enum { KIND_SMALL = 0x51, KIND_LARGE = 0x1a, KIND_ALIGNED = 0xa1 };

struct header { uint32_t kind, cls; uint64_t value; };   // value: mapping length, or offset back
struct free_block { struct free_block *next; };

static struct free_block *free_list[CLASSES];
static volatile char class_lock[CLASSES];
static volatile char arena_lock;
static _Alignas(16) unsigned char first_arena[256 << 10];
static unsigned char *arena_next = first_arena, *arena_end = first_arena + sizeof first_arena;

static void lock(volatile char *l) { while (__atomic_test_and_set(l, __ATOMIC_ACQUIRE)) sched_yield(); }
static void unlock(volatile char *l) { __atomic_clear(l, __ATOMIC_RELEASE); }

static int class_of(size_t n) {
    int c = 0;
    while (((size_t)1 << (MIN_SHIFT + c)) < n) c++;
    return c;
}

static void *carve(size_t bytes) {
    lock(&arena_lock);
    if ((size_t)(arena_end - arena_next) < bytes) {
        size_t len = 1 << 20;
        void *m = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) { unlock(&arena_lock); return 0; }
        arena_next = m; arena_end = (unsigned char *)m + len;   // the old arena's tail is given up
    }
    void *p = arena_next;
    arena_next += bytes;
    unlock(&arena_lock);
    return p;
}

// Freed large mappings kept for reuse: at most LARGE_CACHE of them, each at most 64 MiB.
enum { LARGE_CACHE = 8 };
static struct { void *p; size_t len; } large_cache[LARGE_CACHE];
static volatile char large_lock;

static struct header *large_alloc(size_t n, int *fresh) {
    size_t len = (n + sizeof(struct header) + 4095) & ~(size_t)4095;
    lock(&large_lock);
    int best = -1;
    for (int i = 0; i < LARGE_CACHE; i++) {
        size_t l = large_cache[i].len;
        // Big enough, and not so big that a small request pins a huge mapping.
        if (large_cache[i].p && l >= len && l / 2 <= len && (best < 0 || l < large_cache[best].len)) best = i;
    }
    if (best >= 0) {
        struct header *h = large_cache[best].p;
        large_cache[best].p = 0;
        unlock(&large_lock);
        *fresh = 0;
        return h;   // its header still holds its own length
    }
    unlock(&large_lock);
    struct header *h = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (h == MAP_FAILED) return 0;
    h->kind = KIND_LARGE; h->value = len;
    *fresh = 1;
    return h;
}

static void large_free(struct header *h) {
    if (h->value <= (64u << 20)) {
        lock(&large_lock);
        for (int i = 0; i < LARGE_CACHE; i++) {
            if (!large_cache[i].p) { large_cache[i].p = h; large_cache[i].len = h->value; unlock(&large_lock); return; }
        }
        unlock(&large_lock);
    }
    munmap(h, h->value);
}

static void *malloc_fresh(size_t n, int *fresh) {
    if (n <= MAX_SMALL - sizeof(struct header)) {
        int c = class_of(n + sizeof(struct header));
        struct header *h;
        lock(&class_lock[c]);
        struct free_block *b = free_list[c];
        if (b) free_list[c] = b->next;
        unlock(&class_lock[c]);
        h = b ? (struct header *)b : carve((size_t)1 << (MIN_SHIFT + c));
        if (!h) { errno = ENOMEM; return 0; }
        h->kind = KIND_SMALL; h->cls = (uint32_t)c;
        *fresh = 0;
        return h + 1;
    }
    if (n > SIZE_MAX / 2) { errno = ENOMEM; return 0; }
    struct header *h = large_alloc(n, fresh);
    if (!h) { errno = ENOMEM; return 0; }
    return h + 1;
}

void *malloc(size_t n) {
    int fresh;
    return malloc_fresh(n, &fresh);
}

static struct header *header_of(void *p) {
    struct header *h = (struct header *)p - 1;
    return h->kind == KIND_ALIGNED ? (struct header *)((unsigned char *)p - h->value) - 1 : h;
}

void free(void *p) {
    if (!p) return;
    struct header *h = header_of(p);
    if (h->kind == KIND_LARGE) { large_free(h); return; }
    int c = (int)h->cls;
    struct free_block *b = (struct free_block *)h;
    lock(&class_lock[c]);
    b->next = free_list[c];
    free_list[c] = b;
    unlock(&class_lock[c]);
}

size_t malloc_usable_size(void *p) {
    if (!p) return 0;
    struct header *h = header_of(p);
    size_t total = h->kind == KIND_LARGE ? h->value : (size_t)1 << (MIN_SHIFT + h->cls);
    return total - sizeof(struct header) - (size_t)((unsigned char *)p - (unsigned char *)(h + 1));
}

void *calloc(size_t count, size_t size) {
    if (size && count > SIZE_MAX / size) { errno = ENOMEM; return 0; }
    size_t n = count * size;
    int fresh;
    void *p = malloc_fresh(n, &fresh);
    if (p && !fresh) memset(p, 0, n);   // a new mapping is already zero
    return p;
}

void *realloc(void *p, size_t n) {
    if (!p) return malloc(n);
    if (n == 0) { free(p); return 0; }
    size_t have = malloc_usable_size(p);
    if (n <= have) return p;
    void *q = malloc(n);
    if (q) { memcpy(q, p, have); free(p); }
    return q;
}

void *aligned_alloc(size_t align, size_t n) {
    if (align <= 16) return malloc(n);
    if (align & (align - 1)) { errno = EINVAL; return 0; }
    if (n > SIZE_MAX - align - sizeof(struct header)) { errno = ENOMEM; return 0; }
    unsigned char *base = malloc(n + align + sizeof(struct header));
    if (!base) return 0;
    unsigned char *p = (unsigned char *)(((uintptr_t)base + sizeof(struct header) + align - 1) & ~(uintptr_t)(align - 1));
    struct header *h = (struct header *)p - 1;
    h->kind = KIND_ALIGNED; h->value = (uint64_t)(p - base);
    return p;
}

int posix_memalign(void **out, size_t align, size_t n) {
    if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
    void *p = aligned_alloc(align, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

void *memalign(size_t align, size_t n) { return aligned_alloc(align, n); }
