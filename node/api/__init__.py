"""The local HTTP API (v1) and the console's session routes: FastAPI on hypercorn's trio worker."""
