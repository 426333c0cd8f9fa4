// Builds the playground into dist/, which the server serves at /playground/ (and index.html at /).
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import { dropMonacoCss, thirdPartyLicenses, uniqueFileNames } from "./scripts/vite-plugins.js";

// Stable, unhashed names: the server sends `cache-control: no-cache`, so browsers revalidate.
const output = {
  entryFileNames: "assets/[name].js",
  chunkFileNames: "assets/[name].js",
  assetFileNames: "assets/[name][extname]",
};

// React libraries mark their modules "use client"; that means nothing in a browser bundle.
function onLog(level, log, handler) {
  if (log.code === "MODULE_LEVEL_DIRECTIVE") return;
  handler(level, log);
}

const licenses = thirdPartyLicenses({
  appendix: [fileURLToPath(new URL("./licenses/fonts.txt", import.meta.url))],
});
const unique = uniqueFileNames();

export default defineConfig({
  // index.html is served at both / and /playground, so every asset URL must be absolute.
  base: "/playground/",
  publicDir: false,
  plugins: [dropMonacoCss(), licenses, unique],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    target: "es2022",
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 4096,
    reportCompressedSize: false,
    // The licences are written by the plugin above, which also sees the web workers.
    license: false,
    rolldownOptions: { output, onLog },
  },
  worker: {
    format: "es",
    plugins: () => [licenses, unique],
    // One file per worker: chunks of separate worker builds could otherwise share a name.
    rolldownOptions: { output: { ...output, codeSplitting: false }, onLog },
  },
});
