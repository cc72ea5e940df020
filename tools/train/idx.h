/* colconv-train's data: the IDX files of MNIST-style datasets (Debian's
 * dataset-fashion-mnist), gzipped or not, read whole and checked before
 * anything is written. */
#ifndef COLCONV_TRAIN_IDX_H
#define COLCONV_TRAIN_IDX_H

#include <stdbool.h>
#include <stddef.h>

/* One IDX file of unsigned bytes: images (magic 0x00000803: count, rows,
 * cols) or labels (0x00000801: count; rows = cols = 1). */
typedef struct {
    int count, rows, cols;
    unsigned char *data; /* count * rows * cols bytes */
} idx_file;

/* Reads `path` (zlib reads gzip and plain files alike) as an IDX file of
 * `dims` dimensions (3 images, 1 labels). False with a message naming the
 * file in err on: a file that cannot be opened or is not valid gzip; a
 * magic that is not 0x0000 08 <dims>; a dimension of 0 or above 65536
 * (images: rows or cols); fewer bytes than the header declares
 * (truncated); bytes after them. */
bool idx_read(const char *path, int dims, idx_file *out, char *err, size_t err_size);
void idx_free(idx_file *f);

typedef struct {
    idx_file train_images, train_labels, test_images, test_labels;
} idx_dataset;

/* Reads DIR/train-images-idx3-ubyte, train-labels-idx1-ubyte,
 * t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each with .gz, else
 * without) and checks them together: image and label counts equal, train
 * and test images of one size, at most max_rows x max_cols (the network's
 * input), every label below `classes`. False with a message in err (the
 * dataset then holds nothing). */
bool idx_dataset_load(const char *dir, int classes, int max_rows, int max_cols, idx_dataset *ds,
                      char *err, size_t err_size);
void idx_dataset_free(idx_dataset *ds);

#endif
