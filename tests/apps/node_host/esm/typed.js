// ESM by its package.json ("type": "module") rather than its extension.
export default function handler(req, res) {
  res.json({ module: typeof require === "undefined" ? "esm" : "cjs" });
}
