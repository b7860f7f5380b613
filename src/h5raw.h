/* h5raw.h - the attributes of one HDF5 object header in compact storage, read straight from the
 * file in one pass. Why not HDF5: a cstorch (h5py) checkpoint keeps one "<key>.__metadata__"
 * attribute per tensor in the root group's version-1 object header, and HDF5 finds an attribute
 * there by name by scanning all of them (20,000 keys: O(N^2) string comparisons); no HDF5 call
 * returns their values in one pass. Reading them here also keeps libhdf5's attribute decoder and
 * global-heap loader (the bugs docs/security.md lists) away from the largest hostile structure.
 * Formats: the HDF5 file format specification (object header v1, attribute, datatype, dataspace
 * and continuation messages, global heap collections). */
#ifndef CK_H5RAW_H
#define CK_H5RAW_H

#include <stddef.h>
#include <stdint.h>

typedef enum { H5RAW_STR, H5RAW_NUM, H5RAW_OTHER } h5raw_kind;

typedef struct h5raw_attr {
	const char *name;  /* NUL-terminated */
	h5raw_kind kind;
	const char *str;   /* H5RAW_STR: len bytes (not NUL-terminated; a fixed string up to its NUL) */
	size_t len;
	double num;        /* H5RAW_NUM: integer or float value; enums/bitfields: 0 or 1 */
	int truthy;        /* H5RAW_NUM: any bit set, as Python's bool() sees it */
} h5raw_attr;

typedef struct h5raw h5raw;

/* Where the object header is: the file's base address (its user block size), the header's
 * address relative to it, the superblock's sizes of offsets and lengths, the file's size. */
typedef struct h5raw_loc {
	int fd;
	uint64_t base, addr, fsize;
	int sizeof_addr, sizeof_size;
} h5raw_loc;

/* Reads every attribute of the object header at loc. 0 with *out set; 0 with *out NULL when the
 * header is of a form not read here (a version-2 header, dense or shared attributes: HDF5 reads
 * those by name in logarithmic time); -1 with why (a static reason) when the header or a heap it
 * points at is malformed (out of the file, sizes that do not add up, a duplicate name). Bytes
 * held are bounded by the file's size. */
int h5raw_read(const h5raw_loc *loc, h5raw **out, const char **why);
/* The attribute called name, or NULL. */
const h5raw_attr *h5raw_get(const h5raw *r, const char *name);
size_t h5raw_count(const h5raw *r);
void h5raw_free(h5raw *r);

#endif
