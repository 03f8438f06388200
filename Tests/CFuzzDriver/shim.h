#ifndef FLAVOR_FUZZ_DRIVER_H
#define FLAVOR_FUZZ_DRIVER_H
#include <stddef.h>
#include <stdint.h>

// libFuzzer's entry for programs with their own main (libclang_rt.fuzzer_no_main). Weak: the
// ordinary build has no libFuzzer, and flavor-fuzz then only replays corpus files (scripts/fuzz
// links it in for real fuzzing).
typedef int (*flavor_fuzz_callback)(const uint8_t *data, size_t size);
extern int LLVMFuzzerRunDriver(int *argc, char ***argv, flavor_fuzz_callback cb) __attribute__((weak));

static inline int flavor_fuzz_driver_linked(void) { return LLVMFuzzerRunDriver != 0; }
static inline int flavor_fuzz_run_driver(int *argc, char ***argv, flavor_fuzz_callback cb) {
    return LLVMFuzzerRunDriver(argc, argv, cb);
}
#endif
