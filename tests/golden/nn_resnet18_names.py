#!/usr/bin/python3
"""Prints the state_dict names and shapes of torchvision's resnet18 (in_channels 3, the fc layer
last), as the C table EXPECT_R18 of tests/test_nn.c.

torchvision is not packaged here, so the architecture is torchvision's own definition
(torchvision/models/resnet.py: BasicBlock, ResNet with layers [2, 2, 2, 2]) written out with
torch.nn — the attribute names are exactly torchvision's, so nn.Module produces its state_dict
names. num_batches_tracked entries are left out (tassl does not keep them).
Run: /usr/bin/python3 tests/golden/nn_resnet18_names.py
"""
import torch.nn as nn


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride


class ResNet(nn.Module):
    def __init__(self, layers, num_classes=1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], stride=2)
        self.layer3 = self._make_layer(256, layers[2], stride=2)
        self.layer4 = self._make_layer(512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)

    def _make_layer(self, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
        layers = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        for _ in range(1, blocks):
            layers.append(BasicBlock(self.inplanes, planes))
        return nn.Sequential(*layers)


for name, t in ResNet([2, 2, 2, 2]).state_dict().items():
    if name.endswith("num_batches_tracked"):
        continue
    dims = list(t.shape) + [0] * (4 - len(t.shape))
    print('    {"%s", %d, {%s}},' % (name, len(t.shape), ", ".join(str(d) for d in dims)))
