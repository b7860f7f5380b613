/* sha256.h - SHA-256 (FIPS 180-4), for the provenance record of the rule file used. */
#ifndef CK_SHA256_H
#define CK_SHA256_H
#include <stddef.h>
#include <stdint.h>

/* Hex digest (64 chars + NUL) of a file's bytes; 0 on success, -1 if unreadable. */
int sha256_file_hex(const char *path, char out[65]);
void sha256_hex(const void *data, size_t n, char out[65]);
#endif
