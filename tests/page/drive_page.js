// drive_page.js: drives recur trace's page (issue 12) in a headless browser through
// playwright-core, as a person would: hovers characters, presses keys, clicks ranked units, and
// writes what the page showed after each action to OUT.json. The checks live in the caller
// (tests/cli/trace_page.sh), which compares these observations with the --npz arrays.
//   node drive_page.js BROWSER text PAGE.html OUT.json      the text page
//   node drive_page.js BROWSER vectors PAGE.html OUT.json   the vector-input page (time series)
//   node drive_page.js --probe BROWSER                      exit 0 when playwright-core and the
//                                                           browser are there, 77 (saying why) not
// BROWSER is chromium (Debian's /usr/bin/chromium, over CDP) or firefox (Debian's
// /usr/bin/firefox-esr, over WebDriver BiDi: playwright's own Firefox protocol, Juggler, needs
// its patched Firefox build, which Debian's is not). playwright-core 1.54.2 is installed by
// `npm install --no-save --no-package-lock --ignore-scripts playwright-core@1.54.2` in this
// directory (.ci/run does it); it drives only these browsers, never one of its own.
'use strict';
const fs = require('fs');
const path = require('path');

const BROWSERS = {
  chromium: {
    exe: '/usr/bin/chromium', pkg: 'chromium',
    launcher: (pw) => pw.chromium,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  },
  firefox: { // playwright-core 1.54's WebDriver BiDi client (1.65's sends a command ESR 153 lacks)
    exe: '/usr/bin/firefox-esr', pkg: 'firefox-esr',
    launcher: (pw) => pw._bidiFirefox, args: [],
  },
};

// playwright-core from this directory's node_modules, else Node's search; null when missing.
function loadPlaywright() {
  const local = path.join(__dirname, 'node_modules', 'playwright-core');
  try { return require(fs.existsSync(local) ? local : 'playwright-core'); } catch (e) { return null; }
}

// What the page shows now: the chosen value and unit, every character's background, the
// heatmap frame, the time-series polyline and the tip.
function snapshot(page) {
  return page.evaluate(() => {
    const sel = document.getElementById('name'), unit = document.getElementById('unit');
    const tip = document.getElementById('tip'), line = document.querySelector('#plot polyline');
    const frames = Array.from(document.querySelectorAll('#heat svg rect[fill="none"]'));
    return {
      name: sel.value, unit: +unit.value,
      colours: Array.from(document.querySelectorAll('#text span')).map((s) => s.style.background),
      frames: frames.map((r) => +r.getAttribute('y')),
      rowHeight: frames.length ? +document.querySelector('#heat svg rect').getAttribute('height') : 0,
      points: line ? line.getAttribute('points') : null,
      tip: tip.style.display === 'block' ? tip.textContent : null,
    };
  });
}

// Hovers over a few characters (first, a middle one, last) and records the tip of each.
async function hovers(page, out) {
  const spans = await page.$$('#text span');
  out.hover = [];
  for (const t of [0, Math.floor(spans.length / 2), spans.length - 1]) {
    await spans[t].scrollIntoViewIfNeeded();
    await spans[t].hover();
    out.hover.push(Object.assign({ step: t }, await snapshot(page)));
  }
  await page.mouse.move(1, 1);
  out.afterLeave = await snapshot(page);
}

// Presses each key with the page (not a form control) focused and records the result.
async function keys(page, out, list) {
  out.keys = [];
  for (const k of list) {
    await page.keyboard.press(k);
    out.keys.push(Object.assign({ key: k }, await snapshot(page)));
  }
}

// Arrow keys on a focused control stay the control's own: the select moves to the next value,
// the unit field steps the unit; the page's handler must not act on them a second time.
async function controls(page, out) {
  out.controls = [];
  for (const [id, k] of [['#name', 'ArrowDown'], ['#unit', 'ArrowUp'], ['#name', 'ArrowUp']]) {
    await page.focus(id);
    await page.keyboard.press(k);
    out.controls.push(Object.assign({ control: id, key: k }, await snapshot(page)));
  }
  await page.evaluate(() => document.activeElement.blur());
}

// Clicks the first entry of each ranked list and records its text and the selection after.
async function clicks(page, out) {
  out.clicks = [];
  for (const id of ['rmem', 'rvar', 'rsat', 'rfeat']) {
    const li = await page.$('#' + id + ' li');
    if (!li || (await li.textContent()).startsWith('none')) continue;
    const text = await li.textContent();
    await li.click();
    out.clicks.push(Object.assign({ list: id, text }, await snapshot(page)));
  }
}

async function main() {
  const probe = process.argv[2] === '--probe';
  const [name, mode, file, outFile] = process.argv.slice(probe ? 3 : 2);
  const b = BROWSERS[name];
  if (!b) { console.error('unknown browser ' + name); process.exit(2); }
  const pw = loadPlaywright();
  if (!pw || !b.launcher(pw)) {
    console.error('playwright-core 1.54 is not installed (npm install playwright-core@1.54.2 in tests/page)');
    process.exit(77);
  }
  if (!fs.existsSync(b.exe)) { console.error(b.exe + ' is not installed (apt-get install ' + b.pkg + ')'); process.exit(77); }
  if (probe) process.exit(0);
  const browser = await b.launcher(pw).launch({ executablePath: b.exe, args: b.args, headless: true,
    timeout: 60000 });
  const errors = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('request', (r) => { if (!r.url().startsWith('file:')) errors.push('network request: ' + r.url()); });
    await page.goto('file://' + path.resolve(file));
    const out = { mode, initial: await snapshot(page) };
    if (mode === 'text') {
      await hovers(page, out);
      await keys(page, out, ['j', 'j', 'k', 'ArrowDown', 'ArrowUp', 'l', 'h', 'ArrowRight',
        'ArrowLeft', 'k', 'k', 'Control+j', 'x']);
      await controls(page, out);
      await clicks(page, out);
    } else {
      await keys(page, out, ['j', 'j', 'k', 'l', 'h']);
    }
    out.errors = errors;
    fs.writeFileSync(outFile, JSON.stringify(out, null, 1));
  } finally {
    await browser.close();
  }
}
main().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
