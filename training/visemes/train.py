"""Train the phonetic front end's network on the synthetic corpus.

    python -m training.visemes.train CORPUS.npz [--out training/data/visemes_base.npz]
                                     [--minutes 12] [--hidden 256,256] [--seed 0]

Plain numpy (mini-batch Adam, ReLU, softmax cross-entropy): the network is small enough that a
framework would only add an install, and inference is the same code path the engine runs
(``phonetics.VisemeModel.forward``). Classes are weighted by the inverse square root of their
frequency, so rare visemes (/f v/, /th/) are learned without drowning the vowels. Gaussian noise
on the inputs and label smoothing keep it from trusting any one band: real recordings differ
from synthetic speech more than the augmentation can show.

Held-out voices (the corpus's ``split == "heldout"``) are never trained on; the report gives
frame accuracy and per-class recall on them, and how well the articulation the engine derives
from the posteriors follows the articulation of the true phones.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from openlipsync.engine.audio_features import HOP_SECONDS
from openlipsync.engine.phonetics import VisemeModel, log_mel_normalised, model_inputs
from openlipsync.engine.visemes import ARTICULATORS, CLASSES, articulation

CONTEXT = np.arange(-20, 21, 2)  # +-200 ms, every 20 ms
_INPUT_NOISE = 0.15
_SMOOTHING = 0.05
_BATCH = 512


@dataclass
class Split:
    x: np.ndarray  # (N, T * B) float32 model inputs
    y: np.ndarray  # (N,) int labels
    utt: np.ndarray  # (N,) utterance index, to rebuild sequences for the articulation check


def load_split(corpus: Path, split: str) -> Split:
    with np.load(corpus, allow_pickle=False) as data:  # each key read decompresses the whole array
        starts, splits, classes = data["utt_start"], data["split"], data["classes"]
        mels, labels = data["mel"], data["labels"]
    if tuple(str(c) for c in classes) != CLASSES:
        raise SystemExit(f"{corpus} was built for other classes than the engine's {CLASSES}")
    xs, ys, us = [], [], []
    for u in np.flatnonzero(splits == split):
        mel = mels[starts[u]:starts[u + 1]]
        xs.append(model_inputs(log_mel_normalised(mel), CONTEXT))
        ys.append(labels[starts[u]:starts[u + 1]].astype(np.int64))
        us.append(np.full(len(mel), u))
    if not xs:
        raise SystemExit(f"{corpus} holds no {split!r} utterances")
    return Split(np.concatenate(xs).astype(np.float32), np.concatenate(ys), np.concatenate(us))


class Adam:
    def __init__(self, params: list[np.ndarray], lr: float) -> None:
        self.params, self.lr, self.t = params, lr, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def step(self, grads: list[np.ndarray], lr: float) -> None:
        self.t += 1
        b1, b2 = 0.9, 0.999
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            p -= lr * (m / (1 - b1**self.t)) / (np.sqrt(v / (1 - b2**self.t)) + 1e-8)


def class_weights(y: np.ndarray) -> np.ndarray:
    """Per class, 1/sqrt(its frequency in ``y``), scaled so that the mean weight of a hop is 1."""
    counts = np.bincount(y, minlength=len(CLASSES)).astype(np.float64)
    weight = np.where(counts > 0, 1.0 / np.sqrt(np.maximum(counts, 1)), 0.0)
    return (weight / weight[y].mean()).astype(np.float32)


def forward(weights: list[np.ndarray], biases: list[np.ndarray],
            x: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """(each layer's input, softmax output) of the network on the batch ``x``."""
    acts = [x]
    for w, b in zip(weights[:-1], biases[:-1], strict=True):
        acts.append(np.maximum(acts[-1] @ w + b, 0.0))
    logits = acts[-1] @ weights[-1] + biases[-1]
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return acts, p / p.sum(axis=1, keepdims=True)


def cross_entropy(p: np.ndarray, y: np.ndarray, class_weight: np.ndarray) -> tuple[np.ndarray, float]:
    """(gradient at the logits, summed loss) of the class-weighted, label-smoothed cross-entropy."""
    weight = class_weight[y]
    target = np.full(p.shape, _SMOOTHING / len(CLASSES), np.float32)
    target[np.arange(len(y)), y] += 1 - _SMOOTHING
    loss = float(-(weight * (target * np.log(p + 1e-9)).sum(axis=1)).sum())
    return (p - target) * (weight / weight.sum())[:, None], loss


def backward(weights: list[np.ndarray],
             batches: list[tuple[list[np.ndarray], np.ndarray]]) -> list[np.ndarray]:
    """Gradients (every weight, then every bias) summed over ``batches``: (layer inputs from
    :func:`forward`, gradient at the logits) each."""
    grads_w = [np.zeros_like(w) for w in weights]
    grads_b = [np.zeros(w.shape[1], w.dtype) for w in weights]
    for acts, delta in batches:
        for i in range(len(weights) - 1, -1, -1):
            grads_w[i] += acts[i].T @ delta
            grads_b[i] += delta.sum(axis=0)
            if i:
                delta = (delta @ weights[i].T) * (acts[i] > 0)
    return grads_w + grads_b


def train(data: Split, hidden: list[int], minutes: float, seed: int, mean: np.ndarray,
          scale: np.ndarray) -> VisemeModel:
    rng = np.random.default_rng(seed)
    keep = data.y >= 0
    x, y = data.x[keep], data.y[keep]
    class_weight = class_weights(y)
    sizes = [x.shape[1], *hidden, len(CLASSES)]
    weights = [(rng.standard_normal((a, b)) * np.sqrt(2.0 / a)).astype(np.float32)
               for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    biases = [np.zeros(b, np.float32) for b in sizes[1:]]
    opt = Adam(weights + biases, 1e-3)
    deadline = time.monotonic() + minutes * 60
    began, epoch = time.monotonic(), 0
    while time.monotonic() < deadline:
        order = rng.permutation(len(x))
        loss_sum = 0.0
        for start in range(0, len(order), _BATCH):
            done = (time.monotonic() - began) / (minutes * 60)
            if done >= 1:
                break
            lr = 1e-3 * 0.5 * (1 + np.cos(np.pi * min(done, 1.0))) + 2e-5
            pick = order[start:start + _BATCH]
            xb = (x[pick] - mean) / scale
            xb += rng.standard_normal(xb.shape, dtype=np.float32) * _INPUT_NOISE
            acts, p = forward(weights, biases, xb)
            delta, loss = cross_entropy(p, y[pick], class_weight)
            loss_sum += loss
            opt.step(backward(weights, [(acts, delta)]), lr)
        epoch += 1
        print(f"epoch {epoch}: loss {loss_sum / len(x):.4f} ({time.monotonic() - began:.0f} s)", flush=True)
    # Fold the input standardisation into the first layer: the shipped model takes raw model_inputs.
    w0 = weights[0] / scale[:, None]
    b0 = biases[0] - (mean / scale) @ weights[0]
    return VisemeModel(context=CONTEXT, weights=(w0.astype(np.float32), *weights[1:]),
                       biases=(b0.astype(np.float32), *biases[1:]))


def evaluate(model: VisemeModel, data: Split) -> dict:
    """Frame accuracy, per-class recall and precision, and articulation r against the true phones."""
    p = np.concatenate([model.forward(data.x[i:i + 8192]) for i in range(0, len(data.x), 8192)])
    keep = data.y >= 0
    guess = p.argmax(axis=1)
    report: dict = {"frames": int(keep.sum()), "accuracy": float((guess[keep] == data.y[keep]).mean())}
    report["recall"] = {c: float((guess[keep & (data.y == i)] == i).mean()) if (keep & (data.y == i)).any()
                        else None for i, c in enumerate(CLASSES)}
    report["precision"] = {c: float((data.y[keep & (guess == i)] == i).mean()) if (keep & (guess == i)).any()
                           else None for i, c in enumerate(CLASSES)}
    predicted, truth = [], []
    for u in np.unique(data.utt):
        rows = data.utt == u
        onehot = np.eye(len(CLASSES))[np.where(data.y[rows] >= 0, data.y[rows], 0)]
        predicted.append(articulation(p[rows], HOP_SECONDS))
        truth.append(articulation(onehot, HOP_SECONDS))
    predicted, truth = np.concatenate(predicted), np.concatenate(truth)
    report["articulation_r"] = {a: float(np.corrcoef(predicted[:, j], truth[:, j])[0, 1])
                                for j, a in enumerate(ARTICULATORS)}
    return report


def save(model: VisemeModel, path: Path, info: dict) -> None:
    arrays = {f"w{i}": w for i, w in enumerate(model.weights)}
    arrays |= {f"b{i}": b for i, b in enumerate(model.biases)}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, classes=np.array(CLASSES), context=model.context, info=json.dumps(info),
                        **arrays)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--out", type=Path, default=Path("training/data/visemes_base.npz"),
                        help="the base network; training.readout.fit tunes it on real mouths and ships it")
    parser.add_argument("--report", type=Path, help="write the held-out evaluation here as JSON")
    parser.add_argument("--minutes", type=float, default=12.0, help="training time budget")
    parser.add_argument("--hidden", default="256,256")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    began = time.monotonic()
    train_split = load_split(args.corpus, "train")
    held = load_split(args.corpus, "heldout")
    print(f"{len(train_split.y)} training hops, {len(held.y)} held-out hops", flush=True)
    mean = train_split.x.mean(axis=0)
    scale = np.maximum(train_split.x.std(axis=0), 1e-3)
    model = train(train_split, [int(h) for h in args.hidden.split(",")], args.minutes, args.seed, mean, scale)
    report = {"heldout": evaluate(model, held), "train_hops": int(len(train_split.y)),
              "seconds": round(time.monotonic() - began, 1)}
    save(model, args.out, {"hidden": args.hidden, "seed": args.seed, "heldout_accuracy":
                           report["heldout"]["accuracy"]})
    print(json.dumps(report, indent=1))
    if args.report:
        args.report.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
