// Opens the local stack's docs page in headless Chromium (Debian's, driven by
// playwright-core), authorizes with the API key as a user would, and presses "Try it out"
// then "Execute" on every operation, with the examples as they are. Prints each
// operation's HTTP status as JSON: {"createPayment": "201", ...}.
// Usage: node docs_try_it_out.mjs <stack url> <api key> <screenshot path> <chromium>
//        <chromium flags as a JSON list>
import { chromium } from "playwright-core";

const [url, apiKey, screenshot, executablePath, flags] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath, args: JSON.parse(flags) });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
  await page.goto(`${url}/docs`);
  await page.waitForSelector(".opblock", { timeout: 30000 });

  await page.click(".auth-wrapper button.authorize");
  await page.fill(".modal-ux input", apiKey);
  await page.click(".modal-ux .auth-btn-wrapper button.authorize");
  await page.click(".modal-ux .auth-btn-wrapper button.btn-done");

  const statuses = {};
  for (const operationId of ["createPayment", "makePayment", "getPayment", "listPayments"]) {
    const operation = page.locator(`[id$="-${operationId}"]`);
    await operation.locator(".opblock-summary").first().click();
    await operation.locator("button.try-out__btn").click();
    await operation.locator("button.execute").click();
    const status = operation.locator(".live-responses-table .response .response-col_status");
    await status.first().waitFor({ timeout: 30000 });
    statuses[operationId] = (await status.first().textContent()).trim();
  }
  await page.screenshot({ path: screenshot, fullPage: false });
  console.log(JSON.stringify(statuses));
} finally {
  await browser.close();
}
