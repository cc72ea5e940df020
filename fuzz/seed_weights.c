/* Writes the seed corpus of fuzz_weights into the folder argv[1]: a valid
 * file of the fuzzed network, and copies broken in one way each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_weights_net.h"

static unsigned char *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    unsigned char *data = malloc(1 << 16);
    *size = fread(data, 1, 1 << 16, f);
    fclose(f);
    return data;
}

static int write_seed(const char *dir, const char *name, const unsigned char *data, size_t size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seed_weights DIR\n");
        return 2;
    }
    cc_net *net = fuzz_weights_net(0);
    char valid_path[4096];
    snprintf(valid_path, sizeof valid_path, "%s/valid.ccw", argv[1]);
    if (net == NULL || cc_net_save_weights(net, valid_path) != CC_OK) {
        fprintf(stderr, "cannot save %s: %s\n", valid_path, cc_last_error());
        return 1;
    }
    cc_net_destroy(net);
    size_t size;
    unsigned char *valid = read_all(valid_path, &size);
    unsigned char *copy = malloc(size + 8);
    int failures = 0;
    /* header (16) then record 0: name length 4 + "conv.weight" 11 + rank 4 + dims 16. */
    failures += write_seed(argv[1], "truncated.ccw", valid, size / 2);
    failures += write_seed(argv[1], "header_only.ccw", valid, 16);
    memcpy(copy, valid, size);
    copy[0] = 'X';
    failures += write_seed(argv[1], "bad_magic.ccw", copy, size);
    memcpy(copy, valid, size);
    copy[8] = 2;
    failures += write_seed(argv[1], "bad_version.ccw", copy, size);
    memcpy(copy, valid, size);
    copy[12] = 7;
    failures += write_seed(argv[1], "bad_count.ccw", copy, size);
    memcpy(copy, valid, size);
    copy[16 + 4 + 11 + 4 + 16 + 3] ^= 0x40;
    failures += write_seed(argv[1], "bad_crc.ccw", copy, size);
    memcpy(copy, valid, size);
    copy[16 + 4 + 11 + 4] = 4;
    failures += write_seed(argv[1], "bad_shape.ccw", copy, size);
    memcpy(copy, valid, size);
    copy[16] = 0xff;
    failures += write_seed(argv[1], "bad_name_length.ccw", copy, size);
    memcpy(copy, valid, size);
    memcpy(copy + size, "extra!!!", 8);
    failures += write_seed(argv[1], "trailing.ccw", copy, size + 8);
    free(copy);
    free(valid);
    return failures != 0;
}
