/* CRC-32 (IEEE 802.3, zlib's crc32): the checksum of colconv's files
 * (weights, plans). */
#ifndef COLCONV_CRC32_H
#define COLCONV_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* The CRC of `size` more bytes after a running crc (0 to start): as zlib's
 * crc32(crc, data, size), so cc__crc32(cc__crc32(0, a, n), b, m) is the CRC
 * of a followed by b. */
uint32_t cc__crc32(uint32_t crc, const void *data, size_t size);

#endif
