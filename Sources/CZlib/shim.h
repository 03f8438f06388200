#include <libdeflate.h>
// zlib only for streaming inflate of very large slots (libdeflate is whole-buffer) and for
// locating DEFLATE block boundaries when stitching chunks (libdeflate does not report them).
#include <zlib.h>
#include <string.h>
// inflateInit2 is a macro.
static inline int CZlib_inflateInit2(z_stream *s, int windowBits) { return inflateInit2(s, windowBits); }

// Walks a raw DEFLATE stream block by block (inflate with Z_BLOCK) and reports the bit offset
// where its final block's header starts and the bit offset just past its end-of-block code.
// Returns 0 on success, -1 if the stream is not a complete, valid DEFLATE stream.
static inline int CZlib_deflateFinalBlock(const unsigned char *in, size_t n, unsigned char *scratch,
                                          size_t scratch_size, long *final_start, long *end) {
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, -15) != Z_OK) return -1;
    s.next_in = (Bytef *)in;
    s.avail_in = (uInt)n;
    long block_start = 0;
    int ended = 0;
    for (;;) {
        s.next_out = scratch;
        s.avail_out = (uInt)scratch_size;
        int r = inflate(&s, Z_BLOCK);
        // data_type: bits not yet used from the input taken, +64 once the final block's header
        // was read, +128 when stopped at a block boundary (after an end-of-block code).
        if (s.data_type & 128) {
            long here = (long)(s.next_in - in) * 8 - (s.data_type & 63);
            if (s.data_type & 64) {
                // Right after the final block: the last chance to see its exact end, since
                // inflate drops the padding bits before reporting Z_STREAM_END.
                *final_start = block_start;
                *end = here;
                ended = 1;
            } else {
                block_start = here;
            }
        }
        if (r == Z_STREAM_END) {
            inflateEnd(&s);
            return ended ? 0 : -1;
        }
        if (r != Z_OK && r != Z_BUF_ERROR) break;
        if (r == Z_BUF_ERROR && s.avail_in == 0) break;
    }
    inflateEnd(&s);
    return -1;
}
