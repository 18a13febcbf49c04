#!/usr/bin/env python3
"""all-MiniLM-L6-v2 with the special tokens [TITLE] and [BODY] added as the course's students add
them (tests/golden/added_tokens.json): `tokenizer.add_tokens([...], special_tokens=True)` then
`auto_model.resize_token_embeddings(len(tokenizer))` (transformers' default mean_resizing: the new
rows drawn around the old rows' mean with 1e-9 of their covariance). The reference for
`SentenceTransformer::add_tokens` / `resize_token_embeddings` (tests/added_tokens.rs): the token ids,
the new rows' first values, and the embeddings of texts with and without the markers.

    pip install sentence-transformers==6.2.0
    python3 scripts/make_golden_added_tokens.py > tests/golden/added_tokens.json
"""
import json

import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer

torch.manual_seed(0)
texts = [
    "[TITLE] Visa for Peru? [BODY] I am Dutch and fly to Lima next week.",
    "[TITLE][BODY]",
    "no markers here at all",
    "[title] lower case is not the token [body]",
    "[TITLE] Only a title",
]
m = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2", device="cpu")
old = m[0].auto_model.get_input_embeddings().weight.detach().clone()
added = m.tokenizer.add_tokens(["[TITLE]", "[BODY]"], special_tokens=True)
m[0].auto_model.resize_token_embeddings(len(m.tokenizer))
new = m[0].auto_model.get_input_embeddings().weight.detach()
emb = m.encode(texts, convert_to_numpy=True)
print(json.dumps({
    "sentence_transformers": sentence_transformers.__version__,
    "added": added,
    "tokenizer_len": len(m.tokenizer),
    "old_mean_first8": old.mean(0)[:8].tolist(),
    "new_rows_first8": new[-2:, :8].tolist(),
    "texts": texts,
    "input_ids": [m.tokenizer(t)["input_ids"] for t in texts],
    "embeddings": emb.tolist(),
}))
