// Finds the handler `_HANDLER` names, as Lambda's Node.js runtime does:
// `dir/file.export.nested` is the export `export.nested` of the module
// `dir/file` under the task root, tried as `file` (no extension), then
// `file.js` (CommonJS unless the nearest package.json says "type":
// "module"), `file.mjs`, `file.cjs`, and finally Node's own resolution
// (`dir/file/index.js`, a package).

import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

import * as errors from "./errors.mjs";

const FUNCTION_EXPR = /^([^.]*)\.(.*)$/;
const RELATIVE_PATH_SUBSTRING = "..";

function nearestPackageIsModule(file) {
  let dir = path.dirname(file);
  for (;;) {
    const pj = path.join(dir, "package.json");
    if (fs.existsSync(pj)) {
      try {
        return JSON.parse(fs.readFileSync(pj, "utf8")).type === "module";
      } catch {
        return false;
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return false;
    dir = parent;
  }
}

async function importFile(file) {
  return fs.existsSync(file) ? await import(pathToFileURL(file).href) : undefined;
}

function requireFile(require, file) {
  if (!fs.existsSync(file)) return undefined;
  try {
    return require(file);
  } catch (e) {
    // An ES module reached through require (Node.js 20): import it.
    if (e?.code === "ERR_REQUIRE_ESM") return import(pathToFileURL(file).href);
    throw e;
  }
}

async function loadModule(appRoot, moduleRoot, module) {
  const require = createRequire(import.meta.url);
  const base = path.resolve(appRoot, moduleRoot, module);
  const extensionless = requireFile(require, base);
  if (extensionless) return await extensionless;
  const esm = nearestPackageIsModule(base);
  if (!esm) {
    const cjs = requireFile(require, base + ".js");
    if (cjs) return await cjs;
  }
  const loaded =
    (esm && (await importFile(base + ".js"))) ||
    (await importFile(base + ".mjs")) ||
    (await requireFile(require, base + ".cjs"));
  if (loaded) return loaded;
  const resolved = require.resolve(module, { paths: [path.resolve(appRoot, moduleRoot), appRoot] });
  return await requireFile(require, resolved);
}

function isSyntaxError(e) {
  return e instanceof SyntaxError || e?.name === "SyntaxError";
}

/** The user's handler function, or a `Runtime.*` error. */
export async function loadHandler(appRoot, fullHandler) {
  if (!fullHandler) throw errors.malformedHandlerName("The handler is empty: set Handler to file.export");
  if (fullHandler.includes(RELATIVE_PATH_SUBSTRING)) {
    throw errors.malformedHandlerName(
      `'${fullHandler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const slash = fullHandler.lastIndexOf("/");
  const moduleRoot = fullHandler.substring(0, slash + 1);
  const match = fullHandler.substring(slash + 1).match(FUNCTION_EXPR);
  if (!match || match.length !== 3) throw errors.malformedHandlerName("Bad handler");
  const [, module, handlerPath] = match;

  let loaded;
  try {
    loaded = await loadModule(appRoot, moduleRoot, module);
  } catch (e) {
    if (isSyntaxError(e)) throw errors.userCodeSyntaxError(String(e));
    if (e?.code === "MODULE_NOT_FOUND" || e?.code === "ERR_MODULE_NOT_FOUND") {
      throw errors.importModuleError(String(e));
    }
    throw e;
  }
  const handler = handlerPath.split(".").reduce((o, key) => (o == null ? undefined : o[key]), loaded);
  if (handler === undefined || handler === null) {
    throw errors.handlerNotFound(`${fullHandler} is undefined or not exported`);
  }
  if (typeof handler !== "function") {
    throw errors.handlerNotFound(`${fullHandler} is not a function`);
  }
  return handler;
}
