/* sha256.h - SHA-256 digests (Nettle's) for provenance: of bytes, of one file, and of a set of
 * rule files as one value that changes when any of them does. */
#ifndef CK_SHA256_H
#define CK_SHA256_H
#include <stddef.h>

/* Hex digest (64 chars + NUL) of data. */
void sha256_hex(const void *data, size_t n, char out[65]);
/* Hex digest of a file's bytes (a regular file, opened as io_open_input does); 0, or -1 if it
 * cannot be read. */
int sha256_file_hex(const char *path, char out[65]);
/* The digest of a set of files, in an order that does not depend on how they were found: the
 * SHA-256 of the manifest "<sha256 of the file>  <base name>\n" per distinct path, lines sorted
 * by base name (then path) - what `sha256sum` would print for the files, sorted. Paths given
 * twice count once. 0, or -1 if a file cannot be read. */
int sha256_files_hex(const char *const *paths, size_t n, char out[65]);
#endif
