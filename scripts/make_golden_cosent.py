#!/usr/bin/env python3
"""sentence-transformers' CoSENTLoss on seeded embeddings (tests/golden/cosent.json): the loss and
its gradients w.r.t. both columns, the reference for `sbert::losses::CoSENTLoss` (tests/losses.rs).

    pip install sentence-transformers==6.2.0
    python3 scripts/make_golden_cosent.py > tests/golden/cosent.json

Cases: batch 4 x dim 8 with graded labels (ties included), batch 6 with labels all equal (loss
log 1 = 0), batch 5 with scale 10; embeddings torch.randn(seeded), as ../shared/golden/losses.json.
"""
import json

import sentence_transformers
import torch
from sentence_transformers.losses import CoSENTLoss


class NoModel(torch.nn.Module):
    pass


cases = []
for name, seed, batch, labels, scale in [("graded", 11, 4, [0.9, 0.1, 0.5, 0.5], 20.0),
                                         ("equal labels", 12, 6, [1.0] * 6, 20.0),
                                         ("scale 10", 13, 5, [0.0, 0.25, 1.0, 0.75, 0.5], 10.0)]:
    g = torch.Generator().manual_seed(seed)
    emb = [torch.randn(batch, 8, generator=g, requires_grad=True) for _ in range(2)]
    loss_fn = CoSENTLoss(NoModel(), scale=scale)
    loss = loss_fn.compute_loss_from_embeddings(emb, torch.tensor(labels))
    loss.backward()
    cases.append({"name": name, "scale": scale, "labels": labels,
                  "embeddings": [e.detach().tolist() for e in emb], "loss": loss.item(),
                  "grads": [e.grad.tolist() for e in emb]})
print(json.dumps({"sentence_transformers": sentence_transformers.__version__, "torch": torch.__version__,
                  "cases": cases}, indent=1))
