import { access, constants } from 'node:fs/promises';
// Types only here: playwright-core takes seconds to load, and every test imports this package.
import type { Browser, Page } from 'playwright-core';

/**
 * Where Debian's `chromium` package puts the browser: what `npm test` installs when it is
 * missing (scripts/ensure-prerequisites.mjs). `DUBBO_MESH_CHROMIUM` names another binary.
 */
export const CHROMIUM_PATH = process.env.DUBBO_MESH_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Flags for running as root in a container on a small machine: root cannot use Chromium's
 * sandbox, a container's /dev/shm is often 64 MiB (too small for the renderer), and there is
 * no GPU. Nothing here changes what a page does.
 */
const CONTAINER_SAFE_FLAGS = [
  '--no-sandbox',
  '--disable-dev-shm-usage',
  '--disable-gpu',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-extensions',
];

/** Something that runs cleanups when a test ends (tap's `t`). */
export interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Options of {@link launchChromium}. */
export interface LaunchChromiumOptions {
  /** The browser binary; default {@link CHROMIUM_PATH}. */
  executablePath?: string;
  /** How long the launch may take before it counts as failed: a failure detector, generous for a loaded machine. Default 60 s. */
  launchTimeoutMs?: number;
}

/**
 * Launch headless Chromium (Debian's, through playwright-core: no browser download) and close
 * it when `t` ends. Rejects with one line naming what to install when the binary is missing.
 */
export async function launchChromium(t: Teardown, options: LaunchChromiumOptions = {}): Promise<Browser> {
  const executablePath = options.executablePath ?? CHROMIUM_PATH;
  try {
    await access(executablePath, constants.X_OK);
  } catch {
    throw new Error(`no Chromium at ${executablePath}: install Debian's package (apt-get install -y chromium), which npm test's pretest does when run as root`);
  }
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath, headless: true, args: CONTAINER_SAFE_FLAGS, timeout: options.launchTimeoutMs ?? 60_000 });
  t.teardown(() => browser.close());
  return browser;
}

/** The little of the DOM the page-side check below uses (this package is compiled without the DOM library). */
interface PageGlobals {
  document: { querySelector(selector: string): { textContent: string | null } | null };
}

/**
 * Wait until the text of the element `selector` names contains `expected` (a string, or a
 * RegExp it must match), checked in the page every 50 ms: waiting on what a person would see,
 * never a fixed sleep. The deadline is a failure detector, generous for a loaded machine; on
 * failure the error names `what` and shows the element's text at that moment. Resolves to
 * the text that matched.
 */
export async function waitForText(page: Page, selector: string, expected: string | RegExp, what: string, timeoutMs = 60_000): Promise<string> {
  const wanted = typeof expected === 'string' ? { text: expected } : { source: expected.source, flags: expected.flags };
  try {
    const handle = await page.waitForFunction(
      ({ selector, wanted }) => {
        const text = (globalThis as unknown as PageGlobals).document.querySelector(selector)?.textContent;
        if (text === null || text === undefined) return false;
        const holds = wanted.text !== undefined ? text.includes(wanted.text) : new RegExp(wanted.source!, wanted.flags).test(text);
        return holds ? text : false;
      },
      { selector, wanted: wanted as { text?: string; source?: string; flags?: string } },
      { polling: 50, timeout: timeoutMs },
    );
    return (await handle.jsonValue()) as string;
  } catch (error) {
    const shown = await page
      .locator(selector)
      .first()
      .textContent({ timeout: 1000 })
      .catch(() => null);
    throw new Error(
      `waiting for ${what}: ${(error as Error).message.split('\n')[0]}; ${selector} shows: ${shown === null ? '(nothing)' : JSON.stringify(shown.slice(0, 2000))}`,
    );
  }
}
