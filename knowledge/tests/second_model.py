"""A second, real embedding model for switching tests, built offline from the bundled one.

all-MiniLM-L6-v2 followed by a fixed random orthonormal projection to 256 dimensions:
another model name, another vector size, and (projections keep angles roughly) retrieval
that still works. Its files are written directly in sentence-transformers' format, so the
product loads it like any model on disk.
"""

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file

from knowledge import embeddings

DIMENSIONS = 256


def build(path: Path, *, dimensions: int = DIMENSIONS, seed: int = 7) -> str:
    source = Path(embeddings.model_path(embeddings.DEFAULT_MODEL))
    shutil.copytree(source, path, ignore=shutil.ignore_patterns("modules.json", "README.md"))
    generator = torch.Generator().manual_seed(seed)
    # Orthonormal rows (QR of a Gaussian matrix) keep cosine similarities close.
    q, _ = torch.linalg.qr(torch.randn(384, dimensions, generator=generator))
    dense = path / "2_Dense"
    dense.mkdir()
    (dense / "config.json").write_text(
        json.dumps(
            {
                "in_features": 384,
                "out_features": dimensions,
                "bias": False,
                "activation_function": "torch.nn.modules.linear.Identity",
            }
        )
    )
    save_file({"linear.weight": q.T.contiguous()}, dense / "model.safetensors")
    modules = [
        ("0", "", "sentence_transformers.models.Transformer"),
        ("1", "1_Pooling", "sentence_transformers.models.Pooling"),
        ("2", "2_Dense", "sentence_transformers.models.Dense"),
        ("3", "3_Normalize", "sentence_transformers.models.Normalize"),
    ]
    (path / "modules.json").write_text(
        json.dumps(
            [{"idx": i, "name": n, "path": p, "type": t} for i, (n, p, t) in enumerate(modules)]
        )
    )
    return str(path)
