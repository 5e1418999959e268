#!/usr/bin/env python3
"""Times the original ST-AVQA model (../shared/peer/music-avqa/net_grd_avst, MIT) as its own
main_avst.py runs it: one training step at batch 64 (forward with negatives, batch_organize,
both cross-entropies, backward, Adam) and one batch-1 answer with the negative branch (as test()
runs it), on random inputs of the real shapes. Prints one JSON line of medians.

    original_timing.py PEER_DIR THREADS TRAIN_REPEATS INFER_REPEATS
"""
import json
import statistics
import sys
import time

import torch

peer, threads, train_repeats, infer_repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
sys.path.insert(0, peer)
import visual_net  # noqa: E402

_resnet18 = visual_net.resnet18  # its ImageNet file lives in the author's home folder; unused
visual_net.resnet18 = lambda pretrained=False, **kw: _resnet18(False, **kw)
import net_avst  # noqa: E402

torch.set_num_threads(threads)
torch.manual_seed(0)
model = net_avst.AVQA_Fusion_Net()
criterion = torch.nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)


def inputs(b):
    return (torch.randn(b, 10, 128), torch.randn(b, 10, 512, 14, 14), torch.randn(b, 10, 512, 14, 14),
            torch.randint(0, 93, (b, 14)), torch.randint(0, 42, (b,)))


def median_of(repeats, step):
    times = []
    for r in range(repeats + 2):  # two warm-up runs
        start = time.perf_counter()
        step()
        if r >= 2:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


audio, visual, negative, question, target = inputs(64)


def train_step():
    model.train()
    optimizer.zero_grad()
    out_qa, posi, nega = model(audio, visual, negative, question)
    out_match, match_label = net_avst.batch_organize(posi, nega)
    loss = criterion(out_qa, target) + 0.5 * criterion(out_match, match_label.long())
    loss.backward()
    optimizer.step()


a1, v1, n1, q1, _ = inputs(1)


def answer():
    model.eval()
    with torch.no_grad():
        model(a1, v1, n1, q1)


train = median_of(train_repeats, train_step)
infer = median_of(infer_repeats, answer)
print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(),
                  'train_step_s': train, 'answer_ms': infer * 1e3}))
