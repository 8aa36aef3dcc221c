// The console in Debian's Firefox ESR, driven over WebDriver BiDi by puppeteer-core
// (Playwright drives only its own patched Firefox, which cannot be downloaded here).
// Usage: node smoke.mjs URL OPERATOR PASSWORD INCIDENT_ID SCREENSHOT_DIR
// Prints one JSON object: what was seen, and every console error and page error.
import puppeteer from 'puppeteer-core';

const [url, operator, password, incidentId, shots] = process.argv.slice(2);
const seen = {errors: [], foreign: [], steps: []};

// page.waitForFunction builds a Function in the page, which the console's CSP refuses
// (as it should): poll with evaluate instead.
async function until(page, predicate, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate(predicate))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${predicate}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
const browser = await puppeteer.launch({
  browser: 'firefox',
  executablePath: process.env.FIREFOX || '/usr/bin/firefox-esr',
  headless: true,
  defaultViewport: null,  // ESR's BiDi lacks the viewport emulation; the window is sized instead
  args: ['--window-size=1366,768'],
  extraPrefsFirefox: {'media.navigator.streams.fake': true},
});
try {
  const page = await browser.newPage();
  const origin = new URL(url).origin;
  page.on('console', (m) => { if (m.type() === 'error') seen.errors.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => seen.errors.push(`page: ${e.message}`));
  page.on('request', (r) => { if (!r.url().startsWith(origin) && !r.url().startsWith('data:')) seen.foreign.push(r.url()); });
  await page.goto(url);
  await page.waitForSelector('form#login');
  await page.type('form#login input[type=text], form#login input:not([type])', operator);
  await page.type('form#login input[type=password]', password);
  await page.click('form#login button[type=submit]');
  await page.waitForSelector(`table#board tr[data-incident-id="${incidentId}"]`, {timeout: 20000});
  seen.steps.push('board');
  await page.screenshot({path: `${shots}/firefox-board.png`});
  await page.click(`table#board tr[data-incident-id="${incidentId}"]`);
  await page.waitForSelector(`section#incident[data-incident-id="${incidentId}"] ol#timeline li[data-entry-id]`);
  seen.steps.push('incident');
  await page.type('textarea', 'Seen in Firefox');
  await page.evaluate(() => [...document.querySelectorAll('button')].find((b) => b.textContent === 'Add comment').click());
  await until(page, () => [...document.querySelectorAll('ol#comments li')].some((li) => li.textContent.includes('Seen in Firefox')));
  seen.steps.push('comment');
  await page.screenshot({path: `${shots}/firefox-incident.png`});
  await page.goto(`${url}#/map`);
  await until(page, () => document.querySelectorAll('svg#map path.country').length > 20);
  await page.waitForSelector(`svg#map circle.marker[data-incident-id="${incidentId}"]`);
  seen.steps.push('map');
  await page.screenshot({path: `${shots}/firefox-map.png`});
  seen.steps.push(await page.evaluate(() => [...document.querySelectorAll('svg#map path.country')].length > 20 ? 'outlines' : 'no outlines'));
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen));
