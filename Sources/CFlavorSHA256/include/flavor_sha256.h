#ifndef FLAVOR_SHA256_H
#define FLAVOR_SHA256_H
// SHA-256 (FIPS 180-4) with SHA-NI when the CPU has it. Our own code instead of OpenSSL's:
// linking libcrypto runs its CPUID constructor in every process, and CPUID traps to the
// hypervisor on cloud VMs (~5 us each here), which the warm launch pays on every start.
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t state[8];
    uint64_t length;        // bytes hashed so far
    uint8_t block[64];      // pending partial block
    uint32_t used;          // bytes in block
    int portable;           // 1: never use SHA-NI (tests compare both paths)
} flavor_sha256_ctx;

void flavor_sha256_init(flavor_sha256_ctx *ctx, int portable);
void flavor_sha256_update(flavor_sha256_ctx *ctx, const void *data, size_t count);
void flavor_sha256_final(flavor_sha256_ctx *ctx, uint8_t digest[32]);
// 1 when SHA-NI is used (glibc's cached CPU features: no CPUID instruction is executed).
int flavor_sha256_accelerated(void);

#endif
