#!/usr/bin/env python3
"""The original ST-AVQA code's answers on a small made-up MUSIC-AVQA split, for comparison with
`avqa eval` on the same checkpoint and features (tests/tools/avqa_cli_test.cpp).

    original_predictions.py PEER_DIR WORK_DIR

PEER_DIR is ../shared/peer/music-avqa/net_grd_avst (the original code, MIT). Writes into WORK_DIR:
data/json/avqa-train.json and avqa-test.json (annotations in the release's format), audio/ and
visual/ (.npy features: [60, 128] and [60, 512, 14, 14] float32 per video), avst.pt (a randomly
initialised AVQA_Fusion_Net wrapped in DataParallel, saved as main_avst.py saves its best model)
and predictions.json: per test question, in file order, the original's predicted answer and its
softmax over the 42 answers, computed exactly as main_avst.py's test() runs the model (batch 1,
the dataloader's own question encoding and answer vocabulary).
"""
import json
import os
import sys

import numpy as np
import torch

peer, work = sys.argv[1], os.path.abspath(sys.argv[2])
sys.path.insert(0, peer)
import visual_net  # noqa: E402

# The original loads ImageNet weights from its author's home folder for a ResNet its forward
# pass never uses; build it without them.
_resnet18 = visual_net.resnet18
visual_net.resnet18 = lambda pretrained=False, **kw: _resnet18(False, **kw)
import net_avst  # noqa: E402
import dataloader_avst  # noqa: E402

rng = np.random.default_rng(7)
videos = ['00000001', '00000002', '00000003']
instruments = ['cello', 'guitar', 'piano', 'violin']
templates = [
    ('Is the <Object> in the video always playing?', 1, '["Audio-Visual", "Existential"]', ['yes', 'no']),
    ('How many instruments are sounding in the video?', 0, '["Audio", "Counting"]', ['one', 'two', 'three']),
    ('Where is the <FL> sounding instrument?', 1, '["Audio-Visual", "Location"]', ['left', 'right', 'middle']),
    ('Is the <Object> louder than the <Object>?', 2, '["Audio", "Comparative"]', ['yes', 'no']),
    ('How many <Object> are in the entire video?', 1, '["Visual", "Counting"]', ['one', 'two', 'zero']),
]


def questions(count, first_id):
    out = []
    for q in range(count):
        text, n, qtype, answers = templates[q % len(templates)]
        values = ['first' if '<FL>' in text else str(rng.choice(instruments)) for _ in range(n)]
        out.append({'video_id': videos[q % len(videos)], 'question_id': first_id + q,
                    'type': qtype, 'question_content': text,
                    'templ_values': str(values), 'question_deleted': 0,
                    'anser': str(rng.choice(answers))})
    return out


os.makedirs(os.path.join(work, 'data', 'json'), exist_ok=True)
train, test = questions(25, 1), questions(12, 1000)
for name, split in (('avqa-train.json', train), ('avqa-test.json', test)):
    with open(os.path.join(work, 'data', 'json', name), 'w') as f:
        json.dump(split, f)
for sub in ('audio', 'visual'):
    os.makedirs(os.path.join(work, sub), exist_ok=True)
for v in videos:
    np.save(os.path.join(work, 'audio', v + '.npy'), rng.standard_normal((60, 128)).astype(np.float32))
    np.save(os.path.join(work, 'visual', v + '.npy'),
            np.abs(rng.standard_normal((60, 512, 14, 14))).astype(np.float32))

torch.manual_seed(3)
model = torch.nn.DataParallel(net_avst.AVQA_Fusion_Net())
torch.save(model.state_dict(), os.path.join(work, 'avst.pt'))

os.chdir(work)  # the dataloader reads ./data/json/avqa-train.json for its vocabularies
dataset = dataloader_avst.AVQA_dataset(
    label='./data/json/avqa-test.json', audio_dir='audio', video_res14x14_dir='visual',
    transform=dataloader_avst.transforms.Compose([dataloader_avst.ToTensor()]), mode_flag='test')
loader = torch.utils.data.DataLoader(dataset, batch_size=1, shuffle=False, num_workers=0)
model.eval()
out = []
with torch.no_grad():
    for i, sample in enumerate(loader):
        preds, _, _ = model(sample['audio'], sample['visual_posi'], sample['visual_nega'],
                            sample['question'])
        p = torch.softmax(preds, dim=1)[0]
        k = int(torch.argmax(preds, 1)[0])
        out.append({'question_id': test[i]['question_id'],
                    'predicted': dataset.ans_vocab[k] if k < len(dataset.ans_vocab) else None,
                    'index': k, 'probabilities': [float(x) for x in p]})
with open(os.path.join(work, 'predictions.json'), 'w') as f:
    json.dump({'answers': dataset.ans_vocab, 'words': dataset.ques_vocab, 'predictions': out}, f)
