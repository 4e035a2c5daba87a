"""The seed notebook's gradient-descent loop in PyTorch, timed (called by bench_sine).

x = linspace(-1, 1, n), X = [x, 1], y = sin(10 x); nn.Sequential(Linear(2, m, bias=False), ReLU,
Linear(m, 1, bias=False)); SGD lr; MSELoss; `steps` full-batch steps. Prints one JSON line:
{"seconds": ..., "final_loss": ..., "torch": version, "threads": ...}.
Usage: sine_torch.py N M STEPS LR THREADS
"""
import json
import sys
import time

import torch

n, m, steps, lr, threads = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(threads)
torch.manual_seed(0)
x = torch.linspace(-1, 1, n, dtype=torch.float64)
X = torch.stack([x, torch.ones(n, dtype=torch.float64)], dim=1)
y = torch.sin(10 * x).unsqueeze(1)
model = torch.nn.Sequential(torch.nn.Linear(2, m, bias=False), torch.nn.ReLU(), torch.nn.Linear(m, 1, bias=False)).double()
optimizer = torch.optim.SGD(model.parameters(), lr=lr)
loss_fn = torch.nn.MSELoss()
start = time.perf_counter()
for t in range(steps):
    loss = loss_fn(model(X), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "final_loss": loss.item(), "torch": torch.__version__, "threads": threads}))
