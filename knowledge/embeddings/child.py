"""The query-embedding child process (EMBEDDING_QUERY_PROCESS): `python -m
knowledge.embeddings` encodes what it is sent, with a GIL of its own (docs/decisions/0003).

A plain subprocess and pickles over its stdin/stdout, not multiprocessing: spawn
re-imports the parent's main script in the child (a benchmark's or manage.py's), and fork
would copy a process with torch's threads running."""

import os
import pickle
import select
import struct
import subprocess
import sys
from pathlib import Path

from knowledge.embeddings.models import encode_questions
from knowledge.embeddings.onnx import onnx_session

# The project's root, from where `python -m knowledge.embeddings` imports.
ROOT = Path(__file__).resolve().parents[2]


class Child:
    """The parent's side of one child process."""

    def __init__(self, threads: int, onnx_dir: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "knowledge.embeddings", str(threads), onnx_dir],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
        )

    # Long enough for the child to load a large model on first use; a child that is alive
    # but stuck past it is treated as dead (TimeoutError is an OSError), not waited on.
    REPLY_TIMEOUT = 120.0

    def encode(self, path: str, texts: list[str]) -> list[list[float]]:
        write_message(self.proc.stdin, (path, texts))
        if not select.select([self.proc.stdout], [], [], self.REPLY_TIMEOUT)[0]:
            raise TimeoutError("the query-embedding process did not reply")
        ok, result = read_message(self.proc.stdout)
        if not ok:
            raise result
        return result

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def write_message(stream, message) -> None:
    data = pickle.dumps(message)
    stream.write(struct.pack("!I", len(data)) + data)
    stream.flush()


def read_message(stream):
    """The next message; BrokenPipeError (an OSError) when the other side is gone."""
    header = stream.read(4)
    if len(header) < 4:
        raise BrokenPipeError("the query-embedding process exited")
    (size,) = struct.unpack("!I", header)
    data = stream.read(size)
    if len(data) < size:  # killed halfway through writing it
        raise BrokenPipeError("the query-embedding process exited mid-reply")
    return pickle.loads(data)


def main(threads: int, onnx_dir: str) -> None:
    """The child's loop: (model path, texts) in, (ok, vectors or exception) out."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    # The replies get the real stdout to themselves; anything a library prints goes to
    # stderr, where it cannot corrupt a reply.
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    models: dict = {}
    while True:
        try:
            path, texts = read_message(sys.stdin.buffer)
        except BrokenPipeError:
            return  # the parent is gone
        try:
            if path not in models:
                encoder = SentenceTransformer(path, device="cpu")
                models[path] = (encoder, onnx_session(encoder, cache_dir=onnx_dir, threads=threads))
            encoder, session = models[path]
            reply = (True, encode_questions(encoder, texts, session=session))
        except Exception as exc:  # sent back, raised in the caller
            reply = (False, exc)
        write_message(replies, reply)
