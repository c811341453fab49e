"""A wasi:http function for updraft, written in Python.

- ``GET <any path>`` answers a plain-text greeting naming the method and path.
- ``POST /`` with a JSON body ``{"name": "X"}`` answers
  ``{"message": "Hello, X!"}`` (this is what ``updraft invoke`` and the Lambda
  Invoke API deliver).

Every response carries ``x-invocation-count``: a module-level counter that
grows with each request the same instance serves, so it shows when a warm
instance is reused (it starts again from 1 after a cold start).

Built with componentize-py (see ``scripts/build-python-example``); the
``wit_world`` package is the bindings it generates from ``wit/``.
"""

import json

from wit_world import exports
from wit_world.imports.types import (
    Fields,
    IncomingRequest,
    Method,
    Method_Connect,
    Method_Delete,
    Method_Get,
    Method_Head,
    Method_Options,
    Method_Other,
    Method_Patch,
    Method_Post,
    Method_Put,
    Method_Trace,
    OutgoingBody,
    OutgoingResponse,
    ResponseOutparam,
)
from componentize_py_types import Err, Ok

# Requests served by this instance so far.
invocation_count = 0

# Largest body a request may have, and the chunk size of reads and writes
# (`blocking-write-and-flush` takes at most 4096 bytes at a time).
MAX_BODY = 1 << 20
CHUNK = 4096

METHOD_NAMES = {
    Method_Get: "GET",
    Method_Head: "HEAD",
    Method_Post: "POST",
    Method_Put: "PUT",
    Method_Delete: "DELETE",
    Method_Connect: "CONNECT",
    Method_Options: "OPTIONS",
    Method_Trace: "TRACE",
    Method_Patch: "PATCH",
}


def method_name(method: Method) -> str:
    if isinstance(method, Method_Other):
        return method.value
    return METHOD_NAMES.get(type(method), "?")


class IncomingHandler(exports.IncomingHandler):
    """The export of the component: `wasi:http/incoming-handler`."""

    def handle(self, request: IncomingRequest, response_out: ResponseOutparam) -> None:
        global invocation_count
        invocation_count += 1

        method = method_name(request.method())
        path = request.path_with_query() or "/"

        if method == "POST" and path.split("?", 1)[0] == "/":
            status, content_type, body = greet_json(read_body(request))
        elif method in ("GET", "HEAD"):
            status, content_type = 200, "text/plain; charset=utf-8"
            body = f"Hello from Python on updraft! You sent {method} {path}\n".encode()
        else:
            status, content_type = 405, "text/plain; charset=utf-8"
            body = f"{method} {path} is not supported: use GET, or POST / with JSON\n".encode()

        # A HEAD response has the headers of a GET and no body.
        respond(response_out, status, content_type, b"" if method == "HEAD" else body)


def greet_json(raw: bytes) -> tuple[int, str, bytes]:
    """The answer to `POST /`: a greeting for the `name` of a JSON object."""
    try:
        event = json.loads(raw or b"{}")
    except ValueError as err:
        return error_json(400, f"the body is not JSON: {err}")
    if not isinstance(event, dict):
        return error_json(400, "the body must be a JSON object")
    name = event.get("name", "world")
    if not isinstance(name, str):
        return error_json(400, "`name` must be a string")
    reply = {"message": f"Hello, {name}!"}
    return 200, "application/json", json.dumps(reply).encode()


def error_json(status: int, message: str) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps({"error": message}).encode()


def read_body(request: IncomingRequest) -> bytes:
    """The whole request body (at most MAX_BODY bytes)."""
    body = request.consume()
    chunks = []
    size = 0
    # The stream is a child of the body: it must be dropped first.
    with body:
        with body.stream() as stream:
            while size < MAX_BODY:
                try:
                    chunk = stream.blocking_read(CHUNK)
                except Err:
                    break  # closed: the end of the body (or a failed read)
                chunks.append(chunk)
                size += len(chunk)
    return b"".join(chunks)[:MAX_BODY]


def respond(response_out: ResponseOutparam, status: int, content_type: str, body: bytes) -> None:
    headers = Fields.from_list(
        [
            ("content-type", content_type.encode()),
            ("x-invocation-count", str(invocation_count).encode()),
        ]
    )
    response = OutgoingResponse(headers)
    response.set_status_code(status)
    outgoing = response.body()
    ResponseOutparam.set(response_out, Ok(response))
    # The stream is a child of the body: drop it before finishing the body.
    with outgoing.write() as stream:
        for start in range(0, len(body), CHUNK):
            stream.blocking_write_and_flush(body[start : start + CHUNK])
    OutgoingBody.finish(outgoing, None)
