// Definitions that keep parts of Debian's static libraries out of the Embedded launcher. Those
// archives are not built with -ffunction-sections, so one referenced symbol keeps its whole object
// file, and whatever that file references, alive. Defining the symbol here first stops the chain.
// Each replacement is only reached on a path the launcher refuses or never takes (see the notes).
#include <stddef.h>
#include <stdlib.h>

// libsodium: sodium_memzero (utils.o, needed by SHA-512) pulls _sodium_malloc, whose failure path
// calls sodium_misuse in core.o, and core.o holds sodium_init, which references every primitive's
// implementation picker (BLAKE2b, Argon2, ChaCha20, Salsa20, Poly1305, Curve25519): ~115 KiB. The
// launcher only verifies Ed25519 signatures and never calls sodium_init or sodium_malloc.
void sodium_misuse(void) { abort(); }

// libzstd: ZSTD_decompress dispatches frames of the 2016 pre-release formats v0.5–v0.7 to legacy
// decoders (~88 KiB). FlavorSys.Zstd refuses those frames before calling zstd, in every build, so
// these stand-ins are never reached; if one were, it fails as a corrupt frame would.
#define ZSTD_LEGACY_ERROR ((size_t)-1)
#define LEGACY_STUBS(v) \
    void *ZSTD##v##_createDCtx(void) { return NULL; } \
    size_t ZSTD##v##_freeDCtx(void *d) { (void)d; return 0; } \
    size_t ZSTD##v##_decompress_usingDict(void *d, void *dst, size_t n, const void *src, size_t sn, const void *dict, size_t dn) { \
        (void)d; (void)dst; (void)n; (void)src; (void)sn; (void)dict; (void)dn; return ZSTD_LEGACY_ERROR; } \
    void ZSTD##v##_findFrameSizeInfoLegacy(const void *src, size_t sn, size_t *csize, unsigned long long *bound) { \
        (void)src; (void)sn; *csize = ZSTD_LEGACY_ERROR; *bound = 0ULL - 2; } \
    size_t ZSTD##v##_getFrameParams(void *params, const void *src, size_t sn) { (void)params; (void)src; (void)sn; return ZSTD_LEGACY_ERROR; } \
    void *ZBUFF##v##_createDCtx(void) { return NULL; } \
    size_t ZBUFF##v##_freeDCtx(void *d) { (void)d; return 0; } \
    size_t ZBUFF##v##_decompressInitDictionary(void *d, const void *dict, size_t dn) { (void)d; (void)dict; (void)dn; return ZSTD_LEGACY_ERROR; } \
    size_t ZBUFF##v##_decompressContinue(void *d, void *dst, size_t *dn, const void *src, size_t *sn) { \
        (void)d; (void)dst; (void)dn; (void)src; (void)sn; return ZSTD_LEGACY_ERROR; }
LEGACY_STUBS(v05)
LEGACY_STUBS(v06)
LEGACY_STUBS(v07)
