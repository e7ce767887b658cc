// Copies the pinned npm packages the PWA ships or tests with into the repository, so neither
// the app nor CI needs node_modules: `npm ci && npm run vendor`. Versions come from package.json.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const modules = join(root, "node_modules");

function version(pkg) {
  return JSON.parse(readFileSync(join(modules, pkg, "package.json"), "utf8")).version;
}

function vendor(pkg, files, target) {
  const dest = join(root, target);
  mkdirSync(dest, { recursive: true });
  for (const [from, to] of files) copyFileSync(join(modules, pkg, from), join(dest, to));
  writeFileSync(join(dest, "VERSION"), `${pkg}@${version(pkg)} (copied from npm by scripts/vendor.mjs)\n`);
  console.log(`${pkg}@${version(pkg)} -> ${target}`);
}

vendor(
  "uplot",
  [
    ["dist/uPlot.esm.js", "uPlot.esm.js"],
    ["dist/uPlot.min.css", "uPlot.min.css"],
    ["LICENSE", "LICENSE"],
  ],
  "static/vendor/uplot",
);
vendor(
  "axe-core",
  [
    ["axe.min.js", "axe.min.js"],
    ["LICENSE", "LICENSE"],
  ],
  "tests/pwa/vendor/axe-core",
);
