// Display maths wider than the column scrolls sideways (MathJax CHTML does not break lines).
// Without MathJax's menu nothing makes those containers focusable, so keyboard users could not
// scroll them (axe: scrollable-region-focusable). Make the overflowing ones focusable.
(function () {
  function markScrollable() {
    document.querySelectorAll('mjx-container[display="true"]').forEach(function (el) {
      if (el.scrollWidth > el.clientWidth + 1) {
        el.setAttribute("tabindex", "0");
        if (!el.hasAttribute("aria-label")) el.setAttribute("aria-label", "Equation (scrolls sideways)");
      } else if (el.getAttribute("aria-label") === "Equation (scrolls sideways)") {
        el.removeAttribute("tabindex");
        el.removeAttribute("aria-label");
      }
    });
  }
  function whenTypeset() {
    var ready = null;
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      ready = MathJax.startup.promise;  // typeset in the browser (no Node at build time)
    } else if (document.querySelector("mjx-container")) {
      ready = Promise.resolve();  // typeset at build time (_ext/l2book/maths.py)
    }
    if (ready) {
      // Widths settle once MathJax's web fonts have loaded.
      ready
        .then(function () { return document.fonts ? document.fonts.ready : null; })
        .then(markScrollable);
      window.addEventListener("resize", markScrollable);
    }
  }
  // After every deferred script (MathJax's startup.js among them) has run.
  if (document.readyState === "complete") whenTypeset();
  else window.addEventListener("load", whenTypeset);
})();
