// Only OpenSSL's low-level SHA-256 is used: it picks SHA-NI at run time and,
// linked statically, pulls in ~30 KB instead of the whole EVP/provider stack.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>
