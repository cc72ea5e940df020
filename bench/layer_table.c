/* Conv layers of LeNet-5, Caffe's LeNet, AlexNet (grouped as published),
 * VGG-16, GoogLeNet's Inception 3a 1x1 layers and sample ResNet-50 layers. */
#include "layer_table.h"

static const bench_table_entry table[] = {
    {"lenet5", "mb1ic1ih32oc6kh5n\"c1\""},
    {"lenet5", "mb1ic6ih14oc16kh5n\"c3\""},
    {"lenet", "mb1ic1ih28oc20kh5n\"conv1\""},
    {"lenet", "mb1ic20ih12oc50kh5n\"conv2\""},
    {"alexnet", "mb1ic3ih227oc96kh11sh4n\"conv1\""},
    {"alexnet", "mb1g2ic96ih27oc256kh5ph2n\"conv2\""},
    {"alexnet", "mb1ic256ih13oc384kh3ph1n\"conv3\""},
    {"alexnet", "mb1g2ic384ih13oc384kh3ph1n\"conv4\""},
    {"alexnet", "mb1g2ic384ih13oc256kh3ph1n\"conv5\""},
    {"vgg16", "mb1ic3ih224oc64kh3ph1n\"conv1_1\""},
    {"vgg16", "mb1ic64ih224oc64kh3ph1n\"conv1_2\""},
    {"vgg16", "mb1ic64ih112oc128kh3ph1n\"conv2_1\""},
    {"vgg16", "mb1ic128ih112oc128kh3ph1n\"conv2_2\""},
    {"vgg16", "mb1ic128ih56oc256kh3ph1n\"conv3_1\""},
    {"vgg16", "mb1ic256ih56oc256kh3ph1n\"conv3_2\""},
    {"vgg16", "mb1ic256ih56oc256kh3ph1n\"conv3_3\""},
    {"vgg16", "mb1ic256ih28oc512kh3ph1n\"conv4_1\""},
    {"vgg16", "mb1ic512ih28oc512kh3ph1n\"conv4_2\""},
    {"vgg16", "mb1ic512ih28oc512kh3ph1n\"conv4_3\""},
    {"vgg16", "mb1ic512ih14oc512kh3ph1n\"conv5_1\""},
    {"vgg16", "mb1ic512ih14oc512kh3ph1n\"conv5_2\""},
    {"vgg16", "mb1ic512ih14oc512kh3ph1n\"conv5_3\""},
    {"googlenet1x1", "mb1ic192ih28oc64kh1n\"3a_1x1\""},
    {"googlenet1x1", "mb1ic192ih28oc96kh1n\"3a_3x3_reduce\""},
    {"googlenet1x1", "mb1ic192ih28oc16kh1n\"3a_5x5_reduce\""},
    {"googlenet1x1", "mb1ic192ih28oc32kh1n\"3a_pool_proj\""},
    {"googlenet1x1", "mb1ic480ih14oc192kh1n\"4a_1x1\""},
    {"resnet50", "mb1ic3ih224oc64kh7sh2ph3n\"conv1\""},
    {"resnet50", "mb1ic64ih56oc64kh1n\"res2a_branch2a\""},
    {"resnet50", "mb1ic64ih56oc64kh3ph1n\"res2a_branch2b\""},
    {"resnet50", "mb1ic64ih56oc256kh1n\"res2a_branch2c\""},
    {"resnet50", "mb1ic256ih56oc512kh1sh2n\"res3a_branch1\""},
    {"resnet50", "mb1ic128ih28oc128kh3ph1n\"res3a_branch2b\""},
    {"resnet50", "mb1ic512ih28oc256kh1n\"res4a_branch2a\""},
    {"resnet50", "mb1ic256ih14oc256kh3ph1n\"res4a_branch2b\""},
    {"resnet50", "mb1ic256ih14oc1024kh1n\"res4a_branch2c\""},
    {"resnet50", "mb1ic1024ih14oc2048kh1sh2n\"res5a_branch1\""},
    {"resnet50", "mb1ic512ih7oc512kh3ph1n\"res5a_branch2b\""},
};

const bench_table_entry *bench_table(size_t *count)
{
    *count = sizeof table / sizeof table[0];
    return table;
}
