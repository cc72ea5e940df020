#!/usr/bin/python3
"""PyTorch's side of colconv-train's comparison: trains the same network on
the same data with the same recipe in PyTorch (Debian's python3-torch 1.13)
and prints its per-epoch time and accuracy, beside colconv-train's when
given its train.csv.

    colconv-train --net lenet --optimizer adam --lr 1e-3 --schedule constant \\
        --batch 64 --epochs 3 --threads 2 --out runs/lenet
    /usr/bin/python3 bench/train_vs_torch.py --net lenet --optimizer adam --lr 1e-3 \\
        --schedule constant --batch 64 --epochs 3 --threads 2 --colconv runs/lenet/train.csv

What is the same as colconv-train: the networks (Caffe's LeNet: conv 20
5x5, max pool, conv 50 5x5, max pool, fc 500, ReLU, fc 10; LeNet-5: tanh,
average pooling, 120-84-10), the data (the IDX files, scaled to [0, 1] and
zero-padded, centred, to the input size), Xavier-uniform weights and zero
biases (colconv's default init; torch's own rule for fan-out), the
optimiser and its options, the schedule (stepped once per epoch), the
batch (a fresh shuffle each epoch, the last partial batch dropped), the
threads (torch.set_num_threads) and what an epoch's seconds count: the
training steps and then the evaluation of the test set. Not the same: the
random numbers (another generator), so accuracies differ by noise.
"""
import argparse
import csv
import gzip
import math
import os
import statistics
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    """An IDX file of unsigned bytes (gzipped or not) as a numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    if data[:3] != b"\x00\x00\x08" or dims not in (1, 3):
        raise SystemExit(f"{path}: not an IDX file of unsigned bytes")
    shape = [int.from_bytes(data[4 + 4 * d:8 + 4 * d], "big") for d in range(dims)]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims)
    if body.size != math.prod(shape):
        raise SystemExit(f"{path}: {body.size} bytes of data, the header says {math.prod(shape)}")
    return body.reshape(shape)


def find(directory, name):
    gz = os.path.join(directory, name + ".gz")
    return gz if os.path.exists(gz) else os.path.join(directory, name)


def load(directory, prefix, side):
    images = read_idx(find(directory, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(find(directory, f"{prefix}-labels-idx1-ubyte"))
    n, rows, cols = images.shape
    top, left = (side - rows) // 2, (side - cols) // 2
    x = torch.zeros(n, 1, side, side)
    x[:, 0, top:top + rows, left:left + cols] = torch.from_numpy(images.astype(np.float32) / 255)
    return x, torch.from_numpy(labels.astype(np.int64))


class LeNet(nn.Module):
    """Caffe's examples/mnist/lenet.prototxt (colconv's zoo "lenet")."""
    side = 28

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 20, 5), nn.Conv2d(20, 50, 5)
        self.ip1, self.ip2 = nn.Linear(800, 500), nn.Linear(500, 10)

    def forward(self, x):
        x = F.max_pool2d(self.conv1(x), 2)
        x = F.max_pool2d(self.conv2(x), 2)
        return self.ip2(F.relu(self.ip1(x.flatten(1))))


class LeNet5(nn.Module):
    """LeCun et al. 1998 with a full C3 table (colconv's zoo "lenet5")."""
    side = 32

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        x = F.avg_pool2d(torch.tanh(self.conv1(x)), 2)
        x = F.avg_pool2d(torch.tanh(self.conv2(x)), 2)
        x = torch.tanh(self.fc2(torch.tanh(self.fc1(x.flatten(1)))))
        return self.fc3(x)


def make_optimizer(args, params):
    kind = args.optimizer
    kw = {"lr": args.lr}
    if args.weight_decay is not None:
        kw["weight_decay"] = args.weight_decay
    if kind == "sgd":
        return torch.optim.SGD(params, momentum=args.momentum, nesterov=args.nesterov, **kw)
    if kind == "rmsprop":
        return torch.optim.RMSprop(params, momentum=args.momentum, **kw)
    cls = {"adagrad": torch.optim.Adagrad, "adadelta": torch.optim.Adadelta,
           "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[kind]
    return cls(params, **kw)


def make_schedule(args, opt):
    if args.schedule == "constant":
        return None
    if args.schedule.startswith("step:"):
        parts = args.schedule.split(":")
        return torch.optim.lr_scheduler.StepLR(opt, int(parts[1]),
                                               float(parts[2]) if len(parts) > 2 else 0.1)
    t_max = int(args.schedule.split(":")[1]) if ":" in args.schedule else args.epochs
    return torch.optim.lr_scheduler.CosineAnnealingLR(opt, t_max)


def evaluate(model, x, y, batch):
    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for at in range(0, len(x), batch):
            out = model(x[at:at + batch])
            loss += F.cross_entropy(out, y[at:at + batch], reduction="sum").item()
            correct += (out.argmax(1) == y[at:at + batch]).sum().item()
    return loss / len(x), 100.0 * correct / len(x)


def train(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = {"lenet": LeNet, "lenet5": LeNet5}[args.net]()
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    x_train, y_train = load(args.data, "train", model.side)
    x_test, y_test = load(args.data, "t10k", model.side)
    opt = make_optimizer(args, model.parameters())
    schedule = make_schedule(args, opt)
    rows = []
    for epoch in range(args.epochs):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(x_train))
        loss_sum, correct, seen = 0.0, 0, 0
        for at in range(0, len(x_train) - args.batch + 1, args.batch):
            idx = order[at:at + args.batch]
            out = model(x_train[idx])
            loss = F.cross_entropy(out, y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            correct += (out.argmax(1) == y_train[idx]).sum().item()
            seen += len(idx)
        train_s = time.perf_counter() - start
        test_loss, test_acc = evaluate(model, x_test, y_test, args.batch)
        seconds = time.perf_counter() - start
        if schedule is not None:
            schedule.step()
        rows.append((epoch + 1, loss_sum / seen, 100.0 * correct / seen, test_loss, test_acc,
                     seconds, train_s))
        print(f"torch epoch {epoch + 1}/{args.epochs}: train loss {loss_sum / seen:.4f} acc "
              f"{100.0 * correct / seen:.2f}%, test loss {test_loss:.4f} acc {test_acc:.2f}%, "
              f"{seconds:.1f} s ({train_s:.1f} s training)", flush=True)
    return rows


def read_colconv(path):
    with open(path) as f:
        return {int(r["epoch"]): r for r in csv.DictReader(f)}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--net", default="lenet", choices=["lenet", "lenet5"])
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--optimizer", default="adam",
                   choices=["sgd", "adagrad", "rmsprop", "adadelta", "adam", "adamw"])
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--momentum", type=float, default=0.0)
    p.add_argument("--nesterov", action="store_true")
    p.add_argument("--weight-decay", type=float, default=None)
    p.add_argument("--schedule", default="cosine", help="constant, step:N[:GAMMA], cosine[:T]")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--colconv", metavar="TRAIN_CSV", help="colconv-train's train.csv, to compare")
    args = p.parse_args()
    print(f"PyTorch {torch.__version__}, {args.threads} thread(s), {args.net}, {args.optimizer} "
          f"lr {args.lr}, schedule {args.schedule}, batch {args.batch}")
    rows = train(args)
    theirs = read_colconv(args.colconv) if args.colconv else {}
    print("\nepoch  torch s  torch test acc  colconv s  colconv test acc  torch/colconv time")
    for epoch, _, _, _, acc, seconds, _ in rows:
        c = theirs.get(epoch)
        if c is None:
            print(f"{epoch:5d}  {seconds:7.1f}  {acc:13.2f}%")
            continue
        cs, cacc = float(c["seconds"]), float(c["test_acc"])
        print(f"{epoch:5d}  {seconds:7.1f}  {acc:13.2f}%  {cs:9.1f}  {cacc:15.2f}%  "
              f"{seconds / cs:17.2f}x")
    times = [r[5] for r in rows]
    print(f"\ntorch: median {statistics.median(times):.1f} s per epoch (min {min(times):.1f}, "
          f"max {max(times):.1f}); best test accuracy {max(r[4] for r in rows):.2f}%")
    if theirs:
        ctimes = [float(r["seconds"]) for r in theirs.values()]
        print(f"colconv: median {statistics.median(ctimes):.1f} s per epoch (min {min(ctimes):.1f}, "
              f"max {max(ctimes):.1f}); best test accuracy "
              f"{max(float(r['test_acc']) for r in theirs.values()):.2f}%")


if __name__ == "__main__":
    main()
