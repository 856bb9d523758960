// volley build's JavaScript front end (run by Node.js in the build stage):
// bundles the script and its relative imports with rolldown into one
// function the guest calls once per VU (k6's init context: top-level code
// runs in each VU at init, not at build time), embeds the files `open()`
// names, maps the bundle's lines back to the script's, and reads
// `export const options`. Writes `src/__volley_main.js` (the world's
// exports) and `options.json`.
//
// argv: <rolldown dir> <entry file> <stage dir> [held]
// `held`: the runtime drops a resource's handle when its object is freed
// (volley's QuickJS runtime), so the SDK may leave responses in the engine
// (`send-url-held`, `send-held`).

import { pathToFileURL } from 'node:url';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';

const [rolldownDir, entryArg, stage, held] = process.argv.slice(2);
const entry = path.resolve(entryArg);
const { rolldown } = await import(pathToFileURL(path.join(rolldownDir, 'dist/index.mjs')).href);
const { parseAst } = await import(pathToFileURL(path.join(rolldownDir, 'dist/parse-ast-index.mjs')).href);
const root = path.dirname(entry);

const SUPPORTED = new Set(['volley', 'k6', 'k6/http', 'k6/metrics', 'k6/data', 'k6/execution', 'k6/encoding', 'k6/crypto', 'k6/timers', 'k6/ws', 'k6/websockets', 'k6/experimental/websockets']);
const problems = [];
const files = {};
const rel = (p) => path.relative(root, p) || path.basename(p);

function unsupported(id) {
  if (/^https?:\/\//.test(id)) {
    return `not supported: remote module '${id}' (volley does not fetch modules: save the file next to the script and import it by a relative path; of jslib.k6.io, k6-utils, k6-summary and url are built in)`;
  }
  if (id.startsWith('k6/')) return `not supported: '${id}' (volley supports ${[...SUPPORTED].filter((m) => m !== 'volley').join(', ')})`;
  return `not supported: package '${id}' (a script imports its own files by relative path, 'volley' and k6's modules; npm packages cannot be imported yet)`;
}

// Modules that are part of the component only when the script imports
// them (each one costs every VU memory): the SDK file and the export that
// holds it. jslib.k6.io libraries are built in, any version.
const LAZY = {
  'k6/crypto': ['k6crypto.js', 'k6crypto'],
  'k6/ws': ['k6ws.js', 'k6ws'],
  'k6/websockets': ['k6ws.js', 'k6websockets'],
  'k6/experimental/websockets': ['k6ws.js', 'k6websockets'],
  'jslib/k6-utils': ['jslib.js', 'k6utils'],
  'jslib/k6-summary': ['jslib.js', 'k6summary'],
  'jslib/url': ['url.js', 'k6url'],
};
const JSLIB = /^https:\/\/jslib\.k6\.io\/(k6-utils|k6-summary|url)\/[0-9][^/]*\/index\.js$/;
const lazyUsed = new Set();
let k6Used = false;

// ------------------------------------------------------------ literals once
//
// A k6 script writes its request params and its checks as literals in the
// call: `http.get(url, { headers: {...}, tags: { name: 'home' } })`,
// `check(r, { 'is 200': (r) => r.status === 200 })`. Made anew on every
// call, they cost QuickJS an object per literal and the SDK its work on
// them each time (about a quarter of such an iteration's instructions).
// Such a literal that is the same on every call (constants, and functions
// that read nothing of the function around the call) is made once per VU
// instead, in place so no line moves: `(__volley_cN || (__volley_cN =
// __volley_const({...})))`, frozen, where the SDK keeps what it derives
// from it (volley.js, `__const`). Which calls: a k6/http or volley `http`
// method's params, and `check`'s checks (k6's and volley's).

const PARAMS_AT = { get: 1, head: 1, options: 2, del: 2, post: 2, put: 2, patch: 2, request: 3 };

/**
 * Whether `node` is a literal whose value is the same each time it runs.
 * A name it reads must be one of `fixed` (the module's `const`s that hold
 * a string, number or boolean); that it is the module's, and what its
 * functions read, is checked later (`literalsOnce`).
 */
function constantShape(node, fixed) {
  switch (node.type) {
    case 'ArrayExpression':
      return node.elements.every((e) => e === null || constantShape(e, fixed));
    case 'ObjectExpression':
      return node.properties.every((p) => p.type === 'Property' && p.kind === 'init' && !p.computed && !p.shorthand
        && (p.key.type === 'Identifier' || p.key.type === 'Literal') && constantShape(p.value, fixed));
    case 'ArrowFunctionExpression':
    case 'FunctionExpression':
      return true;
    default:
      return primitive(node, fixed, false);
  }
}

/**
 * Whether `node` is a string, number, boolean, null or undefined that is
 * the same each time: literals (not a regular expression's: a new object
 * each time), names of `fixed`, `undefined`, and operators on those; at
 * the module's top level (`atInit`, run once) `__ENV.NAME` too.
 */
function primitive(node, fixed, atInit) {
  const p = (n) => primitive(n, fixed, atInit);
  switch (node.type) {
    case 'Literal':
      return node.regex === undefined;
    case 'Identifier':
      return fixed.has(node.name) || node.name === 'undefined';
    case 'TemplateLiteral':
      return node.expressions.every(p);
    case 'UnaryExpression':
      return node.operator !== 'delete' && p(node.argument);
    case 'BinaryExpression':
      return node.operator !== 'in' && node.operator !== 'instanceof' && p(node.left) && p(node.right);
    case 'LogicalExpression':
      return p(node.left) && p(node.right);
    case 'ConditionalExpression':
      return p(node.test) && p(node.consequent) && p(node.alternate);
    case 'MemberExpression':
      return atInit && node.object.type === 'Identifier' && node.object.name === '__ENV' && !fixed.has('__ENV')
        && (node.computed ? node.property.type === 'Literal' : node.property.type === 'Identifier');
    default:
      return false;
  }
}

/** The module's `const`s (at its top level) that hold a string, number or boolean fixed at init. */
function fixedConsts(ast) {
  const fixed = new Set();
  for (let st of ast.body) {
    if (st.type === 'ExportNamedDeclaration' && st.declaration) st = st.declaration;
    if (st.type !== 'VariableDeclaration' || st.kind !== 'const') continue;
    for (const d of st.declarations) {
      if (d.id.type === 'Identifier' && d.init && primitive(d.init, fixed, true)) fixed.add(d.id.name);
    }
  }
  return fixed;
}

/** The names a binding pattern declares. */
function boundNames(pattern, out = []) {
  if (!pattern) return out;
  switch (pattern.type) {
    case 'Identifier': out.push(pattern.name); break;
    case 'ObjectPattern': for (const p of pattern.properties) boundNames(p.type === 'RestElement' ? p.argument : p.value, out); break;
    case 'ArrayPattern': for (const e of pattern.elements) boundNames(e, out); break;
    case 'RestElement': boundNames(pattern.argument, out); break;
    case 'AssignmentPattern': boundNames(pattern.left, out); break;
    default: break;
  }
  return out;
}

const isNode = (v) => v !== null && typeof v === 'object' && typeof v.type === 'string';
const isFunction = (n) => n.type === 'FunctionDeclaration' || n.type === 'FunctionExpression' || n.type === 'ArrowFunctionExpression';

function eachChild(node, fn) {
  for (const key of Object.keys(node)) {
    if (key === 'type' || key === 'start' || key === 'end') continue;
    const v = node[key];
    if (Array.isArray(v)) {
      for (const c of v) if (isNode(c)) fn(c, key);
    } else if (isNode(v)) {
      fn(v, key);
    }
  }
}

/** `var` names declared in a function's body (not in functions inside it). */
function varNames(node, out) {
  eachChild(node, (c) => {
    if (isFunction(c) || c.type === 'StaticBlock') return;
    if (c.type === 'VariableDeclaration' && c.kind === 'var') for (const d of c.declarations) boundNames(d.id, out);
    varNames(c, out);
  });
  return out;
}

/** Names a block (or a program's, a switch's cases') statements declare in it. */
function lexicalNames(statements, out) {
  for (let st of statements) {
    if (st.type === 'ExportNamedDeclaration' || st.type === 'ExportDefaultDeclaration') st = st.declaration || st;
    if (st.type === 'VariableDeclaration' && st.kind !== 'var') for (const d of st.declarations) boundNames(d.id, out);
    else if ((st.type === 'FunctionDeclaration' || st.type === 'ClassDeclaration') && st.id) out.push(st.id.name);
  }
  return out;
}

/** The scope `node` opens, if any: the names declared in it. */
function scopeOf(node) {
  if (isFunction(node)) {
    const names = ['arguments'];
    if (node.type === 'FunctionExpression' && node.id) names.push(node.id.name);
    for (const p of node.params) boundNames(p, names);
    if (node.body.type === 'BlockStatement') {
      varNames(node.body, names);
      lexicalNames(node.body.body, names);
    }
    return names;
  }
  switch (node.type) {
    case 'BlockStatement':
    case 'StaticBlock':
      return lexicalNames(node.body, node.type === 'StaticBlock' ? varNames(node, []) : []);
    case 'SwitchStatement':
      return lexicalNames(node.cases.flatMap((c) => c.consequent), []);
    case 'ForStatement':
      return node.init && node.init.type === 'VariableDeclaration' ? lexicalNames([node.init], []) : [];
    case 'ForInStatement':
    case 'ForOfStatement':
      return node.left.type === 'VariableDeclaration' ? lexicalNames([node.left], []) : [];
    case 'CatchClause':
      return boundNames(node.param, []);
    case 'ClassExpression':
    case 'ClassDeclaration':
      return node.id ? [node.id.name] : [];
    default:
      return null;
  }
}

/**
 * The literals of `code` (a module) that can be made once: each a
 * [start, end] of the source text. A function in one may read the
 * module's names and globals, never a name of a function or block around
 * the call (or `this`, `arguments`, `super`, `new.target`, `eval`), since
 * the first call's would be the one every later call sees.
 */
function literalsOnce(ast) {
  // Who the calls are: the module's imports of k6/http, k6 and volley.
  const httpObjects = new Set(); // `http` in http.get(...)
  const httpMethods = new Map(); // a method imported by name: local -> method
  const checkNames = new Set();
  const namespaces = new Set(); // `volley` in volley.check / volley.http.get
  for (const st of ast.body) {
    if (st.type !== 'ImportDeclaration') continue;
    const from = st.source.value;
    for (const sp of st.specifiers) {
      const local = sp.local.name;
      const imported = sp.type === 'ImportSpecifier' ? (sp.imported.name ?? sp.imported.value) : null;
      if (from === 'k6/http') {
        if (imported === null || imported === 'default') httpObjects.add(local);
        else if (PARAMS_AT[imported] !== undefined) httpMethods.set(local, imported);
      } else if (from === 'k6' || from === 'volley') {
        if (imported === 'check') checkNames.add(local);
        else if (from === 'volley' && imported === 'http') httpObjects.add(local);
        else if (imported === null || imported === 'default') namespaces.add(local);
      }
    }
  }
  const atModule = new Set(lexicalNames(ast.body, varNames(ast, [])));
  // (`__ENV` declared by the module is not the engine's: no name is fixed then.)
  const fixed = atModule.has('__ENV') ? new Set() : fixedConsts(ast);
  const named = (n, set) => n.type === 'Identifier' && set.has(n.name);
  const member = (n) => (n.type === 'MemberExpression' && !n.computed && n.property.type === 'Identifier' ? n.property.name : null);
  /** Which argument of `call` is its params or checks, if the callee is one of those. */
  function paramsAt(call) {
    const c = call.callee;
    if (named(c, checkNames)) return 1;
    if (c.type === 'Identifier' && httpMethods.has(c.name)) return PARAMS_AT[httpMethods.get(c.name)];
    const m = member(c);
    if (m === null) return undefined;
    const o = c.object;
    if (named(o, httpObjects) || (member(o) === 'http' && named(o.object, namespaces))) return PARAMS_AT[m];
    return m === 'check' && named(o, namespaces) ? 1 : undefined;
  }
  const rootName = (n) => (n.type === 'MemberExpression' ? rootName(n.object) : n.name);
  const candidates = new Map(); // literal node -> { node, ok }
  // Each scope: its names, each mapped to the candidate its `const` holds
  // (a literal in a function, given to calls only), else null.
  const scopes = [];
  const open = []; // [candidate, how many scopes were around its literal]
  const resolve = (name) => {
    let i = scopes.length - 1;
    while (i >= 0 && !scopes[i].has(name)) i--;
    return i;
  };
  /** Whether `call`'s callee is the import's (not a name declared again around it, a parameter `http` say). */
  const imported = (call) => resolve(rootName(call.callee)) <= 0;
  /** A candidate for `literal`, if its shape is constant. */
  function candidate(literal) {
    if (!constantShape(literal, fixed)) return null;
    const c = { node: literal, ok: true };
    candidates.set(literal, c);
    return c;
  }
  /** The statements a scope node holds directly (where its `const`s are). */
  function statementsOf(node) {
    if (isFunction(node)) return node.body.type === 'BlockStatement' ? node.body.body : [];
    if (node.type === 'BlockStatement' || node.type === 'StaticBlock') return node.body;
    if (node.type === 'SwitchStatement') return node.cases.flatMap((c) => c.consequent);
    return [];
  }
  function visit(node, parent, key) {
    if (node.type === 'CallExpression') {
      const at = paramsAt(node);
      const arg = at === undefined ? undefined : node.arguments[at];
      if (arg && arg.type === 'ObjectExpression' && imported(node)) candidate(arg);
    }
    let names = null;
    if (node.type === 'Program') {
      names = new Map([...atModule].map((n) => [n, null]));
    } else if (!(node.type === 'BlockStatement' && key === 'body' && isFunction(parent))) {
      // (A function's body is in the function's scope.)
      const declared = scopeOf(node);
      if (declared !== null) {
        names = new Map(declared.map((n) => [n, null]));
        // `const params = { ... }` in a function, then `http.get(url, params)`:
        // made once too, if the name is only ever given to such calls.
        for (const st of statementsOf(node)) {
          if (st.type !== 'VariableDeclaration' || st.kind !== 'const') continue;
          for (const d of st.declarations) {
            if (d.id.type === 'Identifier' && d.init && d.init.type === 'ObjectExpression') {
              const c = candidate(d.init);
              if (c !== null) names.set(d.id.name, c);
            }
          }
        }
      }
    }
    // A candidate's literal: every name read in it from here on must be
    // found in a scope inside it, or the module's, or be a global.
    const literal = candidates.get(node);
    if (literal !== undefined) open.push([literal, scopes.length]);
    if (names !== null) scopes.push(names);
    const reads = node.type === 'Identifier'
      && !(parent && parent.type === 'MemberExpression' && key === 'property' && !parent.computed)
      && !(parent && (parent.type === 'Property' || parent.type === 'MethodDefinition' || parent.type === 'PropertyDefinition') && key === 'key' && !parent.computed)
      && !(parent && parent.type === 'VariableDeclarator' && key === 'id');
    if (reads) {
      const i = resolve(node.name);
      const held = i > 0 ? scopes[i].get(node.name) : null;
      // A `const` candidate read anywhere but as a call's params or checks
      // could be changed or kept: then it is made each time, as written.
      if (held) {
        const given = parent.type === 'CallExpression' && key === 'arguments'
          && parent.arguments[paramsAt(parent)] === node && imported(parent);
        if (!given) held.ok = false;
      }
      // Found in a scope around the literal but not the module's: the call's own.
      for (const [c, depth] of open) if (i > 0 && i < depth) c.ok = false;
    }
    if (open.length && (node.type === 'ThisExpression' || node.type === 'Super' || node.type === 'MetaProperty'
      || (node.type === 'Identifier' && (node.name === 'arguments' || node.name === 'eval')))) {
      for (const [c] of open) c.ok = false;
    }
    eachChild(node, (c, k) => visit(c, node, k));
    if (literal !== undefined) open.pop();
    if (names !== null) scopes.pop();
  }
  visit(ast, null, null);
  // Not one inside another: the outer one is made once with it.
  const out = [];
  for (const c of [...candidates.values()].filter((x) => x.ok).sort((a, b) => a.node.start - b.node.start)) {
    if (out.length && c.node.start < out[out.length - 1][1]) continue;
    out.push([c.node.start, c.node.end]);
  }
  return out;
}

/** `code` with its constant literals made once per VU (see above), or null if it has none. */
function makeLiteralsOnce(code) {
  if (code.includes('__volley_')) return null;
  let ast;
  try {
    ast = parseAst(code);
  } catch {
    return null; // rolldown reports the script's syntax error itself
  }
  const spans = literalsOnce(ast);
  if (!spans.length) return null;
  let out = '';
  let at = 0;
  spans.forEach(([start, end], i) => {
    out += `${code.slice(at, start)}(__volley_c${i} || (__volley_c${i} = __volley_const(${code.slice(start, end)})))`;
    at = end;
  });
  out += code.slice(at);
  // On the first line, before it: no line moves.
  const vars = spans.map((_, i) => `__volley_c${i}`).join(', ');
  return `import { __const as __volley_const } from 'volley'; let ${vars}; ${out}`;
}

const plugin = {
  name: 'volley',
  resolveId(id, importer) {
    if (SUPPORTED.has(id)) {
      if (id !== 'volley') k6Used = true;
      if (LAZY[id]) lazyUsed.add(id);
      return { id, external: true };
    }
    const jslib = JSLIB.exec(id);
    if (jslib) {
      lazyUsed.add(`jslib/${jslib[1]}`);
      return { id: `jslib/${jslib[1]}`, external: true };
    }
    if (!importer || id.startsWith('.') || id.startsWith('/')) return null;
    problems.push(`${importer ? rel(importer) : entry}: import '${id}': ${unsupported(id)}`);
    return { id, external: true };
  },
  transform(code, id) {
    // open('file') with a literal name: read now, embedded in the component.
    for (const m of code.matchAll(/\bopen\(\s*(['"`])([^'"`$]+)\1/g)) {
      const name = m[2];
      const file = path.resolve(path.dirname(id), name);
      let bytes;
      try {
        bytes = fs.readFileSync(file);
      } catch (e) {
        const line = code.slice(0, m.index).split('\n').length;
        problems.push(`${rel(id)}:${line}: open('${name}'): ${file} cannot be read (${e.code || e.message}); open() reads files next to the script at build time`);
        continue;
      }
      const text = bytes.toString('utf8');
      const entryOf = Buffer.from(text, 'utf8').equals(bytes) ? { text } : { b64: bytes.toString('base64') };
      files[name.replace(/^\.\//, '')] = entryOf;
      files[path.relative(root, file)] = entryOf;
    }
    const once = makeLiteralsOnce(code);
    return once === null ? null : { code: once, map: null };
  },
};

let output;
try {
  // ES2016: `async`/`await` become generators over the global `Promise`,
  // which the SDK's event loop (sdk/js/loop.js) settles within each VU call.
  const bundle = await rolldown({
    input: entry, cwd: root, plugins: [plugin], logLevel: 'silent', treeshake: false, transform: { target: 'es2016' },
  });
  ({ output } = await bundle.generate({ format: 'cjs', exports: 'named', sourcemap: true, dir: root }));
} catch (e) {
  const msg = String(e && e.message ? e.message : e).replace(/\x1b\[[0-9;]*m/g, '');
  process.stderr.write(`${msg.trim()}\n`);
  process.exit(1);
}
if (problems.length) {
  process.stderr.write(`${problems.join('\n')}\n`);
  process.exit(1);
}
const chunk = output.find((o) => o.type === 'chunk');
// A default or namespace import of a module that says it is one (k6's
// modules: `__esModule` and its own `default`) reads that module itself, not
// rolldown's copy whose every member is a getter: `http.get` in a script
// that imports `http` by default would call two functions on every read.
// The helper is appended, a declaration, so no line moves.
const code = `${chunk.code.replace(/\n\/\/# sourceMappingURL=.*$/, '').replace(/(= *)__toESM\(/g, '$1__volleyESM(__toESM, ')}
function __volleyESM(toESM, m, isNodeMode, target) {
  return m !== null && typeof m === 'object' && m.__esModule === true && Object.prototype.hasOwnProperty.call(m, 'default')
    ? m : toESM(m, isNodeMode, target);
}`;

// Source map -> one [source, line] per generated line (its first mapping).
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const lines = [];
const map = chunk.map;
const mapSources = (map && map.sources ? map.sources : []).map((s) => path.relative(root, path.resolve(root, s)));
if (map && map.mappings) {
  let src = 0;
  let line = 0;
  for (const group of map.mappings.split(';')) {
    let first = null;
    let col = 0;
    for (const seg of group.split(',')) {
      if (!seg) continue;
      const vals = [];
      let v = 0;
      let shift = 0;
      for (const ch of seg) {
        const d = B64.indexOf(ch);
        v += (d & 31) << shift;
        if (d & 32) shift += 5;
        else {
          vals.push(v & 1 ? -(v >> 1) : v >> 1);
          v = 0;
          shift = 0;
        }
      }
      col += vals[0];
      if (vals.length >= 4) {
        src += vals[1];
        line += vals[2];
        if (first === null) first = [src, line + 1];
      }
    }
    lines.push(first);
  }
}

// options: plain data in practice; read by running the top level here with
// stand-ins for every module (nothing reaches a network or a VU).
let options = null;
const exportsOptions = /\bexports\.options\s*=/.test(code);
if (exportsOptions) {
  const stub = () => new Proxy(function () {}, {
    get: (_, p) => (p === '__esModule' ? false : p === Symbol.toPrimitive ? () => '' : stub()),
    apply: () => stub(),
    construct: () => stub(),
  });
  const readOpen = (name, mode) => {
    const f = files[String(name).replace(/^\.\//, '')];
    if (!f) throw new Error(`open('${name}') is not embedded`);
    if (mode === 'b') return new ArrayBuffer(0);
    return f.text !== undefined ? f.text : Buffer.from(f.b64, 'base64').toString('utf8');
  };
  const mod = { exports: {} };
  const ctx = vm.createContext({
    __ENV: {}, __VU: 0, __ITER: 0, open: readOpen,
    console: { log() {}, info() {}, warn() {}, error() {}, debug() {} },
  });
  try {
    const fn = vm.runInContext(`(function (require, exports, module) {\n${code}\n})`, ctx, { timeout: 5000, filename: rel(entry) });
    fn(() => stub(), mod.exports, mod);
    options = JSON.parse(JSON.stringify(mod.exports.options ?? null));
  } catch (e) {
    process.stderr.write(`${rel(entry)}: export const options: reading it at build time runs the script's top level, which failed: ${e && e.message ? e.message : e}\n`
      + `(keep \`options\` plain data and the top level free of what needs a running VU, or give the plan in plans/default.toml)\n`);
    process.exit(1);
  }
}

const embed = JSON.stringify({ files, lineMap: null });
const webcrypto = /\bcrypto\b/.test(code);
const needK6 = k6Used || webcrypto || lazyUsed.size > 0;
const head = [
  '// Generated by volley build: the world\'s exports around the bundled script.',
  "import { __runner } from './volley.js';",
  ...(held === 'held' ? ["import { __heldReplies } from './volley.js';", '__heldReplies();'] : []),
  // Only what the script uses is part of the component: every module in it
  // costs each VU memory. k6's modules (k6.js) for a script that imports
  // one, uses a jslib module or WebCrypto; a script on volley's SDK alone
  // has no k6.js.
  ...(needK6 ? ["import { modules, __register, __webcrypto, __digest } from './k6.js';"] : ["import * as volley from './volley.js';", 'const modules = { volley };']),
  // WebCrypto (the global `crypto`) only for a script that names it.
  ...(webcrypto ? ["import { webcrypto } from './webcrypto.js';", '__webcrypto(webcrypto);'] : []),
  // Digest authentication (`auth: 'digest'`) only for a script that names it.
  ...(needK6 && /\bdigest\b/.test(code) ? ["import * as digest from './digest.js';", '__digest(digest);'] : []),
  // `k6/crypto` and jslib.k6.io's modules only when imported.
  ...[...lazyUsed].flatMap((id) => {
    const [file, member] = LAZY[id];
    return [`import { ${member} } from './${file}';`, `__register('${id}', ${member});`];
  }),
  `const EMBED = ${embed};`,
  'function require(id) {',
  '  const m = modules[id];',
  "  if (m === undefined) throw new Error(`not supported: import '${id}'`);",
  '  return m;',
  '}',
  '// The script: its top level runs when a VU first calls in (k6\'s init context).',
  'function load() {',
  '  const module = { exports: {} };',
  '  (function (require, exports, module) {',
];
const first = head.length + 1;
const tail = [
  '  })(require, module.exports, module);',
  '  return module.exports;',
  '}',
  `EMBED.lineMap = ${JSON.stringify({ first, sources: mapSources, lines })};`,
  'const runner = __runner(load, EMBED);',
  'export function setup() { return runner.setup(); }',
  'export function initVu(data) { return runner.initVu(data); }',
  // The iteration's export is the runner's own function (no call in between).
  'export const run = runner.run;',
  'export function teardown(data) { return runner.teardown(data); }',
  'export function handleSummary(data) { return runner.handleSummary(data); }',
  '',
];
fs.mkdirSync(path.join(stage, 'src'), { recursive: true });
fs.writeFileSync(path.join(stage, 'src/__volley_main.js'), `${head.join('\n')}\n${code}\n${tail.join('\n')}`);
fs.writeFileSync(path.join(stage, 'options.json'), JSON.stringify(options));
