#!/usr/bin/env python3
"""Write a small random BERT sentence-transformers model (hidden 32, 2 layers, 4 heads) that uses
all-MiniLM-L6-v2's real tokenizer, for the Python interop check (scripts/interop-check.sh).

    python3 scripts/make_mini_model.py MINILM_DIR OUT_DIR [SEED]

MINILM_DIR is all-MiniLM-L6-v2's snapshot folder (its tokenizer files are copied). Standard library
only (no numpy): the weights are seeded normal(0, 0.02), LayerNorms 1/0, written as safetensors.
The model is small enough (about 4 MB) to travel where the 90 MB real model cannot.
"""
import json
import os
import random
import shutil
import struct
import sys
from array import array

HIDDEN, LAYERS, HEADS, INTERMEDIATE, VOCAB, POSITIONS = 32, 2, 4, 64, 30522, 512


def tensors():
    h, i = HIDDEN, INTERMEDIATE
    yield "embeddings.word_embeddings.weight", [VOCAB, h], "normal"
    yield "embeddings.position_embeddings.weight", [POSITIONS, h], "normal"
    yield "embeddings.token_type_embeddings.weight", [2, h], "normal"
    yield "embeddings.LayerNorm.weight", [h], "ones"
    yield "embeddings.LayerNorm.bias", [h], "zeros"
    for l in range(LAYERS):
        p = f"encoder.layer.{l}."
        for name in ("query", "key", "value"):
            yield p + f"attention.self.{name}.weight", [h, h], "normal"
            yield p + f"attention.self.{name}.bias", [h], "normal"
        yield p + "attention.output.dense.weight", [h, h], "normal"
        yield p + "attention.output.dense.bias", [h], "normal"
        yield p + "attention.output.LayerNorm.weight", [h], "ones"
        yield p + "attention.output.LayerNorm.bias", [h], "zeros"
        yield p + "intermediate.dense.weight", [i, h], "normal"
        yield p + "intermediate.dense.bias", [i], "normal"
        yield p + "output.dense.weight", [h, i], "normal"
        yield p + "output.dense.bias", [h], "normal"
        yield p + "output.LayerNorm.weight", [h], "ones"
        yield p + "output.LayerNorm.bias", [h], "zeros"
    yield "pooler.dense.weight", [h, h], "normal"
    yield "pooler.dense.bias", [h], "normal"


def write_safetensors(path, seed):
    rng = random.Random(seed)
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, shape, init in tensors():
        n = 1
        for d in shape:
            n *= d
        if init == "normal":
            data = array("f", (rng.gauss(0.0, 0.02) for _ in range(n)))
        else:
            data = array("f", [1.0 if init == "ones" else 0.0]) * n
        if sys.byteorder != "little":
            data.byteswap()
        raw = data.tobytes()
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for raw in blobs:
            f.write(raw)


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__)
        return 2
    src, out = sys.argv[1], sys.argv[2]
    seed = int(sys.argv[3]) if len(sys.argv) == 4 else 42
    os.makedirs(os.path.join(out, "1_Pooling"), exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "modules.json"):
        shutil.copy(os.path.join(src, name), os.path.join(out, name))
    with open(os.path.join(src, "config.json")) as f:
        config = json.load(f)
    config.update(hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS, intermediate_size=INTERMEDIATE)
    config.pop("_name_or_path", None)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(out, "sentence_bert_config.json"), "w") as f:
        json.dump({"max_seq_length": 128, "do_lower_case": False}, f, indent=2)
    with open(os.path.join(out, "1_Pooling", "config.json"), "w") as f:
        json.dump({"word_embedding_dimension": HIDDEN, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
                   "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}, f, indent=2)
    write_safetensors(os.path.join(out, "model.safetensors"), seed)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
