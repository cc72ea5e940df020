/* libFuzzer target: cc_net_load_weights. The bytes are a weights file, loaded
 * into a built and an unbuilt copy of a small network (fuzz_weights_net.h).
 * Both loads must give the same status, one of the documented ones with a
 * message; a failed load must leave the network computing exactly what it
 * did; a successful one must survive a save and reload unchanged. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_weights_net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUTS (2 * 5 * 5)
#define OUTPUTS 4

static cc_net *built, *unbuilt;
static char path[64], again_path[64], baseline_path[64];
static float input[INPUTS], baseline[OUTPUTS];

static void require(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_weights: %s (%s)\n", what, cc_last_error());
        abort();
    }
}

static void run(float *output)
{
    require(cc_net_run(built, input, output) == CC_OK, "run");
}

static void setup(void)
{
    built = fuzz_weights_net(1);
    unbuilt = fuzz_weights_net(0);
    require(built != NULL && unbuilt != NULL, "network");
    snprintf(path, sizeof path, "/tmp/fuzz_weights_%d.ccw", (int)getpid());
    snprintf(again_path, sizeof again_path, "/tmp/fuzz_weights_%d.again.ccw", (int)getpid());
    snprintf(baseline_path, sizeof baseline_path, "/tmp/fuzz_weights_%d.base.ccw", (int)getpid());
    require(cc_net_save_weights(built, baseline_path) == CC_OK, "save baseline");
    for (int i = 0; i < INPUTS; i++)
        input[i] = (float)(i % 7) / 7.0f - 0.4f;
    run(baseline);
}

static void write_file(const char *name, const uint8_t *data, size_t size)
{
    FILE *f = fopen(name, "wb");
    require(f != NULL, "cannot write the file to load");
    require(fwrite(data, 1, size, f) == size && fclose(f) == 0, "cannot write the file to load");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (built == NULL)
        setup();
    write_file(path, data, size);
    const cc_status status = cc_net_load_weights(built, path);
    const cc_status unbuilt_status = cc_net_load_weights(unbuilt, path);
    require(status == unbuilt_status, "built and unbuilt loads disagree");
    float now[OUTPUTS];
    run(now);
    if (status != CC_OK) {
        require(status == CC_ERR_FORMAT || status == CC_ERR_IO, "unexpected status");
        require(strlen(cc_last_error()) > 0, "no message");
        require(memcmp(now, baseline, sizeof now) == 0, "a failed load changed the network");
        return 0;
    }
    /* Loaded: a save and reload gives the same network. */
    require(cc_net_save_weights(built, again_path) == CC_OK, "save");
    require(cc_net_load_weights(built, again_path) == CC_OK, "reload");
    float reloaded[OUTPUTS];
    run(reloaded);
    require(memcmp(now, reloaded, sizeof now) == 0 ||
                (now[0] != now[0] && reloaded[0] != reloaded[0]),
            "a reloaded network computes something else");
    require(cc_net_load_weights(built, baseline_path) == CC_OK, "restore");
    require(cc_net_load_weights(unbuilt, baseline_path) == CC_OK, "restore");
    remove(again_path);
    return 0;
}
