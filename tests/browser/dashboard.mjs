// The dashboard in a real browser (SPEC §15): Debian's Chromium, headless,
// driven by playwright-core, against a real `sluice serve` this test starts.
// Checks: the page loads without console errors; its charts move while a
// load runs; a command sent from the form shows in the events tail; a view's
// rebuild shows its progress; `sluice-load report` makes a page of two runs
// that plots both; with --auth the page asks for a token and keeps it only
// in memory; on a cluster node (three nats-servers it starts) the cluster
// panel shows the node owning every partition. Saves a screenshot of each
// page.
//
//   node tests/browser/dashboard.mjs SLUICE SLUICE_LOAD SCREENSHOT.png
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [sluice, sluiceLoad, screenshot] = process.argv.slice(2);
if (!sluice || !sluiceLoad || !screenshot) {
  console.error("usage: dashboard.mjs SLUICE SLUICE_LOAD SCREENSHOT.png");
  process.exit(2);
}
const browserPath = process.env.CHROMIUM || "/usr/bin/chromium";
const natsServer = process.env.NATS_SERVER || "/usr/sbin/nats-server";

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures++;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

async function waitFor(what, fn, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch {}
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function run(cmd, args) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "ignore", "inherit"] });
    p.on("exit", (code) => resolve(code));
  });
}

function capture(cmd, args) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    p.stdout.on("data", (d) => { out += d; });
    p.on("exit", () => resolve(out));
  });
}

async function checkAuth(browser) {
  const [token, entry] = (await capture(sluice, ["token", "new", "dash", "--grant", "metrics", "--grant", "events",
                                                 "--grant", "commands:*"])).trim().split("\n");
  const file = join(data, "tokens.json");
  writeFileSync(file, `{"tokens":[${entry}]}`);
  const authPort = await freePort();
  const authUrl = `http://127.0.0.1:${authPort}`;
  const guarded = spawn(sluice, ["serve", "--data", join(data, "auth"), "--listen", `127.0.0.1:${authPort}`,
                                 "--durability", "none", "--auth", file], { stdio: ["ignore", "ignore", "inherit"] });
  try {
    await waitFor("the server with --auth", async () => (await fetch(`${authUrl}/readyz`)).status === 200);
    const page = await browser.newPage();
    await page.goto(authUrl);
    const asked = await page.waitForSelector("#login", { state: "visible", timeout: 10000 }).then(() => true,
                                                                                              () => false);
    check(asked, "with --auth the page asks for a token");
    await page.fill("#token", token);
    await page.click("#login-form button");
    await waitFor("samples with the token", async () =>
        Number(await page.evaluate(() => document.body.dataset.samples || 0)) >= 1, 15000);
    check(await page.isHidden("#login"), "with the token it shows the server's figures");
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) +
                                             document.cookie + location.href);
    check(!stored.includes(token), "the token is in no storage, cookie or URL");
  } finally {
    guarded.kill("SIGTERM");
    await new Promise((r) => guarded.on("exit", r));
  }
}

// Three clustered nats-servers with JetStream and one sluice node on them:
// the panel appears, with the node owning all 64 partitions.
async function checkCluster(browser) {
  const dir = join(data, "nats");
  const client = [], route = [], procs = [];
  for (let i = 0; i < 3; i++) { client.push(await freePort()); route.push(await freePort()); }
  try {
    for (let i = 0; i < 3; i++) {
      mkdirSync(join(dir, `n${i}`), { recursive: true });
      const routes = route.filter((_, j) => j !== i).map((p) => `nats-route://127.0.0.1:${p}`).join(", ");
      const conf = join(dir, `n${i}.conf`);
      writeFileSync(conf, `server_name: n${i}\nlisten: 127.0.0.1:${client[i]}\njetstream { store_dir: "${join(dir, `n${i}`)}" }\n` +
                          `cluster { name: dash, listen: 127.0.0.1:${route[i]}, routes: [${routes}] }\n`);
      procs.push(spawn(natsServer, ["-c", conf], { stdio: ["ignore", "ignore", "ignore"] }));
    }
    const nodePort = await freePort();
    const nodeUrl = `http://127.0.0.1:${nodePort}`;
    procs.push(spawn(sluice, ["serve", "--data", join(data, "cluster-node"), "--listen", `127.0.0.1:${nodePort}`,
                              "--cluster", client.map((p) => `nats://127.0.0.1:${p}`).join(","), "--node", "dash"],
                     { stdio: ["ignore", "ignore", "inherit"] }));
    await waitFor("the cluster node", async () => (await fetch(`${nodeUrl}/readyz`)).status === 200, 60000);
    const page = await browser.newPage({ viewport: { width: 1400, height: 1200 } });
    await page.goto(nodeUrl);
    const shown = await page.waitForSelector("#cluster", { state: "visible", timeout: 15000 }).then(() => true,
                                                                                                 () => false);
    check(shown, "on a cluster node the cluster panel shows");
    const owners = await page.$$eval("#partitions i", (cells) => cells.map((c) => c.dataset.owner));
    check(owners.length === 64 && owners.every((o) => o === "dash"), `the panel shows 64 partitions owned by the node (${owners.length})`);
    check((await page.textContent("#t-stream")).startsWith("3 · n"), "the panel shows the stream's replicas and leader");
    check((await page.$$eval("#nodes tbody tr", (rows) => rows.map((r) => r.dataset.node))).includes("dash"),
          "the nodes table lists the node");
    await page.screenshot({ path: screenshot.replace(/\.png$/, "") + "-cluster.png", fullPage: true });
    const alone = await browser.newPage();
    await alone.goto(url);
    await waitFor("a sample alone", async () => Number(await alone.evaluate(() => document.body.dataset.samples || 0)) >= 1);
    check(await alone.isHidden("#cluster"), "a node alone shows no cluster panel");
  } finally {
    for (const p of procs.reverse()) {
      p.kill("SIGKILL");
      if (p.exitCode === null && p.signalCode === null) await new Promise((r) => p.on("exit", r));
    }
  }
}

const data = mkdtempSync(join(tmpdir(), "sluice-browser-"));
const port = await freePort();
const url = `http://127.0.0.1:${port}`;
// --drill-slow-build: a rebuild reads the log slowly enough to be seen.
const server = spawn(sluice, ["serve", "--data", join(data, "d"), "--listen", `127.0.0.1:${port}`,
                              "--durability", "none", "--drill-slow-build"], { stdio: ["ignore", "ignore", "inherit"] });
let browser;
try {
  await waitFor("the server", async () => (await fetch(`${url}/readyz`)).status === 200);
  browser = await chromium.launch({ executablePath: browserPath, headless: true, args: ["--no-sandbox"] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const problems = [];
  page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
  page.on("pageerror", (e) => problems.push(String(e)));
  const external = [];
  page.on("request", (r) => { if (!r.url().startsWith(url) && !r.url().startsWith(`ws://127.0.0.1:${port}`)) external.push(r.url()); });

  await page.goto(url);
  await waitFor("two samples", async () => Number(await page.evaluate(() => document.body.dataset.samples || 0)) >= 2);
  check((await page.textContent("#version")).startsWith("v"), "the header shows the version");

  // A load: the commands chart and the log chart move.
  // 3,000 commands: enough to see, few enough that the slowed rebuild below takes seconds.
  const load = run(sluiceLoad, ["batch", "--url", url, "-c", "2", "-b", "100", "-n", "30", "-a", "100", "--quiet"]);
  const moved = await waitFor("the charts to move", () => page.evaluate(() =>
      rates.series[0].data.some((v) => v > 0) && logChart.series[0].data.some((v) => v > 0)), 20000).catch(() => false);
  check(moved, "commands/s and events/s rise while a load runs");
  const latencyDrawn = await page.evaluate(() => latency.series[1].data.some((v) => Number.isFinite(v) && v > 0));
  check(latencyDrawn, "the latency chart has a p99");
  await load;
  const views = await page.$$eval("#views tbody tr", (rows) => rows.map((r) => r.dataset.view));
  check(views.includes("order_summary") && views.includes("transfer_status"), "the views table lists the views");
  const liveKnown = await page.textContent("#t-aggregates");
  check(/^\d+ \/ [1-9]\d*$/.test(liveKnown.trim()), `aggregates live / known shown (${liveKnown.trim()})`);

  // A command from the form: its answer, then its event in the tail.
  const id = `BROWSER-${Date.now()}`;
  await page.fill("#command", JSON.stringify({ type: "account.open", aggregate_id: id, payload: { owner: "Ada" } }));
  await page.click("#send button");
  await waitFor("the answer", async () => (await page.textContent("#answer")).startsWith("200"));
  check((await page.textContent("#answer")).includes(`"aggregate_id":"${id}"`), "the form shows the command's answer");
  const tailed = await waitFor("the tail", async () => (await page.textContent("#tail")).includes(id)).catch(() => false);
  check(tailed, "the command's event appears in the events tail");

  // A rebuild: the progress bar shows, then the view serves again.
  await page.click('#views tr[data-view="order_summary"] button');
  const progress = await waitFor("build progress", () =>
      page.$eval('#views tr[data-view="order_summary"] td.build', (td) => td.dataset.progress), 20000).catch(() => null);
  check(progress !== null, `a rebuild shows its progress (${progress}%)`);
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`screenshot: ${screenshot}`);
  const done = await waitFor("the rebuild to end", () => page.evaluate(() =>
      document.querySelector('#views tr[data-view="order_summary"] td.build') === null), 60000).catch(() => false);
  check(done, "the rebuild ends and the view serves");

  check(problems.length === 0, `no console errors${problems.length ? ": " + problems.join(" | ") : ""}`);
  check(external.length === 0, `no request beyond the server${external.length ? ": " + external.join(" ") : ""}`);

  // The load report: two runs side by side, one self-contained page.
  const a = join(data, "batch.json"), b = join(data, "ingest.json"), html = join(data, "report.html");
  await run(sluiceLoad, ["batch", "--url", url, "-c", "2", "-b", "100", "-d", "3", "-w", "0", "-a", "100", "--quiet", "--json", a]);
  await run(sluiceLoad, ["ingest", "--url", url, "-c", "8", "-d", "3", "-w", "0", "-a", "100", "--quiet", "--json", b]);
  check((await run(sluiceLoad, ["report", a, b, "-o", html])) === 0, "sluice-load report writes the page");
  const report = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const reportProblems = [];
  report.on("console", (m) => { if (m.type() === "error") reportProblems.push(m.text()); });
  report.on("request", (r) => { if (!r.url().startsWith("file://")) reportProblems.push(`fetched ${r.url()}`); });
  await report.goto(`file://${html}`);
  const lines = await report.evaluate(() => ["throughput", "latency", "distribution"].map((id) =>
      document.querySelectorAll(`#${id} polyline`).length));
  check(lines[0] === 2 && lines[2] === 2, `throughput and distribution plot both runs (${lines})`);
  check(lines[1] === 4, `latency over time has p50 and p99 of both runs (${lines[1]})`);
  const rows = await report.$$eval("#runs tbody tr", (r) => r.length);
  check(rows === 2, "the table has both runs");
  const points = await report.evaluate(() => document.querySelector("#throughput polyline").getAttribute("points").trim().split(" ").length);
  check(points >= 2, `throughput over time has a point per second (${points})`);
  check(reportProblems.length === 0, `the report page loads nothing and logs no error${reportProblems.length ? ": " + reportProblems.join(" | ") : ""}`);
  const reportShot = screenshot.replace(/\.png$/, "") + "-report.png";
  await report.screenshot({ path: reportShot, fullPage: true });
  console.log(`screenshot: ${reportShot}`);

  // With --auth: the page asks for a token, then works with it, and keeps
  // it nowhere but in the tab's memory.
  await checkAuth(browser);
  await checkCluster(browser);
} catch (e) {
  console.log(`FAIL ${e.message}`);
  failures++;
} finally {
  if (browser) await browser.close();
  server.kill("SIGTERM");
  await new Promise((r) => server.on("exit", r));
  rmSync(data, { recursive: true, force: true });
}
console.log(failures ? `${failures} failed` : "all passed");
process.exit(failures ? 1 : 0);
