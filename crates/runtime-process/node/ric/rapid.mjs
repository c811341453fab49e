// The Runtime API client: GET /invocation/next, POST .../response,
// .../error and /init/error, plus the streaming response mode.

import http from "node:http";

const [host, port] = (process.env.AWS_LAMBDA_RUNTIME_API ?? "127.0.0.1:9001").split(":");
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
const BASE = "/2018-06-01/runtime";

function request(method, path, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port: Number(port), method, path: BASE + path, agent, headers }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** The next event and its `Lambda-Runtime-*` headers. */
export async function next() {
  const res = await request("GET", "/invocation/next");
  if (res.status !== 200) {
    throw new Error(`the Runtime API answered ${res.status} to /invocation/next: ${res.body}`);
  }
  return res;
}

function json(body) {
  return {
    headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) },
    body,
  };
}

export function postResponse(id, body) {
  return request("POST", `/invocation/${id}/response`, json(body));
}

function errorRequest(doc) {
  const body = JSON.stringify(doc);
  const r = json(body);
  r.headers["Lambda-Runtime-Function-Error-Type"] = String(doc.errorType);
  return r;
}

export function postError(id, doc) {
  return request("POST", `/invocation/${id}/error`, errorRequest(doc));
}

export function postInitError(doc) {
  return request("POST", "/init/error", errorRequest(doc));
}

/**
 * A streamed response: `write` sends chunks as they come (chunked
 * encoding); `finish(errorDoc)` ends it, reporting an error in the
 * trailers as Lambda's runtime does.
 */
export function streamResponse(id, contentType) {
  let req;
  let done;
  const answered = new Promise((resolve, reject) => {
    done = { resolve, reject };
  });
  const open = () => {
    if (req) return req;
    req = http.request({
      host,
      port: Number(port),
      method: "POST",
      path: `${BASE}/invocation/${id}/response`,
      agent,
      headers: {
        "Content-Type": contentType(),
        "Lambda-Runtime-Function-Response-Mode": "streaming",
        "Transfer-Encoding": "chunked",
        Trailer: "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body",
      },
    }, (res) => {
      res.resume();
      res.on("end", () => done.resolve(res.statusCode));
    });
    req.on("error", (e) => done.reject(e));
    return req;
  };
  return {
    write(chunk, callback) {
      return open().write(chunk, callback);
    },
    started: () => req !== undefined,
    finish(errorDoc) {
      const r = open();
      if (errorDoc) {
        r.addTrailers({
          "Lambda-Runtime-Function-Error-Type": String(errorDoc.errorType),
          "Lambda-Runtime-Function-Error-Body": Buffer.from(JSON.stringify(errorDoc)).toString("base64"),
        });
      }
      r.end();
      return answered;
    },
  };
}
