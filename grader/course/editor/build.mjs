// Bundles src/editor.js into ../static/editor.js: one minified file, committed, so that
// neither `cargo build` nor CI needs Node. Run `npm ci && npm run build` in this folder after
// changing src/ or package.json, and commit static/editor.js with the change.
//
// None of the bundled packages carries a license comment in its source, so this script writes
// the notices itself: a header naming every package that ended up in the bundle (from
// esbuild's metafile) with its version and license, and each distinct license text at the end.

import { build } from "esbuild";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const outfile = join(here, "../static/editor.js");

const result = await build({
  entryPoints: [join(here, "src/editor.js")],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  legalComments: "eof",
  metafile: true,
  write: false,
  logLevel: "warning",
});

// The packages whose code is in the bundle, e.g. "@codemirror/view" (a package that is only
// imported from, with nothing of it left after tree shaking, is not).
const packages = new Set();
const [output] = Object.values(result.metafile.outputs);
for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
  const match = bytesInOutput > 0 && input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (match) packages.add(match[1]);
}

const lines = [];
const texts = new Map(); // license text -> packages it covers
for (const name of [...packages].sort()) {
  const dir = join(here, "node_modules", name);
  const meta = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  lines.push(`  ${meta.name} ${meta.version} (${meta.license})`);
  const file = ["LICENSE", "LICENSE.md", "LICENSE.txt"].map((f) => join(dir, f)).find(existsSync);
  const text = file
    ? readFileSync(file, "utf8").trim()
    : `Licensed under the ${meta.license} license: see ${meta.repository?.url ?? meta.homepage}.` +
      (meta.license === "Apache-2.0" ? "\nhttp://www.apache.org/licenses/LICENSE-2.0" : "");
  texts.set(text, [...(texts.get(text) ?? []), meta.name]);
}

const header = `/*! Tracing Dojo course: the TraceQL editor (static/editor.js).
 * A progressive enhancement: puts a CodeMirror 6 editor with TraceQL highlighting in place of
 * every textarea.traceql-input; pages work without it. Generated, do not edit: the source is
 * grader/course/editor/src/editor.js; rebuild with \`cd grader/course/editor && npm ci && npm run build\`.
 * Bundles CodeMirror (MIT, https://codemirror.net) and @grafana/lezer-traceql (Apache-2.0,
 * https://github.com/grafana/lezer-traceql); their license texts are at the end of this file.
${lines.map((l) => ` *${l}`).join("\n")}
 */
`;
const notices = [...texts]
  .map(([text, names]) => `/*! ${names.join(", ")}:\n\n${text.replaceAll("*/", "* /")}\n*/`)
  .join("\n");
const code = result.outputFiles[0].text;
writeFileSync(outfile, `${header}${code}${notices}\n`);
console.log(`wrote ${outfile}: ${Buffer.byteLength(code)} bytes of code, ${packages.size} packages`);
