// Typeset the book's maths at build time with the vendored MathJax 3.2.2 (called by
// _ext/l2book/maths.py, once per build). Reads JSON on stdin:
//   {"mathjax": "<dir of the es5 components>", "fontURL": "...", "scale": 1.273, "tex": {...},
//    "pages": [{"name": "chapters/x", "items": [{"tex": "...", "display": true}, ...]}, ...]}
// and writes JSON on stdout: {"pages": {"chapters/x": ["<mjx-container ...>", ...]},
//   "css": "<the CHTML stylesheet for every character used>", "errors": [{page, tex, error}]}.
// A TeX error is never rendered as red text: noerrors/noundefined are off and formatError throws.
// Nor is TeX that MathJax leaves as text: a formula whose rendered MathML holds a backslash (e.g.
// "l1\_ratio" from \texttt{l1\_ratio}: MathJax 3 does not process macros inside \text{} or
// \texttt{} without its textmacros package) is an error too. MathJax draws \backslash and
// \setminus as U+2216, so an ASCII backslash in the output is always a leftover control sequence.
"use strict";
const path = require("path");
const fs = require("fs");

const request = JSON.parse(fs.readFileSync(0, "utf8"));
const tex = Object.assign({}, request.tex || {});
tex.packages = {"[-]": ["noerrors", "noundefined"]};
tex.formatError = (jax, err) => { throw err; };

// Throws when the rendered formula (its assistive MathML, i.e. what is shown and read aloud)
// still holds TeX control sequences such as "\_" or "\alpha" as literal text.
function literalControlSequences(adaptor, node) {
  const shown = adaptor.tags(node, "math").map((m) => adaptor.textContent(m)).join(" ");
  const leftovers = shown.match(/\\(?:[A-Za-z]+|.)?/g);
  if (leftovers) {
    throw new Error(
      "The rendered formula shows literal TeX: " +
      [...new Set(leftovers)].join(" ") +
      " (MathJax does not process macros inside \\text{}/\\texttt{}; use math mode, " +
      "e.g. \\mathtt{l1\\_ratio})");
  }
}

require(path.join(__dirname, "node-main.js")).init({
  loader: {
    paths: {mathjax: request.mathjax},
    load: ["input/tex", "output/chtml", "a11y/assistive-mml"],
  },
  tex,
  chtml: {fontURL: request.fontURL},
  startup: {typeset: false},
}).then(async (MathJax) => {
  const adaptor = MathJax.startup.adaptor;
  const out = {pages: {}, css: "", errors: []};
  for (const page of request.pages) {
    MathJax.texReset();  // equation numbers and labels restart on every page, as in the browser
    const html = [];
    for (const item of page.items) {
      try {
        const node = await MathJax.tex2chtmlPromise(item.tex, {display: !!item.display, em: 16, ex: 8, containerWidth: 1280, scale: request.scale || 1});
        literalControlSequences(adaptor, node);
        html.push(adaptor.outerHTML(node));
      } catch (err) {
        out.errors.push({page: page.name, tex: item.tex, error: String(err && err.message || err)});
        html.push("");
      }
    }
    out.pages[page.name] = html;
  }
  out.css = adaptor.textContent(MathJax.chtmlStylesheet());
  process.stdout.write(JSON.stringify(out));
}).catch((err) => {
  process.stderr.write("MathJax failed to start: " + (err && err.stack || err) + "\n");
  process.exit(2);
});
