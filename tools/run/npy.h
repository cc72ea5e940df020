/* NumPy's .npy files of float32, as numpy.save writes them: the magic
 * "\x93NUMPY", a version (1.0, 2.0 or 3.0), a header length (2 bytes in
 * 1.0, 4 after), a Python dict literal {'descr': '<f4', 'fortran_order':
 * False, 'shape': (3, 1, 32, 32), } padded with spaces to a multiple of 64
 * bytes, then the data, little-endian, C order. Only that is read: other
 * dtypes, Fortran order, a header over 64 kB, a shape of more than
 * NPY_MAX_RANK dims, an element count that overflows, and data shorter or
 * longer than the shape are errors. */
#ifndef COLCONV_RUN_NPY_H
#define COLCONV_RUN_NPY_H

#include <stddef.h>
#include <stdint.h>

enum { NPY_MAX_RANK = 8, NPY_ERROR_SIZE = 256 };

typedef struct {
    int rank;                    /* 0 for a scalar */
    int64_t shape[NPY_MAX_RANK];
    size_t count;                /* the product of the dims (1 for a scalar) */
    float *data;                 /* malloc'd; free with npy_free */
} npy_array;

/* Parses a whole .npy file held in bytes into *out. Returns 0, or -1 with
 * the reason in error (NPY_ERROR_SIZE bytes). */
int npy_parse(const unsigned char *bytes, size_t size, npy_array *out, char *error);

/* Reads the file at path (npy_parse's rules; the reason for a file that
 * cannot be read names it). */
int npy_read(const char *path, npy_array *out, char *error);

/* Writes data (the product of shape's rank dims floats) as a version 1.0
 * .npy file. Returns 0, or -1 with the reason in error. */
int npy_write(const char *path, const float *data, int rank, const int64_t *shape, char *error);

/* NULL data is fine. */
void npy_free(npy_array *array);

#endif
