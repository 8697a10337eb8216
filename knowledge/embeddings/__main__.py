"""`python -m knowledge.embeddings THREADS ONNX_DIR`: the query-embedding child process
(child.py), started by the QueryBatcher."""

import logging
import sys

from knowledge.embeddings.child import main

if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)  # a failed export is said on stderr
    main(int(sys.argv[1]), sys.argv[2])
