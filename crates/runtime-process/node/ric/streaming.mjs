// Response streaming: `awslambda.streamifyResponse(handler)` and
// `awslambda.HttpResponseStream.from(stream, metadata)`, as Lambda's
// Node.js runtime provides them as globals.

import { Writable } from "node:stream";

export const STREAMING = Symbol.for("aws.lambda.runtime.handler.streaming");
const HTTP_INTEGRATION = "application/vnd.awslambda.http-integration-response";

/** Marks a handler `(event, responseStream, context)` as streaming. */
function streamifyResponse(handler, options) {
  handler[STREAMING] = "response";
  handler[Symbol.for("aws.lambda.runtime.handler.streaming.options")] = options;
  return handler;
}

/** The writable stream handed to a streaming handler, over `sink`. */
export function responseStream(sink) {
  let contentType = "application/octet-stream";
  const stream = new Writable({
    write(chunk, encoding, callback) {
      sink.write(chunk, callback);
    },
    final(callback) {
      callback();
    },
  });
  stream.setContentType = (type) => {
    if (sink.started()) throw new Error("the content type can only be set before the first write");
    contentType = String(type);
  };
  stream.contentType = () => contentType;
  return stream;
}

class HttpResponseStream {
  /** Sends the HTTP status and headers of a function URL response first. */
  static from(underlying, prelude) {
    underlying.setContentType(HTTP_INTEGRATION);
    underlying.write(JSON.stringify(prelude ?? {}));
    underlying.write(Buffer.alloc(8));
    return underlying;
  }
}

export function installGlobals() {
  globalThis.awslambda = { streamifyResponse, HttpResponseStream };
}
