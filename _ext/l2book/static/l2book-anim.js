// Keep the text readout of a to_jshtml() animation in step with its frame (_ext/l2book/responsive.py).
// matplotlib's widget changes the frame from its slider, its nine buttons and its play timer, and
// always by setting the image's src and then the slider's value: watching the src covers them all.
(function () {
  document.querySelectorAll(".l2-anim[data-frame-labels]").forEach(function (box) {
    var labels = JSON.parse(box.getAttribute("data-frame-labels"));
    var slider = box.querySelector("input.anim-slider");
    var img = box.querySelector(".animation img");
    var out = box.querySelector("output.l2-anim-readout");
    if (!slider || !img || !out) return;
    function show() {
      var label = labels[parseInt(slider.value, 10)];
      if (label === undefined || out.textContent === label) return;
      out.textContent = label;
      slider.setAttribute("aria-valuetext", label);
    }
    slider.addEventListener("input", show);
    new MutationObserver(function () { window.setTimeout(show, 0); })
      .observe(img, {attributes: true, attributeFilter: ["src"]});
  });
})();
