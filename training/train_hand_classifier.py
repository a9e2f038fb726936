"""Train and calibrate the hand-or-not classifier (:mod:`crossinfonet_ros.hand_classifier`).

``python -m training.train_hand_classifier --crops a.npz b.npz --out hand_or_not.safetensors``

The crops (:mod:`training.hand_crops`) are split 90/10; the network trains on the 90 (random
left-right flips: a left hand's crop is run mirrored, so both sides must pass) with the classes
weighted equally, and the probability bar is set on the 10 so that ``--keep`` of its hands
pass. ``python -m training.hand_or_not`` then checks the bar on unseen renders through the
whole pipeline.
"""

import argparse
from pathlib import Path
import sys
from typing import Optional, Sequence

import numpy as np

from crossinfonet_ros.hand_classifier import POOL, TENSORS, pool_input, save_classifier
from training.synth.scene import DEFAULT_CUBE_MM


def build_model():
    """The torch twin of the numpy forward (same tensor names and shapes)."""
    import torch.nn as nn

    class HandNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pool = nn.AvgPool2d(POOL)
            self.conv1 = nn.Conv2d(1, 8, 5)
            self.conv2 = nn.Conv2d(8, 16, 3)
            self.fc1 = nn.Linear(576, 32)
            self.fc2 = nn.Linear(32, 1)

        def forward(self, x, pooled: bool = False):
            import torch.nn.functional as F
            x = F.max_pool2d(F.relu(self.conv1(x if pooled else self.pool(x))), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            return self.fc2(F.relu(self.fc1(x.flatten(1))))[:, 0]

    return HandNet()


def train(crops: np.ndarray, labels: np.ndarray, epochs: int, seed: int):
    """Fit the classifier; returns the torch model."""
    import torch
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-4)
    x_all = torch.from_numpy(pool_input(crops))  # pooled once: the net's first layer
    y_all = torch.from_numpy(labels.astype(np.float32))
    positive = float(labels.mean())
    weight = torch.tensor((1.0 - positive) / max(positive, 1e-6))
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=weight)
    for epoch in range(epochs):
        order = rng.permutation(len(labels))
        for start in range(0, len(order), 128):
            batch = torch.from_numpy(order[start:start + 128])
            x = x_all[batch]
            flip = torch.from_numpy(rng.random(len(batch)) < 0.5)
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            loss = loss_fn(model(x, pooled=True), y_all[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(f'epoch {epoch + 1}: loss {float(loss):.4f}', flush=True)
    return model.eval()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Train, set the bar on the held-out tenth, write the classifier file."""
    parser = argparse.ArgumentParser(prog='python -m training.train_hand_classifier',
                                     description=__doc__.split('\n')[0])
    parser.add_argument('--crops', nargs='+', required=True, help='.npz files of hand_crops')
    parser.add_argument('--out', required=True, help='classifier .safetensors to write')
    parser.add_argument('--epochs', type=int, default=25)
    parser.add_argument('--keep', type=float, default=0.995,
                        help='share of held-out hand crops the bar keeps')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    missing = [path for path in args.crops if not Path(path).is_file()]
    if missing or not 0.5 <= args.keep < 1.0 or args.epochs < 1:
        print(f'error: need existing --crops (missing: {missing}), --keep in [0.5, 1) and '
              f'--epochs >= 1', file=sys.stderr)
        return 2
    loaded = [np.load(path) for path in args.crops]
    crops = np.concatenate([data['crops'] for data in loaded])
    labels = np.concatenate([data['labels'] for data in loaded])
    order = np.random.default_rng(args.seed).permutation(len(labels))
    held, fit = order[:len(order) // 10], order[len(order) // 10:]
    import torch
    model = train(crops[fit], labels[fit], args.epochs, args.seed)
    tensors = {name: value.detach().numpy() for name, value in model.state_dict().items()}
    assert {name: tuple(value.shape) for name, value in tensors.items()} == TENSORS
    with torch.no_grad():
        logits = model(torch.from_numpy(pool_input(crops[held])), pooled=True).numpy()
    p = 1.0 / (1.0 + np.exp(-logits))
    hands, others = p[labels[held] == 1], p[labels[held] == 0]
    threshold = float(np.clip(np.quantile(hands, 1.0 - args.keep), 0.01, 0.99))
    record = dict(crops=[str(path) for path in args.crops], count=int(len(labels)),
                  hands=int(labels.sum()), epochs=args.epochs, seed=args.seed, keep=args.keep,
                  held_out_hands_kept=float(np.mean(hands >= threshold)),
                  held_out_others_rejected=float(np.mean(others < threshold)))
    save_classifier(args.out, tensors, DEFAULT_CUBE_MM, round(threshold, 4), record)
    print(f'{args.out}: threshold {threshold:.4f}; held out: hands kept '
          f'{record["held_out_hands_kept"]:.4f}, others rejected '
          f'{record["held_out_others_rejected"]:.4f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
