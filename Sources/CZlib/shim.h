// zlib only for streaming inflate of very large slots (libdeflate is whole-buffer).
#include <zlib.h>
// inflateInit2 is a macro.
static inline int CZlib_inflateInit2(z_stream *s, int windowBits) { return inflateInit2(s, windowBits); }
