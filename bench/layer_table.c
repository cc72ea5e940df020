/* Conv layers of LeNet-5, Caffe's LeNet, AlexNet (grouped as published),
 * VGG-11/16/19, GoogLeNet's Inception 3a (and the 1x1 layers of 3a and 4a),
 * ResNet-50 (torchvision's v1.5: stride on the 3x3; each distinct layer once,
 * with the number of times it occurs) and one ResNet bottleneck block.
 * Names follow the zoo (torchvision's where torchvision has the net). */
#include "layer_table.h"

#include <string.h>

#define L(net, desc) {net, desc, 1}

static const bench_table_entry table[] = {
    L("lenet5", "mb1ic1ih32oc6kh5n\"conv1\""),
    L("lenet5", "mb1ic6ih14oc16kh5n\"conv2\""),
    L("lenet", "mb1ic1ih28oc20kh5n\"conv1\""),
    L("lenet", "mb1ic20ih12oc50kh5n\"conv2\""),
    L("alexnet", "mb1ic3ih227oc96kh11sh4n\"conv1\""),
    L("alexnet", "mb1g2ic96ih27oc256kh5ph2n\"conv2\""),
    L("alexnet", "mb1ic256ih13oc384kh3ph1n\"conv3\""),
    L("alexnet", "mb1g2ic384ih13oc384kh3ph1n\"conv4\""),
    L("alexnet", "mb1g2ic384ih13oc256kh3ph1n\"conv5\""),
    L("vgg16", "mb1ic3ih224oc64kh3ph1n\"conv1_1\""),
    L("vgg16", "mb1ic64ih224oc64kh3ph1n\"conv1_2\""),
    L("vgg16", "mb1ic64ih112oc128kh3ph1n\"conv2_1\""),
    L("vgg16", "mb1ic128ih112oc128kh3ph1n\"conv2_2\""),
    L("vgg16", "mb1ic128ih56oc256kh3ph1n\"conv3_1\""),
    L("vgg16", "mb1ic256ih56oc256kh3ph1n\"conv3_2\""),
    L("vgg16", "mb1ic256ih56oc256kh3ph1n\"conv3_3\""),
    L("vgg16", "mb1ic256ih28oc512kh3ph1n\"conv4_1\""),
    L("vgg16", "mb1ic512ih28oc512kh3ph1n\"conv4_2\""),
    L("vgg16", "mb1ic512ih28oc512kh3ph1n\"conv4_3\""),
    L("vgg16", "mb1ic512ih14oc512kh3ph1n\"conv5_1\""),
    L("vgg16", "mb1ic512ih14oc512kh3ph1n\"conv5_2\""),
    L("vgg16", "mb1ic512ih14oc512kh3ph1n\"conv5_3\""),
    L("googlenet1x1", "mb1ic192ih28oc64kh1n\"3a_1x1\""),
    L("googlenet1x1", "mb1ic192ih28oc96kh1n\"3a_3x3_reduce\""),
    L("googlenet1x1", "mb1ic192ih28oc16kh1n\"3a_5x5_reduce\""),
    L("googlenet1x1", "mb1ic192ih28oc32kh1n\"3a_pool_proj\""),
    L("googlenet1x1", "mb1ic480ih14oc192kh1n\"4a_1x1\""),
    L("resnet50", "mb1ic3ih224oc64kh7sh2ph3n\"conv1\""),
    L("resnet50", "mb1ic64ih56oc64kh1n\"layer1.0.conv1\""),
    {"resnet50", "mb1ic64ih56oc64kh3ph1n\"layer1.x.conv2\"", 3},
    {"resnet50", "mb1ic64ih56oc256kh1n\"layer1.x.conv3\"", 4}, /* and layer1.0.downsample.0 */
    {"resnet50", "mb1ic256ih56oc64kh1n\"layer1.x.conv1\"", 2},
    L("resnet50", "mb1ic256ih56oc128kh1n\"layer2.0.conv1\""),
    L("resnet50", "mb1ic128ih56oc128kh3sh2ph1n\"layer2.0.conv2\""),
    L("resnet50", "mb1ic256ih56oc512kh1sh2n\"layer2.0.downsample.0\""),
    {"resnet50", "mb1ic128ih28oc512kh1n\"layer2.x.conv3\"", 4},
    {"resnet50", "mb1ic512ih28oc128kh1n\"layer2.x.conv1\"", 3},
    {"resnet50", "mb1ic128ih28oc128kh3ph1n\"layer2.x.conv2\"", 3},
    L("resnet50", "mb1ic512ih28oc256kh1n\"layer3.0.conv1\""),
    L("resnet50", "mb1ic256ih28oc256kh3sh2ph1n\"layer3.0.conv2\""),
    L("resnet50", "mb1ic512ih28oc1024kh1sh2n\"layer3.0.downsample.0\""),
    {"resnet50", "mb1ic256ih14oc1024kh1n\"layer3.x.conv3\"", 6},
    {"resnet50", "mb1ic1024ih14oc256kh1n\"layer3.x.conv1\"", 5},
    {"resnet50", "mb1ic256ih14oc256kh3ph1n\"layer3.x.conv2\"", 5},
    L("resnet50", "mb1ic1024ih14oc512kh1n\"layer4.0.conv1\""),
    L("resnet50", "mb1ic512ih14oc512kh3sh2ph1n\"layer4.0.conv2\""),
    L("resnet50", "mb1ic1024ih14oc2048kh1sh2n\"layer4.0.downsample.0\""),
    {"resnet50", "mb1ic512ih7oc2048kh1n\"layer4.x.conv3\"", 3},
    {"resnet50", "mb1ic2048ih7oc512kh1n\"layer4.x.conv1\"", 2},
    {"resnet50", "mb1ic512ih7oc512kh3ph1n\"layer4.x.conv2\"", 2},
    L("inception3a", "mb1ic192ih28oc64kh1n\"inception3a.1x1\""),
    L("inception3a", "mb1ic192ih28oc96kh1n\"inception3a.3x3_reduce\""),
    L("inception3a", "mb1ic96ih28oc128kh3ph1n\"inception3a.3x3\""),
    L("inception3a", "mb1ic192ih28oc16kh1n\"inception3a.5x5_reduce\""),
    L("inception3a", "mb1ic16ih28oc32kh5ph2n\"inception3a.5x5\""),
    L("inception3a", "mb1ic192ih28oc32kh1n\"inception3a.pool_proj\""),
    L("bottleneck", "mb1ic256ih56oc64kh1n\"block.conv1\""),
    L("bottleneck", "mb1ic64ih56oc64kh3ph1n\"block.conv2\""),
    L("bottleneck", "mb1ic64ih56oc256kh1n\"block.conv3\""),
    L("vgg11", "mb1ic3ih224oc64kh3ph1n\"conv1\""),
    L("vgg11", "mb1ic64ih112oc128kh3ph1n\"conv2\""),
    L("vgg11", "mb1ic128ih56oc256kh3ph1n\"conv3_1\""),
    L("vgg11", "mb1ic256ih56oc256kh3ph1n\"conv3_2\""),
    L("vgg11", "mb1ic256ih28oc512kh3ph1n\"conv4_1\""),
    L("vgg11", "mb1ic512ih28oc512kh3ph1n\"conv4_2\""),
    {"vgg11", "mb1ic512ih14oc512kh3ph1n\"conv5_x\"", 2},
    L("vgg19", "mb1ic3ih224oc64kh3ph1n\"conv1_1\""),
    L("vgg19", "mb1ic64ih224oc64kh3ph1n\"conv1_2\""),
    L("vgg19", "mb1ic64ih112oc128kh3ph1n\"conv2_1\""),
    L("vgg19", "mb1ic128ih112oc128kh3ph1n\"conv2_2\""),
    L("vgg19", "mb1ic128ih56oc256kh3ph1n\"conv3_1\""),
    {"vgg19", "mb1ic256ih56oc256kh3ph1n\"conv3_x\"", 3},
    L("vgg19", "mb1ic256ih28oc512kh3ph1n\"conv4_1\""),
    {"vgg19", "mb1ic512ih28oc512kh3ph1n\"conv4_x\"", 3},
    {"vgg19", "mb1ic512ih14oc512kh3ph1n\"conv5_x\"", 4},
};

const bench_table_entry *bench_table(size_t *count)
{
    *count = sizeof table / sizeof table[0];
    return table;
}

int bench_table_has(const char *net)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].net, net) == 0)
            return 1;
    return 0;
}

int bench_table_complete(const char *net)
{
    return bench_table_has(net) && strcmp(net, "googlenet1x1") != 0;
}
