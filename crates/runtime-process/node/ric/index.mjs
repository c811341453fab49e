// updraft's runtime interface client for Node.js functions: speaks the
// Lambda Runtime API at AWS_LAMBDA_RUNTIME_API as Lambda's Node.js runtime
// does. Started by the platform as `node /var/runtime/index.mjs`, with the
// handler in `_HANDLER` and the task root in LAMBDA_TASK_ROOT.
//
// - The handler is loaded once (init): CommonJS or ES module, see
//   handler.mjs; a failure is posted to /init/error and the process exits.
// - Each event runs `handler(event, context, callback)`: a returned promise
//   answers as soon as it settles; a callback answers once the event loop
//   is empty (`context.callbackWaitsForEmptyEventLoop`, true by default)
//   or at once when that is false. A handler that neither returns a
//   promise nor calls back answers null when the event loop empties.
// - Handlers wrapped in `awslambda.streamifyResponse` write to a response
//   stream posted with the Runtime API's streaming mode.
// - An uncaught exception or an unhandled rejection fails the invocation
//   in progress (or init) and ends the process, which the platform
//   replaces.

import * as errors from "./errors.mjs";
import { patchConsole, setRequestId } from "./logging.mjs";
import * as rapid from "./rapid.mjs";
import { makeContext } from "./context.mjs";
import { STREAMING, installGlobals, responseStream } from "./streaming.mjs";
import { loadHandler } from "./handler.mjs";
import { finished } from "node:stream/promises";

patchConsole();
installGlobals();

/** The invocation in progress: { id, stream?, drained() }. */
let current;
let initializing = true;

async function die(error, code) {
  const doc = errors.toDocument(error);
  try {
    if (current?.stream?.started()) {
      await current.stream.finish(doc);
    } else if (current) {
      await rapid.postError(current.id, doc);
    } else if (initializing) {
      await rapid.postInitError(doc);
    }
  } catch (e) {
    process.stderr.write(`could not report the error to the Runtime API: ${e}\n`);
  } finally {
    process.exit(code);
  }
}

process.on("uncaughtException", (error) => {
  console.error("Uncaught Exception", errors.formatted(error));
  die(error, 129);
});

process.on("unhandledRejection", (reason) => {
  const error = errors.unhandledPromiseRejection(reason);
  console.error("Unhandled Promise Rejection", errors.formatted(error));
  die(error, 128);
});

// The event loop emptied while an invocation waits on it.
process.on("beforeExit", () => {
  current?.drained();
});

const isThenable = (v) => v !== null && (typeof v === "object" || typeof v === "function") && typeof v.then === "function";

function serialize(result) {
  return JSON.stringify(result === undefined ? null : result) ?? "null";
}

async function answer(id, err, result) {
  if (err !== null && err !== undefined) {
    console.error("Invoke Error", errors.formatted(err));
    await rapid.postError(id, errors.toDocument(err));
    return;
  }
  let body;
  try {
    body = serialize(result);
  } catch (e) {
    const error = new Error(`Unable to stringify response body: ${e.message}`);
    error.name = "Runtime.SerializationError";
    await rapid.postError(id, errors.toDocument(error));
    return;
  }
  await rapid.postResponse(id, body);
}

/** One buffered invocation; resolves once its answer is posted. */
function invokeBuffered(handler, id, event, headers) {
  return new Promise((resolve, reject) => {
    let answered = false;
    let pending;
    const send = (err, result) => {
      if (answered) return;
      answered = true;
      answer(id, err, result).then(resolve, reject);
    };
    const callback = (err, result) => {
      if (answered || pending) return;
      if (context.callbackWaitsForEmptyEventLoop) {
        pending = [err, result];
      } else {
        send(err, result);
      }
    };
    const context = makeContext(headers, { done: callback });
    current = {
      id,
      drained() {
        if (pending) send(...pending);
        else send(null, null);
      },
    };
    let result;
    try {
      result = handler(event, context, callback);
    } catch (e) {
      send(e);
      return;
    }
    if (isThenable(result)) {
      Promise.resolve(result).then((r) => send(null, r), (e) => send(e ?? new Error("the handler's promise was rejected")));
    }
  });
}

/** One streamed invocation: the handler writes to a response stream. */
async function invokeStreaming(handler, id, event, headers) {
  let stream;
  const sink = rapid.streamResponse(id, () => stream.contentType());
  stream = responseStream(sink);
  const context = makeContext(headers, { done: () => {} });
  current = { id, stream: sink, drained() {} };
  let failure;
  try {
    await handler(event, stream, context);
  } catch (e) {
    failure = e;
  }
  if (failure === undefined) {
    if (!stream.writableEnded) stream.end();
    try {
      await finished(stream);
    } catch (e) {
      failure = e;
    }
  }
  if (failure !== undefined) {
    console.error("Invoke Error", errors.formatted(failure));
    await sink.finish(errors.toDocument(failure));
  } else {
    await sink.finish();
  }
}

async function loop(handler) {
  for (;;) {
    current = undefined;
    setRequestId(undefined);
    const { headers, body } = await rapid.next();
    const id = headers["lambda-runtime-aws-request-id"];
    setRequestId(id);
    if (headers["lambda-runtime-trace-id"]) {
      process.env._X_AMZN_TRACE_ID = headers["lambda-runtime-trace-id"];
    } else {
      delete process.env._X_AMZN_TRACE_ID;
    }
    let event;
    try {
      event = JSON.parse(body.length === 0 ? "null" : body.toString("utf8"));
    } catch (e) {
      e.name = "Runtime.UnmarshalError";
      await rapid.postError(id, errors.toDocument(e));
      continue;
    }
    if (handler[STREAMING] === "response") {
      await invokeStreaming(handler, id, event, headers);
    } else {
      await invokeBuffered(handler, id, event, headers);
    }
  }
}

async function main() {
  let handler;
  try {
    handler = await loadHandler(process.env.LAMBDA_TASK_ROOT ?? "/var/task", process.env._HANDLER);
  } catch (e) {
    console.error("Uncaught Exception", errors.formatted(e));
    await die(e, 129);
  }
  initializing = false;
  await loop(handler);
}

// Not a top-level await: the event loop must be able to empty while a
// callback handler's answer waits for it.
main().catch((e) => {
  process.stderr.write(`the runtime failed: ${e?.stack ?? e}\n`);
  process.exit(1);
});
