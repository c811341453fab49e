// console.* as on Lambda: every line is
// `<ISO time>\t<request id>\t<LEVEL>\t<message>` on stdout, the message's
// own newlines turned into carriage returns so that one call stays one
// log event.

import util from "node:util";

let requestId;

/** The request id the next lines carry (`undefined` during init, as on Lambda). */
export function setRequestId(id) {
  requestId = id;
}

function write(level, args) {
  const message = util.format(...args).replace(/\n/g, "\r");
  process.stdout.write(`${new Date().toISOString()}\t${requestId}\t${level}\t${message}\n`);
}

export function patchConsole() {
  const levels = {
    log: "INFO",
    info: "INFO",
    debug: "DEBUG",
    warn: "WARN",
    error: "ERROR",
    trace: "TRACE",
    fatal: "FATAL",
  };
  for (const [method, level] of Object.entries(levels)) {
    console[method] = (...args) => write(level, args);
  }
}
