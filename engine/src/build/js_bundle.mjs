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
    return null;
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
