#include "shim.h"
int flavor_shim_argc = 0;
char **flavor_shim_argv = 0;
#if defined(__GLIBC__)
// glibc calls .init_array entries with (argc, argv, envp), static and dynamic alike.
__attribute__((constructor)) static void flavor_shim_capture(int argc, char **argv, char **envp) {
    (void)envp; flavor_shim_argc = argc; flavor_shim_argv = argv;
}
#else
// musl calls constructors with no arguments, so the musl build links with --wrap=main: the C
// start code calls this, which keeps argv and enters the Swift main.
int __real_main(int argc, char **argv);
int __wrap_main(int argc, char **argv) {
    flavor_shim_argc = argc; flavor_shim_argv = argv;
    return __real_main(argc, argv);
}
#endif

// Double(String) in Embedded Swift calls this stdlib hook, which the Embedded stdlib leaves to the
// platform. Static binaries never call setlocale, so strtod parses in the C locale.
const char *_swift_stdlib_strtod_clocale(const char *nptr, double *out) {
    char *end = 0;
    *out = strtod(nptr, &end);
    return end;
}
