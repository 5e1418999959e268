#!/usr/bin/env python3
"""Export pretrained backbone weights for `avqa extract`, on a machine with torchvision and internet.

    python3 tools/export_backbones.py --resnet18 resnet18.pt      # torchvision ImageNet weights
    python3 tools/export_backbones.py --vggish vggish.pt          # torchvggish (harritaylor/torchvggish)
    avqa extract --videos DIR --out features.h5 --visual-weights resnet18.pt --audio-weights vggish.pt

Each file is a plain dict {parameter name: tensor} saved with torch.save, which LibTorch reads
(torch::pickle_load); the names are torchvision's and torchvggish's, which avqa's ResNet18 and
Vggish modules use too. --random exports randomly initialised weights instead (no download), and
--check writes an input and the reference output of the same weights, so the C++ port can be
compared against torchvision (tests/datasets/features/export_backbones_test.cpp does that).
"""
import argparse
import sys

import torch


def resnet18(random_weights, layer4_stride1):
    import torchvision

    if random_weights:
        torch.manual_seed(0)
        model = torchvision.models.resnet18()
    else:
        model = torchvision.models.resnet18(weights=torchvision.models.ResNet18_Weights.IMAGENET1K_V1)
    if layer4_stride1:  # ST-AVQA's 14x14 maps, as its feature script changes the model
        model.layer4[0].conv1.stride = (1, 1)
        model.layer4[0].downsample[0].stride = (1, 1)
    model.eval()
    return model


def resnet18_trunk(model, x):
    x = model.maxpool(model.relu(model.bn1(model.conv1(x))))
    return model.layer4(model.layer3(model.layer2(model.layer1(x))))


def vggish(random_weights):
    if random_weights:
        sys.exit("--random is only available for --resnet18: torchvggish's architecture comes with its download")
    model = torch.hub.load("harritaylor/torchvggish", "vggish", postprocess=False)
    model.eval()
    return model


def save_state_dict(model, path, skip_prefixes=()):
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items() if not k.startswith(skip_prefixes)}
    torch.save(state, path)
    print(f"wrote {path}: {len(state)} tensors")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resnet18", help="write ResNet-18 weights here")
    parser.add_argument("--vggish", help="write VGGish weights here")
    parser.add_argument("--random", action="store_true", help="random weights instead of pretrained ones")
    parser.add_argument("--layer4-stride1", action="store_true", help="with --check: the 14x14 variant")
    parser.add_argument("--check", help="write check_input.pt and check_output.pt (plain dicts) with this prefix")
    args = parser.parse_args()
    if not args.resnet18 and not args.vggish:
        parser.error("nothing to export: give --resnet18 and/or --vggish")
    with torch.no_grad():
        if args.resnet18:
            model = resnet18(args.random, args.layer4_stride1)
            save_state_dict(model, args.resnet18, skip_prefixes=())
            if args.check:
                torch.manual_seed(1)
                x = torch.randn(2, 3, 64, 64)
                # Two entries each: LibTorch 1.13's unpickler lacks SETITEM, which pickle uses for
                # a dict of one item.
                torch.save({"input": x, "seed": torch.tensor(1)}, args.check + "input.pt")
                torch.save({"output": resnet18_trunk(model, x), "seed": torch.tensor(1)}, args.check + "output.pt")
        if args.vggish:
            save_state_dict(vggish(args.random), args.vggish, skip_prefixes=("pproc",))


if __name__ == "__main__":
    main()
