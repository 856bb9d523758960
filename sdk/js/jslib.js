// The two jslib.k6.io libraries k6 scripts import most, built in: `volley
// build` points `https://jslib.k6.io/k6-utils/<version>/index.js` and
// `https://jslib.k6.io/k6-summary/<version>/index.js` here (volley fetches
// no modules). Written for volley from the libraries' documented behaviour;
// what they have and volley does not is refused by name.

import * as volley from './volley.js';

// ------------------------------------------------------------------ k6-utils

/** An integer in [min, max], both included (k6-utils `randomIntBetween`). */
export function randomIntBetween(min, max) {
  const lo = Math.ceil(min);
  const hi = Math.floor(max);
  return lo + Math.floor(Math.random() * (hi - lo + 1));
}

/** One element of `items`, each as likely. */
export function randomItem(items) {
  return items[Math.floor(Math.random() * items.length)];
}

/** `length` characters drawn from `charset` (lower-case letters by default). */
export function randomString(length, charset = 'abcdefghijklmnopqrstuvwxyz') {
  let out = '';
  for (let i = 0; i < length; i++) out += charset[Math.floor(Math.random() * charset.length)];
  return out;
}

/** A random version 4 UUID (from the VU's generator). */
export function uuidv4() {
  return volley.random.uuid();
}

/**
 * The text between `left` and `right` in `content`: the first one, or with
 * `repeat` every one (an array); undefined (an empty array) when none.
 */
export function findBetween(content, left, right, repeat = false) {
  const text = String(content);
  const found = [];
  let from = 0;
  for (;;) {
    const start = text.indexOf(left, from);
    if (start < 0) break;
    const inner = start + left.length;
    const end = text.indexOf(right, inner);
    if (end < 0) break;
    found.push(text.slice(inner, end));
    if (!repeat) return found[0];
    from = end + right.length;
  }
  return repeat ? found : undefined;
}

function stageBound(name) {
  return () => {
    throw new Error(`not supported by volley: k6-utils ${name} (the executors do not tell a script their stage; tag requests yourself)`);
  };
}

export const k6utils = {
  randomIntBetween,
  randomItem,
  randomString,
  uuidv4,
  findBetween,
  check: volley.check,
  normalDistributionStages: stageBound('normalDistributionStages'),
  getCurrentStageIndex: stageBound('getCurrentStageIndex'),
  tagWithCurrentStageIndex: stageBound('tagWithCurrentStageIndex'),
  tagWithCurrentStageProfile: stageBound('tagWithCurrentStageProfile'),
};

// ------------------------------------------------------------------ k6-summary

const GREEN = '\x1b[32m';
const RED = '\x1b[31m';
const FAINT = '\x1b[2m';
const RESET = '\x1b[0m';

/** The line a metric shows: volley's own rendering when the data has it. */
function metricLine(m) {
  if (typeof m.summary === 'string') return m.summary;
  const v = m.values || {};
  return Object.keys(v).map((k) => `${k}=${Number.isInteger(v[k]) ? v[k] : v[k].toFixed(2)}`).join(' ');
}

/**
 * The end-of-test summary as text, from `handleSummary`'s data (k6-summary
 * `textSummary`): thresholds with ✓ or ✗, checks with their pass counts,
 * then each metric on a line. `options.indent` starts every line,
 * `options.enableColors` colours the marks.
 */
export function textSummary(data, options = {}) {
  const indent = options.indent ?? ' ';
  const color = !!options.enableColors;
  const paint = (code, text) => (color ? `${code}${text}${RESET}` : text);
  const lines = [];
  const checks = (data.root_group && data.root_group.checks) || [];
  for (const c of checks) {
    const ok = c.fails === 0;
    lines.push(`${indent}${paint(ok ? GREEN : RED, ok ? '✓' : '✗')} ${c.name}`);
    if (!ok) {
      const total = c.passes + c.fails;
      const pct = total ? Math.floor((c.passes / total) * 100) : 0;
      lines.push(`${indent}  ${paint(FAINT, `↳  ${pct}% — ✓ ${c.passes} / ✗ ${c.fails}`)}`);
    }
  }
  if (checks.length) lines.push('');
  const metrics = data.metrics || {};
  const names = Object.keys(metrics).sort();
  const width = Math.max(0, ...names.map((n) => n.length)) + 3;
  for (const name of names) {
    const m = metrics[name];
    const marks = Object.values(m.thresholds || {});
    const mark = marks.length === 0 ? ' ' : marks.every((t) => t.ok) ? paint(GREEN, '✓') : paint(RED, '✗');
    lines.push(`${indent}${mark} ${name}${paint(FAINT, '.'.repeat(width - name.length))}: ${metricLine(m)}`);
  }
  return `${lines.join('\n')}\n`;
}

const xml = (s) => String(s).replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]);

/**
 * The thresholds as a JUnit XML report (k6-summary `jUnit`): one test case
 * per threshold, a failure for each that did not hold.
 * `options.name` names the suite, `options.classname` the cases' class.
 */
export function jUnit(data, options = {}) {
  const cases = [];
  let failures = 0;
  for (const [metric, m] of Object.entries(data.metrics || {})) {
    for (const [expr, t] of Object.entries(m.thresholds || {})) {
      const name = `${metric} - ${expr}`;
      const open = `<testcase name="${xml(name)}" classname="${xml(options.classname || 'Unnamed folder')}"`;
      if (t.ok) cases.push(`${open} />`);
      else {
        failures++;
        cases.push(`${open}><failure message="failed" /></testcase>`);
      }
    }
  }
  const suite = xml(options.name || 'k6 thresholds');
  return `<?xml version="1.0"?>\n<testsuites tests="${cases.length}" failures="${failures}">\n`
    + `<testsuite name="${suite}" tests="${cases.length}" failures="${failures}">${cases.join('\n')}\n</testsuite>\n</testsuites>\n`;
}

export const k6summary = { textSummary, jUnit };
