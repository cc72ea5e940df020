/* The network of fuzz_weights and fuzz_seed_weights. */
#include "fuzz_weights_net.h"

#include <stddef.h>

cc_net *fuzz_weights_net(int build)
{
    cc_net *net = NULL;
    cc_node x;
    const cc_net_conv_params conv = {.out_channels = 3, .kernel_h = 3, .kernel_w = 3};
    if (cc_net_create(CC_NCHW, 1, 2, 5, 5, &net) != CC_OK)
        return NULL;
    if (cc_net_add_conv(net, "conv", cc_net_input(net), &conv, &x) != CC_OK ||
        cc_net_add_batchnorm(net, "bn", x, 1e-5f, &x) != CC_OK ||
        cc_net_add_fc(net, "fc", x, 4, &x) != CC_OK ||
        cc_net_init_weights(net, CC_INIT_HE, 1) != CC_OK ||
        (build && cc_net_build(net, NULL) != CC_OK)) {
        cc_net_destroy(net);
        return NULL;
    }
    return net;
}
