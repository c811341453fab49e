// Errors as Lambda's Node.js runtime reports them: the document posted to
// the Runtime API is {errorType, errorMessage, trace}, and the runtime's own
// failures have `Runtime.*` types.

import util from "node:util";

class RuntimeError extends Error {
  constructor(name, message) {
    super(message);
    this.name = name;
  }
}

export const importModuleError = (message) => new RuntimeError("Runtime.ImportModuleError", message);
export const handlerNotFound = (message) => new RuntimeError("Runtime.HandlerNotFound", message);
export const malformedHandlerName = (message) => new RuntimeError("Runtime.MalformedHandlerName", message);
export const userCodeSyntaxError = (message) => new RuntimeError("Runtime.UserCodeSyntaxError", message);

/** What `Promise.reject(reason)` nobody handled becomes. */
export function unhandledPromiseRejection(reason) {
  return new RuntimeError("Runtime.UnhandledPromiseRejection", String(reason?.errorMessage ?? reason));
}

function looksLikeError(e) {
  return util.types.isNativeError(e) ||
    (e !== null && typeof e === "object" && typeof e.name === "string" &&
      typeof e.message === "string" && typeof e.stack === "string");
}

const escape = (s) => (typeof s === "string" ? s.replace(/\x7F/g, "%7F") : s);

/** The error document of anything a handler threw or passed to its callback. */
export function toDocument(error) {
  try {
    if (looksLikeError(error)) {
      return {
        errorType: escape(error.name),
        errorMessage: escape(error.message),
        trace: escape(String(error.stack ?? "")).split("\n"),
      };
    }
    return { errorType: typeof error, errorMessage: String(error), trace: [] };
  } catch {
    return {
      errorType: "handled",
      errorMessage:
        "callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack",
      trace: [],
    };
  }
}

/** The error as the runtime logs it (`Invoke Error`, `Uncaught Exception`). */
export function formatted(error) {
  const doc = toDocument(error);
  return "\t" + JSON.stringify({ errorType: doc.errorType, errorMessage: doc.errorMessage, stack: doc.trace });
}
