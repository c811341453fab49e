// The `context` object handlers receive, as on Lambda.

const env = process.env;

function parseHeader(value) {
  if (value === undefined || value === "") return undefined;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

/**
 * The context of one invocation. `callbacks` are the legacy
 * `done`/`succeed`/`fail` of callback handlers.
 */
export function makeContext(headers, callbacks) {
  const deadline = Number(headers["lambda-runtime-deadline-ms"]);
  let waits = true;
  const context = {
    get callbackWaitsForEmptyEventLoop() {
      return waits;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waits = Boolean(value);
    },
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: parseHeader(headers["lambda-runtime-client-context"]),
    identity: parseHeader(headers["lambda-runtime-cognito-identity"]),
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    awsRequestId: headers["lambda-runtime-aws-request-id"],
    getRemainingTimeInMillis() {
      return Math.max(0, deadline - Date.now());
    },
    done: (err, result) => callbacks.done(err, result),
    succeed: (result) => callbacks.done(null, result),
    fail: (err) => callbacks.done(err ?? "handled"),
  };
  return context;
}
