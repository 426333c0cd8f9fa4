// Two small build plugins for the playground (see vite.config.js).
import fs from "node:fs";
import path from "node:path";

/**
 * `graphiql/style.css` already holds all of Monaco's CSS (with its icon font as a data: URL), so
 * the CSS files that Monaco's ESM modules import would only ship it a second time.
 */
export function dropMonacoCss() {
  const monacoCss = /[\\/]node_modules[\\/]monaco-editor[\\/]esm[\\/].*\.css$/;
  const empty = "\0playground:monaco-css";
  return {
    name: "playground:drop-monaco-css",
    enforce: "pre",
    async resolveId(source, importer) {
      if (!source.endsWith(".css") || !importer?.includes("monaco-editor")) return null;
      const resolved = await this.resolve(source, importer, { skipSelf: true });
      return resolved && monacoCss.test(resolved.id) ? empty : null;
    },
    load(id) {
      return id === empty ? "export {};" : null;
    },
  };
}

/**
 * Writes `THIRD_PARTY_LICENSES.txt`: every npm package with code in the page or in one of its
 * web workers (Vite's own `build.license` leaves the workers out), with its licence text and the
 * third-party notices it ships, then the `appendix` files (e.g. the embedded fonts' licences).
 * Use the same instance in `plugins` and `worker.plugins`: worker bundles are generated while
 * the page is built, so all of them have been seen when the page's bundle is written.
 */
export function thirdPartyLicenses({ fileName = "THIRD_PARTY_LICENSES.txt", appendix = [] } = {}) {
  const packages = new Map(); // "name@version" -> { name, version, license, dir }
  const cache = new Map();

  function packageOf(moduleId) {
    let dir = path.dirname(moduleId);
    const seen = [];
    while (dir.includes(`${path.sep}node_modules${path.sep}`)) {
      if (cache.has(dir)) break;
      seen.push(dir);
      const manifest = path.join(dir, "package.json");
      if (fs.existsSync(manifest)) {
        const data = JSON.parse(fs.readFileSync(manifest, "utf8"));
        // Nested package.json files that only set "type" or "sideEffects" have no name.
        if (data.name && data.version) {
          cache.set(dir, { name: data.name, version: data.version, license: data.license, dir });
          break;
        }
      }
      dir = path.dirname(dir);
    }
    const found = cache.get(dir) ?? null;
    for (const d of seen) cache.set(d, found);
    return found;
  }

  function collect(bundle) {
    for (const chunk of Object.values(bundle)) {
      if (chunk.type !== "chunk") continue;
      for (const id of chunk.moduleIds) {
        if (id.startsWith("\0") || !id.includes(`${path.sep}node_modules${path.sep}`)) continue;
        const pkg = packageOf(id.split("?")[0]);
        if (pkg) packages.set(`${pkg.name}@${pkg.version}`, pkg);
      }
    }
  }

  function licenceText(dir) {
    const files = fs.readdirSync(dir).sort();
    const licence = files.find((name) => /^(licen[cs]e|copying)/i.test(name));
    const notices = files.filter((name) => /^(third[-_ ]?party[-_ ]?notices|notice)(\.|$)/i.test(name));
    const texts = [licence, ...notices]
      .filter(Boolean)
      .map((name, i) => {
        const text = fs.readFileSync(path.join(dir, name), "utf8").trim();
        return i === 0 && name === licence ? text : `--- ${name} (shipped with the package) ---\n\n${text}`;
      });
    return texts.length ? texts.join("\n\n") : null;
  }

  return {
    name: "playground:third-party-licenses",
    apply: "build",
    generateBundle(_options, bundle) {
      collect(bundle);
      if (this.environment?.config?.isWorker) return;
      const entries = [...packages.values()].sort((a, b) =>
        a.name === b.name ? a.version.localeCompare(b.version) : a.name.localeCompare(b.name),
      );
      const rule = "=".repeat(78);
      let text =
        "Third-party software bundled in the tkc-library GraphQL playground\n" +
        "(playground/dist/, built by `npm run build` in playground/).\n\n" +
        "Summary:\n" +
        entries.map((e) => `  ${e.name} ${e.version}: ${e.license ?? "UNKNOWN"}`).join("\n") +
        "\n" +
        (appendix.length ? "  (and, at the end of this file, the fonts embedded in the stylesheet)\n" : "");
      for (const e of entries) {
        const body =
          licenceText(e.dir) ??
          `(The package ships no licence file; its package.json declares: ${e.license ?? "nothing"}.)`;
        text += `\n${rule}\n${e.name} ${e.version} (${e.license ?? "UNKNOWN"})\n${rule}\n\n${body}\n`;
      }
      for (const file of appendix) {
        text += `\n${rule}\n${fs.readFileSync(file, "utf8").trim()}\n`;
      }
      this.emitFile({ type: "asset", fileName, source: text });
    },
  };
}

/**
 * Fails the build if two bundles (the page's and its workers', built separately) would write
 * different files under the same name. With unhashed names, Vite would silently let a worker's
 * chunk replace one of the page's chunks of the same name. (Vite copies each worker's own output
 * into the page's bundle: such a copy is the same file, which is fine.)
 */
export function uniqueFileNames() {
  const fromWorkers = new Map(); // file name -> its contents, as a worker build wrote it
  const pageChunks = new Set(); // names of the page's own chunks, seen as they are rendered
  const contents = (output) => (output.type === "chunk" ? output.code : String(output.source));
  const isWorker = (context) => Boolean(context.environment?.config?.isWorker);
  return {
    name: "playground:unique-file-names",
    apply: "build",
    renderChunk(_code, chunk) {
      if (!isWorker(this)) pageChunks.add(chunk.fileName);
      return null;
    },
    generateBundle(_options, bundle) {
      for (const [fileName, output] of Object.entries(bundle)) {
        const earlier = fromWorkers.get(fileName);
        if (earlier !== undefined && earlier !== contents(output)) {
          this.error(`two different worker files would be written as ${fileName}`);
        }
        if (isWorker(this)) fromWorkers.set(fileName, contents(output));
      }
      if (isWorker(this)) return;
      for (const fileName of pageChunks) {
        if (bundle[fileName]?.type !== "chunk") {
          this.error(`the page's chunk ${fileName} would be overwritten by a worker's file`);
        }
      }
    },
  };
}
