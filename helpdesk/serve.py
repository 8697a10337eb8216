"""What daphne serves (`daphne helpdesk.serve:application`: `manage.py run`, the Dockerfile,
docker-compose.yml): helpdesk.asgi's application, once the process has warmed up.

Load the embedding model and check it against the database now, so the first customer does
not pay for it and a mismatched model stops the server at start; and import what the LLM
client imports on first use."""

# First: it sets Django up, before the imports below reach any model.
from helpdesk.asgi import application  # noqa: I001
from chat import llm
from knowledge.indexes import embeddings_warm_up

embeddings_warm_up()
llm.warm_up()

__all__ = ["application"]
